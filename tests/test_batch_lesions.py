"""Lesion cases in a registry: JSON Lines and folders as they are, CSV in its long form (one row per lesion).

The long form keeps the registry's guarantee: every record is read into exactly one case, evaluated or rejected by
its line, and a case is never evaluated from part of its rows (docs/batch.md, "The long form").
"""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets.case import VERTEBRAE
from spinemets.case_io import case_from_data
from spinemets.commands import cli
from spinemets.commands.batch import Summary, run
from spinemets.commands.synth import synthetic_cases, write
from spinemets.errors import Problem
from spinemets.registry_io import LESION_ROWS, LongCase, csv_columns, long_csv_columns, open_registry

from .test_batch import batch
from .test_registry_io import _rows_of


def _run(path, fmt=None):
    out, report = io.BytesIO(), io.StringIO()
    summary = run(str(path), fmt=fmt, out=out, workers=1, report=report, progress=False)
    return summary, [json.loads(line) for line in out.getvalue().decode().splitlines()], report.getvalue()


def _lesion_registry(engine, n=40, seed=3):
    return list(synthetic_cases(n, seed, engine, lesions=True))


# --- the three formats agree --------------------------------------------------------------------------------


def test_the_long_form_json_lines_and_a_folder_give_the_same_decisions(tmp_path, engine):
    cases = _lesion_registry(engine)
    assert sum(len(c["lesions"]) > 1 for c in cases) > len(cases) / 2  # mostly several levels
    long_csv, jsonl, folder = tmp_path / "r.csv", tmp_path / "r.jsonl", tmp_path / "cases"
    with long_csv.open("w", newline="") as f:
        write(iter(cases), f, "csv", lesions=True)
    with jsonl.open("w") as f:
        write(iter(cases), f, "jsonl")
    folder.mkdir()
    for case in cases:
        (folder / f"{case['id']}.json").write_text(json.dumps(case))
    expected = [engine.evaluate(case_from_data(c).case).model_dump(mode="json") for c in cases]
    records = sum(len(c["lesions"]) for c in cases)
    for path in (long_csv, jsonl, folder):
        summary, decisions, report = _run(path)
        assert report == "" and (summary.rows, summary.evaluated) == (len(cases), len(cases)), path
        assert decisions == expected, path
    summary, _, _ = _run(long_csv)
    assert summary.records == records
    assert f"Rows: {records} read as {len(cases)} cases (one row per lesion): {len(cases)} evaluated, 0 rejected" \
        in summary.render()


def test_the_long_form_header_is_the_patient_then_level_then_the_lesion():
    columns = long_csv_columns()
    assert columns[:3] == ["id", "title", "presentation"] and "levels" not in columns and "lesions" not in columns
    level = columns.index("level")
    assert "age" in columns[:level] and "neurological_deficit" in columns[:level]
    assert {"bilsky_grade", "sins.location", "painful", "causes_deficit", "prior_cement_at_level"} <= set(
        columns[level + 1:])
    assert "lesions" not in csv_columns() and "level" not in csv_columns()


@pytest.mark.parametrize("header, fragment", [
    ("id,age,painful", "field 'painful': unknown column; a lesion's field: add a `level` column"),
    ("id,age,lesions", "field 'lesions': unknown column; lesions are written one row each"),
    ("id,level,levels", "field 'levels': unknown column; in the long form (a `level` column) each row names"),
])
def test_a_header_that_mixes_the_forms_stops_before_anything_is_evaluated(tmp_path, header, fragment):
    source = tmp_path / "r.csv"
    source.write_text(header + "\nx,1,T1\n")
    out = tmp_path / "d.jsonl"
    result = batch(str(source), "--out", str(out))
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


# --- the long form: no row lost, no case evaluated from part of its rows ------------------------------------


