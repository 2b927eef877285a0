"""Output files: written atomically after a successful run, never over an input, a folder or a device."""
from __future__ import annotations

import os
import stat
import subprocess

import pytest

from spinemets._internal import output
from spinemets.commands import cli
from spinemets.commands.synth import synthetic_cases, write
from spinemets.errors import InputError

from .conftest import CASES_DIR, fail_the_evaluation
from .test_cli import CLI

ROOT_USER = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def spinemets(*args: str, stdin=None, shell_redirect: str = "", cwd=None) -> subprocess.CompletedProcess:
    if shell_redirect:
        command = " ".join(f"'{a}'" for a in [*CLI, *args]) + " " + shell_redirect
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, cwd=cwd)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, stdin=stdin, cwd=cwd)


@pytest.fixture
def registry(tmp_path, engine):
    def make(fmt: str = "jsonl", rows: int = 5):
        path = tmp_path / f"reg.{fmt}"
        with path.open("w", newline="") as f:
            write(synthetic_cases(rows, 3, engine), f, fmt)
        return path
    return make


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_input_given_as_the_output_is_refused_and_kept(registry, fmt, capsys):
    source = registry(fmt)
    before = source.read_bytes()
    assert cli.main(["batch", str(source), "--out", str(source)]) == 2
    assert f"{source}: is the input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_the_input_under_another_name_is_refused(registry, tmp_path, capsys):
    source = registry("jsonl")
    before = source.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(source)
    hard = tmp_path / "hard.jsonl"
    os.link(source, hard)
    for target in (link, hard):
        assert cli.main(["batch", str(source), "--out", str(target)]) == 2
    result = spinemets("batch", "-", "--format", "jsonl", "--out", str(source), stdin=source.open("rb"))
    assert result.returncode == 2 and "standard input reads this file" in result.stderr
    assert source.read_bytes() == before and link.is_symlink()


@pytest.mark.parametrize("failure", ["missing input", "bad --rules", "bad header", "engine error"])
def test_a_failed_run_leaves_an_existing_output_exactly_as_it_was(registry, tmp_path, engine, monkeypatch, failure):
    source = registry("csv", rows=30)
    out = tmp_path / "decisions.jsonl"
    out.write_text("the previous run's decisions\n")
    os.chmod(out, 0o640)
    args = ["batch", str(source), "--out", str(out), "--workers", "1"]
    if failure == "missing input":
        args[1] = str(tmp_path / "none.csv")
    elif failure == "bad --rules":
        args += ["--rules", str(tmp_path / "no-rules")]
    elif failure == "bad header":
        source.write_text("id,karnofski\nx,70\n")
    else:
        fail_the_evaluation(monkeypatch, engine)
    assert cli.main(args) in (1, 2)
    assert out.read_text() == "the previous run's decisions\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial file left


def test_a_successful_run_replaces_the_output_keeping_its_permissions(registry, tmp_path):
    source = registry("jsonl")
    out = tmp_path / "decisions.jsonl"
    out.write_text("old\n")
    os.chmod(out, 0o600)
    assert cli.main(["batch", str(source), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 5 and stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_devices_as_output_are_refused_and_survive(registry, device, capsys):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    before = os.stat(device)
    for args in (["batch", str(registry("jsonl")), "--out", device], ["synth", "3", "--out", device],
                 ["knowledge-base", "--out", device]):
        assert cli.main(args) == 2
        assert "is a character device" in capsys.readouterr().err
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_folder_as_output_file_is_refused(registry, tmp_path, capsys):
    assert cli.main(["batch", str(registry("jsonl")), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_case_file_inside_an_input_folder_is_refused(tmp_path, rules_copy, capsys):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "a.yaml").write_text("id: a\n")
    assert cli.main(["batch", str(cases), "--out", str(cases / "out.json")]) == 2
    assert cli.main(["synth", "3", "--rules", str(rules_copy), "--out", str(rules_copy / "extra.yaml")]) == 2
    err = capsys.readouterr().err
    assert "inside the input folder" in err and not (rules_copy / "extra.yaml").exists()


def test_verify_counterexamples_inside_the_rule_base_or_unwritable_is_refused_before_proving(rules_copy, capsys):
    assert cli.main(["verify", "--rules", str(rules_copy), "--counterexamples", str(rules_copy / "found")]) == 2
    assert "inside the input folder" in capsys.readouterr().err and not (rules_copy / "found").exists()
    # /proc refuses new entries even to root: a folder nobody can write
    assert cli.main(["verify", "--counterexamples", "/proc/spinemets-counterexamples"]) == 2
    assert "cannot make the folder" in capsys.readouterr().err


def test_knowledge_base_to_an_unwritable_place_is_exit_2(capsys):
    assert cli.main(["knowledge-base", "--out", "/proc/knowledge-base.md"]) == 2
    assert "/proc/knowledge-base.md: cannot write" in capsys.readouterr().err


@pytest.mark.skipif(ROOT_USER, reason="root may write any file")
def test_a_read_only_output_file_is_refused(registry, tmp_path, capsys):
    out = tmp_path / "d.jsonl"
    out.write_text("kept\n")
    os.chmod(out, 0o444)
    assert cli.main(["batch", str(registry("jsonl")), "--out", str(out)]) == 2
    assert "read-only" in capsys.readouterr().err and out.read_text() == "kept\n"


def test_write_file_is_atomic_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "doc.md"
    output.write_file(target, "first\n")
    assert target.read_text() == "first\n"
    out = output.target(target)
    with pytest.raises(RuntimeError):
        with out.open(binary=False) as stream:
            stream.write("half of the second")
            raise RuntimeError("the run failed")
    assert target.read_text() == "first\n" and [p.name for p in tmp_path.iterdir()] == ["doc.md"]


def test_a_full_disk_while_writing_is_an_output_error():
    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

        def flush(self):
            pass

    with pytest.raises(InputError, match="d.jsonl: cannot write .No space left on device"):
        output._Guarded(Full(), "d.jsonl").write(b"x")


@pytest.mark.parametrize("redirect, message", [
    (">/dev/full", "cannot write to standard output (No space left on device)"),
    (">&-", "standard output is closed"),
])
def test_standard_output_full_or_closed_is_exit_2(redirect, message):
    result = spinemets("evaluate", str(sorted(CASES_DIR.glob("*.yaml"))[0]), shell_redirect=redirect)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_closed_standard_input_is_exit_2():
    for args in (["evaluate", "-"], ["batch", "-", "--format", "jsonl"]):
        result = spinemets(*args, shell_redirect="<&-")
        assert result.returncode == 2 and "standard input is closed" in result.stderr, result.stderr
