"""Hypothesis strategies derived from the case model and the rule language, shared by the property tests."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from spinemets.case import PER_LEVEL_FIELDS, VERTEBRAE, Case, case_from_values
from spinemets.conditions import AllOf, AnyOf, Compare, NotOf, Presence
from spinemets.fields import FieldSpec, input_specs

# Open-ended fields get a generous but finite range for generation.
OPEN_MAXIMUM = {"life_expectancy_months": 120, "extraspinal_bone_metastases": 30, "vertebral_metastases": 24}
INPUTS: dict[str, FieldSpec] = input_specs()


def bounds(spec: FieldSpec) -> tuple[float, float]:
    lo = spec.minimum if spec.minimum is not None else 0
    hi = spec.maximum if spec.maximum is not None else OPEN_MAXIMUM.get(spec.name, 100)
    return lo, hi


def values_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Every value the field can take, with the round numbers that thresholds use drawn often."""
    if spec.kind in ("bool", "fact"):
        return st.booleans()
    if spec.kind == "enum":
        return st.sampled_from(spec.values)
    lo, hi = bounds(spec)
    ints = st.integers(int(lo), int(hi))
    if spec.kind == "int":
        return ints
    return st.one_of(ints, st.floats(lo, hi, allow_nan=False, allow_infinity=False))


levels_strategy = st.lists(st.sampled_from(VERTEBRAE), min_size=1, max_size=5, unique=True)


@st.composite
def case_values(draw, complete: bool = False, unknown_rate: float | None = None) -> dict[str, Any]:
    """Flat known values of a case (`sins.x` keys); `complete` leaves nothing unknown."""
    values: dict[str, Any] = {}
    for name, spec in INPUTS.items():
        if complete or draw(st.booleans()):
            values[name] = draw(values_for(spec))
    if complete or draw(st.booleans()):
        values["levels"] = draw(levels_strategy)
    return values


def make_consistent(values: dict[str, Any]) -> dict[str, Any]:
    """Repair the combinations rules/consistency.yaml refuses, so complete random cases are admissible."""
    fixed = dict(values)
    grade = fixed.get("bilsky_grade")
    if grade is not None:
        fixed["epidural_involvement"] = grade != "0"
        if grade in ("2", "3"):
            fixed["spinal_cord_compression"] = True
    if "sins.lesion" in fixed:
        fixed["lesion_type"] = fixed["sins.lesion"]
    if "sins.pain" in fixed:
        fixed["mechanical_pain"] = fixed["sins.pain"] == "mechanical"
    collapse, height = fixed.get("sins.collapse"), fixed.get("height_loss_percent")
    if collapse is not None and height is not None:
        fixed["height_loss_percent"] = max(height, 50) if collapse == "over_50" else min(height, 50)
    if fixed.get("height_loss_percent", 0) > 0 and "pathological_fracture" in fixed:
        fixed["pathological_fracture"] = True
    if "sins.pain" in fixed and "pain_score" in fixed:
        fixed["pain_score"] = 0 if fixed["sins.pain"] == "none" else max(1, fixed["pain_score"])
    if fixed.get("pain_score") == 0:
        for name in ("refractory_to_analgesics", "refractory_to_conservative", "mechanical_pain"):
            if name in fixed:
                fixed[name] = False
    if fixed.get("refractory_to_analgesics") is False and "refractory_to_conservative" in fixed:
        fixed["refractory_to_conservative"] = False
    asia = fixed.get("asia_grade")
    if asia is not None and "neurological_deficit" in fixed:
        fixed["neurological_deficit"] = asia != "E"
    if fixed.get("neurological_deficit") is False:
        fixed.pop("deficit_onset_hours", None)
        if "deficit_progressing" in fixed:
            fixed["deficit_progressing"] = False
    levels = fixed.get("levels")
    if levels:
        if "vertebral_metastases" in fixed:
            fixed["vertebral_metastases"] = max(fixed["vertebral_metastases"], len(levels))
        if fixed.get("compression_site") in ("cord", "conus") and min(VERTEBRAE.index(v) for v in levels) >= VERTEBRAE.index("L3"):
            fixed["compression_site"] = "cauda_equina"
    return fixed


