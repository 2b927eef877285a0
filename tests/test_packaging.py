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


def _check_wheel():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_wheel", ROOT / ".ci" / "check_wheel.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_index_text_has_no_link_into_the_repository():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    readme = ROOT / project["readme"]
    links = _check_wheel().relative_links
    assert links(readme.read_text(encoding="utf-8")) == []
    # the detector sees what breaks on the index: README.md's screenshots and docs/ links
    found = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/screenshots/case-and-decision.png" in found and "docs/interoperability.md" in found
    sample = '[a](https://x.example/a) ![i](shot.png)\n[b]: docs/b.md\n<img src="c.png">\n[d](#top)'
    assert sorted(links(sample)) == ["c.png", "docs/b.md", "shot.png"]


def test_licence_files_and_type_marker_are_where_the_wheel_takes_them_from():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "MIT" in (ROOT / "LICENSE").read_text() and "the spinemets authors" in (ROOT / "LICENSE").read_text()
    assert project["project"]["license-files"] == list(_check_wheel().LICENCES)
    assert (ROOT / "ui" / "fonts" / "LICENSE-DejaVu.txt").is_file()  # beside the fonts it covers
    assert (ROOT / "engine" / "py.typed").is_file()
    assert project["tool"]["setuptools"]["package-data"]["spinemets"] == ["py.typed"]
    assert "urls" not in project["project"], "no invented homepage: add URLs once the project has a public one"


def test_the_core_requirements_leave_out_the_front_end_the_prover_and_the_service():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    for name in _check_wheel().OPTIONAL:
        assert name not in core, f"{name} is a core dependency"
    extras = project["optional-dependencies"]
    assert {"app", "verify", "service", "pdf", "all"} <= set(extras)
    assert "spinemets[all]" in extras["test"]  # make test keeps installing everything


def test_streamlit_reads_every_setting_as_the_config_file_gives_it():
    """The flags go through Streamlit's own command-line parser: a list (the allowed hosts) arrives as the list,
    not as one host named after its Python text, which refused every browser connection."""
    from streamlit.web import cli as streamlit_cli

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    argv = app.command(8642)
    context = streamlit_cli.main_run.make_context("run", argv[4:])
    for section, values in settings.items():
        for key, value in values.items():
            parsed = context.params[f"{section}_{key}"]
            if isinstance(value, bool) and isinstance(parsed, str):
                # a text option that also takes true/false (client.showErrorLinks: "auto", "true", "false"):
                # Streamlit reads its command line's "false" as the TOML file's false
                value = str(value).lower()
            assert (list(parsed) if isinstance(value, list) else parsed) == value, f"{section}.{key}"
