"""spinemets front end: `streamlit run ui/app.py` (or `make run`). Pages live in ui/views/."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from spinemets import RulebookError
from spinemets.ui import case_state, labels, resources
from spinemets.ui.text import md

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="spinemets", page_icon=":material/healing:", layout="wide")
case_state.keep(st.session_state)

pages = st.navigation([
    st.Page(VIEWS / "board.py", title="Case and decision", icon=":material/groups:", default=True),
    st.Page(VIEWS / "whatif.py", title="What-if", icon=":material/compare_arrows:"),
    st.Page(VIEWS / "trainee.py", title="Vignettes (trainees)", icon=":material/school:"),
    st.Page(VIEWS / "rule_base.py", title="Rule base", icon=":material/menu_book:"),
    st.Page(VIEWS / "evidence.py", title="Evidence", icon=":material/monitoring:"),
])

with st.sidebar:
    st.warning(labels.DISCLAIMER, icon=":material/info:")
st.caption(":material/info: **Decision support, not a medical device.** It does not replace the judgement of the "
           "clinicians responsible for the patient.")

try:
    engine = resources.engine()
except RulebookError as err:
    # A rule base being edited can fail to load; say where, and show no advice rather than stale advice.
    details = "\n".join(f"- {md(p)}" for p in err.problems[:30]) or md(err.summary)
    st.error("The rule base does not load, so no decision can be shown:\n\n" + details)
    st.stop()

with st.sidebar:
    st.caption(f"Rule base {md(engine.rulebook.manifest.name)} {md(engine.rulebook.version)}  \n"
               f"sha256 `{engine.sha256[:16]}…`  \n{len(engine.rulebook.active_rules)} active rules")

pages.run()
