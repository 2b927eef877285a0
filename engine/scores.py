"""Published scores as data (points, bands) and their computation, exact or as the range still possible."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .vocabulary import Citation

_MODEL = ConfigDict(extra="forbid", frozen=True)


class PointRange(BaseModel):
    """Points for a numeric input between `min` and `max`, both inclusive."""

    model_config = _MODEL
    min: float
    max: float
    points: int


class ScoreComponent(BaseModel):
    """One scored item: points by code (`points`) or by numeric range (`ranges`)."""

    model_config = _MODEL
    name: str
    input: str = Field(description="the case field (e.g. sins.location) the component reads")
    title: str
    points: dict[str, int] = Field(default_factory=dict)
    ranges: tuple[PointRange, ...] = ()
    note: str | None = None

    @model_validator(mode="after")
    def _one_table(self) -> ScoreComponent:
        if bool(self.points) == bool(self.ranges):
            raise ValueError(f"component '{self.name}' needs exactly one of 'points' (by code) or 'ranges' (numeric)")
        return self

    def points_for(self, value: Any) -> int | None:
        """Points for a known input value, or None when the score's published table has no entry for it."""
        if self.points:
            return self.points.get(value)
        for band in self.ranges:
            if band.min <= value <= band.max:
                return band.points
        return None

    @property
    def possible(self) -> tuple[int, int]:
        values = list(self.points.values()) or [r.points for r in self.ranges]
        return min(values), max(values)


class ScoreBand(BaseModel):
    model_config = _MODEL
    name: str
    title: str
    min: int
    max: int


class Score(BaseModel):
    """A published score: its components, bands and the source of its points."""

    model_config = _MODEL
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""
    components: tuple[ScoreComponent, ...]
    bands: tuple[ScoreBand, ...]
    citations: tuple[Citation, ...] = Field(min_length=1)

    @property
    def total_field(self) -> str:
        return f"{self.id}_total"

    @property
    def band_field(self) -> str:
        return f"{self.id}_band"

    @property
    def range(self) -> tuple[int, int]:
        return (sum(c.possible[0] for c in self.components), sum(c.possible[1] for c in self.components))

    def band_of(self, total: int) -> ScoreBand | None:
        return next((b for b in self.bands if b.min <= total <= b.max), None)

    def band_problems(self) -> list[str]:
        """Bands must tile the score's whole range without gaps or overlaps."""
        lo, hi = self.range
        bands = sorted(self.bands, key=lambda b: b.min)
        problems = []
        expected = lo
        for band in bands:
            if band.min != expected:
                problems.append(f"band '{band.name}' starts at {band.min}, expected {expected}")
            expected = band.max + 1
        if expected != hi + 1:
            problems.append(f"bands end at {expected - 1}, but the score reaches {hi}")
        return problems


class ScoreResult(BaseModel):
    """A score on one case: exact when every component is known, else the range it can still take."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["score"] = Field(default="score", title="Kind", description="'score' (a summary is 'summary')")
    score: str = Field(title="Score", description="score id of the rule base")
    title: str = Field(title="Title", description="the score's published name")
    total: int | None = Field(default=None, title="Total",
                                 description="the total, only when every component is known and mapped")
    band: str | None = Field(default=None, title="Band", description="the band of the total, when it is exact")
    band_title: str | None = Field(default=None, title="Band title", description="the band in words")
    minimum: int = Field(title="Minimum", description="the lowest total the unknown components still allow")
    maximum: int = Field(title="Maximum", description="the highest total the unknown components still allow")
    possible_bands: tuple[str, ...] = Field(default=(), title="Possible bands",
                                            description="the bands the total can still fall in")
    components: dict[str, int | None] = Field(default_factory=dict, title="Components",
                                                 description="points per component; null when unknown or unmapped")
    unknown: tuple[str, ...] = Field(default=(), title="Unknown", description="case fields still unknown")
    unmapped: tuple[str, ...] = Field(default=(), title="Unmapped", description="field=value pairs with no "
                                      "published category in the score: said, never guessed")
    citations: tuple[Citation, ...] = Field(default=(), title="Citations", description="the score's published source")

    def in_words(self) -> str:
        """'13 (Predicted survival a year or more (12-15))', or the range it can still take and why."""
        if self.total is not None:
            band = self.band_title or self.band
            return f"{self.total}" + (f" ({band})" if band else "")
        why = [f"{len(self.unknown)} component(s) unknown"] if self.unknown else []
        why += [f"no published category for {', '.join(self.unmapped)}"] if self.unmapped else []
        return f"{self.minimum}-{self.maximum} so far ({'; '.join(why)})"


def compute(score: Score, values: dict[str, Any]) -> ScoreResult:
    """Sum the known components; the total is exact only when none is unknown or unmapped."""
    points: dict[str, int | None] = {}
    unknown, unmapped = [], []
    lo = hi = 0
    for component in score.components:
        if component.input not in values:
            unknown.append(component.input)
            points[component.name] = None
            c_lo, c_hi = component.possible
        else:
            p = component.points_for(values[component.input])
            points[component.name] = p
            if p is None:
                unmapped.append(f"{component.input}={values[component.input]}")
                c_lo, c_hi = component.possible
            else:
                c_lo = c_hi = p
        lo, hi = lo + c_lo, hi + c_hi
    exact = not unknown and not unmapped
    band = score.band_of(lo) if exact else None
    possible = tuple(b.name for b in score.bands if b.max >= lo and b.min <= hi)
    return ScoreResult(score=score.id, title=score.title, total=lo if exact else None,
                       band=band.name if band else None, band_title=band.title if band else None,
                       minimum=lo, maximum=hi, possible_bands=possible, components=points,
                       unknown=tuple(unknown), unmapped=tuple(unmapped), citations=score.citations)


class ScaleGrade(BaseModel):
    model_config = _MODEL
    code: str
    title: str
    description: str


class Scale(BaseModel):
    """A published categorical grading (Bilsky, ASIA): the meaning of each code of one case field."""

    model_config = _MODEL
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    field: str = Field(description="the case field whose codes the scale defines")
    grades: tuple[ScaleGrade, ...] = Field(min_length=2)
    citations: tuple[Citation, ...] = Field(min_length=1)
