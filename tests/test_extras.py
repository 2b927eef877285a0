"""The light core install: commands that need an extra name it, and core commands import no optional package."""
from __future__ import annotations

import subprocess
import sys

import pytest

from spinemets.commands import app, cli, extras

from .conftest import CASES_DIR

# Every import name an extra brings (and what those pull in that a core command must not load either).
OPTIONAL = {"streamlit", "altair", "pandas", "pyarrow", "fpdf", "z3", "fastapi", "uvicorn", "httpx", "jwt",
            "starlette"}


def _without(monkeypatch, *names: str) -> None:
    real = extras.find_spec
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name in names else real(name))


@pytest.mark.parametrize(("argv", "absent", "extra"), [
    (["app"], "streamlit", "app"),
    (["verify"], "z3", "verify"),
    (["serve"], "fastapi", "service"),
    (["board", "export", "--format", "pdf", "--out", "minutes.pdf", "--db", "board.sqlite"], "fpdf", "pdf"),
])
def test_a_command_whose_extra_is_missing_names_it_in_one_line(monkeypatch, tmp_path, capsys, argv, absent, extra):
    monkeypatch.chdir(tmp_path)
    _without(monkeypatch, absent)
    monkeypatch.setattr(app.os, "execve", lambda *a: pytest.fail("started without its extra"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"pip install 'spinemets[{extra}]'" in err and absent in err
    assert not list(tmp_path.iterdir()), "nothing written"


# A child interpreter in which the named packages cannot be imported at all, as in a core install: a command
# that imports one before checking for its extra fails with a traceback here, not with the install line.
BLOCKED_RUN = """
import sys
blocked = set(sys.argv[1].split(","))
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocked())
from spinemets.commands.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(("argv", "extra"), [
    (["app"], "app"), (["verify"], "verify"), (["serve"], "service"),
    (["board", "export", "--format", "pdf", "--out", "m.pdf", "--db", "board.sqlite"], "pdf"),
])
def test_without_the_packages_a_command_stops_before_importing_them(tmp_path, argv, extra):
    blocked = ",".join(extras.EXTRAS[extra])
    out = subprocess.run([sys.executable, "-c", BLOCKED_RUN, blocked, *argv], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and f"pip install 'spinemets[{extra}]'" in out.stderr
    assert not list(tmp_path.iterdir())


def test_each_extra_is_declared_with_the_packages_it_checks():
    import tomllib

    from .conftest import ROOT

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    distribution = {"fpdf": "fpdf2", "z3": "z3-solver", "jwt": "pyjwt"}
    for extra, modules in extras.EXTRAS.items():
        text = " ".join(declared[extra]) + " " + " ".join(
            " ".join(declared[inner]) for inner in extras.EXTRAS if f"spinemets[{inner}]" in declared[extra])
        for module in modules:
            assert distribution.get(module, module) in text, f"{module} is not in the {extra} extra"
    assert set(declared["all"]) == {"spinemets[app,verify,service]"}


def _imported(argv: list[str], cwd) -> set[str]:
    """Top-level names of every module a command imports (python -X importtime lists each on stderr)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "spinemets.commands.cli", *argv], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "spinemets" in names
    return names


def test_core_commands_import_no_optional_package(tmp_path):
    vignette = CASES_DIR / "teach-coagulopathy-lung-t9.yaml"
    (tmp_path / "registry.csv").write_text("id,primary_tumor,levels\nr1,breast,T10\nr2,lung,T9\n")
    for argv in (["evaluate", "teach-coagulopathy-lung-t9"], ["evaluate", str(vignette), "--json"], ["cases"],
                 ["batch", "registry.csv", "--out", "decisions.jsonl", "--no-progress", "--workers", "1"],
                 ["fhir", "export", str(vignette), "--out-dir", "bundles"]):
        loaded = _imported(argv, tmp_path) & OPTIONAL
        assert not loaded, f"spinemets {' '.join(argv)} imports {sorted(loaded)}"
