"""Synthetic registries: plausible, internally consistent made-up cases for demos and benchmarks.

The distributions below are illustrative, chosen so that values hang together the way they do in a
real registry (a prostate primary is mostly blastic, a kidney primary hypervascular, a Bilsky grade
agrees with epidural involvement and cord compression, the SINS lesion with the lesion type, survival
falls with the Karnofsky score) and so that about a fifth of the fields are unknown. They are not
epidemiology and no decision rests on them: the rules never read this module.

With `lesions=True` (`spinemets synth --lesions`) each case describes its vertebrae one by one in `lesions`. How
many levels a patient has and how they divide between the thoracic and lumbar spine follow the one published
series of the seed papers that counts them: the Danish vertebroplasty series (pvp-cancer-vcf-2018, Table 1:
30 patients, single level 6 (20%), multiple levels 24 (80%), 81 vertebrae in all; thoracic 37 (45.7%), lumbar 44
(54.3%)). That series treated thoracic and lumbar levels only; cervical and sacral levels keep the flat generator's
illustrative shares. Whether the next level is the next vertebra or a skipped one has no published figure here:
its rate is illustrative. Each level's findings are drawn for that level, with the flat generator's correlations.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from ..case import PER_LEVEL_FIELDS, VERTEBRAE, Case
from ..registry_io import csv_columns, csv_number, long_csv_columns

# primary: (weight, share female, lesion weights lytic/mixed/blastic, share hypervascular,
#           median survival in months at Karnofsky 70, chance of visceral metastases)
PRIMARIES: dict[str, tuple[float, float, tuple[int, int, int], float, float, float]] = {
    "lung": (24, 0.40, (6, 3, 1), 0.10, 6, 0.55),
    "breast": (20, 0.99, (4, 4, 2), 0.05, 24, 0.35),
    "prostate": (14, 0.00, (1, 2, 7), 0.02, 30, 0.15),
    "kidney": (8, 0.35, (9, 1, 0), 0.90, 14, 0.40),
    "multiple_myeloma": (8, 0.45, (10, 0, 0), 0.10, 30, 0.05),
    "liver": (4, 0.25, (8, 2, 0), 0.80, 5, 0.60),
    "colorectal": (4, 0.45, (7, 3, 0), 0.10, 8, 0.60),
    "thyroid": (3, 0.70, (8, 2, 0), 0.85, 40, 0.30),
    "stomach": (2, 0.35, (5, 4, 1), 0.05, 4, 0.60),
    "melanoma": (2, 0.45, (9, 1, 0), 0.60, 6, 0.60),
    "lymphoma": (2, 0.45, (7, 3, 0), 0.10, 24, 0.20),
    "leukemia": (1, 0.45, (8, 2, 0), 0.05, 12, 0.10),
    "other": (4, 0.50, (6, 3, 1), 0.20, 10, 0.40),
    "unknown_primary": (4, 0.45, (6, 3, 1), 0.20, 6, 0.50),
}
LESIONS = ("lytic", "mixed", "blastic")
# SINS location by vertebra, as the SINS table defines the segments.
SINS_LOCATION = {
    **dict.fromkeys(("C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"), "junctional"),
    **dict.fromkeys(("C3", "C4", "C5", "C6", "L2", "L3", "L4"), "mobile"),
    **{f"T{i}": "semirigid" for i in range(3, 11)},
    **dict.fromkeys(("S2", "S3", "S4", "S5"), "rigid"),
}
REGION_WEIGHTS = {"C": 8, "T": 62, "L": 27, "S": 3}
KARNOFSKY = (30, 40, 50, 60, 70, 80, 90, 100)
KARNOFSKY_WEIGHTS = (2, 4, 9, 15, 21, 22, 17, 10)
# Chance that a registry leaves a field blank: routine fields are nearly always filled in, scores and
# graded findings often are not.
UNKNOWN_RATE: dict[str, float] = {
    "age": 0.02, "sex": 0.01, "life_expectancy_months": 0.30, "karnofsky": 0.15, "asa_class": 0.35,
    "coagulopathy": 0.15, "active_infection": 0.15, "cement_allergy": 0.40, "severe_cardiopulmonary_disease": 0.20,
    "primary_tumor": 0.03, "histology_confirmed": 0.10, "primary_bone_tumor": 0.50,
    "extraspinal_bone_metastases": 0.30, "vertebral_metastases": 0.20, "visceral_metastases": 0.20,
    "multifocal_bone_metastases": 0.20, "hypervascular_tumor": 0.30, "paravertebral_extension": 0.20,
    "levels": 0.03, "pathological_fracture": 0.05, "height_loss_percent": 0.30, "kyphosis_degrees": 0.50,
    "severe_osteoporosis": 0.40, "lesion_type": 0.10, "posterior_wall_defect": 0.20, "pedicle_lysis": 0.25,
    "sins": 0.25, "epidural_involvement": 0.10, "bilsky_grade": 0.30, "spinal_cord_compression": 0.10,
    "neurological_deficit": 0.05, "asia_grade": 0.40, "symptomatic_cement_leak": 0.60, "pain_score": 0.10,
    "radicular_pain": 0.20, "diffuse_back_pain": 0.30, "mechanical_pain": 0.15, "refractory_to_conservative": 0.10,
    "refractory_to_analgesics": 0.15, "prior_radiotherapy_at_level": 0.20, "deficit_onset_hours": 0.30,
    "deficit_progressing": 0.20, "compression_site": 0.25,
}
SINS_UNKNOWN_COMPONENT = 0.10  # once SINS was scored at all, a single component is sometimes left out


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _levels(rng: random.Random) -> list[str]:
    region = _pick(rng, REGION_WEIGHTS)
    spine = [v for v in VERTEBRAE if v[0] == region]
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    start = rng.randrange(0, len(spine) - count + 1)
    return spine[start:start + count]


def _complete_case(rng: random.Random, case_id: str) -> dict[str, Any]:
    """Every field filled in, each consistent with the others."""
    primary = _pick(rng, {k: v[0] for k, v in PRIMARIES.items()})
    _, female, lesion_weights, hypervascular, survival, visceral = PRIMARIES[primary]
    c: dict[str, Any] = {"id": case_id, "primary_tumor": primary}
    c["sex"] = "female" if rng.random() < female else "male"
    c["age"] = max(18, min(95, round(rng.gauss(63, 11))))
    c["histology_confirmed"] = rng.random() < (0.55 if primary == "unknown_primary" else 0.9)
    c["primary_bone_tumor"] = (not c["histology_confirmed"]) and rng.random() < 0.15

    levels = _levels(rng)
    c["levels"] = levels
    c["vertebral_metastases"] = len(levels) + min(20, int(rng.expovariate(0.4)))
    c["extraspinal_bone_metastases"] = min(40, int(rng.expovariate(0.3))) if rng.random() < 0.6 else 0
    c["multifocal_bone_metastases"] = c["extraspinal_bone_metastases"] > 0 and rng.random() < 0.7
    c["visceral_metastases"] = ("none" if rng.random() >= visceral
                                else "removable" if rng.random() < 0.25 else "unremovable")
    lesion = rng.choices(LESIONS, weights=lesion_weights)[0]
    c["lesion_type"] = lesion
    c["hypervascular_tumor"] = rng.random() < hypervascular

    fracture = _fracture(rng, c, lesion)
    height = c["height_loss_percent"]
    c["severe_osteoporosis"] = rng.random() < (0.25 if c["age"] >= 70 else 0.08)
    pedicle = _walls(rng, c, lesion)

    epidural, grade = _epidural(rng, c, 0.25)
    deficit_chance = {"0": 0.01, "1a": 0.03, "1b": 0.08, "1c": 0.2, "2": 0.45, "3": 0.75}[grade]
    deficit = rng.random() < deficit_chance
    c["neurological_deficit"] = deficit
    c["asia_grade"] = rng.choices("ABCD", weights=(1, 2, 4, 8))[0] if deficit else "E"
    c["radicular_pain"] = rng.random() < (0.45 if epidural else 0.15)
    if c["spinal_cord_compression"] or deficit:
        # The cord ends at about L1-L2: below it, compression is of the cauda equina.
        lowest = max(VERTEBRAE.index(v) for v in levels)
        c["compression_site"] = ("cord" if lowest < VERTEBRAE.index("T12")
                                 else "conus" if lowest <= VERTEBRAE.index("L1") else "cauda_equina")
    elif c["radicular_pain"] and rng.random() < 0.5:
        c["compression_site"] = "root"
    if deficit:
        c["deficit_onset_hours"] = float(round(rng.gammavariate(1.5, 40.0)))
        c["deficit_progressing"] = rng.random() < 0.4
    else:
        c["deficit_progressing"] = False
    c["symptomatic_cement_leak"] = rng.random() < 0.01  # only after an earlier vertebroplasty

    mechanical = rng.random() < (0.75 if fracture else 0.35)
    c["mechanical_pain"] = mechanical
    c["diffuse_back_pain"] = rng.random() < 0.15
    c["pain_score"] = float(max(2, min(10, round(rng.gauss(7.2, 1.6)))))
    c["refractory_to_conservative"] = rng.random() < (0.7 if c["pain_score"] >= 7 else 0.4)
    c["refractory_to_analgesics"] = c["refractory_to_conservative"] or rng.random() < 0.3
    c["prior_radiotherapy_at_level"] = rng.random() < (0.5 if c["refractory_to_conservative"] else 0.2)

    _fitness(rng, c, primary, survival, deficit)

    collapse = ("over_50" if height > 50 else "under_50" if height > 0
                else "none_over_50_involved" if rng.random() < 0.4 else "none")
    posterolateral = ("bilateral" if pedicle and rng.random() < 0.4 else "unilateral" if pedicle else "none")
    c["sins"] = {
        "location": SINS_LOCATION[levels[0]],
        "pain": "mechanical" if mechanical else "occasional",  # every synthetic patient has pain (score 2-10)
        "lesion": lesion,
        "alignment": rng.choices(("normal", "deformity", "subluxation"),
                                 weights=(80, 17, 3) if height < 40 else (45, 45, 10))[0],
        "collapse": collapse,
        "posterolateral": posterolateral,
    }
    span = levels[0] if len(levels) == 1 else f"{levels[0]}-{levels[-1]}"
    c["title"] = f"synthetic {primary.replace('_', ' ')}, {span}"
    return c


# --- lesion cases: one entry per involved vertebra -------------------------------------------------------------

# pvp-cancer-vcf-2018, Table 1: "Treated levels, n (%) Single 6 (20) Multiple 24 (80)", 81 vertebrae in 30
# patients, so the 24 patients with several levels had 75 levels, 3.125 each on average: two levels and a
# geometric number more with mean 1.125 gives that mean. The cap keeps one case within what a board lists.
SINGLE_LEVEL_SHARE = 6 / 30
EXTRA_LEVELS_MEAN = 75 / 24 - 2
MAX_LEVELS = 12
# Which vertebra the run of levels starts at: cervical and sacral at the flat generator's illustrative weights,
# thoracic and lumbar tuned so that the levels drawn divide about as Table 1's do (thoracic 37 (45.7%), lumbar 44
# (54.3%)); the lumbar spine has five vertebrae, so a long run that starts there reaches up into the thoracic
# spine, which is why the lumbar start weight is above its share (tests/test_synth.py measures the levels' share).
START_REGION_WEIGHTS = {"C": 8, "T": 34, "L": 63, "S": 3}
# Illustrative: the chance that a patient's next level is the next vertebra rather than a skip of 1-4 vertebrae.
CONTIGUOUS = 0.6
# Lesion-only fields a registry leaves blank (illustrative, as UNKNOWN_RATE).
LESION_UNKNOWN_RATE = {"painful": 0.10, "prior_cement_at_level": 0.30, "causes_deficit": 0.30}


def _level_count(rng: random.Random) -> int:
    if rng.random() < SINGLE_LEVEL_SHARE:
        return 1
    p = 1 / (1 + EXTRA_LEVELS_MEAN)  # geometric on 0, 1, 2, ... with mean EXTRA_LEVELS_MEAN
    extra = 0
    while rng.random() >= p and 2 + extra < MAX_LEVELS:
        extra += 1
    return 2 + extra


def _lesion_levels(rng: random.Random, count: int) -> list[str]:
    """`count` vertebrae, cranial to caudal, each the next vertebra or a skip of 1-4, within C1-S5."""
    steps = [1 if rng.random() < CONTIGUOUS else rng.randint(2, 5) for _ in range(count - 1)]
    span = 1 + sum(steps)
    if span > len(VERTEBRAE):
        steps, span = [1] * (count - 1), count
    region = _pick(rng, START_REGION_WEIGHTS)
    # a run ends in the sacrum only if it starts there: metastatic runs of the lumbar spine rarely reach it
    end = len(VERTEBRAE) if region == "S" else VERTEBRAE.index("L5") + 1
    starts = [i for i, v in enumerate(VERTEBRAE) if v[0] == region and i + span <= end]
    start = rng.choice(starts) if starts else max(0, min(end, len(VERTEBRAE)) - span)
    at = [start]
    for step in steps:
        at.append(at[-1] + step)
    return [VERTEBRAE[i] for i in at]


def _compression_site(level: str) -> str:
    # The cord ends at about L1-L2: below it, compression is of the cauda equina.
    at = VERTEBRAE.index(level)
    return "cord" if at < VERTEBRAE.index("T12") else "conus" if at <= VERTEBRAE.index("L1") else "cauda_equina"


# The draws a flat case and a lesion share, in the order each makes them: the same seed gives the same registry
# as before these helpers (a flat case draws its osteoporosis between the fracture and the walls).

def _fracture(rng: random.Random, d: dict[str, Any], kind: str) -> bool:
    fracture = rng.random() < (0.35 if kind == "blastic" else 0.7)
    d["pathological_fracture"] = fracture
    height = round(min(90.0, rng.gammavariate(2.0, 14.0)), 0) if fracture else 0.0
    d["height_loss_percent"] = height
    d["kyphosis_degrees"] = round(min(60.0, height / 3 + rng.uniform(0, 8)), 0)
    return fracture


def _walls(rng: random.Random, d: dict[str, Any], kind: str) -> bool:
    """The posterior wall, the pedicles and the paravertebral space; True when a pedicle is lysed."""
    d["posterior_wall_defect"] = rng.random() < (0.45 if kind != "blastic" else 0.15)
    pedicle = rng.random() < (0.35 if kind != "blastic" else 0.1)
    d["pedicle_lysis"] = pedicle
    d["paravertebral_extension"] = rng.random() < (0.3 + 0.2 * d["hypervascular_tumor"])
    return pedicle


def _epidural(rng: random.Random, d: dict[str, Any], base: float) -> tuple[bool, str]:
    """Epidural tumour (more likely through a broken wall), its Bilsky grade and whether it compresses."""
    epidural = rng.random() < (base + 0.3 * d["posterior_wall_defect"])
    d["epidural_involvement"] = epidural
    grade = rng.choices(("1a", "1b", "1c", "2", "3"), weights=(30, 25, 15, 18, 12))[0] if epidural else "0"
    d["bilsky_grade"] = grade
    d["spinal_cord_compression"] = grade in ("2", "3") or (grade == "1c" and rng.random() < 0.3)
    return epidural, grade


def _lesion(rng: random.Random, level: str, primary: str, usual: str) -> dict[str, Any]:
    """One vertebra's findings, each drawn for this level; the patient's primary sets the odds."""
    _, _, lesion_weights, hypervascular, _, _ = PRIMARIES[primary]
    # most of a patient's lesions look alike; some differ (a blastic level beside lytic ones after treatment)
    kind = usual if rng.random() < 0.8 else rng.choices(LESIONS, weights=lesion_weights)[0]
    e: dict[str, Any] = {"level": level, "lesion_type": kind, "hypervascular_tumor": rng.random() < hypervascular}
    fracture = _fracture(rng, e, kind)
    height = e["height_loss_percent"]
    pedicle = _walls(rng, e, kind)
    epidural, _ = _epidural(rng, e, 0.2)
    e["radicular_pain"] = rng.random() < (0.45 if epidural else 0.15)
    if e["spinal_cord_compression"]:
        e["compression_site"] = _compression_site(level)
    elif e["radicular_pain"] and rng.random() < 0.5:
        e["compression_site"] = "root"
    # a level is a pain generator mostly when it is fractured or compresses
    painful = rng.random() < (0.9 if fracture or e["spinal_cord_compression"] else 0.55)
    e["painful"] = painful
    mechanical = painful and rng.random() < (0.75 if fracture else 0.35)
    e["mechanical_pain"] = mechanical
    if painful:
        e["pain_score"] = float(max(2, min(10, round(rng.gauss(7.2, 1.6)))))
    else:
        e["radicular_pain"] = False
    e["prior_radiotherapy_at_level"] = rng.random() < 0.25
    e["prior_cement_at_level"] = rng.random() < 0.03
    e["symptomatic_cement_leak"] = e["prior_cement_at_level"] and rng.random() < 0.1
    collapse = ("over_50" if height > 50 else "under_50" if height > 0
                else "none_over_50_involved" if rng.random() < 0.4 else "none")
    e["sins"] = {
        "location": SINS_LOCATION[level],
        "pain": "mechanical" if mechanical else "occasional" if painful else "none",
        "lesion": kind,
        "alignment": rng.choices(("normal", "deformity", "subluxation"),
                                 weights=(80, 17, 3) if height < 40 else (45, 45, 10))[0],
        "collapse": collapse,
        "posterolateral": "bilateral" if pedicle and rng.random() < 0.4 else "unilateral" if pedicle else "none",
    }
    return e


_GRADE_ORDER = ("0", "1a", "1b", "1c", "2", "3")


def _complete_lesion_case(rng: random.Random, case_id: str, count: int | None = None) -> dict[str, Any]:
    """A patient with `lesions` (count drawn as pvp-cancer-vcf-2018 Table 1 unless given), every field filled in."""
    primary = _pick(rng, {k: v[0] for k, v in PRIMARIES.items()})
    _, female, lesion_weights, _, survival, visceral = PRIMARIES[primary]
    c: dict[str, Any] = {"id": case_id, "primary_tumor": primary}
    c["sex"] = "female" if rng.random() < female else "male"
    c["age"] = max(18, min(95, round(rng.gauss(63, 11))))
    c["histology_confirmed"] = rng.random() < (0.55 if primary == "unknown_primary" else 0.9)
    c["primary_bone_tumor"] = (not c["histology_confirmed"]) and rng.random() < 0.15
    levels = _lesion_levels(rng, count or _level_count(rng))
    c["vertebral_metastases"] = min(len(VERTEBRAE), len(levels) + min(20, int(rng.expovariate(0.4))))
    c["extraspinal_bone_metastases"] = min(40, int(rng.expovariate(0.3))) if rng.random() < 0.6 else 0
    c["multifocal_bone_metastases"] = c["extraspinal_bone_metastases"] > 0 and rng.random() < 0.7
    c["visceral_metastases"] = ("none" if rng.random() >= visceral
                                else "removable" if rng.random() < 0.25 else "unremovable")
    c["severe_osteoporosis"] = rng.random() < (0.25 if c["age"] >= 70 else 0.08)
    usual = rng.choices(LESIONS, weights=lesion_weights)[0]
    lesions = [_lesion(rng, level, primary, usual) for level in levels]

    worst = max(lesions, key=lambda e: _GRADE_ORDER.index(e["bilsky_grade"]))
    deficit_chance = {"0": 0.01, "1a": 0.03, "1b": 0.08, "1c": 0.2, "2": 0.45, "3": 0.75}[worst["bilsky_grade"]]
    deficit = rng.random() < deficit_chance
    c["neurological_deficit"] = deficit
    c["asia_grade"] = rng.choices("ABCD", weights=(1, 2, 4, 8))[0] if deficit else "E"
    for e in lesions:
        # the deficit comes from the worst compression; a patient without one has no level causing it
        e["causes_deficit"] = deficit and e is worst
        if e is worst and deficit and "compression_site" not in e:
            e["compression_site"] = _compression_site(e["level"])
    if deficit:
        c["deficit_onset_hours"] = float(round(rng.gammavariate(1.5, 40.0)))
        c["deficit_progressing"] = rng.random() < 0.4
    else:
        c["deficit_progressing"] = False
    c["diffuse_back_pain"] = rng.random() < 0.15
    worst_pain = max((e.get("pain_score", 0.0) for e in lesions), default=0.0)
    c["refractory_to_conservative"] = worst_pain > 0 and rng.random() < (0.7 if worst_pain >= 7 else 0.4)
    c["refractory_to_analgesics"] = c["refractory_to_conservative"] or (worst_pain > 0 and rng.random() < 0.3)

    _fitness(rng, c, primary, survival, deficit)
    c["lesions"] = lesions
    c["title"] = f"synthetic {primary.replace('_', ' ')}, {_spans(levels)}"
    return c


def _spans(levels: list[str]) -> str:
    """T11-L1, L3: runs of consecutive vertebrae joined, for a title."""
    runs: list[list[str]] = []
    for level in levels:
        if runs and VERTEBRAE.index(level) == VERTEBRAE.index(runs[-1][-1]) + 1:
            runs[-1].append(level)
        else:
            runs.append([level])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def _blank_out_lesions(rng: random.Random, case: dict[str, Any]) -> dict[str, Any]:
    """A lesion case with fields left unknown at the registry's rates, per patient and per lesion; never a level."""
    out = _blank_out(rng, {k: v for k, v in case.items() if k != "lesions"})
    lesions = []
    for lesion in case["lesions"]:
        kept: dict[str, Any] = {"level": lesion["level"]}
        for name, value in lesion.items():
            rate = LESION_UNKNOWN_RATE.get(name, UNKNOWN_RATE.get(name, 0.0))
            if name == "level" or rng.random() < rate:
                continue
            kept[name] = value
            if name == "sins":
                kept[name] = {k: v for k, v in value.items() if rng.random() >= SINS_UNKNOWN_COMPONENT}
                if not kept[name]:
                    del kept[name]
        lesions.append(kept)
    out["lesions"] = lesions
    return out


