"""spinemets front end: evaluate a vignette and show the graded, cited decision."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from engine import DEFAULT_RULES_DIR, get_engine, read_case_file

CASES = Path(__file__).resolve().parent.parent / "cases"
STATUS_COLOURS = {"recommended": "#1b7f3b", "appropriate": "#4c9a2a", "caution": "#c77c02",
                  "not_recommended": "#6b7280", "contraindicated": "#b91c1c"}


@st.cache_resource
def engine():
    # One engine per process, shared by every session: durable-rules registers a ruleset once per process.
    return get_engine(DEFAULT_RULES_DIR)


def main() -> None:
    st.set_page_config(page_title="spinemets", layout="wide")
    st.title("spinemets - painful spinal metastases")
    st.warning("Decision support for a multidisciplinary tumor board, not a medical device. "
               "It does not replace clinical judgement.")
    vignettes = sorted(CASES.glob("*.yaml"))
    chosen = st.selectbox("Vignette", vignettes, format_func=lambda p: p.stem)
    if chosen is None:
        st.info("No vignettes in cases/.")
        return
    document = read_case_file(chosen)
    st.write(document.case.presentation or "")
    decision = engine().evaluate(document.case)
    for option in decision.options:
        colour = STATUS_COLOURS[option.status]
        flag = " (provisional)" if option.provisional else ""
        st.markdown(f"<div style='border-left:6px solid {colour};padding:4px 10px;margin:4px 0'>"
                    f"<b>{option.option}</b> - {option.status.replace('_', ' ')}{flag}</div>",
                    unsafe_allow_html=True)
        for reason in option.reasons:
            with st.expander(f"{reason.effect}: {reason.text}"):
                for c in reason.citations:
                    st.markdown(f"**{c.source}**, {c.section}: \"{c.locator}\"")
    st.caption(f"Rule base {decision.rulebook.name} {decision.rulebook.version}, sha256 {decision.rulebook.sha256}")


main()
