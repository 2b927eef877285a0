"""`spinemets batch`: every valid row evaluated in input order, every invalid one reported by line and field."""
from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import time

import pytest

from spinemets import EngineError, read_case_file
from spinemets.commands import cli
from spinemets.commands.batch import CHUNK_ROWS, IN_PROCESS_ROWS, Chunk, Progress, Summary, evaluate_chunk, run
from spinemets.commands.batch_workers import FileWriter, WorkerPool, placed_output, write_pieces
from spinemets.case_io import case_from_data
from spinemets.registry_io import csv_columns
from spinemets.commands.synth import synthetic_cases, write

from .conftest import CASES_DIR, fail_the_evaluation
from .test_cli import CLI

HEADER = "id,karnofsky,coagulopathy,levels,height_loss_percent,bilsky_grade,epidural_involvement,presentation"


def batch(*args: str, cwd=None, env=None, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "batch", *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env,
                          input=stdin)


def same_bytes(actual: bytes, expected: bytes) -> bool:
    """Equal, or an AssertionError naming the first differing line: pytest's own diff of megabytes takes minutes."""
    if actual == expected:
        return True
    at = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b), min(len(actual), len(expected)))
    line = actual.count(b"\n", 0, at) + 1
    raise AssertionError(f"{len(actual)} bytes against {len(expected)}; they differ from line {line}: "
                         f"{actual[at - 80:at + 80]!r} against {expected[at - 80:at + 80]!r}")


