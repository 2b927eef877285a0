"""The patient's plan: what each level is advised, which levels one session or one operation treats together,
what radiotherapy covers, and the reasons that concern the patient as a whole (rules/plan.yaml).

The plan adds no grade of its own: each level's advice is its lesion's top option with that lesion's status, so
the plan can never advise at a level what that level's decision does not. What it adds is grouping: cement
levels into sessions (split by a plan rule's cap), open surgery into one operation per run of adjacent levels
(never one operation across separate levels), and patient-level reasons.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import kleene
from .fields import FieldCatalog, plan_fact_specs
from .kleene import Truth
from .lesion import Lesion
from .lesion_decision import LesionDecision
from .lesion_views import compressive_blocks
from .rulebook import PlanNote, PlanRule, Rulebook, SessionLimit
from .vocabulary import Citation, Option, Status

_OUT = ConfigDict(frozen=True)
# The statuses at which a level's advice is a procedure the plan schedules; below them the board weighs it.
SCHEDULED: tuple[str, ...] = ("recommended", "appropriate")
# Adjuncts that name radiotherapy itself; local tumour control (radiotherapy, ablation or other) counts at a level
# not already irradiated.
RADIOTHERAPY_ADJUNCTS = frozenset({"radiotherapy_conventional", "radiotherapy_stereotactic"})
LOCAL_CONTROL_ADJUNCT = "local_tumour_control"


class PlanLevel(BaseModel):
    """One level of the plan: its lesion's top option and status, and what the picture of the spine shows."""

    model_config = _OUT
    level: str = Field(title="Level", description="the vertebra")
    advice: Option = Field(title="Advice", description="the lesion's top option (first of its ranking)")
    status: Status = Field(title="Status", description="the advice's status at this level")
    provisional: bool = Field(title="Provisional", description="an unknown field could change the advice's status")
    fracture: bool | None = Field(default=None, title="Fracture", description="pathological fracture at the level")
    compression: bool | None = Field(default=None, title="Compression",
                                     description="the cord or cauda equina is compressed at the level")
    painful: bool | None = Field(default=None, title="Pain generator", description="the level is a pain generator")
    causes_deficit: bool | None = Field(default=None, title="Causes the deficit",
                                        description="this level's compression causes the neurological deficit")


class PlanProcedure(BaseModel):
    """One option the plan schedules, at the levels advised it, grouped into sessions or operations."""

    model_config = _OUT
    option: Option = Field(title="Option", description="the procedure")
    levels: tuple[str, ...] = Field(title="Levels", description="the levels whose advice it is, recommended or "
                                    "appropriate, cranial first")
    sessions: tuple[tuple[str, ...], ...] = Field(
        title="Sessions", description="the levels treated together: for cement, one session each (split by a plan "
        "rule's cap); for open surgery, one operation per run of adjacent levels")


class PlanReason(BaseModel):
    """A patient-level reason of the plan, from a plan rule, naming the levels it concerns."""

    model_config = _OUT
    rule: str = Field(title="Rule", description="id of the plan rule")
    text: str = Field(title="Reason", description="the reason in plain words")
    levels: tuple[str, ...] = Field(title="Levels", description="the levels it concerns")
    provisional: bool = Field(title="Provisional", description="true when unknown fields leave open whether it "
                              "applies")
    citations: tuple[Citation, ...] = Field(title="Citations", description="where in the sources it rests")


