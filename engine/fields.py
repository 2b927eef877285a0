"""What rules may test: case fields, values computed from them, score outputs and derived facts."""
from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types

from .case import VERTEBRAE, Case, Sins, input_fields

Kind = Literal["bool", "int", "number", "enum", "fact"]


@dataclass(frozen=True)
class FieldSpec:
    """A name a condition may test, its type and range, and the case inputs it depends on."""

    name: str
    kind: Kind
    title: str
    description: str = ""
    values: tuple[str, ...] = ()          # enum codes
    minimum: float | None = None          # numeric range, inclusive
    maximum: float | None = None
    origin: Literal["input", "computed", "score", "fact"] = "input"
    inputs: frozenset[str] = field(default_factory=frozenset)  # case input fields it rests on
    group: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "number")

    def accepts(self, value: Any) -> bool:
        """Whether `value` is a value this field can take (type and range)."""
        if self.kind in ("bool", "fact"):
            return isinstance(value, bool)
        if self.kind == "enum":
            return isinstance(value, str) and value in self.values
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def describe_type(self) -> str:
        if self.kind in ("bool", "fact"):
            return "true or false"
        if self.kind == "enum":
            return "one of " + ", ".join(self.values)
        word = "a whole number" if self.kind == "int" else "a number"
        lo = "" if self.minimum is None else f"{self.minimum:g}"
        hi = "" if self.maximum is None else f"{self.maximum:g}"
        return f"{word} {lo}-{hi}" if lo and hi else (f"{word} >= {lo}" if lo else word)


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # Optional[X] and X | None
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _spec_from_model_field(name: str, info: Any, group: str) -> FieldSpec | None:
    annotation = _unwrap_optional(info.annotation)
    lo: float | None = None
    hi: float | None = None
    for meta in info.metadata:  # the bounds of the case's numeric fields are ints and floats
        if isinstance(meta, annotated_types.Ge):
            lo = typing.cast("float", meta.ge)
        elif isinstance(meta, annotated_types.Le):
            hi = typing.cast("float", meta.le)
    title, description, inputs = info.title or name, info.description or "", frozenset({name})
    if annotation is bool:
        return FieldSpec(name, "bool", title=title, description=description, inputs=inputs, group=group)
    if annotation is int:
        return FieldSpec(name, "int", title=title, description=description, minimum=lo, maximum=hi, inputs=inputs,
                         group=group)
    if annotation is float:
        return FieldSpec(name, "number", title=title, description=description, minimum=lo, maximum=hi,
                         inputs=inputs, group=group)
    if typing.get_origin(annotation) is Literal:
        return FieldSpec(name, "enum", title=title, description=description,
                         values=tuple(typing.get_args(annotation)), inputs=inputs, group=group)
    return None  # lists and nested models are tested through computed values


def input_specs() -> dict[str, FieldSpec]:
    """The case's clinical input fields as specs, in data-dictionary order (`levels` excluded: see computed)."""
    specs: dict[str, FieldSpec] = {}
    for name in input_fields():
        if name.startswith("sins."):
            component = name.split(".", 1)[1]
            spec = _spec_from_model_field(name, Sins.model_fields[component], "mechanical")
        else:
            info = Case.model_fields[name]
            extra = info.json_schema_extra  # the case model's fields carry their group as a mapping
            group = extra.get("group", "") if isinstance(extra, dict) else ""
            spec = _spec_from_model_field(name, info, str(group))
        if spec is not None:
            specs[name] = spec
    return specs


def lesion_input_specs() -> dict[str, FieldSpec]:
    """The inputs only a lesion has (`painful`, `prior_cement_at_level`, `causes_deficit`): unknown on a flat case."""
    from .lesion import LESION_ONLY_FIELDS, Lesion

    specs: dict[str, FieldSpec] = {}
    for name in LESION_ONLY_FIELDS:
        spec = _spec_from_model_field(name, Lesion.model_fields[name], "mechanical")
        if spec is not None:
            specs[name] = spec
    return specs


