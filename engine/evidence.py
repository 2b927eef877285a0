"""Outcome figures of the papers (rules/evidence/): pain over time, leakage, neurological recovery, survival."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .vocabulary import Citation, Option

if TYPE_CHECKING:  # the rule base loader imports this module
    from .rulebook import Rulebook

_MODEL = ConfigDict(extra="forbid", frozen=True)

Measure = Literal[
    "pain_vas",            # visual analogue scale 0-10
    "pain_odi_item",       # ODI item 1, ordinal 0-5
    "disability_odi",      # Oswestry disability index, %
    "quality_eq5d",        # EQ-5D index
    "performance_kps",     # Karnofsky performance status
    "cement_leakage",
    "paraplegia_recovery",
    "pain_relief",
    "vertebral_stability",
    "survival",
]


class TimePoint(BaseModel):
    """A mean (or median) at one follow-up time, as the paper reports it."""

    model_config = _MODEL
    time: str = Field(description="the time point in the paper's words")
    months: float = Field(ge=-1, le=60, description="nominal months after treatment, for ordering and plotting")
    mean: float | None = None
    sd: float | None = Field(default=None, ge=0)
    median: float | None = None
    n: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_value(self) -> TimePoint:
        if self.mean is None and self.median is None:
            raise ValueError(f"time point '{self.time}' needs a mean or a median")
        return self


class Arm(BaseModel):
    """One treatment group of a study: a series of time points, or events out of a total."""

    model_config = _MODEL
    option: Option
    label: str
    n: int | None = Field(default=None, ge=1, description="patients in the group")
    points: tuple[TimePoint, ...] = ()
    events: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=1)
    per: Literal["patients", "vertebrae"] | None = None
    reported_percent: float | None = Field(
        default=None, ge=0, le=100, description="the percentage as printed, when it differs from events/total")

    @model_validator(mode="after")
    def _one_shape(self) -> Arm:
        proportion = self.events is not None or self.total is not None
        if bool(self.points) == proportion:
            raise ValueError(f"arm '{self.label}' needs either time points or events out of a total")
        if proportion:
            if self.events is None or self.total is None or self.per is None:
                raise ValueError(f"arm '{self.label}' needs events, total and per (patients or vertebrae)")
            if self.events > self.total:
                raise ValueError(f"arm '{self.label}': {self.events} events out of {self.total}")
        return self

    @property
    def percent(self) -> float | None:
        if self.events is None or not self.total:
            return None
        return 100.0 * self.events / self.total


class EvidenceItem(BaseModel):
    """One outcome of one study, per option, with its design, size and the passages it comes from."""

    model_config = _MODEL
    id: str = Field(pattern=r"^ev\.[a-z0-9_.-]+$")
    title: str
    study: str = Field(description="source id of the paper")
    design: str
    measure: Measure
    unit: str
    arms: tuple[Arm, ...] = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)
    notes: str | None = Field(default=None, description="inconsistencies in the paper and how the figure was chosen")

    @property
    def kind(self) -> Literal["timeseries", "proportion"]:
        return "timeseries" if self.arms[0].points else "proportion"


def outcomes(rulebook: Rulebook) -> list[EvidenceItem]:
    """The rule base's evidence as typed items (validated when the rule base was loaded)."""
    return [EvidenceItem.model_validate(item) for item in rulebook.evidence]
