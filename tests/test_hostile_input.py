"""Hostile or careless input: every one is a clear exit 2 naming the file (and the limit), never a crash.

Time and memory of the worst of these are measured by `benchmarks/run.py --only hostile`, not asserted here.
"""
from __future__ import annotations

import json
import subprocess

import pytest
from spinemets._internal import limits
from spinemets.commands import cli

from .test_cli import CLI

CASE = limits.CASE_FILE


def alias_bomb() -> str:
    """About 350 bytes that expand to 9^9 (387 million) strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\nid: x\n"


def merge_bomb() -> str:
    """Merge keys that flatten to 8^11 entries."""
    lines = ["m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8}"]
    for i in range(1, 12):
        lines.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 8) + f"], x{i}: 1}}")
    return "\n".join(lines) + "\nid: x\n"


def evaluate(path, capsys) -> tuple[int, str]:
    code = cli.main(["evaluate", str(path), "--json"])
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    return code, captured.err


@pytest.mark.parametrize("name, text, expected", [
    ("alias.yaml", alias_bomb(), CASE.describe("nodes")),
    ("merge.yaml", merge_bomb(), CASE.describe("nodes")),
    ("levels.yaml", "id: x\nlevels: [" + ", ".join(["L1"] * 20_000) + "]\n", CASE.describe("items")),
    ("lesions.yaml", "id: x\nlesions:\n" + "- level: T1\n" * 10_000, "field 'lesions': exceeds " + CASE.describe("items")),
    ("lesions.json", json.dumps({"id": "x", "lesions": [{"level": "T1"}] * 10_000}),
     "field 'lesions': exceeds " + CASE.describe("items")),
    ("bigint.yaml", "id: x\nage: " + "9" * 5000 + "\n", CASE.describe("int_digits")),
    ("bigint.json", '{"id": "x", "age": ' + "9" * 5000 + "}", CASE.describe("int_digits")),
    ("deep.json", '{"id": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}", CASE.describe("depth")),
    ("deep.yaml", "id: x\na: " + "[" * 40 + "]" * 40 + "\n", CASE.describe("depth")),
])
def test_a_case_past_a_limit_is_one_line_naming_the_file_and_the_limit(tmp_path, capsys, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    code, err = evaluate(path, capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"spinemets: {path}") and expected in err


@pytest.mark.parametrize("size", [CASE.bytes + 1, 50 * 1024 * 1024])
def test_a_case_file_too_large_is_refused_after_reading_its_limit(tmp_path, capsys, size):
    path = tmp_path / "levels.yaml"
    with path.open("w") as f:
        f.write("id: x\nlevels: [")
        f.write("L1, " * (size // 4))
        f.write("L1]\n")
    assert path.stat().st_size > size
    code, err = evaluate(path, capsys)
    assert code == 2 and err == f"spinemets: {path}: larger than {CASE.describe('bytes')}\n"


def test_dev_zero_stops_at_the_limit():
    result = subprocess.run([*CLI, "evaluate", "/dev/zero"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == f"spinemets: /dev/zero: larger than {CASE.describe('bytes')}\n"


@pytest.mark.parametrize("text, fragment", [
    ("id: x\nage: !!python/object/apply:os.system ['true']\n",
     "the tag !!python/object/apply:os.system is not allowed"),
    ("id: x\nage: !custom 3\n", "the tag !custom is not allowed"),
    ("id: x\nlevels: !!set {L1: null}\n", "the tag !!set is not allowed"),
    ("id: x\n? [a, b]\n: 3\n", "a key must be a single value"),
    ("id: x\nk: &a [1]\n*a : 2\n", "a key must be a single value"),
    ("id: x\nloop: &a [1, *a]\n", "refers to a value that contains it"),
    ('{"id": "x", "coagulopathy": true,\n "levels": ["L2"],\n "coagulopathy": false}',
     "duplicate key 'coagulopathy' (first on line 1)"),
    ("id: x\ncoagulopathy: yes\n", "yes, no, on and off are refused"),
    ("id: x\nlife_expectancy_months: 1e2\n", "YAML reads 1e2 as text, not as a number: write 100"),
])
def test_bad_yaml_and_json_are_exit_2_with_the_reason(tmp_path, capsys, text, fragment):
    path = tmp_path / ("case.json" if text.startswith("{") else "case.yaml")
    path.write_text(text)
    code, err = evaluate(path, capsys)
    assert code == 2 and fragment in err and str(path) in err


def test_duplicate_json_keys_name_both_lines(tmp_path, capsys):
    path = tmp_path / "case.json"
    path.write_text('{"id": "x",\n "coagulopathy": true,\n "levels": ["L2"],\n "coagulopathy": false}')
    code, err = evaluate(path, capsys)
    assert code == 2 and f"{path}:4: duplicate key 'coagulopathy' (first on line 2)" in err


def test_yes_no_on_off_are_text_in_yaml_as_in_csv(tmp_path, capsys):
    from spinemets import parse_case_text
    from spinemets.errors import CaseError

    for word in ("yes", "no", "on", "off", "Yes", "NO"):
        with pytest.raises(CaseError, match="refused, in YAML as in CSV"):
            parse_case_text(f"id: x\ncoagulopathy: {word}\n", "c.yaml")
    for word, value in (("true", True), ("False", False), ("TRUE", True)):
        assert parse_case_text(f"id: x\ncoagulopathy: {word}\n", "c.yaml").case.coagulopathy is value
    assert parse_case_text("id: x\ntitle: no\n", "c.yaml").case.title == "no"  # text stays text


# --- rule bases ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, fragment", [
    (alias_bomb(), limits.RULE_FILE.describe("nodes")),
    (merge_bomb(), limits.RULE_FILE.describe("nodes")),
    ("rules: !!python/object/apply:os.system ['true']\n", "the tag !!python/object/apply:os.system is not allowed"),
    ("rules:\n  - ? [a]\n    : 1\n", "a key must be a single value"),
    ("rules:\n  - id: x\n    when: age >= " + "9" * 5000 + "\n", limits.CONDITION_VALUE.describe("int_digits")),
    ("rules:\n  - id: x\n    when: \"age == !!python/object/apply:os.system ['true']\"\n", "is not allowed"),
    ("rules:\n  - id: x\n    n: " + "9" * 5000 + "\n", limits.RULE_FILE.describe("int_digits")),
])
def test_a_hostile_rule_file_is_exit_2_in_validate_and_evaluate(rules_copy, tmp_path, capsys, text, fragment):
    (rules_copy / "hostile.yaml").write_text(text)
    case = tmp_path / "case.yaml"
    case.write_text("id: x\n")
    for args in (["validate", str(rules_copy)], ["evaluate", str(case), "--rules", str(rules_copy)]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert "hostile.yaml" in err and fragment in err and "Traceback" not in err


def test_a_rule_file_past_a_limit_is_one_line(rules_copy, capsys):
    (rules_copy / "hostile.yaml").write_text(alias_bomb())
    assert cli.main(["validate", str(rules_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rules/hostile.yaml:" in err
    assert f": exceeds {limits.RULE_FILE.describe('nodes')}" in err


def test_a_rule_file_with_an_unexpected_suffix_is_refused_and_validate_names_the_files_it_read(rules_copy, capsys):
    assert cli.main(["validate", str(rules_copy)]) == 0
    out = capsys.readouterr().out
    assert "26 read:" in out or " read: " in out
    assert "cautions.yaml" in out
    (rules_copy / "cautions.yaml").rename(rules_copy / "cautions.YAML")
    (rules_copy / "NOTES.txt").write_text("not rules")
    assert cli.main(["validate", str(rules_copy)]) == 2
    err = capsys.readouterr().err
    assert "cautions.YAML: rename it to end in .yaml" in err
    (rules_copy / "cautions.YAML").rename(rules_copy / "cautions.yaml")
    assert cli.main(["validate", str(rules_copy)]) == 0
    assert "ignored    1 not .yaml or .yml: NOTES.txt" in capsys.readouterr().out


# --- batch: a bad row is rejected with its line, the run goes on ---------------------------------------------


def test_hostile_json_lines_are_rejected_by_line_and_the_rest_evaluated(tmp_path, capsys):
    rows = [
        '{"id": "ok-1"}',
        '{"id": "dup", "coagulopathy": true, "coagulopathy": false}',
        '{"id": "big", "age": ' + "9" * 5000 + "}",
        '{"id": "deep", "a": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": "huge", "presentation": "' + "x" * (limits.REGISTRY_ROW.bytes + 10) + '"}',
        "\x00\x01 binary",
        '{"id": "ok-2"}',
    ]
    source = tmp_path / "r.jsonl"
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source}:2: duplicate key 'coagulopathy'" in err
    assert f"{source}:3: exceeds {limits.REGISTRY_ROW.describe('int_digits')}" in err
    assert f"{source}:4: exceeds {limits.REGISTRY_ROW.describe('depth')}" in err
    assert f"{source}:5: exceeds {limits.REGISTRY_ROW.describe('bytes')}" in err
    assert f"{source}:6: not valid JSON" in err and "\\x00" not in err.replace("\\\\", "")
    assert [json.loads(line)["case_id"] for line in out.read_text().splitlines()] == ["ok-1", "ok-2"]


def test_hostile_csv_rows_are_rejected_by_line_and_the_rest_evaluated(tmp_path, capsys):
    source = tmp_path / "r.csv"
    source.write_text("id,age,presentation\n"
                      "ok-1,70,\n"
                      "big," + "9" * 5000 + ",\n"
                      'huge,70,"' + "x" * (limits.REGISTRY_ROW.bytes + 10) + '"\n'
                      'bad,"70"x,\n'
                      "ok-2,60,\n")
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{source}:3, field 'age': exceeds {limits.REGISTRY_ROW.describe('int_digits')}" in err
    assert f"{source}:4: exceeds {limits.REGISTRY_ROW.describe('bytes')}" in err
    assert f"{source}:5: not a readable CSV row" in err
    assert [json.loads(line)["case_id"] for line in out.read_text().splitlines()] == ["ok-1", "ok-2"]


def test_repeated_ids_in_a_batch_are_flagged_and_both_evaluated(tmp_path, capsys):
    source = tmp_path / "r.csv"
    source.write_text("id,age\na,70\nb,60\na,50\n")
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"repeated id 'a' at {source}:4 (first at {source}:2); both evaluated" in captured.err
    assert "Rows: 3 read, 3 evaluated, 0 rejected; 1 evaluated rows repeat an earlier row's id" in captured.out
    assert len(out.read_text().splitlines()) == 3


# --- terminal ------------------------------------------------------------------------------------------------


def test_escape_codes_in_a_case_never_reach_the_terminal_raw(tmp_path, capsys):
    path = tmp_path / "case.yaml"
    path.write_text('id: x\ntitle: "\\e[2J\\e[31mred\\rback"\n')
    assert cli.main(["evaluate", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "\x1b[2J" not in shown and "\r" not in shown and "\\x1b[2J\\x1b[31mred\\x0dback" in shown
    path.write_text('{"id": "x", "\\u001b[31mfield": 1}')
    assert cli.main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[31mfield" in err
