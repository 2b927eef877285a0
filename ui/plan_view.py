"""The patient's plan as a card (levels and their advice, procedures by session or operation, what radiotherapy
covers, the levels for the board to weigh, the plan's own reasons with their passages) and the spine picture's
marks, from a decision on a case with lesions.
"""
from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from spinemets import Decision, Rulebook

from . import cards, labels
from .spine_picture import Mark

PLAN_STYLE = "".join("""<style>
.sm-plan{border:2px solid #1f2937;border-radius:8px;padding:.5rem .9rem;margin:.2rem 0 .5rem 0;background:#fafafa}
.sm-plan .sm-h{font-size:1.2rem;font-weight:700}
.sm-plan table{border-collapse:collapse;margin:.3rem 0;font-size:.92rem}
.sm-plan td,.sm-plan th{padding:.1rem .5rem .1rem 0;text-align:left;vertical-align:top}
.sm-plan th{font-weight:600;color:#374151}
.sm-plan ul{margin:.2rem 0 .2rem 0;padding-left:1.1rem}
.sm-swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;border:1px solid #111827;
margin-right:.3rem;vertical-align:baseline}
</style>""".splitlines())


def plan_of(decision: Decision | None) -> Any:
    """The decision's plan (None on a flat case, or before the engine decides lesions)."""
    return getattr(decision, "plan", None) if decision is not None else None


def lesion_decisions(decision: Decision | None) -> tuple[Any, ...]:
    return tuple(getattr(decision, "lesions", None) or ()) if decision is not None else ()


def marks(rulebook: Rulebook, plan: Any) -> dict[str, Mark]:
    """Level -> what the spine picture shows there: the plan's advice, its status and the level's findings."""
    return {level.level: Mark(advice=level.advice, advice_words=labels.option_title(rulebook, level.advice),
                              status_words=labels.status_label(level.status).lower(),
                              colour=labels.option_colour(rulebook, level.advice), status=level.status,
                              fracture=level.fracture, compression=level.compression,
                              provisional=bool(level.provisional))
            for level in plan.levels}


def _levels(levels: Iterable[str]) -> str:
    return ", ".join(levels)


def _step_word(rulebook: Rulebook, option: str) -> str:
    """A cement option treats its levels in sessions (rules/plan.yaml caps the levels of one); an open procedure in
    operations (one per contiguous block)."""
    cement = next((o.cement for o in rulebook.manifest.options if o.code == option), False)
    return "session" if cement else "operation"


def _tri(value: bool | None, yes: str, no: str) -> str:
    return labels.UNKNOWN_WORD if value is None else yes if value else no


def card(rulebook: Rulebook, plan: Any) -> str:
    """The plan as one piece of HTML: what a board reads before the decision at each level."""
    rows = []
    for level in plan.levels:
        style = labels.STATUS_STYLES[level.status]
        flag = " (provisional)" if level.provisional else ""
        findings = "; ".join(part for part in (
            f"fracture: {_tri(level.fracture, 'yes', 'no')}",
            f"compression: {_tri(level.compression, 'yes', 'no')}",
            f"pain generator: {_tri(level.painful, 'yes', 'no')}" if level.painful is not None else "",
            f"causes the deficit: {_tri(level.causes_deficit, 'yes', 'no')}"
            if level.causes_deficit is not None else "") if part)
        rows.append(f"<tr data-level='{escape(level.level)}' data-option='{escape(level.advice)}' "
                    f"data-status='{escape(level.status)}'><th>{escape(level.level)}</th>"
                    f"<td><span class='sm-swatch' style='background:{labels.option_colour(rulebook, level.advice)}'>"
                    f"</span>{escape(labels.option_title(rulebook, level.advice))}"
                    f"<span class='sm-code'>{escape(level.advice)}</span></td>"
                    f"<td><span style='color:{style.colour};font-weight:700'>{style.icon} {escape(style.label)}"
                    f"{escape(flag)}</span><div class='sm-small'>{escape(findings)}</div></td></tr>")
    parts = [f"<div class='sm-plan' data-plan='1'><div class='sm-h'>Plan for the patient</div>"
             f"<table><tr><th>Level</th><th>Advice</th><th>Status and findings</th></tr>{''.join(rows)}</table>"]
    procedures = []
    for procedure in plan.procedures:
        kind = _step_word(rulebook, procedure.option)
        steps = "; ".join(f"{kind} {i}: {_levels(session)}" for i, session in enumerate(procedure.sessions, start=1))
        procedures.append(f"<li data-procedure='{escape(procedure.option)}'><b>"
                          f"{escape(labels.option_title(rulebook, procedure.option))}</b> at "
                          f"{escape(_levels(procedure.levels))}" + (f" - {escape(steps)}" if steps else "") + "</li>")
    if procedures:
        parts.append(f"<div><b>Procedures</b><ul>{''.join(procedures)}</ul></div>")
    if plan.radiotherapy:
        parts.append(f"<div data-radiotherapy='1'><b>Radiotherapy covers:</b> {escape(_levels(plan.radiotherapy))}"
                     "</div>")
    if plan.weigh:
        parts.append(f"<div data-weigh='1'><b>For the board to weigh:</b> {escape(_levels(plan.weigh))} "
                     "<span class='sm-small'>(the advice there is at caution or below: nothing is scheduled until "
                     "the board decides)</span></div>")
    if plan.reasons:
        items = "".join(
            f"<li data-rule='{escape(r.rule)}'>{escape(r.text)}"
            + (" <span class='sm-small'>(provisional: unknown fields leave open whether it applies)</span>"
               if r.provisional else "")
            + (f" <span class='sm-small'>({escape(_levels(r.levels))})</span>" if r.levels else "")
            + f"<span class='sm-small' title='rule {escape(r.rule)}'> - rule: "
              f"{escape(labels.rule_title(rulebook, r.rule))}</span>"
            + "".join(cards.citation(rulebook, c) for c in r.citations) + "</li>"
            for r in plan.reasons)
        parts.append(f"<div><b>For the patient as a whole</b><ul>{items}</ul></div>")
    parts.append("</div>")
    return PLAN_STYLE + "".join(parts)


def lines(rulebook: Rulebook, plan: Any) -> list[str]:
    """The plan in plain sentences, for the summaries (Markdown, PDF) and the minutes."""
    found = []
    for level in plan.levels:
        flag = " (provisional)" if level.provisional else ""
        found.append(f"{level.level}: {labels.option_title(rulebook, level.advice)}, "
                     f"{labels.status_label(level.status).lower()}{flag}")
    for procedure in plan.procedures:
        kind = _step_word(rulebook, procedure.option)
        steps = "; ".join(f"{kind} {i}: {_levels(s)}" for i, s in enumerate(procedure.sessions, start=1))
        found.append(f"{labels.option_title(rulebook, procedure.option)} at {_levels(procedure.levels)}"
                     + (f" ({steps})" if steps else ""))
    if plan.radiotherapy:
        found.append(f"Radiotherapy covers {_levels(plan.radiotherapy)}")
    if plan.weigh:
        found.append(f"For the board to weigh (advice at caution or below, nothing scheduled): {_levels(plan.weigh)}")
    return found
