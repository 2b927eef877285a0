"""Registry reading never drops or merges a row: rows read = evaluated + rejected = what the standard reader finds."""
from __future__ import annotations

import csv
import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from spinemets.commands import cli
from spinemets.commands.batch import bibliography, run

from .conftest import CASES_DIR

COLUMNS = ["id", "title", "presentation", "age", "coagulopathy", "levels"]
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
# cells that look like values, and cells full of what breaks naive CSV readers
_cell = st.one_of(_text, st.sampled_from(['5" lesion', '"', '""', "a,b", "line\nbreak", "cr\rlf\r\n", "true", "70",
                                          "T11;T12", "", " ", "x" * 30]))


def _rows_of(text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every record after the header, as Python's csv reader sees it; blank ones dropped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, start = [], 1
    for cells in reader:
        records.append((start, cells))
        start = reader.line_num + 1
    return [(line, cells) for line, cells in records[1:] if any(c.strip() for c in cells)]


def _run(path, tmp_path) -> tuple[object, list[str], list[int]]:
    out, report = io.BytesIO(), io.StringIO()
    summary = run(str(path), out=out, workers=1, report=report, progress=False)
    decisions = out.getvalue().decode().splitlines()
    lines = sorted({int(m.group(1)) for m in re.finditer(rf"rejected {re.escape(str(path))}:(\d+)", report.getvalue())})
    return summary, decisions, lines


def test_an_unquoted_cell_holding_a_quote_swallows_no_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('id,presentation\nr1,5" lesion at L2\nr2,pain\nr3,"quoted, with comma"\nr4,plain\n')
    summary, decisions, rejected = _run(path, tmp_path)
    assert (summary.rows, summary.evaluated, summary.rejected) == (4, 4, 0)
    assert [json.loads(d)["case_id"] for d in decisions] == ["r1", "r2", "r3", "r4"]


@settings(max_examples=60)
@given(header=st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6, unique=True),
       rows=st.lists(st.lists(_cell, max_size=8), max_size=12))
def test_every_record_the_standard_reader_finds_is_evaluated_or_rejected_by_its_line(tmp_path_factory, header, rows):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", *[c for c in header if c != "id"]])
    for row in rows:  # ragged: any number of cells
        writer.writerow(row)
    text = buffer.getvalue()
    path = tmp_path_factory.mktemp("csv") / "r.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    expected = _rows_of(text)
    summary, decisions, rejected = _run(path, None)
    assert summary.rows == len(expected) == summary.evaluated + summary.rejected
    assert len(decisions) == summary.evaluated
    assert len(rejected) == summary.rejected  # every rejected row is named, by its own line
    assert set(rejected) <= {line for line, _ in expected}


@settings(max_examples=40)
@given(lines=st.lists(st.one_of(
    st.builds(lambda i, c: json.dumps({"id": f"j{i}", "coagulopathy": c}), st.integers(0, 99), st.booleans()),
    st.builds(lambda i: json.dumps({"id": f"j{i}", "age": "old"}), st.integers(0, 99)),
    _text.map(lambda t: t.replace("\n", " ").replace("\r", " ")), st.just(""), st.just("   ")), max_size=15))
def test_json_lines_every_non_blank_line_is_evaluated_or_rejected_by_its_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("jsonl") / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    expected = [i for i, line in enumerate(lines, start=1) if line.strip()]
    summary, decisions, rejected = _run(path, None)
    assert summary.rows == len(expected) == summary.evaluated + summary.rejected
    assert len(decisions) == summary.evaluated and len(rejected) == summary.rejected
    assert set(rejected) <= set(expected)


@settings(max_examples=25)
@given(files=st.lists(st.tuples(st.sampled_from([".yaml", ".yml", ".json", ".txt"]),
                                st.sampled_from(["id: a\n", "id: b\nage: old\n", "[unclosed", "", '{"id": "c"}',
                                                 "id: d\ncoagulopathy: yes\n"])), min_size=1, max_size=8))
def test_a_folder_every_case_file_is_evaluated_or_rejected_by_name(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("cases")
    for i, (suffix, text) in enumerate(files):
        (folder / f"case{i:02d}{suffix}").write_text(text)
    read = [f"case{i:02d}{suffix}" for i, (suffix, _) in enumerate(files) if suffix != ".txt"]
    if not read:
        return
    out, report = io.BytesIO(), io.StringIO()
    summary = run(str(folder), out=out, workers=1, report=report, progress=False)
    assert summary.rows == len(read) == summary.evaluated + summary.rejected
    named = {name for name in read if f"rejected {folder / name}" in report.getvalue()}
    assert len(named) == summary.rejected


def test_compact_output_is_the_default_output_with_citations_by_key(tmp_path, engine, capsys):
    full, compact = tmp_path / "full.jsonl", tmp_path / "compact.jsonl"
    assert cli.main(["batch", str(CASES_DIR), "--out", str(full)]) == 0
    assert cli.main(["batch", str(CASES_DIR), "--out", str(compact), "--compact"]) == 0
    head, *lines = compact.read_text().splitlines()
    header = json.loads(head)
    assert header["format"] == "spinemets-compact-decisions/1" and header["rulebook"]["sha256"] == engine.sha256
    assert set(header["citations"]) == set(bibliography(engine.rulebook))
    assert all('"source":' not in line for line in lines)  # no citation left inline

    def expand(value):
        if isinstance(value, dict):
            return {k: ([header["citations"][c] for c in v] if k == "citations" else expand(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value
    assert [expand(json.loads(line)) for line in lines] == [json.loads(line) for line in full.read_text().splitlines()]
    assert compact.stat().st_size < 0.7 * full.stat().st_size


def test_a_quote_that_never_closes_is_one_rejected_record_naming_its_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('id,presentation\nok,fine\nbad,"opened\nnext,row\n')
    summary, decisions, rejected = _run(path, tmp_path)
    assert (summary.rows, summary.evaluated, summary.rejected) == (2, 1, 1) and rejected == [3]
    path.write_text('id\n"')  # the very last byte opens a quote
    summary, decisions, rejected = _run(path, tmp_path)
    assert (summary.rows, summary.rejected) == (1, 1) and rejected == [2]