def _blank_out(rng: random.Random, case: dict[str, Any]) -> dict[str, Any]:
    """Leave fields unknown at the registry's rates; never the id."""
    out = {"id": case["id"], "title": case["title"]}
    for name in Case.model_fields:
        if name in out or name not in case or rng.random() < UNKNOWN_RATE.get(name, 0.0):
            continue
        value = case[name]
        if name == "sins":
            value = {k: v for k, v in value.items() if rng.random() >= SINS_UNKNOWN_COMPONENT}
            if not value:
                continue
        out[name] = value
    return out


def synthetic_cases(n: int, seed: int = 0, engine: Any = None, *, lesions: bool = False,
                    lesion_count: int | None = None) -> Iterator[dict[str, Any]]:
    """`n` case mappings (data-dictionary shape), the same for the same seed.

    With an engine, each case is checked against the rule base's consistency checks; a field a check
    names is left unknown (the generator's own correlations already satisfy the built-in checks, so
    this only matters for a rule base that adds checks of its own). With `lesions`, each case has `lesions`
    (their number drawn as in pvp-cancer-vcf-2018 Table 1, or `lesion_count` each, for benchmarks).
    """
    if lesion_count is not None and not 1 <= lesion_count <= len(VERTEBRAE):
        raise ValueError(f"lesion_count must be 1-{len(VERTEBRAE)}, got {lesion_count}")
    rng = random.Random(seed)
    width = max(6, len(str(n - 1)))
    for i in range(n):
        case_id = f"synth-{seed}-{i:0{width}d}"
        if lesions or lesion_count is not None:
            case = _blank_out_lesions(rng, _complete_lesion_case(rng, case_id, lesion_count))
        else:
            case = _blank_out(rng, _complete_case(rng, case_id))
        if engine is not None:
            case = _admissible(engine, case)
        yield case


