"""The decision as HTML: the top suggestion, the six options as coloured cards with their reasons and citations.

A whole card list is one Markdown element rather than a few hundred (a container, a caption and an expander per
citation): the browser redraws the decision in one step after a click, and the websocket carries one message
instead of hundreds. Citations open in place (<details>) with the paper, the section, the passage and the DOI or
PubMed link, as ui/citations.py renders them elsewhere. Every text from the rule base or the user is escaped.
"""
from __future__ import annotations

from html import escape
from typing import Any

from spinemets import Decision, Rulebook
from spinemets.decision import OptionDecision, Reason
from spinemets.vocabulary import Citation

from . import citations, labels

STYLE = "".join("""<style>
.sm-top{border:2px solid var(--c);background:var(--t);border-radius:8px;padding:.55rem 1rem;margin-bottom:.4rem}
.sm-top .sm-k{font-size:.85rem;color:#444}.sm-top .sm-h{font-size:1.45rem;font-weight:700;line-height:1.25}
.sm-code{font-size:.8rem;color:#555;font-weight:500;border:1px solid #bbb;border-radius:4px;padding:0 4px;
margin-left:4px;vertical-align:middle}
.sm-st{color:var(--c);font-weight:700}
.sm-glance{display:grid;grid-template-columns:1fr 1fr;gap:1px 14px;margin:.2rem 0 .3rem 0;font-size:.9rem}
.sm-chip b{color:var(--c)}.sm-dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;
background:var(--c);margin-right:.35rem;vertical-align:baseline}
.sm-card{border-left:8px solid var(--c);background:var(--t);padding:.45rem .8rem;border-radius:4px;margin:.5rem 0}
.sm-card .sm-h{font-size:1.08rem;font-weight:700}
.sm-card ul{margin:.3rem 0 0 0;padding-left:1.1rem}.sm-card li{margin:.25rem 0}
.sm-eff{font-weight:700}
.sm-small{font-size:.82rem;color:#555}
.sm-block{color:#9a3412;font-weight:600;font-size:.9rem}
details.sm-cite{margin:.15rem 0 .15rem 0;font-size:.9rem}
details.sm-cite summary{cursor:pointer;color:#1d4ed8}
details.sm-cite blockquote{margin:.2rem 0 .2rem .4rem;padding-left:.6rem;border-left:3px solid #bbb;color:#333}
details.sm-derived summary,details.sm-findings summary{cursor:pointer;font-weight:600}
</style>""".splitlines())


def _vars(status: str) -> str:
    style = labels.STATUS_STYLES[status]
    return f"--c:{style.colour};--t:{style.tint}"


def top_card(rulebook: Rulebook, decision: Decision, heading: str = "Top suggestion", level: str | None = None) -> str:
    """The top suggestion of a decision, or (`level`) of the decision at one level."""
    top = decision.option(decision.top)
    style = labels.STATUS_STYLES[top.status]
    provisional = " (provisional: unknown fields could change it)" if top.provisional else ""
    at = f" data-level='{escape(level)}'" if level else ""
    return (f"{STYLE}<div class='sm-top' data-option='{escape(top.option)}'{at} style='{_vars(top.status)}'>"
            f"<div class='sm-k'>{escape(heading)}</div>"
            f"<div class='sm-h'>{escape(labels.option_title(rulebook, top.option))}"
            f"<span class='sm-code'>{escape(top.option)}</span></div>"
            f"<div class='sm-st'>{style.icon} {escape(style.label)}{escape(provisional)}</div></div>")


def empty_card() -> str:
    return (f"{STYLE}<div class='sm-top sm-empty' style='--c:#57606a;--t:#f6f7f9'>"
            "<div class='sm-h'>Enter the case</div>"
            "<div>No finding has been entered yet, so there is nothing to advise on. Fill in the form on the left, "
            "or open a case from the agenda, a file or a vignette. Leave a field on <i>unknown</i> until it has "
            "been assessed.</div></div>")


def chips(rulebook: Rulebook, decision: Decision) -> str:
    """All six in one row, best first, so the room sees the whole picture before any detail."""
    out = []
    for option in decision.options:
        style = labels.STATUS_STYLES[option.status]
        mark = " *" if option.provisional else ""
        out.append(f"<div class='sm-chip' data-option='{escape(option.option)}' data-status='{option.status}' "
                   f"style='{_vars(option.status)}'><span class='sm-dot'></span>"
                   f"{escape(labels.option_title(rulebook, option.option))}: <b>{escape(style.label)}{mark}</b></div>")
    return "<div class='sm-glance'>" + "".join(out) + "</div>"