def decisions(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_invalid_rows_are_reported_by_line_and_field_and_the_rest_evaluated(tmp_path, engine):
    source = tmp_path / "registry.csv"
    source.write_text(
        HEADER + "\n"
        "ok-1,80,false,T11;T12,20,1a,true,\n"                       # line 2
        "bad-kps,170,false,L2,,,,\n"                                 # line 3
        'ok-2,60,,L3,,,,"two-line\npresentation"\n'                  # lines 4-5
        "bad-bool,70,yes,L1,,,,\n"                                   # line 6
        "\n"                                                         # line 7: blank, skipped
        "too-many,70,false,L1,1,5,,,\n"                              # line 8: one cell too many
        'bad-decimal,70,false,L4,"1,5",,,\n'                         # line 9
        "bad-consistency,70,false,L4,,0,true,\n"                     # line 10
        ",70,false,L4,,,,\n"                                         # line 11: no id
        "ok-3,,true,,,,,\n")                                          # line 12
    out = tmp_path / "decisions.jsonl"
    result = batch(str(source), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    err = result.stderr
    assert f"{source}:3, field 'karnofsky': must be <= 100, got 170" in err
    assert f"{source}:6, field 'coagulopathy': expected true or false, got 'yes'" in err
    assert f"{source}:8: the row has 9 cells, the header 8" in err
    assert f"{source}:9, field 'height_loss_percent'" in err and "decimal separator" in err
    assert f"{source}:10, rule consistency.bilsky_zero_with_epidural, fields 'bilsky_grade' and 'epidural_involvement'" in err
    assert f"{source}:11, field 'id': required" in err
    assert "Rows: 9 read, 3 evaluated, 6 rejected" in result.stdout
    written = decisions(out)
    assert [d["case_id"] for d in written] == ["ok-1", "ok-2", "ok-3"]
    expected = engine.evaluate({"id": "ok-1", "karnofsky": 80, "coagulopathy": False, "levels": ["T11", "T12"],
                                "height_loss_percent": 20.0, "bilsky_grade": "1a", "epidural_involvement": True})
    assert out.read_text().splitlines()[0] == expected.model_dump_json()


def test_levels_written_with_commas_get_a_hint(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text('id,levels\nx,"T11,T12"\n')
    result = batch(str(source), "--summary-only")
    assert result.returncode == 2 and "separate levels with ';'" in result.stderr


def test_a_header_naming_unknown_fields_stops_before_any_output(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("id,karnofski,sins\nx,70,3\n")
    out = tmp_path / "decisions.jsonl"
    result = batch(str(source), "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{source}:1, field 'karnofski': unknown column (did you mean 'karnofsky'?)" in result.stderr
    assert "sins.location" in result.stderr
    assert not out.exists()


def test_json_lines_and_stdin(tmp_path, engine):
    lines = ['{"id": "a", "coagulopathy": true, "karnofsky": null}', "", "not json", "[1, 2]",
             '{"id": "b", "karnofski": 70}', '{"id": "c", "sins": {"location": "junctional"}}']
    source = tmp_path / "r.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = batch(str(source))
    assert result.returncode == 2
    assert f"{source}:3: not valid JSON" in result.stderr
    assert f"{source}:4: expected a JSON object" in result.stderr
    assert f"{source}:5, field 'karnofski': unknown field (did you mean 'karnofsky'?)" in result.stderr
    assert [json.loads(x)["case_id"] for x in result.stdout.splitlines()] == ["a", "c"]
    assert "Rows: 5 read, 2 evaluated, 3 rejected" in result.stderr  # decisions on stdout, the summary beside
    piped = batch("-", "--format", "jsonl", stdin=source.read_text())
    assert piped.stdout == result.stdout


def test_a_folder_of_case_files_in_name_order(tmp_path, engine):
    out = tmp_path / "d.jsonl"
    result = batch(str(CASES_DIR), "--out", str(out))
    assert result.returncode == 0, result.stderr
    expected = [engine.evaluate(read_case_file(p).case).model_dump_json() for p in sorted(CASES_DIR.glob("*.yaml"))]
    assert out.read_text().splitlines() == expected


def test_a_case_file_of_a_folder_the_engine_refuses_is_named_with_the_line_of_its_field(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.yaml").write_text("id: a\nprimary_tumor: breast\n")
    (folder / "b.yaml").write_text("id: b\nage: 60\nbilsky_grade: '0'\nepidural_involvement: true\n")
    result = batch(str(folder), "--out", str(tmp_path / "d.jsonl"))
    assert result.returncode == 2, result.stderr
    assert f"rejected {folder / 'b.yaml'}:3, rule consistency.bilsky_zero_with_epidural" in result.stderr


def test_output_is_identical_across_runs_worker_counts_and_destinations(tmp_path, engine):
    """Workers write a file's decisions into it at offsets; a pipe gets them through the main process. Either way
    the bytes are those of one process, in input order, starting where the stream stood."""
    rows = IN_PROCESS_ROWS + CHUNK_ROWS + 1  # enough rows for the worker processes to start
    source = tmp_path / "registry.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(rows, 9, engine), f, "csv")
    outputs = []
    for workers in ("1", "2", "2"):
        out = tmp_path / f"d{len(outputs)}.jsonl"
        result = batch(str(source), "--out", str(out), "--workers", workers)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(out.read_bytes())
    assert same_bytes(outputs[1], outputs[0]) and same_bytes(outputs[2], outputs[0])
    piped = subprocess.run([*CLI, "batch", str(source), "--workers", "2"], capture_output=True, timeout=600)
    assert piped.returncode == 0 and same_bytes(piped.stdout, outputs[0])
    for mode in ("wb", "ab"):  # stdout a file: written at offsets where it may, appended where it must
        redirected = tmp_path / f"stdout-{mode}.jsonl"
        redirected.write_bytes(b"kept\n")
        with redirected.open(mode) as stdout:
            if mode == "wb":
                stdout.write(b"before\n")
                stdout.flush()
            done = subprocess.run([*CLI, "batch", str(source), "--workers", "2"], stdout=stdout,
                                  stderr=subprocess.PIPE, timeout=600)
            assert done.returncode == 0, done.stderr[-2000:]
            stdout.write(b"after\n")
        expected = (b"before\n" if mode == "wb" else b"kept\n") + outputs[0] + b"after\n"
        assert same_bytes(redirected.read_bytes(), expected)
    lines = outputs[0].decode().splitlines()
    assert len(lines) == rows
    sample = list(synthetic_cases(rows, 9, engine))
    for i in (0, rows // 2, rows - 1):  # the input order, and the same decision as evaluate gives
        assert lines[i] == engine.evaluate(case_from_data(sample[i]).case).model_dump_json()


def test_compact_output_is_the_same_on_one_process_and_on_workers(tmp_path, engine):
    source = tmp_path / "registry.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(IN_PROCESS_ROWS + 3 * CHUNK_ROWS, 4, engine), f, "csv")
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"c{workers}.jsonl"
        result = batch(str(source), "--out", str(out), "--compact", "--workers", workers)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(out.read_bytes())
    assert same_bytes(outputs[1], outputs[0])
    assert json.loads(outputs[0].splitlines()[0])["format"] == "spinemets-compact-decisions/1"


def _chunk(engine, rows, sha256=None) -> Chunk:
    return Chunk(str(engine.rulebook.root), sha256 or engine.sha256, "jsonl", "r.jsonl", (),
                 [(n, json.dumps({"id": f"c{n}"})) for n in range(1, rows + 1)], True)


class _Killer:
    """Unpickled in a worker, it ends that worker at once, as a crash would."""

    def __reduce__(self):
        return (os._exit, (3,))


def _on_workers(chunks, placed=None, start=0) -> list:
    with WorkerPool(2, evaluate_chunk, None, placed) as pool:
        return list(pool.results(iter(chunks), start))


def test_a_worker_that_dies_or_fails_stops_the_run_and_no_worker_is_left(engine):
    with pytest.raises(EngineError, match="ended unexpectedly"):
        _on_workers([_chunk(engine, 3), _Killer(), _chunk(engine, 3)])
    with pytest.raises(EngineError, match="changed while the batch ran"):
        _on_workers([_chunk(engine, 3), _chunk(engine, 3, sha256="0" * 64)])
    assert multiprocessing.active_children() == []


def test_workers_write_each_chunk_at_its_offset(tmp_path, engine):
    chunks = [_chunk(engine, rows) for rows in (3, 1, 4, 1, 5)]
    expected = b"".join(piece for chunk in chunks for piece in evaluate_chunk(chunk).pieces)
    path = tmp_path / "d.jsonl"
    with path.open("wb") as out:
        out.write(b"head\n")
        placed = placed_output(out)
        assert placed is not None and placed.position(out) == 5
        results = _on_workers(chunks, placed, 5)
    assert all(r.pieces == [] for r in results) and sum(r.length for r in results) == len(expected)
    assert path.read_bytes() == b"head\n" + expected
    assert placed_output(io.BytesIO()) is None
    with (tmp_path / "a").open("ab") as appending:
        assert placed_output(appending) is None  # pwrite would append on Linux


def test_pieces_are_written_in_order_past_the_system_limit_of_one_call(tmp_path):
    pieces = [f"{n}\n".encode() for n in range(5000)]
    path = tmp_path / "p"
    path.write_bytes(b"0123")
    with path.open("r+b") as f:
        assert write_pieces(f.fileno(), pieces, 2, "p") == len(b"".join(pieces))
    assert path.read_bytes() == b"01" + b"".join(pieces)


def test_the_file_writer_advice_to_drop_written_pages_loses_nothing(tmp_path):
    path = tmp_path / "w"
    regions = [[bytes([65 + n]) * (5000 + 997 * n), b"\n"] for n in range(12)]
    with path.open("wb") as f:
        writer = FileWriter(f.fileno(), "w")
        offset = 0
        for pieces in regions:
            offset += writer.write(pieces, offset)
    assert path.read_bytes() == b"".join(b"".join(pieces) for pieces in regions)


def test_an_interrupted_run_leaves_no_output_no_partial_file_and_no_worker(tmp_path, engine):
    source = tmp_path / "r.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(40 * CHUNK_ROWS, 5, engine), f, "csv")
    out = tmp_path / "d.jsonl"
    process = subprocess.Popen([*CLI, "batch", str(source), "--out", str(out), "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".d.jsonl.*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # until the temporary output exists: the workers start after it
    time.sleep(1.5)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: to the whole process group
    process.communicate(timeout=120)
    assert process.returncode == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    deadline = time.monotonic() + 30  # multiprocessing's resource tracker takes a moment to see its parent gone
    while subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True).stdout:
        assert time.monotonic() < deadline, "a process of the interrupted run is still running"
        time.sleep(0.1)


def test_summary_only_counts_without_writing_decisions(tmp_path, engine):
    source = tmp_path / "r.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(60, 2, engine), f, "csv")
    result = batch(str(source), "--summary-only")
    assert result.returncode == 0 and "{" not in result.stdout
    tops: dict[str, int] = {}
    for data in synthetic_cases(60, 2, engine):
        top = engine.evaluate(case_from_data(data).case).top
        tops[top] = tops.get(top, 0) + 1
    assert "Rows: 60 read, 60 evaluated, 0 rejected" in result.stdout
    for option, count in tops.items():
        assert any(line.split()[:2] == [option, str(count)] for line in result.stdout.splitlines())
    assert batch(str(source), "--summary-only", "--out", str(tmp_path / "x")).returncode == 2


def test_nothing_is_written_but_the_requested_output(tmp_path, engine):
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    source = work / "r.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(IN_PROCESS_ROWS + 10, 3, engine), f, "csv")
    env = dict(os.environ, TMPDIR=str(scratch), TEMP=str(scratch), TMP=str(scratch))
    result = batch(str(source), "--out", "d.jsonl", cwd=work, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in work.iterdir()) == ["d.jsonl", "r.csv"]
    assert list(scratch.iterdir()) == []
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal


def test_a_failed_run_leaves_no_partial_output(tmp_path, engine, monkeypatch, capsys):
    source = tmp_path / "r.csv"
    with source.open("w", newline="") as f:
        write(synthetic_cases(30, 1, engine), f, "csv")
    fail_the_evaluation(monkeypatch, engine)
    out = tmp_path / "d.jsonl"
    assert cli.main(["batch", str(source), "--out", str(out), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "internal error: simulated disagreement" in err and "Traceback" not in err
    assert not out.exists()


def test_missing_input_and_unwritable_output_exit_2(tmp_path):
    assert batch(str(tmp_path / "none.csv")).returncode == 2
    source = tmp_path / "r.csv"
    source.write_text("id\nx\n")
    result = batch(str(source), "--out", str(tmp_path / "no" / "such" / "d.jsonl"))
    assert result.returncode == 2 and "cannot write" in result.stderr
    assert batch(str(tmp_path / "r.txt")).returncode == 2  # unknown format


def test_csv_columns_round_trip_through_the_synthetic_writer(engine):
    out = io.StringIO()
    write(synthetic_cases(5, 1, engine), out, "csv")
    assert out.getvalue().splitlines()[0] == ",".join(csv_columns())


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_only_on_a_terminal_with_rows_rate_and_time_left():
    tty, pipe = _Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(stream, total=400, enabled=True)
        bar.advance(200, 200)  # 200 rows, half the input's bytes
        bar.print("spinemets: rejected r.csv:3: a reason")
        bar.close()
    drawn = tty.getvalue()
    assert "50%" in drawn and "200 rows" in drawn and "left" in drawn and "/s" in drawn
    assert "spinemets: rejected r.csv:3: a reason\n" in drawn  # printed above the bar, not lost
    assert pipe.getvalue() == "spinemets: rejected r.csv:3: a reason\n"


def test_the_summary_counts_tops_statuses_and_rejections():
    order = ("CONSERVATIVE", "PVP", "KP", "TAE_PVP", "PVP_ITR", "SURGERY")
    statuses = dict(zip(order, ("recommended", "caution", "not_recommended", "not_recommended", "not_recommended",
                                "contraindicated")))
    chunk = Summary()
    chunk.add("PVP", statuses)
    chunk.add_rejected()
    summary = Summary(options=order)
    summary.merge(chunk)
    summary.merge(chunk)
    text = summary.render()
    assert "Rows: 4 read, 2 evaluated, 2 rejected" in text and "100.0%" in text
    assert text.splitlines()[-1].split() == ["SURGERY", "0", "0", "0", "0", "2"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_run_is_usable_from_python(tmp_path, engine, fmt):
    source = tmp_path / f"r.{fmt}"
    with source.open("w", newline="") as f:
        write(synthetic_cases(12, 8, engine), f, fmt)
    out = io.StringIO()
    summary = run(str(source), out=out, workers=1, report=io.StringIO())
    assert summary.rows == 12 and summary.rejected == 0 and len(out.getvalue().splitlines()) == 12
