"""Fuzzing the command line: whatever the input (random bytes, YAML or JSON structures, CSV), the exit status
is 0 or 2, never a traceback or an internal error, and the command returns.

Most examples call `spinemets.commands.cli.main` in this process with captured streams (fast); a few run
the real command as a subprocess with a timeout. A watchdog alarm bounds each in-process call, as a guard
against hangs (durable-rules looping, a parser expanding a bomb), not as a speed assertion.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spinemets.case import Case
from spinemets.commands import cli

from .test_cli import CLI

WATCHDOG_SECONDS = 60
FIELDS = [*Case.model_fields, "sins", "board", "unknown_field"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["yes", "no", "on", "1e2", "T11", "L2", "1a", "lytic", "0"]))
structures = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)),
                                                    children, max_size=5)), max_leaves=20)
cases = st.tuples(st.dictionaries(st.sampled_from(FIELDS), structures, max_size=8), st.booleans()).map(
    lambda pair: {"id": "fuzz", **pair[0]} if pair[1] else pair[0])


class _Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog():
    def fire(signum, frame):
        raise _Hang(f"no answer after {WATCHDOG_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def main(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with watchdog(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, err.getvalue()


def assert_clean(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err, err


# SPINEMETS_FUZZ_EXAMPLES=2000 for a longer campaign than CI's
EXAMPLES = int(os.environ.get("SPINEMETS_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".json", ".yml"]))
def test_random_bytes_as_a_case(tmp_path, data, suffix):
    path = tmp_path / f"case{suffix}"
    path.write_bytes(data)
    assert_clean(*main(["evaluate", str(path), "--json"]))


@FUZZ
@given(case=cases, as_json=st.booleans())
def test_random_yaml_and_json_structures_as_a_case(tmp_path, case, as_json):
    path = tmp_path / ("case.json" if as_json else "case.yaml")
    path.write_text(json.dumps(case) if as_json else yaml.safe_dump(case, allow_unicode=True))
    assert_clean(*main(["evaluate", str(path)]))


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_as_yaml(tmp_path, text):
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_clean(*main(["evaluate", str(path), "--json"]))


columns = st.sampled_from(["id", "age", "karnofsky", "coagulopathy", "levels", "bilsky_grade", "sins.location",
                           "life_expectancy_months", "presentation", "nonsense", ""])
cells = st.one_of(st.text(max_size=10), st.sampled_from(["true", "FALSE", "yes", "70", "1,5", "T11;T12", "1a", "",
                                                         '5" lesion', '"', "9" * 40]))


@FUZZ
@given(header=st.lists(columns, min_size=1, max_size=6), rows=st.lists(st.lists(cells, max_size=7), max_size=8),
       raw=st.booleans())
def test_random_csv_as_a_registry(tmp_path, header, rows, raw):
    path = tmp_path / "r.csv"
    if raw:  # not even written by a CSV writer
        path.write_text(",".join(header) + "\n" + "\n".join(",".join(r) for r in rows))
    else:
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    assert_clean(*main(["batch", str(path), "--summary-only", "--workers", "1"]))


@FUZZ
@given(lines=st.lists(st.one_of(cases.map(json.dumps), st.text(max_size=40)), max_size=8))
def test_random_json_lines_as_a_registry(tmp_path, lines):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n",
                    encoding="utf-8", errors="surrogatepass")
    assert_clean(*main(["batch", str(path), "--workers", "1"]))


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(body=structures)
def test_random_structures_as_a_rule_file(rules_copy, body):
    (rules_copy / "fuzz.yaml").write_text(yaml.safe_dump({"rules": body}, allow_unicode=True))
    assert_clean(*main(["validate", str(rules_copy)]))


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"id: x\n" * 10_000, b"[" * 100_000, b"- " * 50_000,
                                  b"&a [*a]", b"id: !!binary aGVsbG8=\n", b"{\"id\": 1e999}"])
def test_the_real_command_on_nasty_stdin(data):
    result = subprocess.run([*CLI, "evaluate", "-", "--json"], input=data, capture_output=True, timeout=60)
    assert result.returncode in (0, 2) and b"Traceback" not in result.stderr, result.stderr[-500:]