def citation(rulebook: Rulebook, cite: Citation) -> str:
    """One citation that opens in place: closed it names the paper and section, open it shows the passage."""
    source = rulebook.sources.get(cite.source)
    body = []
    if source is not None:
        design = f" - {escape(source.design)}" if source.design else ""
        body.append(f"<b>{escape(source.title)}</b><br>{escape(source.journal)}, {source.year}{design}")
    body.append(f"<div><b>{escape(cite.section)}</b></div>")
    if source is not None and source.kind == "external":
        body.append(f"<div>{escape(cite.locator)}</div><div class='sm-small'>Where to look in this external source; "
                    "its text is not in the project, so this is a pointer, not a quotation.</div>")
    else:
        body.append(f"<blockquote>{escape(cite.locator)}</blockquote>")
    body.append(f"<div class='sm-small'>{escape(citations.stance_note(cite))}</div>")
    if cite.claim:
        body.append(f"<div>Supports: {escape(cite.claim)}</div>")
    found = citations.links(source)
    if found:
        body.append(" · ".join(f"<a href='{escape(url)}' target='_blank' rel='noopener noreferrer'>{escape(label)}</a>"
                               for label, url in found))
    elif source is not None and source.kind == "paper":
        body.append("<div class='sm-small'>No DOI or PMID recorded for this paper.</div>")
    label = f"{citations.short_name(rulebook, cite.source)} - {cite.section} - {cite.stance_label}"
    return f"<details class='sm-cite'><summary>{escape(label)}</summary>{''.join(body)}</details>"


def rests_on(decision: Any, rule: str) -> tuple[Any, ...]:
    """The derived facts a fired rule's condition used (Decision.rests_on), of a decision or of one level's."""
    return tuple(d for d in decision.derived if rule in d.used_by)


def _reason(rulebook: Rulebook, reason: Reason, decision: Decision) -> str:
    rests = "".join(
        f"<div class='sm-small'>Rests on an earlier conclusion: <i>{escape(d.title)}</i>, from "
        + "; ".join(escape(labels.rule_title(rulebook, b.rule)) for b in d.because) + "</div>"
        for d in rests_on(decision, reason.rule))
    rule = (f"<span class='sm-small' title='rule {escape(reason.rule)}'> - rule: "
            f"{escape(labels.rule_title(rulebook, reason.rule))}</span>")
    cites = "".join(citation(rulebook, c) for c in reason.citations)
    heading = escape(labels.reason_heading(rulebook, reason))
    return (f"<li data-rule='{escape(reason.rule)}'><span class='sm-eff'>{heading}</span>: {escape(reason.text)}"
            f"{rule}{rests}{_population(rulebook, reason)}{cites}</li>")


def _population(rulebook: Rulebook, reason: Reason) -> str:
    """The inclusion and exclusion criteria of the study an indication is drawn from (rules/sources.yaml)."""
    study = rulebook.population_of(reason.rule) if reason.effect == "indicates" else None
    if study is None:
        return ""
    source_id, population = study
    items = [f"<li>included: {escape(c.text)}</li>" for c in population.inclusion]
    items += [f"<li>excluded: {escape(c.text)}</li>" for c in population.exclusion]
    name = escape(rulebook.source_name(source_id))
    return (f"<details class='sm-cite' data-population='{escape(source_id)}'><summary>Applies to patients like "
            f"those of {name}</summary><ul>{''.join(items)}</ul></details>")


def option_card(rulebook: Rulebook, option: OptionDecision, rank: int | None, decision: Decision,
                blocked_by: list[str] | None = None) -> str:
    style = labels.STATUS_STYLES[option.status]
    place = f"{rank}. " if rank else ""
    flag = " · provisional" if option.provisional else ""
    blocked = (f"<div class='sm-block'>Could change once {escape(', '.join(blocked_by))} "
               f"{'is' if len(blocked_by) == 1 else 'are'} fixed in the form</div>") if blocked_by else ""
    if option.reasons:
        reasons = "<ul>" + "".join(_reason(rulebook, r, decision) for r in option.reasons) + "</ul>"
    else:
        reasons = ("<div class='sm-small'>No rule applies to this option for this case: it stays at the baseline, "
                   "not recommended.</div>")
    return (f"<div class='sm-card' data-option='{escape(option.option)}' data-status='{option.status}' "
            f"style='{_vars(option.status)}'><div><span class='sm-h'>{place}"
            f"{escape(labels.option_title(rulebook, option.option))}</span><span class='sm-code' style='border-left:"
            f"6px solid {labels.option_colour(rulebook, option.option)}'>{escape(option.option)}</span></div>"
            f"<div><span class='sm-st'>{style.icon} {escape(style.label)}</span>"
            f"<span class='sm-small'>{flag}</span></div>{_range(rulebook, option)}{blocked}{reasons}</div>")


