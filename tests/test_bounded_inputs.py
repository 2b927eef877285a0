"""Input that never ends and runs that are stopped: every reader is bounded (exit 2, one line), and a batch stopped
by any signal that can be caught leaves no partial file (patient data) and no traceback."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from spinemets.commands.cli import main

from .test_cli import CLI

GIB = 1024 ** 3


def _limited() -> None:
    # the old readers grew without bound on /dev/zero: a regression fails here instead of taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 * GIB, 2 * GIB))


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, preexec_fn=_limited,
                          input=None if stdin is None else stdin.decode("latin-1"))


@pytest.mark.parametrize("args", [["batch", "/dev/zero", "--format", "csv"], ["batch", "/dev/zero", "--format", "jsonl"],
                                  ["fhir", "import", "/dev/zero"], ["evaluate", "/dev/zero"]])
def test_dev_zero_is_refused_at_a_byte_or_line_limit(args):
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    assert "limit" in result.stderr and "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def _bundle_text(tmp_path: Path) -> str:
    from .test_output_matrix import FIRST

    out = tmp_path / "bundle.json"
    assert main(["fhir", "export", str(FIRST), "--out", str(out)]) == 0
    return out.read_text()


def test_fhir_import_refuses_deep_nesting_duplicate_keys_and_a_bom_as_evaluate_does(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text('{"resourceType": "Bundle", "entry": ' + "[" * 100_000 + "]" * 100_000 + "}")
    duplicate = tmp_path / "duplicate.json"
    text = _bundle_text(tmp_path)
    duplicate.write_text(text.replace('"resourceType": "Bundle"', '"resourceType": "Bundle", "type": "batch"', 1))
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for path, words in ((deep, "levels of nesting"), (duplicate, "duplicate key"), (bom, "BOM")):
        capsys.readouterr()
        assert main(["fhir", "import", str(path)]) == 2, path
        imported = capsys.readouterr().err
        assert main(["evaluate", str(path)]) == 2, path
        evaluated = capsys.readouterr().err
        assert words in imported and words in evaluated, (imported, evaluated)
        assert "Traceback" not in imported + evaluated


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "registry.csv"
    assert main(["synth", "2000", "--format", "csv", "--out", str(path)]) == 0
    return path


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def _start(registry: Path, out: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([*CLI, "batch", str(registry), "--out", str(out), "--workers", "2", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _partials(out.parent):  # the output is being written: now the run is one to interrupt
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process


def _workers(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children]


def _gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                state = Path(f"/proc/{pid}/stat").read_text().split()[2]
                if state != "Z":
                    alive.append(pid)
            except (ProcessLookupError, OSError):
                pass
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_batch_stopped_by_a_catchable_signal_leaves_no_partial_file_and_no_traceback(registry, tmp_path, sig):
    out = tmp_path / "decisions.jsonl"
    process = _start(registry, out)
    time.sleep(0.5)  # let the workers start, so that their ending is tested too
    workers = _workers(process.pid)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert _partials(tmp_path) == [] and not out.exists()
    assert _gone(workers)


def test_sigpipe_does_not_stop_a_batch_and_a_closed_standard_output_is_no_traceback(registry, tmp_path):
    out = tmp_path / "decisions.jsonl"
    process = _start(registry, out)
    process.send_signal(signal.SIGPIPE)  # ignored, as Python sets it: the run ends whole
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert _partials(tmp_path) == [] and len(out.read_text().splitlines()) == 2000
    piped = subprocess.run(f"'{CLI[0]}' batch '{registry}' --workers 2 --no-progress | head -c 100 >/dev/null",
                           shell=True, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_sigkill_leaves_the_partial_file_until_the_next_run_and_ends_the_workers(registry, tmp_path):
    out = tmp_path / "decisions.jsonl"
    process = _start(registry, out)
    time.sleep(0.5)
    workers = _workers(process.pid)
    process.kill()
    process.communicate(timeout=60)
    left = _partials(tmp_path)
    assert len(left) == 1 and (tmp_path / left[0]).stat().st_mode & 0o077 == 0  # owner-only, as documented
    assert _gone(workers)
    small = tmp_path / "small.csv"
    small.write_text("\n".join(registry.read_text().splitlines()[:4]) + "\n")
    assert main(["batch", str(small), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert _partials(tmp_path) == []