class Plan(BaseModel):
    """The patient's plan over all lesions (data dictionary additive key `plan`; docs/decision.md, Lesions)."""

    model_config = _OUT
    levels: tuple[PlanLevel, ...] = Field(title="Levels", description="every lesion's advice, cranial first")
    procedures: tuple[PlanProcedure, ...] = Field(title="Procedures", description="the procedures to schedule, "
                                                  "with the levels each session or operation treats")
    radiotherapy: tuple[str, ...] = Field(title="Radiotherapy", description="levels a radiotherapy adjunct names; "
                                          "and, at levels not already irradiated, those advised local tumour "
                                          "control, or no procedure now where the level hurts or compresses")
    weigh: tuple[str, ...] = Field(title="For the board to weigh", description="levels whose advice is at caution "
                                   "or below: nothing is scheduled there until the board decides")
    reasons: tuple[PlanReason, ...] = Field(title="Reasons", description="patient-level reasons from plan rules")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class Planner:
    """The plan rules of one rule base, compiled once."""

    def __init__(self, rulebook: Rulebook) -> None:
        catalog = FieldCatalog({**rulebook.catalog.specs, **plan_fact_specs()})
        # which options inject cement is the rule base's (rulebook.yaml, options[].cement), not the plan's
        self._cement = frozenset(o.code for o in rulebook.manifest.options if o.cement)
        self._rules: tuple[tuple[PlanRule, kleene.Evaluate], ...] = tuple(
            (rule, kleene.compile_condition(rule.when, catalog)) for rule in rulebook.plan_rules)

    def plan(self, patient: dict[str, Any], facts: dict[str, Any], lesions: Sequence[Lesion],
             decisions: Sequence[LesionDecision]) -> Plan:
        """The plan for lesions (cranial first) and their decisions, with the patient's values and the facts over
        lesions that every view shared."""
        findings = {lesion.level: lesion for lesion in lesions}
        levels = tuple(_plan_level(findings[d.level], d) for d in decisions)
        scheduled: dict[str, list[str]] = {
            code: [p.level for p in levels if p.advice == code and p.status in SCHEDULED]
            for code in dict.fromkeys(p.advice for p in levels)}
        scope = {**patient, **facts}
        scope["cement_level_count"] = sum(len(scheduled.get(code, [])) for code in self._cement)
        scope["surgery_level_count"] = len(scheduled.get("SURGERY", []))
        scope["conservative_level_count"] = len(scheduled.get("CONSERVATIVE", []))
        cap: int | None = None
        reasons: list[PlanReason] = []
        for rule, test in self._rules:
            truth = test(scope)
            if truth == Truth.FALSE:
                continue
            named: list[str] = []
            for effect in rule.then:
                if isinstance(effect, SessionLimit) and truth == Truth.TRUE:
                    cap = effect.levels_at_most if cap is None else min(cap, effect.levels_at_most)
                    named += [p.level for p in levels if p.advice in effect.sessions and p.status in SCHEDULED]
                elif isinstance(effect, SessionLimit):
                    named += [p.level for p in levels if p.advice in effect.sessions and p.status in SCHEDULED]
                elif isinstance(effect, PlanNote):
                    named += _noted(effect, levels, certain=truth == Truth.TRUE)
            reasons.append(PlanReason(rule=rule.id, text=rule.text, levels=tuple(dict.fromkeys(named)),
                                      provisional=truth != Truth.TRUE, citations=rule.citations))
        procedures = []
        for code, at in scheduled.items():
            if not at or code == "CONSERVATIVE":
                continue
            if code == "SURGERY":
                sessions = tuple(op for run in compressive_blocks(at) for op in _operations(run, levels))
            elif code in self._cement and cap is not None:
                sessions = tuple(tuple(at[i:i + cap]) for i in range(0, len(at), cap))
            else:
                sessions = (tuple(at),)
            procedures.append(PlanProcedure(option=code, levels=tuple(at), sessions=sessions))
        radiotherapy = tuple(d.level for d, p in zip(decisions, levels, strict=True)
                             if _radiotherapy_covers(findings[d.level], p, d))
        weigh = tuple(p.level for p in levels if p.status not in SCHEDULED)
        return Plan(levels=levels, procedures=tuple(procedures), radiotherapy=radiotherapy, weigh=weigh,
                    reasons=tuple(reasons))


def _radiotherapy_covers(lesion: Lesion, planned: PlanLevel, decision: LesionDecision) -> bool:
    """Whether the level belongs in the radiotherapy field: an adjunct names radiotherapy there; or, at a level not
    known to be irradiated already, local tumour control is advised or no procedure now is the advice for a level
    that hurts or compresses (a level marked as no pain generator that compresses nothing is only watched)."""
    adjuncts = {a.adjunct for a in decision.adjuncts}
    if adjuncts & RADIOTHERAPY_ADJUNCTS:
        return True
    if lesion.prior_radiotherapy_at_level is True:
        return False  # irradiating again is the board's question, not the plan's default
    if LOCAL_CONTROL_ADJUNCT in adjuncts:
        return True
    quiet = lesion.painful is False and lesion.spinal_cord_compression is not True
    return planned.advice == "CONSERVATIVE" and planned.status in SCHEDULED and not quiet


def _plan_level(lesion: Lesion, decision: LesionDecision) -> PlanLevel:
    top = decision.option(decision.top)
    return PlanLevel(level=decision.level, advice=top.option, status=top.status, provisional=top.provisional,
                     fracture=lesion.pathological_fracture, compression=lesion.spinal_cord_compression,
                     painful=lesion.painful, causes_deficit=lesion.causes_deficit)


def _operations(run: Sequence[str], levels: Sequence[PlanLevel]) -> list[tuple[str, ...]]:
    """A run of adjacent levels for open surgery as operations that never hold two separate compressions: a new
    operation starts at a compressive level when the current one already has a compression and, after it, a
    level known not to compress (the trial excluded multiple discrete compressive lesions; checked exhaustively
    by tests/test_plan_invariants.py)."""
    compression = {p.level: p.compression for p in levels}
    operations: list[list[str]] = []
    compressed = separated = False
    for level in run:
        if operations and not (compression[level] is True and separated):
            operations[-1].append(level)
        else:
            operations.append([level])
            compressed = separated = False
        if compression[level] is True:
            compressed = True
        elif compression[level] is False and compressed:
            separated = True
    return [tuple(op) for op in operations]


def _noted(note: PlanNote, levels: Sequence[PlanLevel], certain: bool) -> list[str]:
    if note.note == "compressive":  # while the rule may apply, the levels whose compression is not ruled out
        return [p.level for p in levels if p.compression is True or (not certain and p.compression is None)]
    return [p.level for p in levels if p.advice in note.options]
