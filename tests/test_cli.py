"""The `spinemets` command line, run as a real process: exit codes, messages, no tracebacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from .conftest import CASES_DIR, SHARED

SCRIPT = Path(sys.executable).parent / "spinemets"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spinemets.commands.cli"]
VIGNETTE = sorted(CASES_DIR.glob("*.yaml"))[0]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, input=stdin, timeout=120)


def test_evaluate_prints_six_graded_options_with_cited_reasons():
    out = run("evaluate", str(VIGNETTE))
    assert out.returncode == 0, out.stderr
    for option in ("PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE"):
        assert f" {option} " in out.stdout
    assert "barbanti-brodano-2007" in out.stdout and "not a medical device" in out.stdout


def test_json_is_deterministic_across_processes_and_validates_against_the_schema():
    first, second = run("evaluate", str(VIGNETTE), "--json"), run("evaluate", str(VIGNETTE), "--json")
    assert first.returncode == 0 and first.stdout == second.stdout
    schema = json.loads(run("schema", "decision").stdout)
    jsonschema.validate(json.loads(first.stdout), schema)


def test_a_provisional_option_shows_its_range_and_the_questions_toward_each_end():
    out = run("evaluate", str(CASES_DIR / "teach-mostly-unknown-lung-t8.yaml"))
    assert out.returncode == 0, out.stderr
    pvp = " ".join(out.stdout.split(" PVP ", 1)[1].split("\n 3.", 1)[0].split())
    assert "range: recommended at best, contraindicated at worst" in pvp
    lift, lower = pvp.split("could lift it:", 1)[1].split("could lower it:", 1)
    assert "coagulopathy" in lower and "coagulopathy" not in lift and "refractory_to_conservative" in lift
    settled = run("evaluate", str(VIGNETTE))
    assert "range:" not in settled.stdout or "(provisional)" in settled.stdout


def test_stdin_is_read_with_a_dash():
    out = run("evaluate", "-", "--json", stdin='{"id": "stdin-case", "coagulopathy": true}')
    assert out.returncode == 0 and json.loads(out.stdout)["case_id"] == "stdin-case"


@pytest.mark.parametrize("text, fragment", [
    ('id: x\nage: "old"\n', "field 'age'"),
    ("id: x\nkarnofsky: 170\n", "must be <= 100"),
    ("id: x\nposterior_wall_defct: true\n", "did you mean 'posterior_wall_defect'"),
    ("id: x\nlevels: [Q7]\n", "field 'levels.0'"),
    ('id: x\ncoagulopathy: "true"\n', "expected true or false"),
    ('id: x\nlife_expectancy_months: "10"\n', "without quotes"),
    ("age: 60\n", "field 'id': required"),
    ("id: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("", "empty"),
    ("\x00\x01\x02\xff", "binary"),
    ("id: x\nbilsky_grade: '0'\nepidural_involvement: true\n", "cannot all be true"),
    # a consistency problem found by the engine names the line of its field, as a schema problem does
    ("id: x\nage: 60\nbilsky_grade: '0'\nepidural_involvement: true\n", "case.yaml:3, rule consistency.bilsky_zero"),
    ("id: x\nlesions:\n  - level: T11\n  - level: T12\n    painful: false\n    pain_score: 5\n",
     "case.yaml:6, rule consistency.level_not_painful_with_pain"),
    # lesions (issue 19): each names the lesion by its index and the field
    ("id: x\nlesions:\n  - level: T11\n  - level: T12\n  - level: T11\n",
     "field 'lesions.2.level': T11 is described twice (also lesions.0)"),
    ("id: x\nlesions:\n  - level: T11\n  - pathological_fracture: true\n", "field 'lesions.1.level': required"),
    ("id: x\nlesions:\n  - level: T13\n", "field 'lesions.0.level': expected one of"),
    ("id: x\nbilsky_grade: '2'\nlesions:\n  - {level: T11, bilsky_grade: '2'}\n  - {level: T12, bilsky_grade: '3'}\n",
     "field 'lesions.1.bilsky_grade': the top level says bilsky_grade 2 and lesion T12 says 3"),
    ("id: x\nlesions:\n" + "".join(f"  - level: T{i % 12 + 1}\n" for i in range(40)),
     "field 'lesions': at most 29 entries, got 40"),
    ("id: x\nlesions:\n  - {level: T11, painful: true}\n  - {level: T12, painful: false, pain_score: 5}\n",
     "fields 'lesions.1.mechanical_pain' and 'lesions.1.pain_score' and 'lesions.1.painful'"),
])
def test_bad_cases_exit_2_with_a_message_and_no_traceback(tmp_path, text, fragment):
    path = tmp_path / "case.yaml"
    path.write_bytes(text.encode("latin-1"))
    out = run("evaluate", str(path), "--json")
    assert out.returncode == 2
    assert fragment in out.stderr and str(path) in out.stderr
    assert "Traceback" not in out.stderr + out.stdout and out.stdout == ""
    if "lesions" in fragment:  # the summary line, then one line naming the lesion and the field
        assert out.stderr.count("\n") == 2 and out.stderr.splitlines()[1].strip().startswith(f"- {path}")


def test_a_missing_file_exits_2():
    out = run("evaluate", "/no/such/case.yaml")
    assert out.returncode == 2 and "no such file" in out.stderr


def test_validate_reports_the_built_in_rule_base():
    out = run("validate")
    assert out.returncode == 0 and "valid" in out.stdout and "sha256" in out.stdout


def test_validate_exits_2_naming_file_line_and_rule(rules_copy):
    path = next(p for p in rules_copy.glob("*.yaml") if "ci.cement.coagulopathy" in p.read_text())
    path.write_text(path.read_text().replace("when: coagulopathy == true", "when: coagulopaty == true"))
    out = run("validate", str(rules_copy))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{path.name}:" in out.stderr and "rule ci.cement.coagulopathy" in out.stderr
    assert "did you mean 'coagulopathy'" in out.stderr


def test_evaluate_with_a_broken_rule_base_exits_2(rules_copy):
    (rules_copy / "broken.yaml").write_text("rules: [unclosed\n")
    out = run("evaluate", str(VIGNETTE), "--rules", str(rules_copy))
    assert out.returncode == 2 and "broken.yaml" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("which", ["case", "decision"])
def test_schema_is_json_and_every_field_is_titled_and_described(which):
    out = run("schema", which)
    schema = json.loads(out.stdout)
    assert out.returncode == 0 and schema["type"] == "object"
    models = {"root": schema, **schema.get("$defs", {})}
    bare = [f"{model}.{name}" for model, body in models.items() for name, prop in body.get("properties", {}).items()
            if not (prop.get("title") and prop.get("description"))]
    assert not bare, f"fields without a title and a description: {bare}"


def test_usage_errors_exit_2():
    assert run("evaluate").returncode == 2
    assert run("frobnicate").returncode == 2


@pytest.mark.skipif(not (SHARED / "tools" / "check_contract.py").exists(), reason="../shared is not beside the project")
@pytest.mark.skipif(bool(os.environ.get("CI")), reason=".ci/run runs the contract checker itself, after the tests")
def test_the_shared_contract_checker_passes():
    out = subprocess.run([sys.executable, str(SHARED / "tools" / "check_contract.py"), "--cli", CLI[0]]
                         if SCRIPT.exists() else [sys.executable, "-c", "print('no script')"],
                         capture_output=True, text=True, cwd=CASES_DIR.parent, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:]


def test_a_rule_that_indicates_and_prefers_is_explained_once_per_option(engine):
    from spinemets.commands.cli import render_decision
    from spinemets.case_io import read_case_file

    document = read_case_file(CASES_DIR / "teach-tokuhashi-estimate-breast-t8.yaml")
    decision = engine.evaluate(document)
    option = decision.options[0]
    rules = [r.rule for r in option.reasons]
    repeated = next(r for r in option.reasons if rules.count(r.rule) > 1)
    table = render_decision(decision, document, engine.rulebook, lambda text, _: text)
    block = table.split(f" {option.option} ", 1)[1].split("\n  2.", 1)[0]
    assert rules.count(repeated.rule) == block.count(f"[{repeated.rule}]") == 2
    assert block.count(repeated.text.split()[0] + " " + repeated.text.split()[1]) == 1
    assert "(as above)" in block
    assert "rests on: Survival of 3 months or more [derive.survival.tokuhashi_estimate]" in block
