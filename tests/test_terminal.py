"""Terminal conventions: NO_COLOR (non-empty), FORCE_COLOR, TERM=dumb, the width; progress bars; validate --json;
verify --junit."""
from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from spinemets.commands import terminal
from spinemets.commands.terminal import Style, colour_wanted, output_width, progress_bar, track

from .conftest import CASES_DIR
from .verify_support import invariant, rule, write_base

SCRIPT = Path(sys.executable).parent / "spinemets"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spinemets.commands.cli"]
VIGNETTE = CASES_DIR / "barbanti-fig1-breast-l3.yaml"
ANSI = "\x1b["


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def env(**values: str) -> dict[str, str]:
    """The environment of a test run: no colour variables of the machine's own, then `values`."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS")}
    return {**base, **values}


@pytest.mark.parametrize(("variables", "tty", "colour"), [
    ({}, True, True),
    ({}, False, False),
    ({"NO_COLOR": ""}, True, True),             # empty is unset (no-color.org)
    ({"NO_COLOR": "1"}, True, False),
    ({"NO_COLOR": "0"}, True, False),           # any non-empty value, even "0"
    ({"FORCE_COLOR": "1"}, False, True),
    ({"FORCE_COLOR": ""}, False, False),
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, False),  # asking for none wins
    ({"TERM": "dumb"}, True, False),
    ({"TERM": "dumb", "FORCE_COLOR": "1"}, True, True),
    ({"TERM": "xterm-256color"}, True, True),
])
def test_colour_follows_the_conventions(variables, tty, colour):
    stream = Tty() if tty else io.StringIO()
    assert colour_wanted(stream, variables) is colour
    style = Style(stream, variables)
    assert (ANSI in style("recommended", "recommended")) is colour
    assert style("x", "dim").endswith("x\x1b[0m") if colour else style("x", "dim") == "x"


def test_width_is_columns_then_the_terminal_then_100():
    assert output_width(io.StringIO(), {}) == 100
    assert output_width(io.StringIO(), {"COLUMNS": "132"}) == 132
    assert output_width(io.StringIO(), {"COLUMNS": "wide"}) == 100
    assert output_width(io.StringIO(), {"COLUMNS": "20"}) == terminal.MIN_WIDTH


def test_no_progress_bar_off_a_terminal_or_on_a_dumb_one():
    for stream, variables in ((io.StringIO(), {}), (Tty(), {"TERM": "dumb"})):
        with progress_bar(stream, environ=variables) as bar:
            assert bar is None
        assert list(track(range(5), 5, "x", stream, environ=variables)) == [0, 1, 2, 3, 4]
        assert stream.getvalue() == ""
    with progress_bar(Tty(), enabled=False, environ={}) as bar:
        assert bar is None


def test_a_progress_bar_on_a_terminal_shows_count_and_eta():
    stream = Tty()
    assert list(track(iter(range(50)), 50, "synth", stream, environ={"TERM": "xterm"})) == list(range(50))
    shown = stream.getvalue()
    assert "synth" in shown and "/50" in shown and "ETA" in shown


def run(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180, env=environ or env())


def run_in_terminal(*args: str, environ: dict[str, str], columns: int = 100) -> str:
    """The command with a pseudo-terminal as stdout and stderr: everything it shows, bytes as text."""
    main, child = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([*CLI, *args], stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=environ)
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_table_is_coloured_on_a_terminal_and_not_when_dumb_or_piped():
    assert ANSI in run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="xterm"))
    assert ANSI not in run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="dumb"))
    assert ANSI not in run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="xterm", NO_COLOR="1"))
    assert ANSI in run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="xterm", NO_COLOR=""))
    assert ANSI not in run("evaluate", str(VIGNETTE)).stdout
    assert ANSI in run("evaluate", str(VIGNETTE), environ=env(FORCE_COLOR="1")).stdout


def test_the_table_fills_the_terminal_width():
    def longest(text: str) -> int:
        """The widest line of the reasons' wrapped text (the table's other lines are not wrapped)."""
        lines = [line.rstrip("\r") for line in text.splitlines()]
        return max(len(line) for line in lines if line.startswith("        ") and not line.strip().startswith("rests"))

    narrow = run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="dumb"), columns=72)
    wide = run_in_terminal("evaluate", str(VIGNETTE), environ=env(TERM="dumb"), columns=160)
    assert longest(narrow) <= 72 < longest(wide) <= 160
    piped = run("evaluate", str(VIGNETTE), environ=env(COLUMNS="80")).stdout
    assert longest(piped) <= 80


# Invariants and checks that prove in milliseconds once the rule base is encoded: the command-line tests of
# `verify` need a report, not the whole proof (tests/test_verify.py reads the full one).
QUICK_PROOFS = ("inv.cement.coagulopathy", "inv.cement.allergy", "inv.cement.infection", "inv.pvp.neurological_deficit",
                "inv.pvp.symptomatic_cord_compression", "inv.kp.posterior_wall_defect", "inv.itr.short_survival",
                "inv.cement.cardiopulmonary", "inv.biopsy.histology_unproven", "inv.radiotherapy.radiosensitive",
                "check.rules_can_fire")


def test_synth_and_verify_show_a_progress_bar_with_eta_on_a_terminal_only(tmp_path):
    out = tmp_path / "reg.csv"
    shown = run_in_terminal("synth", "400", "--out", str(out), environ=env(TERM="xterm"))
    assert "ETA" in shown and "synth" in shown
    assert len(out.read_text().splitlines()) == 401
    quiet = run_in_terminal("synth", "40", "--out", str(out), "--no-progress", environ=env(TERM="xterm"))
    assert "ETA" not in quiet
    assert "ETA" not in run("synth", "40", "--out", str(out)).stderr
    # a few quick proofs: the bar is the same for the whole report (the full run is .ci/run's own step)
    quick = [arg for inv in QUICK_PROOFS for arg in ("--only", inv)]
    shown = run_in_terminal("verify", *quick, environ=env(TERM="xterm"))
    assert "ETA" in shown and "Result: all invariants and checks hold" in shown
    assert "ETA" not in run("verify", *quick).stderr


def test_validate_json_describes_the_rule_base(rulebook):
    out = run("validate", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["valid"] is True and data["sha256"] == rulebook.sha256 and data["version"] == rulebook.version
    assert data["active_rules"] == len(rulebook.active_rules) and sum(data["effects"].values()) > 0


def test_validate_json_lists_every_problem_with_its_place(tmp_path):
    (tmp_path / "rulebook.yaml").write_text("rulebook:\n  name: x\n")
    out = run("validate", str(tmp_path), "--json")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    data = json.loads(out.stdout)
    assert data["valid"] is False and len(data["problems"]) >= 2
    placed = [p for p in data["problems"] if p["file"]]
    assert placed and all(p["file"].endswith("rulebook.yaml") and p["line"] == 2 for p in placed)


def test_verify_junit_has_one_test_per_invariant_and_check(tmp_path, rulebook):
    report = tmp_path / "verify.xml"
    out = run("verify", "--junit", str(report), *(arg for inv in QUICK_PROOFS for arg in ("--only", inv)))
    assert out.returncode == 0, out.stdout + out.stderr
    root = ET.parse(report).getroot()
    cases = root.findall(".//testcase")
    assert int(root.get("tests")) == len(cases) == len(QUICK_PROOFS) and root.get("failures") == "0"
    assert root.get("errors") == "0"
    assert {c.get("name") for c in cases} >= {"inv.cement.coagulopathy", "check.rules_can_fire"}
    assert not root.findall(".//failure")


def test_verify_junit_shows_a_violated_invariant_with_its_counterexample(tmp_path):
    inv = invariant("inv.surgery", "life_expectancy_months < 3",
                    {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    mutated = [rule("advise.surgery.short_survival", "life_expectancy_months < 2", {"advise_against": "SURGERY"}),
               rule("ind.surgery.deficit", "neurological_deficit == true", {"indicate": "SURGERY"})]
    base = write_base(tmp_path / "mutated", mutated, [inv])
    report = tmp_path / "verify.xml"
    out = run("verify", "--rules", str(base), "--junit", str(report))
    assert out.returncode == 3
    root = ET.parse(report).getroot()
    failure = root.find(".//testcase[@name='inv.surgery']/failure")
    assert failure is not None and root.get("failures") == "1"
    assert "life_expectancy_months" in failure.text and "violated" in failure.get("message")