def test_patient_fields_that_differ_between_a_cases_rows_name_the_rows_and_the_field(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("id,age,karnofsky,level,bilsky_grade\n"
                      "a,70,80,T11,1a\n"
                      "a,70,,T12,2\n"      # line 3: karnofsky left out on this row
                      "a,71,80,L1,\n"      # line 4: another age
                      "b,60,70,L2,\n")
    summary, decisions, report = _run(source)
    assert [d["case_id"] for d in decisions] == ["b"]
    assert (summary.records, summary.rows, summary.rejected) == (4, 2, 1)
    assert (f"{source}:3, field 'karnofsky': the patient's field differs between the rows of one case: line 2 says "
            "80, line 3 nothing (unknown)") in report
    assert f"{source}:4, field 'age': the patient's field differs between the rows of one case: line 2 says 70, " \
           "line 4 71" in report


def test_a_cases_rows_apart_are_refused_and_the_message_says_what_was_evaluated(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("id,level\na,T11\nb,L1\na,T12\na,L3\n")
    summary, decisions, report = _run(source)
    assert [d["case_id"] for d in decisions] == ["a", "b"]
    assert (summary.records, summary.rows, summary.evaluated, summary.rejected) == (4, 3, 2, 1)
    assert (f"rejected {source}:4, field 'id': the rows of case 'a' are not together: its rows at lines 4-5 come "
            "after other cases' rows and are not evaluated; its rows at line 2, read first, were read as the "
            "whole case") in report


def test_an_unreadable_row_between_a_cases_rows_refuses_the_case_too(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text('id,level\na,T11\na,"T12"x\na,L1\nb,L2\n')
    summary, decisions, report = _run(source)
    assert [d["case_id"] for d in decisions] == ["b"]
    assert (summary.records, summary.rows, summary.rejected) == (4, 3, 2)
    assert f"{source}:2, field 'id': case 'a' (lines 2-4) is not evaluated: the unreadable row at line 3" in report
    assert f"{source}:3: not a readable CSV row" in report


def test_ten_thousand_rows_of_one_case_are_one_refusal_and_are_never_held(tmp_path):
    source = tmp_path / "r.csv"
    with source.open("w") as f:
        f.write("id,age,level\n")
        for i in range(10_000):
            f.write(f"big,70,{VERTEBRAE[i % len(VERTEBRAE)]}\n")
        f.write("next,60,T4\n")
    rows = list(open_registry(str(source)).rows)
    assert [line for line, _ in rows] == [2, 10_002]
    assert isinstance(rows[0][1], Problem) and rows[0][1].field == "lesions"  # refused before any worker sees it
    assert isinstance(rows[1][1], LongCase)
    summary, decisions, report = _run(source)
    assert [d["case_id"] for d in decisions] == ["next"] and summary.records == 10_001
    assert report.count("\n") == 1
    assert (f"rejected {source}:2, field 'lesions': case 'big' has 10,000 rows (lines 2-10001), more than the "
            f"{LESION_ROWS} vertebrae") in report


def test_a_lesions_field_is_named_with_its_lesion_on_its_own_row(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("id,level,bilsky_grade,painful,sins.location\n"
                      "a,T11,1a,true,junctional\n"
                      "a,T12,4,yes,junctional\n"       # line 3: two cells wrong
                      "a,T11,,,\n")                     # line 4: T11 again
    summary, decisions, report = _run(source)
    assert decisions == [] and summary.rejected == 1
    assert f"{source}:3, field 'lesions.1.painful': expected true or false, got 'yes'" in report
    assert f"{source}:3, field 'lesions.1.bilsky_grade': expected one of" in report


_ids = st.sampled_from(["a", "b", "c", ""])
_level_cells = st.sampled_from(["T11", "T12", "L1", "", "T13", "x"])
_other = st.sampled_from(["", "70", "71", "old", '5" lesion', "a,b", "line\nbreak"])


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.one_of(st.tuples(_ids, _level_cells, _other),
                               st.lists(_other, max_size=5).map(tuple)), max_size=14))
def test_every_record_of_the_long_form_is_in_one_case_evaluated_or_rejected(tmp_path_factory, rows):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "level", "age"])
    for row in rows:
        writer.writerow(row)
    path = tmp_path_factory.mktemp("long") / "r.csv"
    path.write_text(buffer.getvalue())
    records = _rows_of(buffer.getvalue())  # (first line, cells), as the standard reader splits them
    # consecutive records with one id are one case (no record is unreadable here: csv.writer wrote them all)
    cases: list[list[int]] = []
    for i, (line, cells) in enumerate(records):
        if i == 0 or (cells[:1] or [""])[0].strip() != (records[i - 1][1][:1] or [""])[0].strip():
            cases.append([])
        cases[-1].append(line)
    summary, decisions, report = _run(path)
    assert summary.records == len(records)
    assert summary.rows == len(cases) == summary.evaluated + summary.rejected
    assert len(decisions) == summary.evaluated
    named = {int(m.group(1)) for m in re.finditer(rf"rejected {re.escape(str(path))}:(\d+)", report)}
    assert named <= {line for line, _ in records}
    # each rejected case is named on its rows (a lesion's problem on the lesion's own row), no evaluated one is
    assert sum(1 for lines in cases if named & set(lines)) == summary.rejected


