"""What every command shares: exit codes, the --rules option and terminal styling."""
from __future__ import annotations

import argparse
import os
from typing import TextIO

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class Style:
    """ANSI colours on a terminal unless NO_COLOR is set; plain text otherwise."""

    CODES = {"recommended": "32;1", "appropriate": "32", "caution": "33", "not_recommended": "90",
             "contraindicated": "31;1", "bold": "1", "dim": "2"}

    def __init__(self, stream: TextIO):
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, style: str) -> str:
        return f"\033[{self.CODES[style]}m{text}\033[0m" if self.on else text


def rules_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", metavar="DIR", default=os.environ.get("SPINEMETS_RULES"),
                        help="rule base folder (default: the built-in rules/, or $SPINEMETS_RULES)")
