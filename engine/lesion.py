"""One involved vertebra: its level and the findings that belong to it alone (the data dictionary's Lesions).

A case may describe its levels as `lesions`, one entry per vertebra; the patient's own fields (age, primary,
survival, fitness, coagulation, the neurological deficit, ...) stay on the case. A case without `lesions` is read
as before: its per-level fields describe one lesion at the vertebrae named in `levels` (docs/rule-language.md,
"Lesions").
"""
from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from .case import PER_LEVEL_FIELDS, BilskyGrade, Case, CompressionSite, LesionType, Sins, Vertebra

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)
_CASE_FIELD_INFOS: dict[str, FieldInfo] = dict(Case.model_fields)


def _as_in_case(name: str) -> Any:
    """The case field's own definition (type, range, title), so a lesion reads a value exactly as a case does."""
    return copy.deepcopy(_CASE_FIELD_INFOS[name])


def _lesion_field(title: str, description: str) -> Any:
    return Field(default=None, title=title, description=description, json_schema_extra={"group": "mechanical"})


class Lesion(BaseModel):
    """One involved vertebra and its findings; every finding may be unknown, the level may not.

    >>> lesion = Lesion(level="T11", pathological_fracture=True, painful=True)
    >>> lesion.level, lesion.spinal_cord_compression is None  # unknown, not false
    ('T11', True)
    """

    model_config = _STRICT

    level: Vertebra = Field(title="Level", description="the vertebra this entry describes (C1-C7, T1-T12, L1-L5, "
                            "S1-S5), once per case", json_schema_extra={"group": "mechanical"})
    pathological_fracture: bool | None = _as_in_case("pathological_fracture")
    height_loss_percent: float | None = _as_in_case("height_loss_percent")
    kyphosis_degrees: float | None = _as_in_case("kyphosis_degrees")
    lesion_type: LesionType | None = _as_in_case("lesion_type")
    posterior_wall_defect: bool | None = _as_in_case("posterior_wall_defect")
    pedicle_lysis: bool | None = _as_in_case("pedicle_lysis")
    paravertebral_extension: bool | None = _as_in_case("paravertebral_extension")
    hypervascular_tumor: bool | None = _as_in_case("hypervascular_tumor")
    epidural_involvement: bool | None = _as_in_case("epidural_involvement")
    bilsky_grade: BilskyGrade | None = _as_in_case("bilsky_grade")
    spinal_cord_compression: bool | None = _as_in_case("spinal_cord_compression")
    compression_site: CompressionSite | None = _as_in_case("compression_site")
    sins: Sins | None = _as_in_case("sins")
    pain_score: float | None = _as_in_case("pain_score")
    mechanical_pain: bool | None = _as_in_case("mechanical_pain")
    radicular_pain: bool | None = _as_in_case("radicular_pain")
    prior_radiotherapy_at_level: bool | None = _as_in_case("prior_radiotherapy_at_level")
    symptomatic_cement_leak: bool | None = _as_in_case("symptomatic_cement_leak")
    painful: bool | None = _lesion_field(
        "Pain generator", "this level is a pain generator (clinical examination and imaging agree)")
    prior_cement_at_level: bool | None = _lesion_field(
        "Prior cement at the level", "cement was already injected at this level")
    causes_deficit: bool | None = _lesion_field(
        "Causes the deficit", "this lesion's compression causes the patient's neurological deficit")


LESION_ONLY_FIELDS: tuple[str, ...] = ("painful", "prior_cement_at_level", "causes_deficit")

assert set(Lesion.model_fields) == {"level", *PER_LEVEL_FIELDS, *LESION_ONLY_FIELDS}, "Lesion and PER_LEVEL_FIELDS"
