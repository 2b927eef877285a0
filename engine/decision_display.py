"""A decision as a notebook shows it: the top suggestion, every option's status, the reasons with citations.

Everything drawn from the decision (case id, rule texts, citations) is escaped: a rule base or a case is data, and
a notebook renders Markdown's inline HTML, so text like `<img onerror=...>` must reach the reader as text.
"""
from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .decision import Decision
    from .vocabulary import Citation

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _md(text: object) -> str:
    """Text for Markdown: HTML escaped (no tag survives), Markdown's punctuation backslashed, one line."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(one_line, quote=True))


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def citation_text(citation: Citation) -> str:
    return f"{citation.source}, {citation.section} ({citation.stance_label})"


def _top(decision: Decision) -> str:
    return decision.ranking[0] if decision.ranking else "none (every option is contraindicated)"


def markdown(decision: Decision) -> str:
    book = decision.rulebook
    out = [f"**Case {_md(decision.case_id)}**: top suggestion **{_md(_top(decision))}**  ",
           f"rule base {_md(book.name)} {_md(book.version)} (sha256 {_md(book.sha256[:16])})", "",
           "| option | status | provisional |", "|---|---|---|"]
    out += [f"| {_md(o.option)} | {_md(o.status)} | {'yes' if o.provisional else ''} |" for o in decision.options]
    if decision.plan is not None:
        out += ["", "**Plan** (each level's top option)", "", "| level | advice | status | provisional |",
                "|---|---|---|---|"]
        out += [f"| {_md(p.level)} | {_md(p.advice)} | {_md(p.status)} | {'yes' if p.provisional else ''} |"
                for p in decision.plan.levels]
        for procedure in decision.plan.procedures:
            groups = "; ".join(" + ".join(group) for group in procedure.sessions)
            out.append(f"- {_md(procedure.option)}: {_md(groups)}")
        for noted in decision.plan.reasons:
            cited = "; ".join(_md(citation_text(c)) for c in noted.citations)
            out.append(rf"- \[{_md(noted.rule)}\] {_md(', '.join(noted.levels))}: {_md(noted.text)} ({cited})")
    for option in decision.options:
        if not option.reasons:
            continue
        out += ["", f"**{_md(option.option)}: {_md(option.status)}**"]
        for reason in option.reasons:
            detail = f" {_md(reason.detail)}" if reason.detail else ""
            cited = "; ".join(_md(citation_text(c)) for c in reason.citations)
            out.append(f"- *{_md(reason.effect)}{detail}* \\[{_md(reason.rule)}\\]: {_md(reason.text)} ({cited})")
    if decision.missing:
        out += ["", "**Unknown, and could change the advice:** "
                + ", ".join(f"{_md(m.field)} ({_md(', '.join(m.affects))})" for m in decision.missing)]
    return "\n".join(out) + "\n"


def to_html(decision: Decision) -> str:
    book = decision.rulebook
    rows = "".join(f"<tr><td>{_h(o.option)}</td><td>{_h(o.status)}</td><td>{'yes' if o.provisional else ''}"
                   "</td></tr>" for o in decision.options)
    parts = [f"<div class=\"spinemets-decision\"><p><b>Case {_h(decision.case_id)}</b>: top suggestion "
             f"<b>{_h(_top(decision))}</b><br><small>rule base {_h(book.name)} {_h(book.version)} "
             f"(sha256 {_h(book.sha256[:16])})</small></p>",
             f"<table><thead><tr><th>option</th><th>status</th><th>provisional</th></tr></thead><tbody>{rows}"
             "</tbody></table>"]
    if decision.plan is not None:
        planned = "".join(f"<tr><td>{_h(p.level)}</td><td>{_h(p.advice)}</td><td>{_h(p.status)}</td></tr>"
                          for p in decision.plan.levels)
        parts.append(f"<p><b>Plan</b> (each level's top option)</p><table><thead><tr><th>level</th><th>advice</th>"
                     f"<th>status</th></tr></thead><tbody>{planned}</tbody></table>")
        reasons = "".join(f"<li>[{_h(r.rule)}] {_h(', '.join(r.levels))}: {_h(r.text)}</li>"
                          for r in decision.plan.reasons)
        if reasons:
            parts.append(f"<ul>{reasons}</ul>")
    for option in decision.options:
        if not option.reasons:
            continue
        items = []
        for reason in option.reasons:
            detail = f" {_h(reason.detail)}" if reason.detail else ""
            cited = "; ".join(_h(citation_text(c)) for c in reason.citations)
            items.append(f"<li><i>{_h(reason.effect)}{detail}</i> [{_h(reason.rule)}]: {_h(reason.text)} "
                         f"<small>({cited})</small></li>")
        parts.append(f"<p><b>{_h(option.option)}: {_h(option.status)}</b></p><ul>{''.join(items)}</ul>")
    if decision.missing:
        unknown = ", ".join(f"{_h(m.field)} ({_h(', '.join(m.affects))})" for m in decision.missing)
        parts.append(f"<p><b>Unknown, and could change the advice:</b> {unknown}</p>")
    return "".join(parts) + "</div>"
