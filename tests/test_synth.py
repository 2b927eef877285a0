"""The synthetic registry: reproducible, admissible, and shaped like a registry rather than uniform noise."""
from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess

from spinemets import load_rulebook
from spinemets.case import VERTEBRAE, input_fields
from spinemets.case_io import case_from_data
from spinemets.engine import Engine
from spinemets.registry_io import csv_columns, long_csv_columns
from spinemets.commands.synth import synthetic_cases, write

from .conftest import vocabulary_files
from .test_cli import CLI

CASES = 3000


def registry(engine, n=CASES, seed=5):
    return list(synthetic_cases(n, seed, engine))


def test_the_same_seed_gives_the_same_cases_and_another_seed_others(engine):
    assert registry(engine, 200) == registry(engine, 200)
    assert registry(engine, 200, seed=6) != registry(engine, 200)
    assert len({c["id"] for c in registry(engine, 200)}) == 200


def test_every_case_is_valid_and_passes_the_consistency_checks(engine):
    for data in registry(engine):
        case = case_from_data(data).case
        assert engine.check(case) == [], data["id"]


def test_a_realistic_share_of_fields_is_unknown(engine):
    fields = input_fields()
    shares = []
    for data in registry(engine):
        known = len(case_from_data(data).case.model_dump(exclude_none=True)) - 2  # id and title
        sins = data.get("sins", {})
        known += len(sins) - (1 if sins else 0)
        shares.append(1 - known / len(fields))
    assert 0.10 < statistics.mean(shares) < 0.35
    assert min(shares) < 0.08 and max(shares) > 0.35  # some nearly complete, some sparse


def test_values_are_correlated_as_in_a_registry(engine):
    cases = registry(engine)
    prostate = [c["lesion_type"] for c in cases if c.get("primary_tumor") == "prostate" and "lesion_type" in c]
    assert prostate.count("blastic") / len(prostate) > 0.5
    kidney = [c["hypervascular_tumor"] for c in cases
              if c.get("primary_tumor") == "kidney" and "hypervascular_tumor" in c]
    assert sum(kidney) / len(kidney) > 0.7
    survival = [(c["karnofsky"], c["life_expectancy_months"]) for c in cases
                if "karnofsky" in c and "life_expectancy_months" in c]
    fit = [months for kps, months in survival if kps >= 80]
    frail = [months for kps, months in survival if kps <= 50]
    assert statistics.median(fit) > 2 * statistics.median(frail)
    for c in cases:
        if c.get("bilsky_grade") in ("2", "3") and "spinal_cord_compression" in c:
            assert c["spinal_cord_compression"] is True
        if "lesion" in c.get("sins", {}) and "lesion_type" in c:
            assert c["sins"]["lesion"] == c["lesion_type"]
    deficits = [c.get("neurological_deficit") for c in cases if c.get("bilsky_grade") == "3"]
    assert deficits.count(True) > deficits.count(False)


def test_the_synthetic_decisions_are_not_all_alike(engine):
    tops = {engine.evaluate(case_from_data(c).case).top for c in registry(engine, 600)}
    assert len(tops) >= 3


def test_a_rule_base_with_a_check_of_its_own_still_gets_admissible_cases(tmp_path):
    folder = vocabulary_files(tmp_path / "rules")
    checks = (folder / "consistency.yaml").read_text()
    (folder / "consistency.yaml").write_text(checks + """
  - id: consistency.test_only_young_and_frail
    when:
      all:
        - age < 60
        - karnofsky < 70
    message: a check this test invents, to make the generator repair cases it would otherwise emit.
""")
    engine = Engine(load_rulebook(folder))
    cases = list(synthetic_cases(500, 3, engine))
    assert all(engine.check(case_from_data(c).case) == [] for c in cases)
    assert any("age" not in c or "karnofsky" not in c for c in cases)


