"""A solver's model of one lesion's view, turned into a case the engine can evaluate.

The SMT encoding reads one view at a time: the patient's fields, one lesion's, and the facts over lesions
(`lesion_form`, `lesion_count`, `discrete_compressive_lesions`) as free variables within what a view can hold.
A model with `lesion_form` true is realised as a case in lesion form: the witness lesion at the model's level,
and other lesions far from it whose compression gives the facts the model chose. The engine's decision for the
witness is that lesion's own decision, and its values are that lesion's view.
"""
from __future__ import annotations

from typing import Any

from ..case import PER_LEVEL_FIELDS, VERTEBRAE, Case, case_from_values
from ..lesion import LESION_ONLY_FIELDS

FACTS = ("lesion_form", "lesion_count", "discrete_compressive_lesions")
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
                            values.get("discrete_compressive_lesions"))
    return Case.model_validate({"id": case_id, **patient, "lesions": [lesion, *others]}), level


def _other_lesions(level: str, compressed: bool | None, count: int, discrete: bool | None) -> list[dict[str, Any]]:
    """count - 1 lesions, none adjacent to the witness or to each other, whose compression together with the
    witness's makes compressions discrete (True), not (False) or undecided (None). They neither hurt nor compress
    unless the facts need them to, and are known not to cause the deficit."""
    free = [v for i, v in enumerate(VERTEBRAE) if abs(i - VERTEBRAE.index(level)) >= 2]
    spaced = free[::2]  # every other free vertebra: no two of them adjacent
    # the lesions known not to compress decide nothing, wherever they are: after the spaced ones, any vertebra
    spaced += [v for v in VERTEBRAE if v != level and v not in spaced]
    wanted: list[bool | None] = []
    if discrete is True:
        wanted = [True] if compressed is True else [True, True]
    elif discrete is None:
        wanted = [True] if compressed is None else ([None] if compressed is True else [True, None])
    if len(wanted) > count - 1:
        raise ValueError(f"{count} lesions cannot make the compressions {discrete}")
    wanted += [False] * (count - 1 - len(wanted))
    return [{"level": at, "spinal_cord_compression": state, "painful": False, "causes_deficit": False}
            if state is not None else {"level": at, "painful": False, "causes_deficit": False}
            for at, state in zip(spaced, wanted, strict=False)]  # count - 1 <= 28 places: every one placed


def view_of(case: Case, level: str | None) -> dict[str, Any]:
    """The known inputs the engine reads for the witness: the case's own, or the witness lesion's view."""
    from ..case import known_values
    from ..lesion_views import lesion_view, ordered, patient_values

    if level is None or not case.lesions:
        return known_values(case)
    lesions = ordered(case.lesions)
    lesion = next(lesion for lesion in lesions if lesion.level == level)
    return lesion_view(patient_values(case), lesions, lesion)