def _admissible(engine: Any, case: dict[str, Any]) -> dict[str, Any]:
    from ..case_io import case_from_data

    for _ in range(8):
        problems = engine.check(case_from_data(case).case)
        if not problems:
            return case
        for problem in problems:
            for name in (n for named in problem.fields for n in named.split(", ")):
                _forget(case, name)
    raise ValueError(f"case {case['id']}: the rule base's consistency checks refuse every repair")


def _forget(case: dict[str, Any], name: str) -> None:
    """Leave a field a check names unknown: `sins.x`, `lesions.<i>.x`, or a per-level name in every lesion."""
    parts = name.split(".")
    if parts[0] == "lesions" and len(parts) > 2 and parts[1].isdigit() and int(parts[1]) < len(case.get("lesions", ())):
        _forget(case["lesions"][int(parts[1])], ".".join(parts[2:]))
        return
    if parts[0] in PER_LEVEL_FIELDS and case.get("lesions"):
        for lesion in case["lesions"]:
            _forget(lesion, name)
    if parts[0] == "sins" and len(parts) == 2 and isinstance(case.get("sins"), dict):
        case["sins"].pop(parts[1], None)
        if not case["sins"]:
            del case["sins"]
    elif parts[0] != "level":  # a lesion's level is never left out
        case.pop(name, None)


