"""Packaging: `spinemets --version`, one source for the package version, `spinemets app` from the package."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import spinemets
from spinemets import load_rulebook
from spinemets.commands import app, cli

from .conftest import ROOT

SCRIPT = Path(sys.executable).parent / "spinemets"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spinemets.commands.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=env)


def test_version_names_the_package_and_the_rule_base_with_its_hash():
    out = run("--version")
    assert out.returncode == 0, out.stderr
    manifest = yaml.safe_load((ROOT / "rules" / "rulebook.yaml").read_text())["rulebook"]
    book = load_rulebook()
    lines = out.stdout.splitlines()
    assert lines[0] == f"spinemets {spinemets.__version__}"
    assert lines[1] == f"rule base {manifest['name']} {manifest['version']}"
    assert f"sha256  {book.sha256}" in out.stdout


def test_version_follows_spinemets_rules_and_says_when_it_does_not_load(tmp_path):
    import os

    env = {**os.environ, "SPINEMETS_RULES": str(tmp_path / "missing")}
    out = run("--version", env=env)
    assert out.returncode == 2
    assert out.stdout.startswith(f"spinemets {spinemets.__version__}")
    assert "missing" in out.stderr and "Traceback" not in out.stderr


def test_the_package_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "spinemets.__version__"}
    parts = spinemets.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts), "semantic versioning: MAJOR.MINOR.PATCH"


def test_app_starts_streamlit_on_the_packaged_app_with_the_privacy_settings(monkeypatch, tmp_path):
    started: list[tuple[str, list[str], dict[str, str]]] = []

    class Replaced(BaseException):
        """os.execve does not return: the process is the server's from then on."""

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        started.append((path, argv, env))
        raise Replaced

    monkeypatch.setattr(app.os, "execve", execve)
    monkeypatch.chdir(tmp_path)  # far from the repository's .streamlit/: the settings must come along anyway
    rules = ROOT / "rules"
    with pytest.raises(Replaced):
        cli.main(["app", "--port", "8642", "--rules", str(rules)])
    (path, argv, env), = started
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"] and path == sys.executable
    assert Path(argv[4]).name == "app.py" and Path(argv[4]).is_file()
    assert "--browser.gatherUsageStats=false" in argv and "--client.showErrorDetails=none" in argv
    assert argv[-1] == "--server.port=8642"
    assert env["SPINEMETS_RULES"] == str(rules.resolve())


def test_app_settings_are_every_setting_of_the_streamlit_config():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flags = app.settings_flags(app.settings_file())
    expected = [f"--{section}.{key}={str(item).lower() if isinstance(item, bool) else item}"
                for section, values in settings.items() for key, value in values.items()
                for item in (value if isinstance(value, list) else [value])]
    assert flags == expected
    # a list is one flag per item: its repr as one value names no host, and every websocket was refused
    assert {"--server.allowedHosts=localhost", "--server.allowedHosts=127.0.0.1",
            "--server.allowedHosts=[::1]"} <= set(flags)
    assert "--client.showErrorLinks=false" in flags
    assert app.settings_file().read_bytes() == (ROOT / ".streamlit" / "config.toml").read_bytes()


def test_app_refuses_a_missing_rule_base(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(app.os, "execve", lambda *a: pytest.fail("started anyway"))
    assert cli.main(["app", "--rules", str(tmp_path / "nope")]) == 2
    assert "no such rule base" in capsys.readouterr().err
