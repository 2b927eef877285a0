"""The tumor board summary as Markdown, for minutes kept as text."""
from __future__ import annotations

import re

from .report_content import OptionLine, Summary


def _refs(numbers: list[int]) -> str:
    return " [" + ", ".join(str(n) for n in numbers) + "]" if numbers else ""


_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _escape(text: str) -> str:
    """Literal text in Markdown that stays readable raw: 'PVP_ITR' keeps its underscore (intraword, never
    emphasis), while '*', '<' and a '_' at a word's edge are escaped."""
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("<", "\\<")
    return _LONE_UNDERSCORE.sub(r"\\_", text)


def _option_table(options: list[OptionLine]) -> list[str]:
    out = ["| # | option | status | provisional |", "|---|---|---|---|"]
    for o in options:
        provisional = "yes" if o.provisional else ""
        out.append(f"| {o.rank or '-'} | {o.code} - {_escape(o.title)} | {o.status} | {provisional} |")
    return [*out, ""]


def _reasons(options: list[OptionLine], heading: str) -> list[str]:
    out = []
    for o in options:
        out.append(f"{heading} {_escape(o.title)} ({o.code}): {o.status}" + (" (provisional)" if o.provisional else ""))
        out.append("")
        if not o.reasons:
            out.append("- No rule applies to this option for this case.")
        for r in o.reasons:
            out.append(f"- **{_escape(r.effect)}**: {_escape(r.text)}{_refs(r.refs)} (rule `{r.rule}`)"
                       + "".join(f"; rests on {_escape(fact)}" for fact in r.rests_on))
        out.append("")
    return out


def render(s: Summary) -> str:
    out = [f"# Tumor board summary: {_escape(s.case_title or s.case_id)}", "",
           f"> **{_escape(s.disclaimer)}**", "",
           f"- Case: `{s.case_id}`",
           f"- Generated: {s.generated}",
           f"- Rule base: {_escape(s.rulebook)}, sha256 `{s.sha256}`", ""]
    if s.presentation:
        out += ["## Presentation", "", _escape(s.presentation.strip()), ""]
    out += ["## Case", ""]
    for group, items in s.findings:
        out.append(f"**{group}:** " + "; ".join(f"{_escape(t)}: {_escape(v)}" for t, v in items))
        out.append("")
    for level in s.levels:
        out.append(f"**{level.level}:** " + ("; ".join(f"{_escape(t)}: {_escape(v)}" for t, v in level.findings)
                                              or "no finding entered"))
        out.append("")
    out += [f"{s.unknown_count} fields not assessed (unknown).", ""]
    if s.plan or s.plan_reasons:
        out += ["## Plan for the patient", ""] + [f"- {_escape(line)}" for line in s.plan]
        out += [f"- **{_escape(n.heading)}**: {_escape(n.text)}{_refs(n.refs)} (rule `{n.rule}`)"
                for n in s.plan_reasons]
        out.append("")
    for level in s.levels:
        out += [f"## Decision at {level.level}", "", f"**Top suggestion at {level.level}: {_escape(level.top)}**", ""]
        out += _option_table(level.options) + _reasons(level.options, "####")
    out += ["## Decision for the patient (each option at the best status it reaches at any level)" if s.levels
            else "## Decision", "", f"**Top suggestion: {_escape(s.top)}**", "",
    ]
    out += _option_table(s.options)
    out += ["## Reasons", ""] + _reasons(s.options, "###")
    if s.conflicts:
        out += ["## Conflicts between papers", ""]
        out += [f"- **{_escape(n.heading)}**: {_escape(n.text)}{_refs(n.refs)} (rule `{n.rule}`)" for n in s.conflicts]
        out.append("")
    if s.adjuncts:
        out += ["## Adjuncts", ""]
        out += [f"- **{_escape(n.heading)}**: {_escape(n.text)}{_refs(n.refs)} (rule `{n.rule}`)" for n in s.adjuncts]
        out.append("")
    out += ["## Missing data", ""]
    if s.missing:
        out += [f"- {_escape(t)}: unknown; could change {a}" for t, a in s.missing]
    else:
        out.append("- No unknown field could change this advice.")
    out.append("")
    if s.scores:
        out += ["## Scores", ""] + [f"- {_escape(x)}" for x in s.scores] + [""]
    out += ["## References", ""]
    for ref in s.references:
        stance = f" ({_escape(ref.stance)})" if ref.stance else ""
        out.append(f"{ref.number}. {_escape(ref.source)}, {_escape(ref.section)}{stance}: {_escape(ref.passage)}")
    out += ["", "## Sources", ""]
    out += [f"- **{_escape(short)}**: {_escape(bibliography)}" for short, bibliography in s.sources]
    out += ["", "---", "", f"*{_escape(s.disclaimer)}*", ""]
    return "\n".join(out)
