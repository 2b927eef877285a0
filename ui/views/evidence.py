"""Evidence: the papers' outcome figures as charts (pain over time, leakage, neurological recovery, ...),
with the studies, their design and the cited passages under each chart."""
from __future__ import annotations

import streamlit as st
from spinemets.ui import charts, citations, evidence_data, labels, resources
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
evidence = evidence_data.read(rulebook)

st.title("Evidence")
st.caption("Outcome figures reported by the papers behind the rule base (rules/evidence/). They inform, they do "
           "not change decisions. These are small, mostly retrospective series with different patients, "
           "scales and follow-up: compare arms within a study, and read each number with its design.")

if not rulebook.evidence:
    st.info("The rule base holds no outcome figures yet. They appear here once rules/evidence/*.yaml exists.",
            icon=":material/hourglass_empty:")
    st.stop()

studies = {item.study: citations.short_name(rulebook, item.study) for item in evidence.items.values()}
options = {code: labels.option_title(rulebook, code) for code in rulebook.option_order}

for topic in evidence.topics():
    points = evidence.topic(topic)
    st.header(evidence_data.topic_title(topic))
    for measure in dict.fromkeys(p.measure for p in points):
        chosen = [p for p in points if p.measure == measure]
        with st.container(border=True):
            st.subheader(evidence_data.measure_title(measure))
            for kind in ("series", "proportion"):
                part = [p for p in chosen if p.kind == kind]
                if part:
                    st.altair_chart(charts.chart_for(part, studies, options), width="stretch")
            st.markdown("**Sources**")
            for item in evidence.items_for(chosen):
                st.markdown(f"- **{md(citations.short_name(rulebook, item.study))}**: {md(item.title)}"
                            + (f"  \n  :gray[{md(item.design)}]" if item.design else ""))
                if item.notes:
                    st.caption(md(item.notes))
                citations.render_all(rulebook, item.citations)

