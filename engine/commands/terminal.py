"""What every command shares: exit codes, the --rules option and terminal output (colour, width, progress bars).

Colour follows the conventions other command-line tools follow, decided here (not left to the rich version):
  NO_COLOR   set to a non-empty value: no colour, whatever else is set (https://no-color.org; empty = unset)
  FORCE_COLOR set to a non-empty value: colour even when the output is not a terminal (https://force-color.org)
  TERM=dumb  no colour and no progress bars (a terminal that cannot move the cursor), unless FORCE_COLOR
  otherwise  colour when the output is a terminal.
The width is COLUMNS when set, else the terminal's, else 100 columns for a file or a pipe (stable output to diff).
"""
from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, TextIO, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
DEFAULT_WIDTH = 100  # for a file or a pipe, where no terminal says how wide
MIN_WIDTH = 60  # narrower breaks the rule names of the reason lines mid-word

T = TypeVar("T")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a real stream
        return False


def colour_wanted(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour what goes to `stream` (the module docstring gives the order of the rules)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def interactive(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a progress bar may redraw itself on `stream`: a terminal that is not dumb."""
    env = os.environ if environ is None else environ
    return _isatty(stream) and env.get("TERM") != "dumb"


def output_width(stream: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """Columns to fill: COLUMNS if set to a number, else the terminal's width, else DEFAULT_WIDTH."""
    env = os.environ if environ is None else environ
    columns = env.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    if _isatty(stream):
        try:
            return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
        except (OSError, ValueError):
            return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return DEFAULT_WIDTH


def console(stream: TextIO, environ: Mapping[str, str] | None = None) -> Console:
    """A rich console on `stream` that obeys the conventions above (rich's own guesses are overridden)."""
    from rich.console import Console

    colour = colour_wanted(stream, environ)
    return Console(file=stream, width=output_width(stream, environ), force_terminal=colour, no_color=not colour,
                   color_system="standard" if colour else None, force_interactive=interactive(stream, environ),
                   highlight=False, markup=False, emoji=False, soft_wrap=True)


class Style:
    """Colours for the status words and headings, through rich; plain text when colour is off."""

    STYLES: ClassVar[dict[str, str]] = {"recommended": "bold green", "appropriate": "green", "caution": "yellow",
              "not_recommended": "bright_black", "contraindicated": "bold red", "bold": "bold", "dim": "dim"}

    def __init__(self, stream: TextIO, environ: Mapping[str, str] | None = None) -> None:
        from rich.color import ColorSystem
        from rich.style import Style as RichStyle

        self.on = colour_wanted(stream, environ)
        self.width = output_width(stream, environ)
        self._styles = {name: RichStyle.parse(spec) for name, spec in self.STYLES.items()}
        self._system = ColorSystem.STANDARD

    def __call__(self, text: str, style: str) -> str:
        return self._styles[style].render(text, color_system=self._system) if self.on else text


@contextmanager
def progress_bar(stream: TextIO, enabled: bool = True,
                 environ: Mapping[str, str] | None = None) -> Iterator[Progress | None]:
    """A rich progress bar with ETA on `stream` (stderr), or None when it should not show: not asked for, or
    `stream` is not an interactive terminal (a file, a pipe, CI's log, TERM=dumb)."""
    if not enabled or not interactive(stream, environ):
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console(stream, environ), transient=True) as bar:
        yield bar


def track(items: Iterable[T], total: int | None, description: str, stream: TextIO, enabled: bool = True,
          environ: Mapping[str, str] | None = None) -> Iterator[T]:
    """`items`, advancing a progress bar on `stream` as each is taken (see progress_bar for when it shows)."""
    with progress_bar(stream, enabled, environ) as bar:
        if bar is None:
            yield from items
            return
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def rules_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", metavar="DIR", default=os.environ.get("SPINEMETS_RULES"),
                        help="rule base folder (default: the built-in rules/, or $SPINEMETS_RULES)")
