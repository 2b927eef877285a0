"""One lesion's decision, and the patient's summary of all of them (the top-level keys of a case in lesion form).

Each lesion is decided as a case of its own would be (its view: engine/lesion_views.py), so its decision has the
decision's keys less the case id and the rule base. The patient's summary keeps the decision's shape: an option's
status is the best it reaches at any level, with the levels where it does; `missing`, `conflicts` and `adjuncts`
gather every level's, each with its levels (docs/decision.md, Lesions).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from .decision import (
    AdjunctNote,
    ConflictNote,
    Decision,
    Derivation,
    MissingField,
    OptionDecision,
    StatusRange,
    rank_options,
)
from .frameworks import Summary
from .rulebook import Prefer, Rulebook
from .scores import ScoreResult
from .vocabulary import STATUS_RANK, Option

_OUT = ConfigDict(frozen=True)


class LesionDecision(BaseModel):
    """The graded, cited decision for one vertebra of a case in lesion form."""

    model_config = _OUT
    level: str = Field(title="Level", description="the vertebra this decision is for")
    options: tuple[OptionDecision, ...] = Field(title="Options", description="all six at this level, in ranking "
                                                "order, then the contraindicated ones")
    ranking: tuple[Option, ...] = Field(title="Ranking", description="the options not contraindicated at this "
                                        "level, best first")
    missing: tuple[MissingField, ...] = Field(title="Missing", description="unknown fields some value of which "
                                              "changes a status at this level")
    conflicts: tuple[ConflictNote, ...] = Field(title="Conflicts", description="disagreements between the sources "
                                                "at this level")
    adjuncts: tuple[AdjunctNote, ...] = Field(title="Adjuncts", description="what to do besides the chosen option")
    frameworks: dict[str, Annotated[ScoreResult | Summary, Field(discriminator="kind")]] = Field(
        default_factory=dict, title="Frameworks", description="scores and summaries for this level's view")
    derived: tuple[Derivation, ...] = Field(default=(), title="Derived facts", description="derived facts that hold")
    fired: tuple[str, ...] = Field(default=(), title="Fired rules", description="every rule durable-rules fired")

    @classmethod
    def of(cls, level: str, decision: Decision) -> LesionDecision:
        data = {name: getattr(decision, name) for name in cls.model_fields if name != "level"}
        return cls(level=level, **data)

    def option(self, code: str) -> OptionDecision:
        """The graded option with this code at this level; KeyError for another code."""
        found = next((o for o in self.options if o.option == code), None)
        if found is None:
            raise KeyError(f"no option {code!r}")
        return found

    @property
    def top(self) -> str:
        """The top suggestion at this level."""
        return self.ranking[0]

    def statuses(self) -> dict[str, str]:
        """Option code -> status at this level, best first."""
        return {o.option: o.status for o in self.options}


def patient_summary(lesions: Sequence[LesionDecision], rulebook: Rulebook,
                    not_painful: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The decision's top-level keys for the patient: per option the best status over the levels."""
    order: list[str] = [o.code for o in rulebook.manifest.options]
    options: dict[str, OptionDecision] = {}
    for code in order:
        graded = [(lesion.level, lesion.option(code)) for lesion in lesions]
        best = max(STATUS_RANK[o.status] for _, o in graded)
        reaching = [(level, o) for level, o in graded if STATUS_RANK[o.status] == best]
        first = reaching[0][1]
        provisional = any(o.provisional for _, o in graded)
        options[code] = first.model_copy(update={
            "provisional": provisional, "levels": tuple(level for level, _ in reaching),
            "range": _range_over(graded) if provisional else None})
    statuses: dict[str, str] = {code: o.status for code, o in options.items()}
    fired = sorted({rule for lesion in lesions for rule in lesion.fired})
    preferences = _preferences(lesions, statuses, rulebook, not_painful)
    spans: dict[str, tuple[int, int]] = {
        code: (min(_worst(o) for o in _each(lesions, code)), max(_best(o) for o in _each(lesions, code)))
        for code in order}
    ranking = rank_options(statuses, preferences, order, spans)
    listed = [options[c] for c in ranking] + [options[c] for c in order if c not in ranking]
    return {"options": tuple(listed), "ranking": tuple(ranking), "missing": _missing(lesions),
            "conflicts": _gathered(lesions, "conflicts", lambda note: note.rule),
            "adjuncts": _gathered(lesions, "adjuncts", lambda note: (note.rule, note.adjunct)),
            "frameworks": _shared_frameworks(lesions), "derived": _derived(lesions), "fired": tuple(fired)}