@st.composite
def cases(draw, complete: bool = False) -> Case:
    number = draw(st.integers(0, 10**6))
    values = draw(case_values(complete=complete))
    return case_from_values(f"gen-{number}", make_consistent(values) if complete else values)


def completions(values: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Cases that agree with `values` on every known field and fill in every unknown one."""
    @st.composite
    def complete(draw):
        filled = dict(values)
        for name, spec in INPUTS.items():
            if name not in filled:
                filled[name] = draw(values_for(spec))
        if "levels" not in filled:
            filled["levels"] = draw(levels_strategy)
        return filled if filled == make_consistent(filled) else make_consistent_keeping(values, filled)
    return complete()


def make_consistent_keeping(known: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    """A repaired completion, unless the repair would change a field the partial case already knew."""
    repaired = make_consistent(filled)
    return repaired if all(repaired.get(k) == v for k, v in known.items()) else filled


# --- random condition trees and rule bases ----------------------------------------------------------------


def leaves(specs: dict[str, FieldSpec]) -> st.SearchStrategy:
    names = sorted(specs)

    @st.composite
    def leaf(draw):
        spec = specs[draw(st.sampled_from(names))]
        if spec.kind != "fact" and draw(st.integers(0, 9)) == 0:
            return Presence(kind=draw(st.sampled_from(["known", "unknown"])), field=spec.name)
        if spec.kind in ("bool", "fact"):
            return Compare(field=spec.name, op=draw(st.sampled_from(["==", "!="])), value=draw(st.booleans()))
        if spec.kind == "enum":
            op = draw(st.sampled_from(["==", "!=", "in", "not in"]))
            if op in ("in", "not in"):
                chosen = draw(st.lists(st.sampled_from(spec.values), min_size=1, max_size=3, unique=True))
                return Compare(field=spec.name, op=op, value=tuple(chosen))
            return Compare(field=spec.name, op=op, value=draw(st.sampled_from(spec.values)))
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        lo, hi = bounds(spec)
        value = draw(st.integers(int(lo), int(hi)))
        return Compare(field=spec.name, op=op, value=value)
    return leaf()


def condition_trees(specs: dict[str, FieldSpec], max_leaves: int = 6) -> st.SearchStrategy:
    return st.recursive(
        leaves(specs),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda xs: AllOf(items=tuple(xs))),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: AnyOf(items=tuple(xs))),
            children.map(lambda x: NotOf(item=x)),
        ),
        max_leaves=max_leaves,
    )


def dump(data: Any) -> str:
    """YAML is a superset of JSON: generated rule files are written as JSON, read by the YAML loader."""
    return json.dumps(data, indent=1)


# --- cases in lesion form ---------------------------------------------------------------------------------

# A lesion's own inputs: the per-level case fields (SINS by component) and the lesion-only ones.
LESION_ONLY = ("painful", "prior_cement_at_level", "causes_deficit")
PER_LEVEL: tuple[str, ...] = tuple(n for n in INPUTS if n.split(".", 1)[0] in PER_LEVEL_FIELDS)
PATIENT: tuple[str, ...] = tuple(n for n in INPUTS if n not in PER_LEVEL)
SINS_LOCATION = {**{v: "junctional" for v in ("C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1")},
                 **{v: "mobile" for v in ("C3", "C4", "C5", "C6", "L2", "L3", "L4")},
                 **{f"T{n}": "semirigid" for n in range(3, 11)}, **{f"S{n}": "rigid" for n in range(2, 6)}}


def lesion_entry(level: str, values: dict[str, Any]) -> dict[str, Any]:
    """A lesion mapping from flat values (`sins.x` keys nested under `sins`)."""
    entry: dict[str, Any] = {"level": level}
    entry.update({k: v for k, v in values.items() if not k.startswith("sins.")})
    sins = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("sins.")}
    if sins:
        entry["sins"] = sins
    return entry


def lesion_case(case_id: str, patient: dict[str, Any], lesions: list[tuple[str, dict[str, Any]]]) -> Case:
    """A case in lesion form: the patient's flat values and (level, flat lesion values) in input order."""
    return case_from_values(case_id, {**patient, "lesions": [lesion_entry(lv, v) for lv, v in lesions]})


def _repair(patient: dict[str, Any], lesions: list[tuple[str, dict[str, Any]]]) -> tuple[
        dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """make_consistent on each lesion's view; a repair of a patient field (refractory pain, the deficit) is kept
    for every lesion, and the count of vertebral metastases covers every lesion."""
    patient = dict(patient)
    fixed: list[tuple[str, dict[str, Any]]] = []
    for _ in range(2):  # a patient field repaired for a later lesion is seen by the earlier ones on the second pass
        fixed = []
        for level, own in lesions:
            view = make_consistent({**patient, **own, "levels": [level]})
            hurts = view.get("pain_score", 0) > 0 or view.get("mechanical_pain") is True or \
                view.get("sins.pain") in ("mechanical", "occasional")
            pain_free = view.get("pain_score") == 0 or view.get("sins.pain") == "none"
            if "painful" in view and hurts and pain_free:  # the pain fields disagree: say nothing of it
                del view["painful"]
            elif view.get("painful") is False and hurts or view.get("painful") is True and pain_free:
                view["painful"] = hurts  # consistency.level_(not_)painful_(with|without)_pain
            patient.update({k: v for k, v in view.items() if k in PATIENT})
            for name in PATIENT:
                if name not in view:
                    patient.pop(name, None)
            fixed.append((level, {k: v for k, v in view.items() if k in PER_LEVEL or k in LESION_ONLY}))
        lesions = fixed
    if "vertebral_metastases" in patient:
        patient["vertebral_metastases"] = max(patient["vertebral_metastases"], len(lesions))
    return patient, fixed


@st.composite
def lesion_case_parts(draw, max_lesions: int = 5, complete: bool = False, room: int = 0) -> tuple[
        dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """(patient values, [(level, lesion values)]) of an admissible-looking case in lesion form, lesions in a
    random input order; `room` more vertebral metastases than lesions, so that lesions can be added."""
    patient = {n: draw(values_for(INPUTS[n])) for n in PATIENT if complete or draw(st.booleans())}
    levels = draw(st.lists(st.sampled_from(VERTEBRAE), min_size=1, max_size=max_lesions, unique=True))
    lesions = []
    for level in levels:
        own = {n: draw(values_for(INPUTS[n])) for n in PER_LEVEL if complete or draw(st.booleans())}
        own.update({n: draw(st.booleans()) for n in LESION_ONLY if complete or draw(st.booleans())})
        lesions.append((level, own))
    patient, lesions = _repair(patient, lesions)
    if room and "vertebral_metastases" in patient:
        most = INPUTS["vertebral_metastases"].maximum or len(VERTEBRAE)
        patient["vertebral_metastases"] = min(patient["vertebral_metastases"] + room, int(most))
    return patient, lesions


@st.composite
def lesion_cases(draw, max_lesions: int = 5, complete: bool = False) -> Case:
    """A case in lesion form (1..max_lesions lesions, input order random)."""
    patient, lesions = draw(lesion_case_parts(max_lesions=max_lesions, complete=complete))
    return lesion_case(f"gen-lesions-{draw(st.integers(0, 10**6))}", patient, lesions)


def inert_lesion(level: str) -> dict[str, Any]:
    """A lesion that is painless, stable and uncompressed, every such finding stated: not painful (pain score 0, no
    mechanical or radicular pain), no fracture or height loss, no kyphosis, blastic, no posterior wall defect or
    pedicle lysis, no paravertebral or epidural tumour (Bilsky 0), no cord compression, SINS 0-3 (stable: its
    location by the level, every other component the lowest), no prior radiotherapy, cement or cement leak, not
    hypervascular, not the cause of the deficit."""
    return {"pathological_fracture": False, "height_loss_percent": 0, "kyphosis_degrees": 0, "lesion_type": "blastic",
            "posterior_wall_defect": False, "pedicle_lysis": False, "paravertebral_extension": False,
            "hypervascular_tumor": False, "epidural_involvement": False, "bilsky_grade": "0",
            "spinal_cord_compression": False, "sins.location": SINS_LOCATION[level], "sins.pain": "none",
            "sins.lesion": "blastic", "sins.alignment": "normal", "sins.collapse": "none",
            "sins.posterolateral": "none", "pain_score": 0, "mechanical_pain": False, "radicular_pain": False,
            "prior_radiotherapy_at_level": False, "symptomatic_cement_leak": False, "painful": False,
            "prior_cement_at_level": False, "causes_deficit": False}
