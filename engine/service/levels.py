"""What a card says about levels, for a patient whose record describes lesions: at which vertebrae an ordered
procedure is advised or contraindicated, and the plan's advice per level, in words short enough for a summary.

Plain data in, text out (levels and statuses), so the wording is tested without a rule base."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..case import VERTEBRAE
from ..fhir import load
from ..vocabulary import STATUSES

ADVISED = frozenset({"recommended", "appropriate"})


@dataclass(frozen=True)
class LevelStatus:
    """One option's status at one level (a lesion's decision)."""

    level: str
    status: str


@dataclass(frozen=True)
class OrderAtLevels:
    """What the card says of an order on a patient with lesions."""

    phrase: str                     # "recommended at T11; contraindicated at L1"
    contraindicated: tuple[str, ...]  # the levels (of those the order concerns) where it is contraindicated
    concerned: tuple[str, ...]      # the levels the order concerns: those it names, else every lesion's
    everywhere: bool                # contraindicated at every level it concerns
    unnamed: bool                   # the order names no level of the record
    elsewhere: tuple[str, ...]      # levels the order names where the record holds no lesion

    @property
    def contraindicated_first(self) -> str:
        """The phrase with the levels where the order is contraindicated said first."""
        parts = self.phrase.split("; ")
        return "; ".join(sorted(parts, key=lambda part: not part.startswith("contraindicated at ")))


def cranio_caudal(levels: Iterable[str]) -> list[str]:
    return sorted(set(levels), key=VERTEBRAE.index)


def grouped(statuses: Sequence[LevelStatus]) -> str:
    """'recommended at T11, T12; contraindicated at L1': best status first, levels cranio-caudal."""
    parts = []
    for status in STATUSES:
        levels = cranio_caudal(s.level for s in statuses if s.status == status)
        if levels:
            parts.append(f"{status.replace('_', ' ')} at {', '.join(levels)}")
    return "; ".join(parts)


def order_at_levels(statuses: Sequence[LevelStatus], ordered_levels: Sequence[str]) -> OrderAtLevels:
    """The ordered option's status at the levels the order names (its bodySite), or at every lesion's level when
    it names none: an order that does not say where is judged at every level it could be meant for."""
    known = {s.level for s in statuses}
    named = [lv for lv in cranio_caudal(ordered_levels) if lv in known]
    elsewhere = tuple(lv for lv in cranio_caudal(ordered_levels) if lv not in known)
    concerned = [s for s in statuses if s.level in named] if named else list(statuses)
    bad = tuple(cranio_caudal(s.level for s in concerned if s.status == "contraindicated"))
    return OrderAtLevels(phrase=grouped(concerned), contraindicated=bad,
                         concerned=tuple(cranio_caudal(s.level for s in concerned)),
                         everywhere=bool(concerned) and len(bad) == len(concerned), unnamed=not named,
                         elsewhere=elsewhere)


def plan_summary(levels: Sequence[Any]) -> str:
    """The plan's advice per level, grouped: 'PVP at T11, T12 (recommended); SURGERY at L1 (recommended,
    provisional)'. `levels` are the plan's PlanLevel entries (level, advice, status, provisional)."""
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for entry in levels:
        groups.setdefault((entry.advice, entry.status, bool(entry.provisional)), []).append(entry.level)
    parts = []
    for (advice, status, provisional), at in groups.items():
        words = status.replace("_", " ") + (", provisional" if provisional else "")
        parts.append(f"{advice} at {', '.join(cranio_caudal(at))} ({words})")
    return "; ".join(parts)


def ordered_levels(service_request: dict[str, Any]) -> tuple[str, ...]:
    """The vertebrae a drafted order names in its bodySite (SNOMED CT body structure or the project's code)."""
    level_of = load().level_of
    sites = service_request.get("bodySite")
    found: list[str] = []
    for concept in sites if isinstance(sites, list) else []:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            system, code = (coding.get("system"), coding.get("code")) if isinstance(coding, dict) else (None, None)
            if isinstance(system, str) and isinstance(code, str) and (system, code) in level_of:
                found.append(level_of[(system, code)])
    return tuple(cranio_caudal(found))
