"""What the front end must never do: write case data to disk, phone home, or hold clinical logic of its own."""
from __future__ import annotations

import ast
import builtins
import io
import os
import tempfile
import tomllib
from pathlib import Path
from unittest.mock import patch

from spinemets import OPTIONS
from tests.ui_apptest import ROOT, deferred_downloads, load_vignette, set_field, start, vignette_files, widget

UI = ROOT / "ui"


def test_a_whole_session_writes_nothing_to_disk(tmp_path, monkeypatch):
    writes: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def watched_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            writes.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def watched_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(str(path))
        return real_os_open(path, flags, *args, **kwargs)

    def no_temp_files(*args, **kwargs):
        raise AssertionError("the front end created a temporary file")

    monkeypatch.chdir(tmp_path)
    with patch.object(builtins, "open", watched_open), patch.object(io, "open", watched_open), \
            patch.object(os, "open", watched_os_open), patch.object(tempfile, "mkstemp", no_temp_files), \
            patch.object(tempfile, "NamedTemporaryFile", no_temp_files), \
            patch.object(tempfile, "mkdtemp", no_temp_files), deferred_downloads() as downloads:
        at = load_vignette(start(), vignette_files()[0])
        set_field(at, "coagulopathy", True)
        widget(at, "title").input("a title typed by the board")
        at.run()
        for page in ("views/whatif.py", "views/trainee.py", "views/rule_base.py", "views/evidence.py",
                     "views/board.py"):
            at.switch_page(page).run()
            assert not at.exception, [e.value for e in at.exception]
        for build in downloads.values():
            build()
    assert writes == []
    assert list(tmp_path.iterdir()) == []


def test_nothing_the_server_does_reaches_outside():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["browser"]["serverAddress"] == "localhost"  # no external-IP lookup at start
    assert config["client"]["showErrorDetails"] == "none"  # no traceback
    assert config["client"]["showErrorLinks"] is False  # no "Ask Google / ChatGPT" links carrying error text


def _ui_sources() -> list[Path]:
    return sorted(UI.rglob("*.py"))


def test_ui_code_names_no_option_and_imports_no_engine_internals():
    # Which option suits which patient is the rule base's business: UI code that named an option would be
    # deciding something. It also reaches the engine only through its package, never engine._internal.
    for path in _ui_sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in OPTIONS, f"{path.relative_to(ROOT)}:{node.lineno} names option {node.value}"
            if isinstance(node, ast.ImportFrom) and node.module:
                assert "_internal" not in node.module, f"{path.relative_to(ROOT)} imports {node.module}"
