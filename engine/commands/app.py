"""`spinemets app`: start the Streamlit front end from the installed package (`make run` does so from a checkout)."""
from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from ..errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("app", help="start the Streamlit front end (http://localhost:8501)")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--rules", metavar="DIR", default=os.environ.get("SPINEMETS_RULES"),
                   help="rule base folder (default: the built-in rules/, or $SPINEMETS_RULES)")
    p.set_defaults(run=run)


def _package_ui() -> Path:
    from .. import ui

    return Path(ui.__file__).resolve().parent


def settings_file() -> Path:
    """The app's Streamlit settings: shipped in the wheel as spinemets/ui/settings/, in a checkout .streamlit/."""
    ui = _package_ui()
    inside = ui / "settings" / "config.toml"
    return inside if inside.is_file() else ui.parent / ".streamlit" / "config.toml"


def settings_flags(path: Path) -> list[str]:
    """Every setting of the file as a `streamlit run` flag: Streamlit reads .streamlit/ only from the working
    folder, and the privacy settings (no usage statistics, no error details) must hold wherever it is started."""
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InputError(f"{path}: the app's settings cannot be read ({err})") from None
    flags = []
    for section, values in settings.items():
        for key, value in values.items():
            # A list (server.allowedHosts) is one flag per item, as Streamlit's command line takes it: its
            # Python repr as one value would be a single host name matching no request, and every page's
            # websocket would be refused (the page would stay on Streamlit's grey skeleton).
            for item in value if isinstance(value, list) else [value]:
                text = str(item).lower() if isinstance(item, bool) else str(item)
                flags.append(f"--{section}.{key}={text}")
    return flags


def command(port: int) -> list[str]:
    """The `streamlit run` command line for the installed app."""
    return [sys.executable, "-m", "streamlit", "run", str(_package_ui() / "app.py"),
            *settings_flags(settings_file()), f"--server.port={port}"]


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.rules:
        rules = Path(args.rules).resolve()
        if not rules.exists():
            raise InputError(f"{args.rules}: no such rule base folder or file")
        env["SPINEMETS_RULES"] = str(rules)
    argv = command(args.port)
    # Streamlit replaces this process: Ctrl-C and the exit status are the server's own.
    os.execve(argv[0], argv, env)  # noqa: S606 (no shell: the arguments are passed as they are)
