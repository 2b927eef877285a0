"""What the rules read of one lesion: the patient's fields, that vertebra's findings, and facts over all lesions.

Each lesion of a case in lesion form is decided from its *view*: the case's patient-level values, the lesion's own
per-level values, `levels: [its level]`, and the values computed over every lesion (`lesion_form`,
`lesion_count`, `discrete_compressive_lesions`), with the one fact that differs between lesions, `adjacent_levels`
(facts_at). A flat case is one view with `lesion_form` false and one lesion,
so the rules that need several lesions never fire on it and its decision is the one it always had.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .case import PER_LEVEL_FIELDS, SINS_COMPONENTS, VERTEBRAE, Case, known_values
from .lesion import LESION_ONLY_FIELDS, Lesion

# The values a flat case gives the facts over lesions: one lesion, not described level by level.
FLAT_FACTS: dict[str, Any] = {"lesion_form": False, "lesion_count": 1, "adjacent_levels": 1,
                               "discrete_compressive_lesions": False}
_PER_LEVEL_VALUES = frozenset(name for name in PER_LEVEL_FIELDS if name != "sins") | frozenset(
    f"sins.{component}" for component in SINS_COMPONENTS)


def ordered(lesions: Sequence[Lesion]) -> list[Lesion]:
    """Lesions from the most cranial vertebra down: the order a case lists them in never matters."""
    return sorted(lesions, key=lambda lesion: VERTEBRAE.index(lesion.level))


def patient_values(case: Case) -> dict[str, Any]:
    """The case's known values that belong to the patient, not to one vertebra (`levels` left out)."""
    return {k: v for k, v in known_values(case).items() if k not in _PER_LEVEL_VALUES and k != "levels"}


def lesion_values(lesion: Lesion) -> dict[str, Any]:
    """The lesion's known values as a case's are written (`sins.location`, ...), with `levels: [its level]`."""
    values: dict[str, Any] = {}
    for name in (*PER_LEVEL_FIELDS, *LESION_ONLY_FIELDS):
        value = getattr(lesion, name)
        if value is None:
            continue
        if name == "sins":
            values.update({f"sins.{c}": getattr(value, c) for c in SINS_COMPONENTS if getattr(value, c) is not None})
        else:
            values[name] = value
    values["levels"] = [lesion.level]
    return values


def compressive_blocks(levels: Sequence[str]) -> list[list[str]]:
    """Vertebrae grouped into runs of adjacent ones (C7 and T1 are adjacent, as are T12-L1 and L5-S1)."""
    blocks: list[list[str]] = []
    for level in sorted(levels, key=VERTEBRAE.index):
        if blocks and VERTEBRAE.index(level) == VERTEBRAE.index(blocks[-1][-1]) + 1:
            blocks[-1].append(level)
        else:
            blocks.append([level])
    return blocks


def discrete_compressions(compressed: dict[str, bool | None]) -> bool | None:
    """Whether compression is at two or more places separated by a vertebra that does not compress, read
    three-valued over the levels' compression (None: unknown). Adjacent compressive levels are one area, as the
    surgical trial counted them.

    True when every answer to the unknown levels leaves two areas: the levels known to compress fall in two runs
    even of the levels that might. False when no answer can: every vertebra between the highest and the lowest
    level that might compress is known to. Otherwise unknown (None): the unknown levels decide it.

    >>> discrete_compressions({"T9": True, "T11": True})        # T10 not involved: two areas
    True
    >>> discrete_compressions({"T9": True, "T10": None, "T11": True})  # T10 decides
    >>> discrete_compressions({"T9": True, "T10": True, "L2": False})
    False
    """
    certain = {level for level, value in compressed.items() if value is True}
    possible = sorted((level for level, value in compressed.items() if value is not False), key=VERTEBRAE.index)
    if sum(1 for run in compressive_blocks(possible) if certain.intersection(run)) >= 2:
        return True
    if len(possible) <= 1:
        return False
    lo, hi = VERTEBRAE.index(possible[0]), VERTEBRAE.index(possible[-1])
    if all(VERTEBRAE[i] in certain for i in range(lo + 1, hi)):
        return False
    return None


def facts_over(lesions: Sequence[Lesion], overrides: dict[str, bool] | None = None) -> dict[str, Any]:
    """The facts every lesion's view shares; `overrides` answers some levels' compression (level -> value)."""
    compressed = {lesion.level: lesion.spinal_cord_compression for lesion in lesions}
    compressed.update(overrides or {})
    facts: dict[str, Any] = {"lesion_form": True, "lesion_count": len(lesions)}
    discrete = discrete_compressions(compressed)
    if discrete is not None:
        facts["discrete_compressive_lesions"] = discrete
    return facts


