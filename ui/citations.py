"""Citations as a reader finds them: the paper, the section, the passage, and a DOI or PubMed link."""
from __future__ import annotations

from collections.abc import Iterable

import streamlit as st
from spinemets import Rulebook
from spinemets.rulebook import Source
from spinemets.vocabulary import Citation

from .text import md as _md

_NOT_RECORDED = "not recorded"


def short_name(rulebook: Rulebook, source_id: str) -> str:
    """The source's name for a reader (Rulebook.source_name)."""
    return rulebook.source_name(source_id)


def links(source: Source | None) -> list[tuple[str, str]]:
    if source is None:
        return []
    found = []
    if source.doi:
        found.append((f"doi:{source.doi}", f"https://doi.org/{source.doi}"))
    if source.pmid:
        found.append((f"PMID {source.pmid}", f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/"))
    return found


def reference(rulebook: Rulebook, source_id: str) -> str:
    """One bibliography line, plain text."""
    source = rulebook.sources.get(source_id)
    if source is None:
        return source_id
    parts = []
    if not source.authors.lower().startswith(_NOT_RECORDED):
        parts.append(source.authors)
    parts.append(source.title)
    where = f"{source.journal} {source.year}"
    if source.volume:
        where += f";{source.volume}"
    if source.pages:
        where += f":{source.pages}"
    parts.append(where)
    parts += [label for label, _ in links(source)]
    return ". ".join(p.rstrip(".") for p in parts) + "."


def stance_note(citation: Citation) -> str:
    """What the passage is, in words a reader takes in beside the quote."""
    if citation.stance == "reports":
        return f"The source reports {citation.attributed_to}: another study's finding or view, not its own."
    if citation.stance == "speculates":
        return "A hypothesis the source puts forward, not a finding it tested."
    return "The source's own finding or position."


def render(rulebook: Rulebook, citation: Citation, *, expanded: bool = False) -> None:
    """One citation as an expander: closed it names the paper, section and stance, open it shows the passage."""
    label = f"{short_name(rulebook, citation.source)} - {citation.section} - {citation.stance_label}"
    with st.expander(label, icon=":material/menu_book:", expanded=expanded):
        source = rulebook.sources.get(citation.source)
        if source is not None:
            st.markdown(f"**{_md(source.title)}**  \n{_md(source.journal)}, {source.year}"
                        + (f" - {_md(source.design)}" if source.design else ""))
        st.markdown(f"**{_md(citation.section)}**")
        if source is not None and source.kind == "external":
            st.markdown(_md(citation.locator))
            st.caption("Where to look in this external source; its text is not in the project, so this is a "
                       "pointer, not a quotation.")
        else:
            st.markdown("> " + _md(citation.locator))
        st.caption(_md(stance_note(citation)))
        if citation.claim:
            st.markdown(f"Supports: {_md(citation.claim)}")
        found = links(source)
        if found:
            st.markdown(" · ".join(f"[{label}]({url})" for label, url in found))
        elif source is not None and source.kind == "paper":
            st.caption("No DOI or PMID recorded for this paper.")


def render_all(rulebook: Rulebook, citations: Iterable[Citation]) -> None:
    for citation in citations:
        render(rulebook, citation)

