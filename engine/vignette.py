"""A teaching vignette: a case plus what the paper's board did (or what a teaching case expects)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .case import Case
from .vocabulary import Citation, Option, Status


class Board(BaseModel):
    """The reference management for a vignette: the paper's (cited), or a teaching expectation with its reasoning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["reported", "teaching"] = Field(
        title="Kind",
        description="reported: management a paper reports for a real patient; teaching: a constructed case")
    management: str = Field(title="Management", description="what the board did, or should do, in plain words")
    top: Option = Field(title="Expected top suggestion", description="the option the engine should rank first")
    statuses: dict[Option, Status] = Field(
        default_factory=dict, title="Key statuses", description="option statuses the engine must give for this case")
    reasoning: str = Field(title="Reasoning", description="why, in the words a trainee should be able to give")
    citations: list[Citation] = Field(default_factory=list, title="Citations", description="where the paper reports it")
    engine_note: str | None = Field(
        default=None, title="Engine note",
        description="where the engine's advice differs from the paper's management, and which side is right and why")


class CaseDocument(BaseModel):
    """A case file: the case, and for vignettes the board's reference management."""

    model_config = ConfigDict(frozen=True)

    case: Case
    board: Board | None = None
    path: str | None = None