def adjacent_levels(lesions: Sequence[Lesion]) -> dict[str, int]:
    """Each lesion's level -> the length of the run of adjacent lesion levels that holds it.

    >>> adjacent_levels([Lesion(level="T5"), Lesion(level="T6"), Lesion(level="T7"), Lesion(level="L1")])
    {'T5': 3, 'T6': 3, 'T7': 3, 'L1': 1}
    """
    return {level: len(run) for run in compressive_blocks([lesion.level for lesion in lesions]) for level in run}


def facts_at(shared: dict[str, Any], runs: dict[str, int], level: str) -> dict[str, Any]:
    """The facts the view of the lesion at `level` reads: those over all lesions (`facts_over`), and the length of
    its run of adjacent levels (`adjacent_levels`)."""
    return {**shared, "adjacent_levels": runs[level]}


def view_facts(lesions: Sequence[Lesion], level: str) -> dict[str, Any]:
    """`facts_at` for the lesion at `level`, computed from the case's lesions (for a single view)."""
    return facts_at(facts_over(lesions), adjacent_levels(lesions), level)


# The fields that describe the patient's neurological deficit: read at a level only when that level can cause it.
DEFICIT_FIELDS = ("neurological_deficit", "asia_grade", "deficit_onset_hours", "deficit_progressing")


def cannot_cause_deficit(lesion: Lesion) -> bool:
    """Whether the lesion is known not to cause the patient's deficit: the board says so, or nothing at the level
    compresses a neural structure (no cord or cauda equina compression, no compression site, no symptomatic
    cement leak). Unknown compression can cause it."""
    if lesion.causes_deficit is not None:
        return not lesion.causes_deficit
    return (lesion.spinal_cord_compression is False and lesion.compression_site is None
            and lesion.symptomatic_cement_leak is not True)


def deficit_elsewhere(lesions: Sequence[Lesion], lesion: Lesion) -> bool:
    """Whether another of the case's lesions can cause the deficit (is not known not to)."""
    return any(other.level != lesion.level and not cannot_cause_deficit(other) for other in lesions)


# The patient's fields that say the pain resists treatment: read at a level only when that level hurts.
REFRACTORY_FIELDS = ("refractory_to_analgesics", "refractory_to_conservative")


def known_painless(lesion: Lesion) -> bool:
    """Whether the lesion is known not to hurt: the board marks it as no pain generator, its pain score is 0, or its
    SINS pain component says pain-free."""
    return (lesion.painful is False or lesion.pain_score == 0
            or (lesion.sins is not None and lesion.sins.pain == "none"))


def pain_elsewhere(lesions: Sequence[Lesion], lesion: Lesion) -> bool:
    """Whether another of the case's lesions may hurt (is not known painless)."""
    return any(other.level != lesion.level and not known_painless(other) for other in lesions)


def view_values(patient: dict[str, Any], lesion: Lesion, elsewhere: bool = False,
                hurts_elsewhere: bool = False) -> dict[str, Any]:
    """The known inputs of one lesion's view: the patient's values and the lesion's own.

    The patient's refractory pain is the pain of the levels that hurt: at a level known painless, while another
    level may hurt (`hurts_elsewhere`), the pain the patient's refractory fields describe is not this level's, and
    they read false there, so no reason claims at a painless level a pain that resists treatment.

    The deficit (data dictionary: symptomatic compression) is read at the levels that can cause it: a level known
    not to, while another lesion can (`elsewhere`), is read as a level without symptomatic compression
    (`neurological_deficit` false, the deficit's grade, onset and course left to the levels that cause it), so that
    a contraindication or an operation meant for the compressing level does not land on a level that compresses
    nothing. When no described lesion can cause it (a single lesion, or none compressing), every level keeps it,
    as the flat case does: its source is then not among the levels described."""
    values = {**patient, **lesion_values(lesion)}
    if elsewhere and values.get("neurological_deficit") is not None and cannot_cause_deficit(lesion):
        for name in DEFICIT_FIELDS:
            values.pop(name, None)
        values["neurological_deficit"] = False
    if hurts_elsewhere and known_painless(lesion):
        for name in REFRACTORY_FIELDS:
            if name in values:
                values[name] = False
    return values


def lesion_view(patient: dict[str, Any], lesions: Sequence[Lesion], lesion: Lesion) -> dict[str, Any]:
    """`view_values` for one of the case's lesions, with what the other lesions say of the deficit and the pain."""
    return view_values(patient, lesion, deficit_elsewhere(lesions, lesion), pain_elsewhere(lesions, lesion))
