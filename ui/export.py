"""Download buttons for the tumor board summary; the file is built in memory when the button is clicked."""
from __future__ import annotations

import streamlit as st
from spinemets import Case, Decision, Rulebook

from . import report_content, report_markdown, report_pdf


def markdown_bytes(rulebook: Rulebook, case: Case, decision: Decision) -> bytes:
    return report_markdown.render(report_content.build(rulebook, case, decision)).encode("utf-8")


def pdf_bytes(rulebook: Rulebook, case: Case, decision: Decision) -> bytes:
    return report_pdf.render(report_content.build(rulebook, case, decision))


def buttons(rulebook: Rulebook, case: Case, decision: Decision) -> None:
    # Callables, not bytes: a PDF takes a few hundred milliseconds, which every rerun would otherwise pay,
    # and the export is stamped with the time of the click. Nothing touches the disk either way.
    stem = f"spinemets-{case.id}"
    left, right = st.columns(2)
    with left:
        st.download_button("Tumor board summary (PDF)", lambda: pdf_bytes(rulebook, case, decision),
                           file_name=f"{stem}.pdf", mime="application/pdf", icon=":material/picture_as_pdf:",
                           key="export.pdf", on_click="ignore", width="stretch")
    with right:
        st.download_button("Tumor board summary (Markdown)", lambda: markdown_bytes(rulebook, case, decision),
                           file_name=f"{stem}.md", mime="text/markdown", icon=":material/description:",
                           key="export.md", on_click="ignore", width="stretch")
