"""`spinemets --version`: the package's version and the identity of the rule base it would use."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .terminal import EXIT_INPUT, EXIT_OK


def version_text(rules: str | None) -> str:
    """Package version, then the rule base's name, version and sha256 (docs/versioning.md: two versions, apart)."""
    from .. import __version__
    from ..rulebook import load_rulebook

    book = load_rulebook(rules)
    return (f"spinemets {__version__}\n"
            f"rule base {book.manifest.name} {book.version}\n"
            f"  sha256  {book.sha256}\n"
            f"  folder  {book.root}\n")


class VersionAction(argparse.Action):
    """Like argparse's version action, but the rule base is read when asked (it can fail: exit 2 then)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,  # noqa: ARG002
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> NoReturn:  # noqa: ARG002
        # argparse's signature; the version needs none of what was parsed
        from ..errors import InputError

        try:
            text = version_text(os.environ.get("SPINEMETS_RULES") or None)
        except InputError as err:
            from .. import __version__

            sys.stdout.write(f"spinemets {__version__}\n")
            parser.exit(EXIT_INPUT, f"spinemets: {err}\n")
        sys.stdout.write(text)
        parser.exit(EXIT_OK)