def _range(rulebook: Rulebook, option: OptionDecision) -> str:
    """A provisional option's range over the unknown fields, and the questions that move it toward each end."""
    span = option.range
    if span is None:
        return ""
    asked = "".join(f"<div>{label}: {escape(', '.join(labels.field_title(rulebook, n) for n in names))}</div>"
                    for label, names in (("Could lift it", span.toward_best), ("Could lower it", span.toward_worst))
                    if names)
    return (f"<details class='sm-cite' data-range='{escape(span.best)}..{escape(span.worst)}'><summary>Once the "
            f"unknown fields are known: {escape(labels.status_label(span.best))} at best, "
            f"{escape(labels.status_label(span.worst))} at worst</summary>{asked}</details>")


def option_cards(rulebook: Rulebook, decision: Decision, blocked: dict[str, list[str]] | None = None) -> str:
    """Every option, best first, in one piece of HTML; `blocked` names, per option, the fields at fault that could
    change it."""
    blocked = blocked or {}
    return "".join(
        option_card(rulebook, option, rank if option.option in decision.ranking else None, decision,
                    blocked.get(option.option))
        for rank, option in enumerate(decision.options, start=1))


def derived(rulebook: Rulebook, decision: Decision) -> str:
    """How the engine got there: each derived fact in words, with the rules that concluded it and their reasons."""
    items = []
    for d in decision.derived:
        used = ", ".join(escape(labels.rule_title(rulebook, r)) for r in d.used_by)
        because = "".join(f"<li>{escape(b.text)} <span class='sm-small' title='rule {escape(b.rule)}'>- rule: "
                          f"{escape(labels.rule_title(rulebook, b.rule))}</span></li>" for b in d.because)
        users = f"<span class='sm-small'>, used by: {used}</span>" if used else ""
        items.append(f"<div><b>{escape(d.title)}</b>{users}<ul>{because}</ul></div>")
    n = len(decision.derived)
    return (f"<details class='sm-derived'><summary>How the engine got there: {n} derived "
            f"fact{'s' if n != 1 else ''}</summary>{''.join(items)}</details>")


# The presentation view, for a screen projected at 1920x1080 and read from the back of a meeting room. Sizes in
# CSS px of that screen (docs/performance.md is about speed; the sizes and why are in README "Presentation view"):
# a projected 1080-line image about 1.7 m high makes 1 px about 1.6 mm, and text stays legible from a distance of
# about 200 times its capital height. The top suggestion at 72 px (capitals about 52 px, some 80 mm) reads from
# the back of a 15 m room; the status at 44 px (about 50 mm) from 10 m; the reasons at 34 px (about 38 mm) from
# 7-8 m, the depth of a typical board room. The card fills the upper half of the screen on its own.
PRESENT_STYLE = "".join("""<style>
[data-testid='stMainBlockContainer']{padding-top:1.2rem}
[data-testid='stMainBlockContainer'] h1{font-size:1.6rem;padding:0}
.sm-present{border:6px solid var(--c);background:var(--t);border-radius:14px;padding:20px 36px 24px 36px;
min-height:41vh;box-sizing:border-box;color:#111827}
.sm-present .sm-k{font-size:32px;font-weight:600;color:#1f2937;line-height:1.2}
.sm-present .sm-h{font-size:72px;font-weight:800;line-height:1.08;margin:4px 0 8px 0}
.sm-present .sm-st{font-size:44px;font-weight:800;color:var(--c);line-height:1.2}
.sm-present ul{margin:14px 0 0 0;padding-left:40px}
.sm-present li{font-size:34px;line-height:1.25;margin:6px 0}
.sm-present li b{color:#111827}
</style>""".splitlines())


def presentation_card(rulebook: Rulebook, decision: Decision, reasons: int = 3) -> str:
    """The top suggestion, its status and its first reasons (what each does and its rule's title), large."""
    top = decision.option(decision.top)
    style = labels.STATUS_STYLES[top.status]
    provisional = " · provisional: unknown fields could change it" if top.provisional else ""
    items = "".join(f"<li><b>{escape(labels.reason_heading(rulebook, r))}:</b> "
                    f"{escape(labels.rule_title(rulebook, r.rule))}</li>" for r in top.reasons[:reasons])
    return (f"{PRESENT_STYLE}<div class='sm-present' data-option='{escape(top.option)}' style='{_vars(top.status)}'>"
            f"<div class='sm-k'>Top suggestion</div>"
            f"<div class='sm-h'>{escape(labels.option_title(rulebook, top.option))}</div>"
            f"<div class='sm-st'>{style.icon} {escape(style.label)}{escape(provisional)}</div>"
            + (f"<ul>{items}</ul>" if items else "") + "</div>")
