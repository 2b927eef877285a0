"""The case: every field of the data dictionary, typed strictly; absent or null means unknown."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

Group = Literal["identity", "neurologic", "oncologic", "mechanical", "systemic", "pain"]
GROUPS: tuple[Group, ...] = ("neurologic", "oncologic", "mechanical", "systemic", "pain")

PrimaryTumor = Literal[
    "lung", "breast", "prostate", "kidney", "liver", "thyroid", "colorectal", "stomach",
    "multiple_myeloma", "lymphoma", "leukemia", "melanoma", "other", "unknown_primary",
]
VERTEBRAE: tuple[str, ...] = (
    tuple(f"C{i}" for i in range(1, 8)) + tuple(f"T{i}" for i in range(1, 13))
    + tuple(f"L{i}" for i in range(1, 6)) + tuple(f"S{i}" for i in range(1, 6))
)
Vertebra = Literal[VERTEBRAE]  # type: ignore[valid-type]
REGION_OF_PREFIX = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}
BilskyGrade = Literal["0", "1a", "1b", "1c", "2", "3"]
AsiaGrade = Literal["A", "B", "C", "D", "E"]
LesionType = Literal["lytic", "blastic", "mixed"]
CompressionSite = Literal["cord", "conus", "cauda_equina", "root"]

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


def _field(title: str, description: str, group: Group, **kw: Any) -> Any:
    return Field(default=None, title=title, description=description, json_schema_extra={"group": group}, **kw)


class Sins(BaseModel):
    """Spinal Instability Neoplastic Score components (Fisher et al. 2010); a left-out component is unknown."""

    model_config = _STRICT

    location: Literal["junctional", "mobile", "semirigid", "rigid"] | None = Field(
        default=None, title="SINS location",
        description="junctional (O-C2, C7-T2, T11-L1, L5-S1), mobile (C3-C6, L2-L4), semirigid (T3-T10), rigid (S2-S5)")
    pain: Literal["mechanical", "occasional", "none"] | None = Field(
        default=None, title="SINS pain", description="mechanical; occasional, non-mechanical; or pain-free lesion")
    lesion: Literal["lytic", "mixed", "blastic"] | None = Field(
        default=None, title="SINS bone lesion", description="lytic, mixed (lytic/blastic) or blastic")
    alignment: Literal["subluxation", "deformity", "normal"] | None = Field(
        default=None, title="SINS alignment",
        description="subluxation or translation; de novo deformity (kyphosis or scoliosis); normal")
    collapse: Literal["over_50", "under_50", "none_over_50_involved", "none"] | None = Field(
        default=None, title="SINS vertebral body collapse",
        description="over 50% collapse; under 50%; no collapse with over half the body involved; none of these")
    posterolateral: Literal["bilateral", "unilateral", "none"] | None = Field(
        default=None, title="SINS posterolateral involvement",
        description="involvement of facet, pedicle or costovertebral joint: bilateral, unilateral or none")


class Case(BaseModel):
    """One patient's case for the board; only `id` is required, everything else may be unknown.

    The fields are the data dictionary's (`spinemets schema case` prints them as JSON Schema). Values are read
    strictly: a wrong type or a value out of range is refused, never converted. The model is immutable;
    `model_copy(update=...)` gives a changed copy (a what-if).

    >>> from spinemets import Case, CaseError, case_from_data
    >>> case = Case(id="demo", primary_tumor="lung", levels=["T9"], coagulopathy=None)
    >>> case.coagulopathy is None  # unknown, not false
    True
    >>> case.model_copy(update={"coagulopathy": True}).coagulopathy
    True

    From a mapping (a parsed YAML or JSON file), every problem is reported at once, by field:

    >>> try:
    ...     case_from_data({"id": "demo", "karnofsky": "high", "levels": ["T13"]})
    ... except CaseError as err:
    ...     print(sorted(p.field for p in err.problems))
    ['karnofsky', 'levels.0']
    """

    model_config = _STRICT

    id: str = Field(
        title="Case id", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$",
        description="case identifier: letters, digits, '.', '_' or '-' (no patient names; vignettes use a slug)",
        json_schema_extra={"group": "identity"})
    title: str | None = _field("Title", "one-line summary for lists", "identity", max_length=200)
    presentation: str | None = _field(
        "Presentation", "free-text vignette for trainees (not read by rules)", "identity", max_length=20_000)

    # systemic: can the patient bear a procedure, and for how long will it matter
    age: int | None = _field("Age", "years", "systemic", ge=0, le=120)
    sex: Literal["female", "male", "other"] | None = _field("Sex", "female, male or other", "systemic")
    life_expectancy_months: float | None = _field(
        "Life expectancy (months)", "the board's survival estimate in months (up to 600)", "systemic", ge=0, le=600)
    karnofsky: int | None = _field("Karnofsky performance status", "0-100", "systemic", ge=0, le=100)
    asa_class: int | None = _field("ASA physical status", "1-5", "systemic", ge=1, le=5)
    coagulopathy: bool | None = _field(
        "Uncorrectable coagulopathy", "uncorrectable coagulopathy or bleeding diathesis", "systemic")
    active_infection: bool | None = _field(
        "Active infection", "local (puncture site or spine) or systemic infection / sepsis", "systemic")
    cement_allergy: bool | None = _field("PMMA allergy", "allergy to PMMA bone cement", "systemic")
    severe_cardiopulmonary_disease: bool | None = _field(
        "Severe cardio-respiratory disease",
        "severe enough to preclude the procedure or prone positioning", "systemic")

    # oncologic: what is the tumour and how far has it spread
    primary_tumor: PrimaryTumor | None = _field(
        "Primary tumour", "histology of origin; unknown_primary = cancer of unknown primary, not 'not recorded'",
        "oncologic")
    histology_confirmed: bool | None = _field(
        "Histology confirmed", "malignancy proven by biopsy or marrow biopsy", "oncologic")
    primary_bone_tumor: bool | None = _field(
        "Possible primary bone tumour",
        "the spinal lesion is (or may be) a primary bone tumour of the spine rather than a metastasis", "oncologic")
    extraspinal_bone_metastases: int | None = _field(
        "Extraspinal bone metastases", "number of bone metastases outside the spine", "oncologic", ge=0, le=1000)
    vertebral_metastases: int | None = _field(
        "Vertebral metastases", "number of vertebral bodies with metastases (C1-S5: at most 29)", "oncologic", ge=0,
        le=29)
    visceral_metastases: Literal["none", "removable", "unremovable"] | None = _field(
        "Visceral metastases", "metastases to major internal organs: none, removable or unremovable", "oncologic")
    multifocal_bone_metastases: bool | None = _field(
        "Multifocal painful bone metastases", "painful bone metastases at several sites", "oncologic")
    hypervascular_tumor: bool | None = _field(
        "Hypervascular tumour", "hypervascular lesion (angiography, or by primary: renal, thyroid, hepatocellular)",
        "oncologic")
    paravertebral_extension: bool | None = _field(
        "Paravertebral extension", "tumour soft-tissue mass extending into the paravertebral space", "oncologic")
    prior_radiotherapy_at_level: bool | None = _field(
        "Prior radiotherapy at the level", "the index level has already been irradiated (radiotherapy given; "
        "failed or not)", "oncologic")

    # mechanical: will the vertebra hold
    levels: list[Vertebra] | None = _field(
        "Levels to treat", "symptomatic vertebral levels (C1-C7, T1-T12, L1-L5, S1-S5)", "mechanical",
        min_length=1, max_length=24)
    pathological_fracture: bool | None = _field(
        "Pathological fracture", "malignant vertebral compression fracture present", "mechanical")
    height_loss_percent: float | None = _field(
        "Height loss (%)", "loss of vertebral body height at the worst level", "mechanical", ge=0, le=100)
    kyphosis_degrees: float | None = _field(
        "Segmental kyphosis (degrees)", "segmental kyphosis angle", "mechanical", ge=0, le=90)
    severe_osteoporosis: bool | None = _field(
        "Severe osteoporosis", "severe osteoporosis of the spine (e.g. DEXA)", "mechanical")
    lesion_type: LesionType | None = _field(
        "Lesion type", "radiological character: lytic, blastic or mixed", "mechanical")
    posterior_wall_defect: bool | None = _field(
        "Posterior wall defect", "destruction / breach of the posterior cortex of the vertebral body", "mechanical")
    pedicle_lysis: bool | None = _field("Pedicle lysis", "lysis of the pedicle(s)", "mechanical")
    sins: Sins | None = _field(
        "SINS components", "Spinal Instability Neoplastic Score, entered by component", "mechanical")

    # neurologic: is the cord or a root in danger
    epidural_involvement: bool | None = _field(
        "Epidural involvement", "tumour in the epidural space", "neurologic")
    bilsky_grade: BilskyGrade | None = _field(
        "Bilsky grade", "epidural spinal cord compression grade on MRI: '0', '1a', '1b', '1c', '2', '3'",
        "neurologic")
    spinal_cord_compression: bool | None = _field(
        "Cord compression (imaging)", "radiological compression of the cord or cauda equina", "neurologic")
    neurological_deficit: bool | None = _field(
        "Neurological deficit", "symptomatic compression: myelopathy, weakness, sphincter disturbance", "neurologic")
    asia_grade: AsiaGrade | None = _field("ASIA grade", "ASIA impairment scale A-E (E = normal)", "neurologic")
    # Added to the data dictionary: the papers give symptomatic cement leakage its own indication for surgery.
    symptomatic_cement_leak: bool | None = _field(
        "Symptomatic cement leak", "cement from an earlier vertebroplasty compresses a nerve root or the cord",
        "neurologic")
    compression_site: CompressionSite | None = _field(
        "Compression site", "where the neural compression is: the spinal cord, the conus medullaris, the cauda "
        "equina, or a single nerve root", "neurologic")
    deficit_onset_hours: float | None = _field(
        "Deficit onset (hours)", "hours since the current neurological deficit began (Patchell 2005 excluded "
        "paraplegia of more than 48 hours); up to 10 years", "neurologic", ge=0, le=87_600)
    deficit_progressing: bool | None = _field(
        "Deficit progressing", "the neurological deficit is worsening", "neurologic")

    # pain: what kind of pain, and has it resisted conservative care
    pain_score: float | None = _field("Pain score", "VAS / NRS 0-10 at the index level", "pain", ge=0, le=10)
    radicular_pain: bool | None = _field("Radicular pain", "radicular (nerve-root) pain", "pain")
    diffuse_back_pain: bool | None = _field("Diffuse back pain", "diffuse, non-focal back pain", "pain")
    mechanical_pain: bool | None = _field("Mechanical pain", "pain worse with movement or loading", "pain")
    refractory_to_conservative: bool | None = _field(
        "Refractory to conservative care",
        "pain persists despite analgesics, bed rest, radiotherapy or chemotherapy", "pain")
    refractory_to_analgesics: bool | None = _field(
        "Refractory to analgesics", "pain persists despite analgesics (opioids) and bed rest", "pain")

    # The case's involved vertebrae one by one (engine/lesion.py); its absence keeps the flat reading above.
    lesions: list[Lesion] | None = _field(
        "Lesions", "one entry per involved vertebra with the findings of that vertebra (data dictionary, Lesions); "
        "the fields above that describe a level then stay empty or agree with every lesion", "mechanical",
        min_length=1, max_length=len(VERTEBRAE))

    @field_validator("title", "presentation")
    @classmethod
    def _some_text(cls, text: str | None) -> str | None:
        # blanks alone (a space, a no-break space) say nothing and cannot be carried by a FHIR string
        if text and not text.strip():
            raise ValueError("only blank characters: write some text or leave the field out")
        return text

    @field_validator("levels")
    @classmethod
    def _distinct_levels(cls, levels: list[str] | None) -> list[str] | None:
        if levels is None:
            return None
        repeated = sorted({v for v in levels if levels.count(v) > 1}, key=VERTEBRAE.index)
        if repeated:
            raise ValueError(f"level listed twice: {', '.join(repeated)}")
        return sorted(levels, key=VERTEBRAE.index)

    @field_validator("lesions")
    @classmethod
    def _one_entry_per_vertebra(cls, lesions: list[Lesion] | None) -> list[Lesion] | None:
        if lesions is None:
            return None
        first: dict[str, int] = {}
        for i, lesion in enumerate(lesions):
            if lesion.level in first:
                raise ValueError(f"lesions.{i}.level: {lesion.level} is described twice (also "
                                 f"lesions.{first[lesion.level]}); give one entry per vertebra")
            first[lesion.level] = i
        return lesions

    @model_validator(mode="after")
    def _flat_and_lesions_agree(self, info: ValidationInfo) -> Case:
        if self.lesions is not None and not (info.context or {}).get("located_lesion_problems"):
            problems = mixing_problems(self)
            if problems:
                raise ValueError("; ".join(f"{field}: {message}" for field, message in problems))
        return self


NOT_CLINICAL = frozenset({"id", "title", "presentation"})
# Fields that hold other models' entries rather than one value a rule reads.
STRUCTURED = frozenset({"lesions"})
# The case fields that describe one vertebra: with `lesions`, each lesion carries its own (data dictionary).
PER_LEVEL_FIELDS: tuple[str, ...] = (
    "pathological_fracture", "height_loss_percent", "kyphosis_degrees", "lesion_type", "posterior_wall_defect",
    "pedicle_lysis", "paravertebral_extension", "hypervascular_tumor", "epidural_involvement", "bilsky_grade",
    "spinal_cord_compression", "compression_site", "sins", "pain_score", "mechanical_pain", "radicular_pain",
    "prior_radiotherapy_at_level", "symptomatic_cement_leak")


def mixing_problems(case: Case) -> list[tuple[str, str]]:
    """Where a case in lesion form also says something at the top level that its lesions do not all say:
    `(field, what is wrong)`, the field as `lesions.<index>.<name>` or the top-level name."""
    if not case.lesions:
        return []
    problems: list[tuple[str, str]] = []
    described = [lesion.level for lesion in case.lesions]
    if case.levels is not None and sorted(case.levels, key=VERTEBRAE.index) != sorted(described, key=VERTEBRAE.index):
        problems.append(("levels", f"lists {', '.join(case.levels)} but the lesions describe "
                                   f"{', '.join(sorted(described, key=VERTEBRAE.index))}: leave levels out or make "
                                   "them the same"))
    for name in PER_LEVEL_FIELDS:
        top = getattr(case, name)
        if top is None:
            continue
        for i, lesion in enumerate(case.lesions):
            own = getattr(lesion, name)
            if own != top:
                said = "leaves it out" if own is None else f"says {_shown(own)}"
                problems.append((f"lesions.{i}.{name}", f"the top level says {name} {_shown(top)} and lesion "
                                 f"{lesion.level} {said}: with lesions, give per-level findings in each lesion"))
                break
    return problems


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return str(value.model_dump(exclude_none=True))
    return str(value)
SINS_COMPONENTS: tuple[str, ...] = tuple(Sins.model_fields)


def input_fields() -> list[str]:
    """Clinical input fields in data-dictionary order, with SINS expanded to `sins.<component>`."""
    names: list[str] = []
    for name in Case.model_fields:
        if name in NOT_CLINICAL or name in STRUCTURED:
            continue
        if name == "sins":
            names += [f"sins.{c}" for c in SINS_COMPONENTS]
        else:
            names.append(name)
    return names


def known_values(case: Case) -> dict[str, Any]:
    """The case's known clinical values, flat (`sins.location`), in data-dictionary order."""
    values: dict[str, Any] = {}
    for name in Case.model_fields:
        if name in NOT_CLINICAL or name in STRUCTURED:
            continue
        value = getattr(case, name)
        if value is None:
            continue
        if name == "sins":
            for component in SINS_COMPONENTS:
                code = getattr(value, component)
                if code is not None:
                    values[f"sins.{component}"] = code
        else:
            values[name] = value
    return values


def case_from_values(case_id: str, values: dict[str, Any], **identity: Any) -> Case:
    """Inverse of `known_values`: rebuild a validated case from flat values."""
    data: dict[str, Any] = {"id": case_id, **identity}
    sins = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("sins.")}
    data.update({k: v for k, v in values.items() if not k.startswith("sins.")})
    if sins:
        data["sins"] = sins
    return Case.model_validate(data)


from .lesion import Lesion  # noqa: E402  (a lesion reuses the case's field definitions: defined after Case)

Case.model_rebuild()