LEVEL_REGIONS = ("cervical", "thoracic", "lumbar", "sacral")


def computed_specs() -> dict[str, FieldSpec]:
    """Values computed from the case by anatomy and counting only, no clinical judgement."""
    levels = frozenset({"levels"})
    specs = {"level_count": FieldSpec("level_count", "int", "Number of levels to treat", "count of `levels`",
                                      minimum=1, maximum=24, origin="computed", inputs=levels, group="mechanical")}
    specs["top_level"] = FieldSpec(
        "top_level", "enum", "Most cranial level to treat", "the highest vertebra in `levels` (C1 is the highest)",
        values=VERTEBRAE, origin="computed", inputs=levels, group="mechanical")
    for region in LEVEL_REGIONS:
        specs[f"region_{region}"] = FieldSpec(
            f"region_{region}", "bool", f"A {region} level to treat", f"true when some level in `levels` is {region}",
            origin="computed", inputs=levels, group="mechanical")
    # Facts over the case's lesions (engine/lesion_views.py): a flat case is one lesion not described by level.
    specs["lesion_form"] = FieldSpec(
        "lesion_form", "bool", "Levels described one by one",
        "true when the case gives `lesions`, one entry per vertebra; a flat case says nothing of the fields only a "
        "lesion has (painful, prior cement, causes the deficit)", origin="computed", group="mechanical")
    specs["lesion_count"] = FieldSpec(
        "lesion_count", "int", "Number of lesions", "entries in `lesions` (a flat case is one lesion)",
        minimum=1, maximum=len(VERTEBRAE), origin="computed", group="mechanical")
    specs["adjacent_levels"] = FieldSpec(
        "adjacent_levels", "int", "Adjacent involved levels",
        "the lesion's vertebra and the vertebrae above and below it that are lesions of the case too, in one "
        "unbroken run (C7-T1, T12-L1 and L5-S1 adjacent); 1 for a flat case, whose `levels` give `level_count`",
        minimum=1, maximum=len(VERTEBRAE), origin="computed", group="mechanical")
    specs["discrete_compressive_lesions"] = FieldSpec(
        "discrete_compressive_lesions", "bool", "Discrete compressive lesions",
        "compression of the cord or cauda equina at two or more places separated by a vertebra that does not "
        "compress (adjacent compressive levels are one area); unknown while a level's compression decides it",
        origin="computed", inputs=frozenset({"spinal_cord_compression"}), group="neurologic")
    counts = frozenset({"vertebral_metastases", "extraspinal_bone_metastases"})
    specs["bone_metastases_total"] = FieldSpec(
        "bone_metastases_total", "int", "Bone metastases in all",
        "vertebral plus extraspinal bone metastases (known when both are)", minimum=0, maximum=29 + 1000,
        origin="computed", inputs=counts, group="oncologic")
    return specs


PLAN_OPTION_COUNTS = {"cement": "cement (PVP, TAE_PVP, PVP_ITR, KP)", "surgery": "open surgery (SURGERY)",
                      "conservative": "no procedure now (CONSERVATIVE)"}


def plan_fact_specs() -> dict[str, FieldSpec]:
    """What plan rules (rules/plan.yaml) may test besides the patient's fields: counts of levels by advice."""
    specs: dict[str, FieldSpec] = {}
    for key, words in PLAN_OPTION_COUNTS.items():
        specs[f"{key}_level_count"] = FieldSpec(
            f"{key}_level_count", "int", f"Levels advised {words}",
            f"levels whose advice (their lesion's top option, recommended or appropriate) is {words}",
            minimum=0, maximum=len(VERTEBRAE), origin="computed", group="mechanical")
    return specs


@dataclass
class FieldCatalog:
    """Every testable name for one rule base."""

    specs: dict[str, FieldSpec]

    def get(self, name: str) -> FieldSpec | None:
        return self.specs.get(name)

    def names(self) -> list[str]:
        return list(self.specs)

    def inputs_of(self, name: str) -> frozenset[str]:
        spec = self.specs.get(name)
        return spec.inputs if spec else frozenset()
