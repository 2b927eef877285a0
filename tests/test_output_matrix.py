"""Every command that writes a file, against every hostile output: each goes through the one guarded writer
(_internal/output.py), so each refuses its own input, a device, a pipe and a folder with exit 2 and leaves them
as they were, writes through a symlink to the file behind it, and leaves no partial file."""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from spinemets import get_engine, read_case_file
from spinemets.commands.cli import main

from .conftest import CASES_DIR

FIRST = sorted(CASES_DIR.glob("*.yaml"))[0]


@dataclass
class Command:
    """A command writing to `--out`: its arguments for an output path, and the input it reads (if any)."""

    args: Callable[[str], list[str]]
    input: Path | None


def _setup(name: str, tmp: Path) -> Command:
    case = tmp / "case.yaml"
    case.write_bytes(FIRST.read_bytes())
    if name == "fhir export":
        return Command(lambda out: ["fhir", "export", str(case), "--out", out], case)
    if name == "fhir import":
        bundle = tmp / "bundle.json"
        assert main(["fhir", "export", str(case), "--out", str(bundle)]) == 0
        return Command(lambda out: ["fhir", "import", str(bundle), "--out", out], bundle)
    if name == "fhir codesystem":
        return Command(lambda out: ["fhir", "codesystem", "--out", out], None)
    if name in ("board export", "board checkpoint"):
        log = tmp / "board.sqlite"
        top = get_engine().evaluate(read_case_file(case).case).top
        assert main(["board", "record", str(case), "--db", str(log), "--chosen", top]) == 0
        if name == "board export":
            return Command(lambda out: ["board", "export", "--db", str(log), "--out", out], log)
        key = tmp / "keys" / "board.pem"
        key.parent.mkdir()
        assert main(["board", "keygen", str(key)]) == 0
        return Command(lambda out: ["board", "checkpoint", "--db", str(log), "--key", str(key), "--out", out], log)
    if name == "batch":
        registry = tmp / "reg.jsonl"
        registry.write_text('{"id": "a", "karnofsky": 70}\n')
        return Command(lambda out: ["batch", str(registry), "--out", out, "--workers", "1"], registry)
    if name == "synth":
        return Command(lambda out: ["synth", "3", "--out", out], None)
    raise AssertionError(name)


COMMANDS = ["fhir export", "fhir import", "fhir codesystem", "board export", "board checkpoint", "batch", "synth"]
REFUSED = ["the input", "a symlink to the input", "a hard link to the input", "/dev/null", "/dev/full", "a pipe",
           "a folder", "a missing folder"]


def _target(kind: str, command: Command, tmp: Path) -> Path | None:
    source = command.input
    if kind.endswith("the input") or kind.endswith("to the input"):
        if source is None:
            return None
        if kind == "the input":
            return source
        link = tmp / "link-to-input"
        if kind.startswith("a symlink"):
            link.symlink_to(source)
        else:
            os.link(source, link)
        return link
    if kind.startswith("/dev/"):
        # a device node of the same kind made in the test's folder: a regression replaces that one, never the
        # machine's /dev/null (which a test of the old fhir writer did)
        real = os.stat(kind) if Path(kind).exists() else None
        node = tmp / f"{Path(kind).name}-device"
        try:
            assert real is not None and stat.S_ISCHR(real.st_mode)
            os.mknod(node, 0o666 | stat.S_IFCHR, real.st_rdev)
        except (AssertionError, OSError):
            return None
        return node
    if kind == "a pipe":
        fifo = tmp / "fifo"
        os.mkfifo(fifo)
        return fifo
    if kind == "a folder":
        folder = tmp / "a-folder"
        folder.mkdir()
        return folder
    return tmp / "no-such-folder" / "out.txt"


def _state(path: Path) -> tuple[int, int, bytes | None]:
    info = os.lstat(path) if os.path.lexists(path) else None
    if info is None:
        return (0, 0, None)
    content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
    return (stat.S_IFMT(info.st_mode), info.st_rdev, content)


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("name", COMMANDS)
def test_a_hostile_output_is_refused_and_left_as_it_was(tmp_path, capsys, name, kind):
    command = _setup(name, tmp_path)
    target = _target(kind, command, tmp_path)
    if target is None:
        pytest.skip(f"{name} reads no input file" if "input" in kind else f"no {kind} here")
    watched = [target] + ([command.input] if command.input is not None else [])
    before = [_state(p) for p in watched]
    capsys.readouterr()
    assert main(command.args(str(target))) == 2, capsys.readouterr()
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(target) in err, err
    assert [_state(p) for p in watched] == before
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.name.endswith((".partial", ".tmp"))]
    assert leftovers == []


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_through_a_symlink_replaces_the_file_behind_it_and_keeps_the_link(tmp_path, capsys, name):
    command = _setup(name, tmp_path)
    real = tmp_path / "real-output"
    real.write_text("the previous output\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link-output"
    link.symlink_to(real)
    assert main(command.args(str(link))) == 0, capsys.readouterr()
    assert link.is_symlink() and real.read_bytes() != b"the previous output\n" and real.stat().st_size > 0
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.rglob(".*") if p.name.endswith((".partial", ".tmp"))] == []


def test_fhir_export_out_dir_is_checked_before_reading_and_never_overwrites_a_case(tmp_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_bytes(FIRST.read_bytes())
    case_id = read_case_file(case).case.id
    # a Bundle given as input whose name the export would write: the input is refused as the output
    bundle = tmp_path / f"{case_id}.json"
    assert main(["fhir", "export", str(case), "--out", str(bundle)]) == 0
    before = bundle.read_bytes()
    assert main(["fhir", "export", str(bundle), "--out-dir", str(tmp_path)]) == 2
    assert bundle.read_bytes() == before and "is the input" in capsys.readouterr().err
    assert main(["fhir", "export", str(case), "--out-dir", str(case)]) == 2   # a file, not a folder
