"""The tumor board summary as data: what the minutes record, independent of Markdown or PDF."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spinemets import Case, Decision, Rulebook
from spinemets.case import GROUPS, input_fields, known_values
from spinemets.lesion import Lesion
from spinemets.vocabulary import Citation

from . import cards, citations, labels, lesion_state, plan_view


@dataclass(frozen=True)
class Reference:
    """A numbered passage; the full bibliography of its source is listed once, under `Summary.sources`."""

    number: int
    source: str           # short name, e.g. "Gu et al. 2017"
    section: str
    passage: str          # the locator, quoted only when it is copied from the paper (Rulebook.passage)
    stance: str = ""      # "states", "reports Chen et al. (ref. 21)" or "speculates" (Citation.stance_label)


@dataclass
class ReasonLine:
    effect: str
    text: str
    rule: str
    refs: list[int]
    rests_on: list[str]   # "Survival of 3 months or more (derive.survival.tokuhashi_estimate)": earlier conclusions


@dataclass
class OptionLine:
    code: str
    title: str
    status: str
    provisional: bool
    rank: int | None
    reasons: list[ReasonLine]


@dataclass
class Note:
    """A conflict or an adjunct: a heading, the text and its references."""

    heading: str
    text: str
    rule: str
    refs: list[int]


@dataclass
class LevelLine:
    """The decision at one level of a case with lesions: its findings, its top suggestion, its options."""

    level: str
    findings: list[tuple[str, str]]
    top: str
    options: list[OptionLine]


@dataclass
class Summary:
    case_id: str
    case_title: str | None
    presentation: str | None
    generated: str
    findings: list[tuple[str, list[tuple[str, str]]]]   # (group title, [(field title, value)])
    unknown_count: int
    top: str
    options: list[OptionLine]
    missing: list[tuple[str, str]]                      # (field title, options it could change)
    conflicts: list[Note]
    adjuncts: list[Note]
    scores: list[str]
    references: list[Reference] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)   # (short name, bibliography)
    rulebook: str = ""
    sha256: str = ""
    disclaimer: str = labels.DISCLAIMER
    plan: list[str] = field(default_factory=list)          # the plan for the patient, one sentence a line
    plan_reasons: list[Note] = field(default_factory=list)
    levels: list[LevelLine] = field(default_factory=list)   # a case with lesions: the decision at each level


class _References:
    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self.numbers: dict[tuple[str, str, str], int] = {}
        self.items: list[Reference] = []
        self.sources: dict[str, tuple[str, str]] = {}

    def cite(self, found: tuple[Citation, ...]) -> list[int]:
        numbers = []
        for c in found:
            k = (c.source, c.section, c.locator)
            if k not in self.numbers:
                self.numbers[k] = len(self.items) + 1
                short = citations.short_name(self.rulebook, c.source)
                self.items.append(Reference(self.numbers[k], short, c.section, self.rulebook.passage(c),
                                            c.stance_label))
                self.sources.setdefault(c.source, (short, citations.reference(self.rulebook, c.source)))
            numbers.append(self.numbers[k])
        return numbers


def build(rulebook: Rulebook, case: Case, decision: Decision, when: datetime | None = None) -> Summary:
    when = when or datetime.now().astimezone()
    refs = _References(rulebook)
    known = known_values(case)
    by_group: dict[str, list[tuple[str, str]]] = {g: [] for g in GROUPS}
    for name, value in known.items():
        group = labels.field_group(rulebook, name)
        by_group.setdefault(group, []).append((labels.field_title(rulebook, name), labels.value_label(value)))
    findings = [(labels.GROUP_TITLES.get(g, g), items) for g, items in by_group.items() if items]

    options = _options(rulebook, refs, decision)
    conflicts = [Note("The papers disagree about " + labels.options_in_words(rulebook, c.options)
                      + (" (each at most caution)" if c.caution else ""), c.text, c.rule, refs.cite(c.citations))
                 for c in decision.conflicts]
    adjuncts = [Note(a.title + (f" (with {labels.options_in_words(rulebook, a.options)})" if a.options else ""),
                     a.text, a.rule,
                     refs.cite(a.citations)) for a in decision.adjuncts]
    missing = [(labels.field_title(rulebook, m.field), labels.options_in_words(rulebook, m.affects))
               for m in decision.missing]
    scores = []
    for result in decision.frameworks.values():
        if result.kind == "score":
            scores.append(f"{result.title}: {result.in_words()}")
    for result in decision.frameworks.values():
        if result.kind == "summary":
            scores += [f"{result.title}, {line.title}: {line.text}" for line in result.lines]
    ref = decision.rulebook
    plan = plan_view.plan_of(decision)
    lesions = {lesion.level: lesion for lesion in case.lesions or []}
    levels = [LevelLine(d.level, _lesion_findings(rulebook, lesions.get(d.level)),
                        f"{d.top} - {labels.option_title(rulebook, d.top)}", _options(rulebook, refs, d))
              for d in plan_view.lesion_decisions(decision)]
    return Summary(
        case_id=case.id, case_title=case.title, presentation=case.presentation,
        generated=when.strftime("%Y-%m-%d %H:%M %Z").strip(), findings=findings,
        unknown_count=len(input_fields()) - len(known),
        top=f"{decision.top} - {labels.option_title(rulebook, decision.top)}", options=options, missing=missing,
        conflicts=conflicts, adjuncts=adjuncts, scores=scores, references=refs.items,
        sources=list(refs.sources.values()),
        rulebook=f"{ref.name} {ref.version}", sha256=ref.sha256,
        plan=plan_view.lines(rulebook, plan) if plan is not None else [],
        plan_reasons=[Note(labels.rule_title(rulebook, r.rule) + (f" ({', '.join(r.levels)})" if r.levels else ""),
                           r.text, r.rule, refs.cite(r.citations)) for r in (plan.reasons if plan is not None else ())],
        levels=levels)


def _options(rulebook: Rulebook, refs: _References, decision: Any) -> list[OptionLine]:
    """The options of a decision (or of the decision at one level), best first, with their reasons."""
    options = []
    for i, o in enumerate(decision.options, start=1):
        reasons = [ReasonLine(labels.reason_heading(rulebook, r), r.text, r.rule,
                              refs.cite(r.citations),
                              [f"{d.title} ({', '.join(b.rule for b in d.because)})"
                               for d in cards.rests_on(decision, r.rule)])
                   for r in o.reasons]
        options.append(OptionLine(o.option, labels.option_title(rulebook, o.option), labels.status_label(o.status),
                                  o.provisional, i if o.option in decision.ranking else None, reasons))
    return options


def _lesion_findings(rulebook: Rulebook, lesion: Lesion | None) -> list[tuple[str, str]]:
    if lesion is None:
        return []
    data = lesion.model_dump(exclude_none=True)
    data.pop("level")
    sins = data.pop("sins", None) or {}
    data.update({f"sins.{k}": v for k, v in sins.items()})
    return [(lesion_state.field_title(rulebook, name), labels.value_label(value)) for name, value in data.items()]

