"""A teaching vignette: a case plus what the paper's board did (or what a teaching case expects)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .case import Case, Vertebra
from .record import RecordReading
from .vocabulary import Citation, Option, Status

_EXPECTATION = ConfigDict(extra="forbid", frozen=True)


class LevelExpectation(BaseModel):
    """What the engine must advise at one level of a vignette given in lesion form."""

    model_config = _EXPECTATION

    top: Option | None = Field(default=None, title="Top option at the level",
                               description="the option the engine must rank first at this level")
    statuses: dict[Option, Status] = Field(default_factory=dict, title="Key statuses at the level",
                                           description="option statuses the engine must give at this level")
    adjuncts: tuple[str, ...] = Field(default=(), title="Adjuncts at the level",
                                      description="adjunct codes the engine must list at this level")


class ProcedureExpectation(BaseModel):
    """One procedure of the plan: the levels it treats and in how many sessions (operations for surgery)."""

    model_config = _EXPECTATION

    levels: tuple[Vertebra, ...] = Field(min_length=1, title="Levels", description="the levels it treats, "
                                         "cranio-caudal")
    sessions: int | None = Field(default=None, ge=1, title="Sessions", description="how many sessions (cement) or "
                                 "separate operations (surgery) the plan must give it")


class PlanExpectation(BaseModel):
    """What the patient's plan must hold (vignettes in lesion form only)."""

    model_config = _EXPECTATION

    procedures: dict[Option, ProcedureExpectation] | None = Field(
        default=None, title="Procedures", description="exactly the procedures the plan must list, each with its "
        "levels and sessions; left out, the procedures are not checked")
    radiotherapy: tuple[Vertebra, ...] | None = Field(
        default=None, title="Radiotherapy", description="exactly the levels the plan's radiotherapy must cover")
    weigh: tuple[Vertebra, ...] | None = Field(
        default=None, title="Levels to weigh", description="exactly the levels the plan leaves for the board to "
        "weigh (their top option at caution or below)")
    reasons: tuple[str, ...] = Field(default=(), title="Plan reasons", description="ids of plan rules "
                                     "(rules/plan.yaml) that must be among the plan's reasons")


class Board(BaseModel):
    """The reference management for a vignette: the paper's (cited), or a teaching expectation with its reasoning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["reported", "teaching"] = Field(
        title="Kind",
        description="reported: management a paper reports for a real patient; teaching: a constructed case")
    management: str = Field(title="Management", description="what the board did, or should do, in plain words")
    top: Option = Field(
        title="Board's choice", description="reported: the option the paper's team carried out, as its figure caption "
        "or text states (cited); teaching: the option the engine should rank first")
    engine_top: Option | None = Field(
        default=None, title="Engine's top suggestion",
        description="reported vignettes only: the engine's first option where it differs from the paper's choice "
        "(`top`); the engine note says why")
    statuses: dict[Option, Status] = Field(
        default_factory=dict, title="Key statuses", description="option statuses the engine must give for this case")
    adjuncts: tuple[str, ...] = Field(
        default=(), title="Adjuncts", description="adjunct codes (rules/rulebook.yaml) the engine must list for this "
        "case: what a board would name besides the chosen option")
    reasoning: str = Field(title="Reasoning", description="why, in the words a trainee should be able to give")
    citations: list[Citation] = Field(default_factory=list, title="Citations", description="where the paper reports it")
    engine_note: str | None = Field(
        default=None, title="Engine note",
        description="where the engine's advice differs from the paper's management, and which side is right and why")
    levels: dict[Vertebra, LevelExpectation] = Field(
        default_factory=dict, title="Per-level expectations", description="lesion form only: what the engine must "
        "advise at each named level (its top option, key statuses, adjuncts)")
    plan: PlanExpectation | None = Field(
        default=None, title="Plan expectation", description="lesion form only: the procedures, sessions, "
        "radiotherapy levels and plan reasons the patient's plan must give")

    @model_validator(mode="after")
    def _engine_top_marks_a_disagreement(self) -> Board:
        if self.engine_top is None:
            return self
        if self.kind != "reported":
            raise ValueError("engine_top is for reported vignettes, where the paper's choice and the engine's "
                             "may differ")
        if self.engine_top == self.top:
            raise ValueError("engine_top repeats top: leave it out when the engine agrees with the paper")
        if not (self.engine_note or "").strip():
            raise ValueError("a vignette whose engine disagrees with the paper explains why in engine_note")
        return self

    @property
    def expected_top(self) -> str:
        """The option the engine must rank first: the paper's choice, unless the vignette records a disagreement."""
        return self.engine_top or self.top


def board_problems(case: Case, board: Board) -> list[tuple[str, str]]:
    """Where a board's per-level or plan expectations do not fit its case: `(field, what is wrong)`."""
    if not board.levels and board.plan is None:
        return []
    if not case.lesions:
        return [("board.levels" if board.levels else "board.plan",
                 "per-level and plan expectations need a case in lesion form (`lesions`)")]
    described = {lesion.level for lesion in case.lesions}
    named = [(f"board.levels.{level}", level) for level in board.levels]
    if board.plan is not None:
        for option, procedure in (board.plan.procedures or {}).items():
            named += [(f"board.plan.procedures.{option}.levels", level) for level in procedure.levels]
        named += [("board.plan.radiotherapy", level) for level in board.plan.radiotherapy or ()]
        named += [("board.plan.weigh", level) for level in board.plan.weigh or ()]
    return [(field, f"{level} is not among the case's lesions ({', '.join(sorted(described))})")
            for field, level in named if level not in described]


class CaseDocument(BaseModel):
    """A case file: the case, and for vignettes the board's reference management."""

    model_config = ConfigDict(frozen=True)

    case: Case
    board: Board | None = None
    path: str | None = None
    # read from a FHIR Bundle: each field's resource and date, and what was voided, asked or ignored
    record: RecordReading | None = None
    # the line each field starts on in the file (`sins.pain`, `lesions.1.level`): a problem found later, by the
    # engine's consistency checks, is told with its line as a schema problem is
    lines: dict[str, int] = Field(default_factory=dict, exclude=True, repr=False)

    def line_of(self, *fields: str | None) -> int | None:
        """The line of the first of `fields` the file has; else that of the nearest entry enclosing the first (a
        lesion's absent field: the lesion's line); None when the file says nothing of them or the case came from
        elsewhere."""
        for field in fields:
            if field and field in self.lines:
                return self.lines[field]
        parts = fields[0].split(".") if fields and fields[0] else []
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None
