"""The FHIR mapping of every case field, loaded once from mapping.yaml (resource, codings, FHIRPath, typing)."""
from __future__ import annotations

import functools
import typing
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml

from ..board_log import OVERRIDE_REASONS
from ..case import VERTEBRAE, Case, Sins
from ..lesion import LESION_ONLY_FIELDS, Lesion
from ..vocabulary import OPTIONS

Kind = Literal["identifier", "text", "gender", "boolean", "integer", "quantity", "coded", "present", "tumor",
               "sites"]
KINDS: tuple[str, ...] = typing.get_args(Kind)
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Code:
    """One coding: system URI, code and (optional) display."""

    system: str
    code: str
    display: str | None = None

    def key(self) -> tuple[str, str]:
        return self.system, self.code

    def coding(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class FieldMap:
    """Where one case field lives in FHIR and how its value is typed."""

    name: str
    resource: str
    kind: Kind
    path: str
    codes: tuple[Code, ...] = ()
    unit: str | None = None
    units: dict[str, float] = field(default_factory=dict)
    answers: dict[str, tuple[Code, ...]] = field(default_factory=dict)
    other_ranges: tuple[tuple[str, str], ...] = ()
    profile: str | None = None
    project: str = ""
    stale_after_days: int | None = None

    @property
    def title(self) -> str:
        return field_title(self.name)

    @property
    def local(self) -> bool:
        """True when the field's written code (or, for a tumour, some written answer) is the project's own."""
        written = ([self.codes[0]] if self.codes else []) + [codes[0] for codes in self.answers.values() if codes]
        return any(c.system == self.project for c in written) or self.kind == "sites"

    def local_detail(self) -> str:
        """Which part of the field is coded locally, in words for the docs."""
        project = self.project
        if self.kind == "sites":
            return "a flat case's vertebrae (bodySite; a lesion's are written in SNOMED CT too)"
        if self.kind == "tumor":
            values = [v for v, codes in self.answers.items() if codes[0].system == project]
            return "written for " + ", ".join(values)
        if self.codes and self.codes[0].system == project:
            return "the finding and its answers" if self.kind == "coded" else "the finding"
        return ""


@dataclass(frozen=True)
class Lab:
    """A lab value that raises a question for the board beyond a threshold (mapping.yaml `questions`)."""

    name: str
    codes: tuple[Code, ...]
    unit: str
    units: dict[str, float]
    ask_above: float | None = None
    ask_below: float | None = None
    stale_after_days: int | None = None


@dataclass(frozen=True)
class NotRead:
    """Codes the mapping deliberately does not read for a field, and why."""

    codes: tuple[Code, ...]
    why: str


@dataclass(frozen=True)
class FieldQuestions:
    """The facts of a record that bear on a field without deciding it."""

    name: str
    ask: str
    source: str | None = None
    labs: tuple[Lab, ...] = ()
    not_read: tuple[NotRead, ...] = ()
    medications: dict[str, tuple[Code, ...]] = field(default_factory=dict)
    diagnoses: tuple[Code, ...] = ()
    ecog: tuple[Code, ...] = ()
    ecog_stale_after_days: int | None = None
    cultures: tuple[Code, ...] = ()
    culture_positive: frozenset[str] = frozenset()
    culture_negative: frozenset[str] = frozenset()
    culture_stale_after_days: int | None = None


def field_title(name: str) -> str:
    """The case model's title for a field (`sins.location` and a lesion's own fields included)."""
    if name.startswith("sins."):
        return Sins.model_fields[name.split(".", 1)[1]].title or name
    info = Case.model_fields.get(name) or Lesion.model_fields.get(name)
    return (info.title if info is not None else None) or name


def field_description(name: str) -> str:
    if name.startswith("sins."):
        return Sins.model_fields[name.split(".", 1)[1]].description or ""
    info = Case.model_fields.get(name) or Lesion.model_fields.get(name)
    return (info.description if info is not None else None) or ""


def field_values(name: str) -> tuple[str, ...]:
    """The codes an enum field takes, from the case model."""
    info = Sins.model_fields[name.split(".", 1)[1]] if name.startswith("sins.") else Case.model_fields[name]
    annotation = info.annotation
    for arg in (typing.get_args(annotation) or (annotation,)):
        if typing.get_origin(arg) is Literal:
            return tuple(typing.get_args(arg))
    raise ValueError(f"{name} is not a coded field")


@dataclass(frozen=True)
class AugmentationOrders:
    """Orders for cement in a vertebra that do not tell which of `options` is meant (ICD-10-PCS, "vertebral
    augmentation"): the order is graded as the least favourable of them."""

    options: tuple[str, ...]
    codes: tuple[Code, ...]
    words: tuple[str, ...]


class Mapping:
    """The loaded mapping: systems, identifiers, extensions, profiles, fields, the vertebrae's codes and
    recognised orders."""

    _instance: Mapping | None = None

    def __init__(self, data: dict[str, Any], vertebrae: dict[str, Any] | None = None) -> None:
        self.systems: dict[str, str] = dict(data["systems"])
        self.project = self.systems["project"]
        self.icd10_family = frozenset(self.systems[a] for a in data.get("icd10_family", ()))
        self.case_id_system: str = data["identifiers"]["case_id"]
        self.extensions: dict[str, str] = dict(data["extensions"])
        self.profiles: dict[str, str] = dict(data["profiles"])
        self.fields: dict[str, FieldMap] = {name: self._field(name, spec) for name, spec in data["fields"].items()}
        # a lesion's own findings, read and written only for a case in lesion form (a flat case has no such field)
        self.lesion_fields: dict[str, FieldMap] = {
            name: self._field(name, spec) for name, spec in (data.get("lesion_fields") or {}).items()}
        if set(self.lesion_fields) != set(LESION_ONLY_FIELDS):
            raise ValueError(f"mapping.yaml: lesion_fields must map exactly {', '.join(LESION_ONLY_FIELDS)}")
        self.vertebra_codes: dict[str, Code] = self._vertebrae(vertebrae or {})
        self.level_of: dict[tuple[str, str], str] = {
            **{(c.system, c.code): level for level, c in self.vertebra_codes.items()},
            **{self.vertebra(level).key(): level for level in VERTEBRAE}}
        self.orders: dict[str, tuple[Code, ...]] = {
            option: tuple(self.code(c) for c in codes) for option, codes in data["orders"].items()}
        self.order_words: dict[str, tuple[str, ...]] = {
            option: tuple(str(w).lower() for w in words) for option, words in (data.get("order_words") or {}).items()}
        self.augmentation = self._augmentation(data.get("augmentation_orders") or {})
        self.questions: dict[str, FieldQuestions] = {
            name: self._questions(name, spec) for name, spec in (data.get("questions") or {}).items()}

    def _augmentation(self, data: dict[str, Any]) -> AugmentationOrders:
        options = tuple(str(o) for o in data.get("options", ()))
        if data and (len(options) < 2 or not set(options) <= set(self.orders)):
            raise ValueError("mapping.yaml: augmentation_orders.options must name two or more ordered options")
        codes = tuple(self.code(c) for c in data.get("codes", ()))
        taken = {(c.system, c.code) for listed in self.orders.values() for c in listed}
        if any((c.system, c.code) in taken for c in codes):
            raise ValueError("mapping.yaml: an augmentation_orders code is also one option's order code")
        return AugmentationOrders(options, codes, tuple(str(w).lower() for w in data.get("words", ())))

    def _vertebrae(self, data: dict[str, Any]) -> dict[str, Code]:
        codes: dict[str, Code] = {}
        for level, spec in (data.get("vertebrae") or {}).items():
            if level not in VERTEBRAE:
                raise ValueError(f"vertebrae.yaml: {level!r} is not a vertebra C1-S5")
            if not spec.get("verified_in"):
                raise ValueError(f"vertebrae.yaml: {level}: a code without verified_in is not written")
            codes[level] = Code(self.systems["snomed"], str(spec["snomed"]), str(spec["display"]))
        if len({c.code for c in codes.values()}) != len(codes):
            raise ValueError("vertebrae.yaml: one SNOMED CT code for two vertebrae")
        return codes

    def _questions(self, name: str, spec: dict[str, Any]) -> FieldQuestions:
        if name not in self.fields:
            raise ValueError(f"mapping.yaml: questions: {name} is not a field")
        labs = tuple(Lab(name=lab["name"], codes=tuple(self.code(c) for c in lab["codes"]), unit=str(lab["unit"]),
                         units={str(k): float(v) for k, v in (lab.get("units") or {}).items()},
                         ask_above=lab.get("ask_above"), ask_below=lab.get("ask_below"),
                         stale_after_days=lab.get("stale_after_days")) for lab in spec.get("labs", ()))
        not_read = tuple(NotRead(tuple(self.code(c) for c in item["codes"]), str(item["why"]))
                         for item in spec.get("not_read", ()))
        medications = {kind: tuple(self.code(c) for c in codes)
                       for kind, codes in (spec.get("medications") or {}).items()}
        ecog = spec.get("ecog") or {}
        cultures = spec.get("cultures") or {}
        return FieldQuestions(name=name, ask=str(spec["ask"]), source=spec.get("source"), labs=labs,
                              not_read=not_read,
                              medications=medications, diagnoses=tuple(self.code(c) for c in spec.get("diagnoses", ())),
                              ecog=tuple(self.code(c) for c in ecog.get("codes", ())),
                              ecog_stale_after_days=ecog.get("stale_after_days"),
                              cultures=tuple(self.code(c) for c in cultures.get("codes", ())),
                              culture_positive=frozenset(cultures.get("positive", ())),
                              culture_negative=frozenset(cultures.get("negative", ())),
                              culture_stale_after_days=cultures.get("stale_after_days"))

    def code(self, text: str, default_display: str | None = None) -> Code:
        """A coding from `alias|code|display` (display optional)."""
        parts = str(text).split("|", 2)
        if len(parts) < 2 or parts[0] not in self.systems:
            raise ValueError(f"mapping.yaml: {text!r} is not 'system|code|display' with a known system alias")
        display = parts[2] if len(parts) == 3 else None
        if display is None and parts[0] == "project":
            display = default_display
        return Code(self.systems[parts[0]], parts[1], display)

    def _field(self, name: str, spec: dict[str, Any]) -> FieldMap:
        kind = spec["kind"]
        if kind not in KINDS:
            raise ValueError(f"mapping.yaml: field {name}: unknown kind {kind!r}")
        codes = tuple(self.code(c, field_title(name)) for c in spec.get("codes", ()))
        answers: dict[str, tuple[Code, ...]] = {}
        if kind == "coded":
            declared = spec.get("answers") or {}
            for value in field_values(name):
                own = Code(self.project, f"{name}:{value}", f"{field_title(name)}: {value}")
                answers[value] = (own,) + tuple(self.code(c) for c in declared.get(value, ()))
        elif kind == "integer" and spec.get("answers"):  # a score also coded as LOINC answers (Karnofsky)
            for value, listed in spec["answers"].items():
                answers[str(value)] = tuple(self.code(c, f"{field_title(name)}: {value}") for c in listed)
        elif kind == "tumor":
            for value, listed in spec["answers"].items():
                answers[value] = tuple(self.code(c, f"{field_title(name)}: {value}") for c in listed)
            missing = set(field_values(name)) - set(answers)
            if missing:
                raise ValueError(f"mapping.yaml: field {name}: no codes for {sorted(missing)}")
        ranges = tuple(tuple(r.split("-", 1)) for r in spec.get("other_ranges", ()))
        profile = self.profiles[spec["profile"]] if spec.get("profile") else None
        return FieldMap(name=name, resource=spec["resource"], kind=kind, path=spec["path"], codes=codes,
                        unit=spec.get("unit"), units={str(k): float(v) for k, v in (spec.get("units") or {}).items()},
                        answers=answers, other_ranges=ranges, profile=profile, project=self.project,
                        stale_after_days=spec.get("stale_after_days"))

    def vertebra(self, level: str) -> Code:
        return Code(self.project, f"vertebra:{level}", f"{level} vertebra")

    def vertebra_site(self, level: str) -> dict[str, Any]:
        """A lesion's bodySite: the vertebra's SNOMED CT code (what a record reads), then the project's."""
        codings = [c.coding() for c in (self.vertebra_codes.get(level), self.vertebra(level)) if c is not None]
        return {"coding": codings, "text": level}

    def option(self, option: str) -> Code:
        return Code(self.project, f"option:{option}", option)

    def override(self, reason: str) -> Code:
        return Code(self.project, f"override:{reason}", OVERRIDE_REASONS[reason])

    @functools.cached_property
    def project_codes(self) -> frozenset[str]:
        """Every code of the project CodeSystem."""
        codes: set[str] = set()
        stack = list(self.project_concepts())
        while stack:
            concept = stack.pop()
            codes.add(concept["code"])
            stack += concept.get("concept", [])
        return frozenset(codes)

    def local_fields(self) -> list[FieldMap]:
        """Every field whose FHIR code (or part of it) is the project's own."""
        return [f for f in self.fields.values() if f.local]

    def project_concepts(self) -> list[dict[str, Any]]:
        """The project CodeSystem's concepts: case text, findings with their answers, vertebrae, options,
        override reasons."""
        concepts: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(code: Code, definition: str, children: list[dict[str, Any]] | None = None) -> None:
            if code.system != self.project or code.code in seen:
                return
            seen.add(code.code)
            concept: dict[str, Any] = {"code": code.code, "display": code.display or code.code}
            if definition:
                concept["definition"] = definition
            if children:
                concept["concept"] = children
            concepts.append(concept)

        for fmap in [*self.fields.values(), *self.lesion_fields.values()]:
            answer_concepts = [
                {"code": codes[0].code, "display": codes[0].display or codes[0].code}
                for codes in fmap.answers.values() if codes and codes[0].system == self.project]
            if fmap.codes:
                definition = field_description(fmap.name) if fmap.name in Case.model_fields or \
                    fmap.name in self.lesion_fields or fmap.name.startswith("sins.") \
                    else "A teaching case's title and presentation (Basic)"
                add(fmap.codes[0], definition, answer_concepts or None)
            else:
                for child in answer_concepts:
                    add(Code(self.project, child["code"], child["display"]), f"{field_title(fmap.name)}")
        for level in VERTEBRAE:
            add(self.vertebra(level), f"The {level} vertebra, a level to treat (Condition.bodySite)")
        for option in OPTIONS:
            add(self.option(option), f"Treatment option {option} of the data dictionary")
        for reason, text in OVERRIDE_REASONS.items():
            add(self.override(reason), f"Why a card's advice was not followed: {text}")
        return concepts


@functools.cache
def load() -> Mapping:
    """The mapping shipped with the package (engine/fhir/mapping.yaml)."""
    package = resources.files(__package__)
    return Mapping(yaml.safe_load(package.joinpath("mapping.yaml").read_text(encoding="utf-8")),
                   yaml.safe_load(package.joinpath("vertebrae.yaml").read_text(encoding="utf-8")))