def test_the_summary_of_the_long_form_counts_rows_and_cases():
    summary = Summary()
    summary.add_rejected()
    summary.records = 5
    assert summary.render().startswith("Rows: 5 read as 1 cases (one row per lesion): 0 evaluated, 1 rejected")


# --- bad lesions: exit 2, one line naming the lesion and the field, nothing evaluated or written for it -------

BAD_LESIONS = {
    "a level twice": ({"lesions": [{"level": "T11"}, {"level": "T12"}, {"level": "T11"}]},
                      "lesions.2.level", "T11 is described twice (also lesions.0)"),
    "a lesion without a level": ({"lesions": [{"level": "T11"}, {"pathological_fracture": True}]},
                                 "lesions.1.level", "required"),
    "a level outside C1-S5": ({"lesions": [{"level": "T13"}]}, "lesions.0.level", "got the text 'T13'"),
    "top level and lesions disagree": (
        {"bilsky_grade": "2", "lesions": [{"level": "T11", "bilsky_grade": "2"}, {"level": "T12", "bilsky_grade": "3"}]},
        "lesions.1.bilsky_grade", "the top level says bilsky_grade 2 and lesion T12 says 3"),
    "ten thousand lesions": ({"lesions": [{"level": VERTEBRAE[i % len(VERTEBRAE)]} for i in range(10_000)]},
                             "lesions", "at most 29"),
}


@pytest.mark.parametrize("name", BAD_LESIONS)
def test_a_bad_lesion_in_json_lines_is_one_rejection_naming_the_lesion_and_field(tmp_path, capsys, name):
    data, field, fragment = BAD_LESIONS[name]
    source = tmp_path / "r.jsonl"
    source.write_text(json.dumps({"id": "ok-1"}) + "\n" + json.dumps({"id": "bad", **data}) + "\n"
                      + json.dumps({"id": "ok-2", "lesions": [{"level": "L1"}]}) + "\n")
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    rejected = [line for line in err.splitlines() if "rejected" in line]
    assert len(rejected) == 1 and "Traceback" not in err, err
    assert rejected[0].startswith(f"spinemets: rejected {source}:2")
    if name == "ten thousand lesions":  # past the row's byte limit: refused before it is parsed
        assert "exceeds the limit of 64 KiB for a registry row" in rejected[0]
    else:
        assert f"field '{field}'" in rejected[0] and fragment in rejected[0]
    assert [d["case_id"] for d in (json.loads(x) for x in out.read_text().splitlines())] == ["ok-1", "ok-2"]


@pytest.mark.parametrize("name", [n for n in BAD_LESIONS if n != "top level and lesions disagree"])
def test_a_bad_lesion_in_the_long_form_is_one_rejection_naming_the_lesion_and_field(tmp_path, capsys, name):
    data, field, fragment = BAD_LESIONS[name]
    source = tmp_path / "r.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "age", "level", "pathological_fracture"])
        writer.writerow(["ok-1", "70", "T4", ""])
        for lesion in data["lesions"]:
            writer.writerow(["bad", "60", lesion.get("level", ""), "true" if lesion.get("pathological_fracture") else ""])
        writer.writerow(["ok-2", "50", "L1", "false"])
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    rejected = [line for line in err.splitlines() if "rejected" in line]
    assert len(rejected) == 1 and "Traceback" not in err, err
    line = {"a level twice": 5, "a lesion without a level": 4}.get(name, 3)  # the lesion's own row
    assert rejected[0].startswith(f"spinemets: rejected {source}:{line}, field '{field}'")
    if name == "ten thousand lesions":
        assert "has 10,000 rows (lines 3-10002), more than the 29 vertebrae" in rejected[0]
    else:
        assert fragment in rejected[0]
    assert [d["case_id"] for d in (json.loads(x) for x in out.read_text().splitlines())] == ["ok-1", "ok-2"]


def test_check_reads_each_lesions_view_and_names_its_fields_at_its_entry(engine):
    case = case_from_data({"id": "x", "lesions": [{"level": "T11", "painful": True, "pain_score": 6},
                                                  {"level": "T12", "painful": True, "sins": {"pain": "none"}}]}).case
    problems = engine.check(case)
    assert [(p.rule, p.fields) for p in problems] == [
        ("consistency.level_painful_without_pain", ("lesions.1.pain_score", "lesions.1.painful", "lesions.1.sins.pain"))]
    assert engine.check(case_from_data({"id": "x", "lesions": [{"level": "T11", "painful": True}]}).case) == []