def _shared_frameworks(lesions: Sequence[LesionDecision]) -> dict[str, Any]:
    """The scores and summaries that come out the same at every level (the patient's: Tokuhashi, Tomita, ...);
    those that differ by level (SINS, NOMS) are each lesion's own."""
    first = lesions[0].frameworks
    return {name: framework for name, framework in first.items()
            if all(lesion.frameworks.get(name) == framework for lesion in lesions[1:])}


# The derived fact that a level carries the neurological deficit (rules/frame/neurologic.yaml).
DEFICIT_FACT = "neurological_deficit_present"


def _preferences(lesions: Sequence[LesionDecision], statuses: dict[str, str], rulebook: Rulebook,
                 not_painful: frozenset[str]) -> list[tuple[str, str]]:
    """Orderings among options of equal status for the patient. A preference fired at one level orders two
    options only where both reach their patient status at that level: one level's reasons do not order another
    level's options. Among what is left equal, the top option of a level that carries the neurological deficit
    comes first (NOMS: the neurological assessment leads), whatever the manifest order of the options; then the
    options of levels that hurt or compress come before those reached only at levels the board marks as no pain
    generator and that carry no deficit."""
    found: list[tuple[str, str]] = []
    for lesion in lesions:
        reached = {code for code, status in statuses.items() if lesion.option(code).status == status}
        found += [(e.prefer, other) for rule_id in lesion.fired for e in rulebook.rule_by_id[rule_id].then
                  if isinstance(e, Prefer) and e.prefer in reached for other in e.over if other in reached]
    stated = set(found)
    for lesion in lesions:
        if lesion.ranking and any(d.fact == DEFICIT_FACT for d in lesion.derived):
            top = lesion.top
            if lesion.option(top).status == statuses[top]:
                found += [(top, other) for other in statuses if other != top and (other, top) not in stated]
    quiet = {lesion.level for lesion in lesions
             if lesion.level in not_painful and not any(d.fact == DEFICIT_FACT for d in lesion.derived)}
    if quiet:
        reached_at = {code: {lesion.level for lesion in lesions if lesion.option(code).status == status}
                      for code, status in statuses.items()}
        only_quiet = {code for code, levels in reached_at.items() if levels <= quiet}
        found += [(code, other) for code in statuses if code not in only_quiet for other in only_quiet]
    return found


def _each(lesions: Iterable[LesionDecision], code: str) -> list[OptionDecision]:
    return [lesion.option(code) for lesion in lesions]


def _best(option: OptionDecision) -> int:
    return STATUS_RANK[option.range.best if option.range else option.status]


def _worst(option: OptionDecision) -> int:
    return STATUS_RANK[option.range.worst if option.range else option.status]


def _range_over(graded: Sequence[tuple[str, OptionDecision]]) -> StatusRange:
    """The range of the best status over the levels: from the best of the levels' worst to the best of their best."""
    by_rank = {rank: status for status, rank in STATUS_RANK.items()}
    best = max(_best(o) for _, o in graded)
    worst = max(_worst(o) for _, o in graded)
    up = tuple(dict.fromkeys(f for _, o in graded if o.range for f in o.range.toward_best))
    down = tuple(dict.fromkeys(f for _, o in graded if o.range for f in o.range.toward_worst))
    return StatusRange(best=by_rank[best], worst=by_rank[worst], toward_best=up, toward_worst=down)


def _missing(lesions: Sequence[LesionDecision]) -> tuple[MissingField, ...]:
    merged: dict[str, tuple[dict[str, None], dict[str, None], dict[str, None]]] = {}
    for lesion in lesions:
        for entry in lesion.missing:
            affects, rules, levels = merged.setdefault(entry.field, ({}, {}, {}))
            affects.update(dict.fromkeys(entry.affects))
            rules.update(dict.fromkeys(entry.rules))
            levels.update(dict.fromkeys(entry.levels or (lesion.level,)))
    return tuple(MissingField(field=name, affects=tuple(a), rules=tuple(r), levels=tuple(lv))
                 for name, (a, r, lv) in merged.items())


def _gathered(lesions: Sequence[LesionDecision], key: str, identity: Any) -> tuple[Any, ...]:
    found: dict[Any, tuple[Any, list[str]]] = {}
    for lesion in lesions:
        for note in getattr(lesion, key):
            entry = found.setdefault(identity(note), (note, []))
            entry[1].append(lesion.level)
    return tuple(note.model_copy(update={"levels": tuple(levels)}) for note, levels in found.values())


def _derived(lesions: Sequence[LesionDecision]) -> tuple[Derivation, ...]:
    found: dict[str, Derivation] = {}
    for lesion in lesions:
        for derivation in lesion.derived:
            found.setdefault(derivation.fact, derivation)
    return tuple(found.values())
