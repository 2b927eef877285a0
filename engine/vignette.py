"""A teaching vignette: a case plus what the paper's board did (or what a teaching case expects)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .case import Case
from .record import RecordReading
from .vocabulary import Citation, Option, Status


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


class CaseDocument(BaseModel):
    """A case file: the case, and for vignettes the board's reference management."""

    model_config = ConfigDict(frozen=True)

    case: Case
    board: Board | None = None
    path: str | None = None
    # read from a FHIR Bundle: each field's resource and date, and what was voided, asked or ignored
    record: RecordReading | None = None