def test_csv_output_has_the_batch_header_and_one_row_per_case(engine):
    out = io.StringIO()
    assert write(iter(registry(engine, 200)), out, "csv") == 200
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == csv_columns() and len(rows) == 201
    levels = [row[rows[0].index("levels")] for row in rows[1:]]
    assert any(";" in cell for cell in levels) and not any("," in cell for cell in levels)


def test_the_command_writes_csv_or_json_lines(tmp_path):
    out = subprocess.run([*CLI, "synth", "20", "--seed", "4", "--format", "jsonl"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 20 and all(json.loads(line)["id"].startswith("synth-4-") for line in lines)
    target = tmp_path / "r.csv"
    assert subprocess.run([*CLI, "synth", "20", "--out", str(target)], timeout=120).returncode == 0
    assert target.read_text().splitlines()[0].startswith("id,title,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_bad_arguments_exit_2_without_a_traceback():
    for args in (["synth", "many"], ["synth", "-3"], ["synth", "5", "--out", "/no/such/folder/x.csv"]):
        out = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr, args



# --- lesion cases (synth --lesions) ------------------------------------------------------------------------


def lesion_registry(engine, n=CASES, seed=5):
    return list(synthetic_cases(n, seed, engine, lesions=True))


def test_lesion_cases_have_several_levels_as_in_the_danish_series(engine):
    """pvp-cancer-vcf-2018 Table 1: 6 of 30 patients (20%) one level, 81 levels in 30 patients (2.7 each),
    thoracic 37 and lumbar 44 of them (45.7% thoracic)."""
    cases = lesion_registry(engine)
    counts = [len(c["lesions"]) for c in cases]
    assert 0.15 < counts.count(1) / len(counts) < 0.25
    assert 2.4 < statistics.mean(counts) < 3.0 and max(counts) <= 12
    regions = [lesion["level"][0] for c in cases for lesion in c["lesions"]]
    assert 0.40 < regions.count("T") / (regions.count("T") + regions.count("L")) < 0.52
    assert regions.count("C") and regions.count("S")  # the cervical and sacral spine are not left out
    steps = [VERTEBRAE.index(b["level"]) - VERTEBRAE.index(a["level"])
             for c in cases for a, b in zip(c["lesions"], c["lesions"][1:])]
    assert min(steps) >= 1  # distinct levels, cranio-caudal
    assert 0.5 < steps.count(1) / len(steps) < 0.7  # contiguous levels and skipped ones


def test_lesion_cases_are_valid_admissible_and_their_findings_are_drawn_per_level(engine):
    cases = lesion_registry(engine, 1000)
    assert lesion_registry(engine, 50) == lesion_registry(engine, 50)
    for data in cases:
        case = case_from_data(data).case
        assert case.lesions and case.levels is None and case.pathological_fracture is None
        assert engine.check(case) == [], data["id"]
        if data.get("neurological_deficit") is False:
            assert not any(lesion.get("causes_deficit") for lesion in data["lesions"])
    several = [c for c in cases if len(c["lesions"]) >= 3]
    differ = [c for c in several if len({lesion.get("pathological_fracture") for lesion in c["lesions"]}) > 1]
    assert len(differ) > len(several) / 3  # a fractured level beside an intact one
    painless = [lesion for c in cases for lesion in c["lesions"] if lesion.get("painful") is False]
    assert painless and all("pain_score" not in lesion for lesion in painless)


def test_a_lesion_count_gives_cases_of_exactly_that_many_levels(engine):
    for count in (1, 2, 4, 8):
        assert {len(c["lesions"]) for c in synthetic_cases(30, 1, engine, lesion_count=count)} == {count}


def test_the_command_writes_lesion_cases_in_the_long_form(tmp_path):
    target = tmp_path / "r.csv"
    out = subprocess.run([*CLI, "synth", "30", "--lesions", "--seed", "2", "--out", str(target)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == long_csv_columns()
    ids = [row[0] for row in rows[1:]]
    assert len(set(ids)) == 30 and len(ids) > 60  # most cases several rows, one per lesion
    assert ids == sorted(ids)  # a case's rows together
