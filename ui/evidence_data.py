"""The rule base's outcome figures (engine.evidence, from rules/evidence/*.yaml) as tidy points for charts.

Each item is one outcome of one study, split by arm (one per option): a time series of means or medians at
follow-up times, or a proportion (events of a total, per patient or per vertebra).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from spinemets import Rulebook
from spinemets.evidence import Arm, outcomes
from spinemets.vocabulary import Citation

# Sections of the evidence page, by words in an item's `measure` code: display grouping only.
TOPICS = (
    ("pain", "Pain", ("pain",)),
    ("leakage", "Cement leakage", ("leak",)),
    ("neurologic", "Neurological recovery", ("parapleg", "neurolog", "asia", "frankel")),
)
OTHER = ("other", "Other outcomes")


@dataclass(frozen=True)
class Point:
    item: str
    topic: str
    measure: str
    study: str
    option: str
    arm: str
    value: float
    unit: str = ""
    kind: str = "series"              # series | proportion
    time: str = ""
    months: float | None = None
    statistic: str = "mean"           # mean | median | percent
    sd: float | None = None
    n: float | None = None
    events: float | None = None
    total: float | None = None
    per: str = ""
    reported_percent: float | None = None

    @property
    def series(self) -> str:
        return f"{self.study} · {self.arm or self.option}"

    @property
    def low(self) -> float | None:
        return None if self.sd is None else self.value - self.sd

    @property
    def high(self) -> float | None:
        return None if self.sd is None else self.value + self.sd


@dataclass(frozen=True)
class Item:
    """One evidence item's context, for the text under a chart."""

    id: str
    title: str
    study: str
    design: str
    notes: str
    citations: tuple[Citation, ...]


@dataclass
class Evidence:
    points: list[Point] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)

    def topics(self) -> list[str]:
        order = [key for key, _, _ in TOPICS] + [OTHER[0]]
        present = {p.topic for p in self.points}
        return [t for t in order if t in present]

    def topic(self, name: str) -> list[Point]:
        return [p for p in self.points if p.topic == name]

    def items_for(self, points: list[Point]) -> list[Item]:
        return [self.items[i] for i in dict.fromkeys(p.item for p in points)]


def topic_of(measure: str) -> str:
    text = measure.lower()
    return next((key for key, _, words in TOPICS if any(w in text for w in words)), OTHER[0])


def topic_title(name: str) -> str:
    return next((title for key, title, _ in TOPICS if key == name), OTHER[1])


_ABBREVIATIONS = {"vas", "nrs", "odi", "eq5d", "kps", "asia"}


def measure_title(measure: str) -> str:
    """'pain_vas' -> 'Pain VAS', 'cement_leakage' -> 'Cement leakage'."""
    words = [w.upper() if w in _ABBREVIATIONS else w for w in measure.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def read(rulebook: Rulebook) -> Evidence:
    evidence = Evidence()
    for item in outcomes(rulebook):
        evidence.items[item.id] = Item(item.id, item.title, item.study, item.design, (item.notes or "").strip(),
                                       item.citations)
        common = {"item": item.id, "topic": topic_of(item.measure), "measure": item.measure, "study": item.study,
                      "unit": item.unit}
        for arm in item.arms:
            evidence.points += _arm_points(arm, common)
    return evidence


def _arm_points(arm: Arm, common: dict[str, Any]) -> list[Point]:
    found = [Point(option=arm.option, arm=arm.label, value=cast(float, p.mean if p.mean is not None else p.median),
                   kind="series", time=p.time, months=p.months, statistic="mean" if p.mean is not None else "median",
                   sd=p.sd if p.mean is not None else None, n=p.n or arm.n, **common)
             for p in arm.points]
    if arm.percent is not None:
        found.append(Point(option=arm.option, arm=arm.label, value=arm.percent, kind="proportion",
                           statistic="percent", n=arm.n, events=arm.events, total=arm.total, per=arm.per or "",
                           reported_percent=arm.reported_percent, **common))
    return found
