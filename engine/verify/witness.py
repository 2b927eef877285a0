"""A solver's model of one lesion's view, turned into a case the engine can evaluate.

The SMT encoding reads one view at a time: the patient's fields, one lesion's, and the facts over lesions
(`lesion_form`, `lesion_count`, `adjacent_levels`, `discrete_compressive_lesions`) as free variables within what a
view can hold. A model with `lesion_form` true is realised as a case in lesion form: the witness lesion at the
model's level, the lesions of its run of adjacent levels beside it, and other lesions away from them, whose
compression gives the facts the model chose. The engine's decision for the
witness is that lesion's own decision, and its values are that lesion's view.
"""
from __future__ import annotations

import itertools
from typing import Any

from ..case import PER_LEVEL_FIELDS, VERTEBRAE, Case, case_from_values
from ..lesion import LESION_ONLY_FIELDS, Lesion
from ..lesion_views import adjacent_levels, discrete_compressions

FACTS = ("lesion_form", "lesion_count", "adjacent_levels", "discrete_compressive_lesions")
_LESION_NAMES = frozenset(n for n in PER_LEVEL_FIELDS if n != "sins") | frozenset(LESION_ONLY_FIELDS)


def witness_case(case_id: str, values: dict[str, Any]) -> tuple[Case, str | None]:
    """The case a model's values describe, and the witness lesion's level (None for a flat case).

    Raises pydantic's ValidationError (or ValueError) when the values are no case the model admits."""
    if not values.get("lesion_form"):
        return case_from_values(case_id, {k: v for k, v in values.items() if k not in FACTS}), None
    level = values["levels"][0]
    lesion: dict[str, Any] = {"level": level}
    sins = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("sins.")}
    if sins:
        lesion["sins"] = sins
    lesion.update({k: v for k, v in values.items() if k in _LESION_NAMES})
    patient = {k: v for k, v in values.items()
               if k not in _LESION_NAMES and not k.startswith("sins.") and k not in FACTS and k != "levels"}
    others = _other_lesions(level, values.get("spinal_cord_compression"), int(values.get("lesion_count", 1)),
                            values.get("discrete_compressive_lesions"), int(values.get("adjacent_levels", 1)))
    return Case.model_validate({"id": case_id, **patient, "lesions": [lesion, *others]}), level


def _other_lesions(level: str, compressed: bool | None, count: int, discrete: bool | None,
                   adjacent: int = 1) -> list[dict[str, Any]]:
    """count - 1 lesions: adjacent - 1 of them beside the witness in one unbroken run, the others away from that run
    (and the first two of them from each other), whose compression together with the witness's makes compressions
    discrete (True), not (False) or undecided (None). They neither hurt nor compress unless the facts need them
    to, and are known not to cause the deficit. Raises ValueError when no such lesions exist."""
    at = VERTEBRAE.index(level)
    for first in range(max(0, at - adjacent + 1), min(at, len(VERTEBRAE) - adjacent) + 1):
        run = [VERTEBRAE[i] for i in range(first, first + adjacent) if i != at]
        ends = (first, first + adjacent - 1)
        away = [v for i, v in enumerate(VERTEBRAE) if i < ends[0] - 1 or i > ends[1] + 1]
        away = away[::2] + [v for v in away if v not in away[::2]]  # the first ones spaced: no two adjacent
        if count - adjacent > len(away):
            continue
        placed = run + away[:count - adjacent]
        for states in _compressions(len(run), count - adjacent):
            lesions = {level: compressed, **dict(zip(placed, states, strict=True))}
            if discrete_compressions(lesions) is discrete and \
                    adjacent_levels([Lesion(level=v) for v in lesions])[level] == adjacent:
                return [{"level": v, "spinal_cord_compression": state, "painful": False, "causes_deficit": False}
                        if state is not None else {"level": v, "painful": False, "causes_deficit": False}
                        for v, state in zip(placed, states, strict=True)]
    raise ValueError(f"{count} lesions, {adjacent} of them adjacent, cannot make the compressions {discrete}")


def _compressions(in_run: int, away: int) -> list[list[bool | None]]:
    """Compression states to try for the run's other lesions and the lesions away from it: every lesion known not
    to compress, except the run's first, last and third-last (a vertebra apart) and the first two away from the
    run, which try each state."""
    states: tuple[bool | None, ...] = (False, True, None)
    in_the_run = sorted({i for i in (0, in_run - 1, in_run - 3) if 0 <= i < in_run})
    varied = in_the_run + [in_run + i for i in range(min(away, 2))]
    tried: list[list[bool | None]] = []
    for chosen in itertools.product(states, repeat=len(varied)):
        row: list[bool | None] = [False] * (in_run + away)
        for i, state in zip(varied, chosen, strict=True):
            row[i] = state
        tried.append(row)
    return tried


def view_of(case: Case, level: str | None) -> dict[str, Any]:
    """The known inputs the engine reads for the witness: the case's own, or the witness lesion's view."""
    from ..case import known_values
    from ..lesion_views import lesion_view, ordered, patient_values

    if level is None or not case.lesions:
        return known_values(case)
    lesions = ordered(case.lesions)
    lesion = next(lesion for lesion in lesions if lesion.level == level)
    return lesion_view(patient_values(case), lesions, lesion)

