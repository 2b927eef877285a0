"""The memory budget of each test (tests/memory_budget.py): a test that grows the test process past it fails,
naming itself, and the rest run; one stuck in code that cannot be interrupted stops the run with a message."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="the budget reads /proc (Linux)")

GREEDY = '''
def test_greedy():
    import time
    hoard = []
    for _ in range(100):               # up to 1 GB, 10 MB at a time, every page written
        hoard.append(b"\\x01" * (10 * 2 ** 20))
        # a test that grows in Python steps, each leaving the watchdog (a tenth of a second apart) its turn: on a
        # loaded machine a loop without pauses can cross the half budget's margin to the hard stop between two looks
        time.sleep(0.02)

def test_modest():
    assert sum(range(1000)) == 499500
'''

STUCK = '''
def test_stuck_in_one_call():
    hoard = b"\\x01" * (900 * 2 ** 20)   # one C call: nothing to interrupt until it returns
    assert hoard
'''


def _pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        "from tests.memory_budget import (pytest_configure, pytest_runtest_call, pytest_runtest_logstart,\n"
        "    pytest_unconfigure)  # noqa: F401\n")
    (tmp_path / "test_inner.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPINEMETS_TEST_MEMORY_GB": "0.25"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(tmp_path)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def test_a_test_past_the_budget_fails_naming_itself_and_the_rest_run(tmp_path):
    result = _pytest(tmp_path, GREEDY)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_inner.py::test_greedy grew the test process past its memory budget of 0.2 GB" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


def test_a_test_stuck_past_the_budget_in_one_call_stops_the_run_with_a_message(tmp_path):
    result = _pytest(tmp_path, STUCK)
    assert result.returncode == -9, result.stdout + result.stderr
    assert "memory budget: test_inner.py::test_stuck_in_one_call grew the test process to" in result.stderr