# --- writing ----------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, float):
        return csv_number(value)
    return str(value)


def flat_row(case: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in case.items() if k != "sins"}
    for component, code in (case.get("sins") or {}).items():
        row[f"sins.{component}"] = code
    return row


def write(cases: Iterator[dict[str, Any]], out: Any, fmt: str, *, lesions: bool = False) -> int:
    """Write cases as JSON Lines or CSV; with `lesions`, CSV in the long form (one row per lesion, the patient's
    fields repeated on each of its rows: docs/batch.md). Returns the number of cases."""
    import csv
    import json

    count = 0
    if fmt == "jsonl":
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    columns = long_csv_columns() if lesions else csv_columns()  # the same header the batch command reads
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for case in cases:
        if lesions:
            patient = flat_row({k: v for k, v in case.items() if k not in ("lesions", "levels")})
            for lesion in case["lesions"]:
                row = {**patient, **flat_row(lesion)}
                writer.writerow([csv_cell(row.get(c)) for c in columns])
        else:
            row = flat_row(case)
            writer.writerow([csv_cell(row.get(c)) for c in columns])
        count += 1
    return count


# --- command line -----------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth", help="write N made-up but plausible cases (CSV or JSON Lines) for demos and benchmarks",
        description="Synthetic cases: plausible correlations, a realistic share of unknown fields, and every "
                    "case admissible under the rule base's consistency checks. Not real patients.")
    p.add_argument("n", type=_count, help="number of cases")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same cases")
    p.add_argument("--out", metavar="FILE", help="write to FILE (.csv or .jsonl); default: CSV on stdout")
    p.add_argument("--format", choices=["csv", "jsonl"], help="output format (default: from --out, else csv)")
    p.add_argument("--lesions", action="store_true",
                   help="describe each case's vertebrae one by one (`lesions`), most patients with several levels as "
                        "in the Danish series (pvp-cancer-vcf-2018, Table 1); CSV is then written in the long form, "
                        "one row per lesion (docs/batch.md)")
    p.add_argument("--rules", metavar="DIR", default=None,
                   help="rule base whose consistency checks the cases must pass (default: the built-in rules/)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it shows on a terminal when the cases go to a file or a pipe)")
    p.set_defaults(run=_cmd_synth)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of cases, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("the number of cases cannot be negative")
    return n


