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
    """The source's own `short` name, else 'Barbanti Brodano et al. 2007' from its authors, else its id."""
    source = rulebook.sources.get(source_id)
    if source is not None and source.short:
        return source.short
    if source is None or source.authors.lower().startswith(_NOT_RECORDED):
        return source_id
    first = source.authors.split(",")[0].strip()
    # Vancouver style "Barbanti Brodano G": drop the initials, keep a compound surname.
    words = first.split()
    if len(words) > 1 and words[-1].isupper() and len(words[-1]) <= 3:
        words = words[:-1]
    more = " et al." if "," in source.authors else ""
    return f"{' '.join(words)}{more} {source.year}"


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


def render(rulebook: Rulebook, citation: Citation, *, expanded: bool = False) -> None:
    """One citation as an expander: closed it names the paper and section, open it shows the passage."""
    label = f"{short_name(rulebook, citation.source)} - {citation.section}"
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