def _cmd_synth(args: argparse.Namespace) -> int:
    import os

    from .._internal import output
    from ..engine import get_engine
    from .terminal import track

    fmt = args.format or _format_of(args.out)
    rules = args.rules or os.environ.get("SPINEMETS_RULES")
    target = output.target(args.out or "-", [rules] if rules else [])  # before anything is read
    engine = get_engine(rules)
    to_stdout = not args.out or args.out == "-"
    # the bar shares the terminal with nothing: only when the cases themselves do not go to it
    show = not args.no_progress and not (to_stdout and sys.stdout.isatty())
    cases = track(synthetic_cases(args.n, args.seed, engine, lesions=args.lesions), args.n, "synth", sys.stderr, show)
    with target.open(binary=False) as out:
        write(cases, out, fmt, lesions=args.lesions)
    return 0


def _format_of(path: str | None) -> str:
    if path and path.lower().endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "csv"


def _fitness(rng: random.Random, c: dict[str, Any], primary: str, survival: float, deficit: bool) -> None:
    """Performance status, survival, ASA class and the systemic contraindications, drawn alike for flat and lesion
    cases (in this order: the draws of a seed stay the same)."""
    kps_weights = [w * (1.6 ** i if not deficit else 1.6 ** -i) for i, w in enumerate(KARNOFSKY_WEIGHTS)]
    karnofsky = rng.choices(KARNOFSKY, weights=kps_weights)[0]
    c["karnofsky"] = karnofsky
    median = survival * math.exp((karnofsky - 70) / 25) * (0.6 if c["visceral_metastases"] == "unremovable" else 1)
    c["life_expectancy_months"] = float(max(1, min(120, round(rng.lognormvariate(math.log(median), 0.5)))))
    c["asa_class"] = max(1, min(5, 2 + (karnofsky <= 50) + (c["age"] >= 75) + rng.choice((-1, 0, 0, 1))))
    c["coagulopathy"] = rng.random() < (0.03 + 0.05 * (primary in ("liver", "leukemia", "multiple_myeloma")))
    c["active_infection"] = rng.random() < 0.02
    c["cement_allergy"] = rng.random() < 0.005
    c["severe_cardiopulmonary_disease"] = rng.random() < (0.04 + 0.06 * (c["age"] >= 75) + 0.04 * (primary == "lung"))
