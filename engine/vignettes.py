"""The vignettes shipped with the package (cases/), by name: `spinemets evaluate teach-coagulopathy-lung-t9`.

A vignette's name is its file name without the suffix. Where a command takes a case file, `resolve` reads the
argument as a path first: a path that exists always wins (so a local file named like a vignette is the file),
`-` stays stdin, and only an argument that is not a path that exists and holds no folder separator is looked up
as a vignette name. A name that matches nothing is refused with the nearest names.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from .case_io import read_case_file
from .errors import CaseError
from .rulebook import DEFAULT_CASES_DIR
from .vignette import CaseDocument

SUFFIXES = (".yaml", ".yml", ".json")


def vignette_files(folder: str | Path | None = None) -> dict[str, Path]:
    """Name -> file of every vignette in the folder (default: the shipped cases/), in file name order."""
    root = Path(folder) if folder is not None else DEFAULT_CASES_DIR
    if not root.is_dir():
        return {}
    files = sorted(p for p in root.iterdir() if p.suffix in SUFFIXES and p.is_file())
    return {p.stem: p for p in files}


def resolve(argument: str, folder: str | Path | None = None) -> str:
    """The file a command's case argument names: the path itself when it exists (or `-`), else the vignette of
    that name; raises CaseError, with the nearest vignette names, when it is neither."""
    if argument == "-" or Path(argument).exists():
        return argument
    given = Path(argument)
    if given.name != argument:  # a path with folders: the reader says it does not exist
        return argument
    files = vignette_files(folder)
    name = given.stem if given.suffix in SUFFIXES else argument
    if name in files:
        return str(files[name])
    near = [n for n in files if name.lower() in n.lower()][:5]  # a part of the name: 'coagulopathy'
    near += [n for n in difflib.get_close_matches(name, list(files), n=5, cutoff=0.6) if n not in near]
    hint = f"; nearest: {', '.join(near)}" if near else ""
    raise CaseError(f"{argument}: no such file, and no vignette of that name{hint} "
                    "(`spinemets cases` lists the vignettes)")


def load_vignette(name: str, folder: str | Path | None = None) -> CaseDocument:
    """A shipped vignette by name: its case, and the board's reference management (`board`).

    >>> from spinemets import load_vignette, vignette_files
    >>> "teach-coagulopathy-lung-t9" in vignette_files()
    True
    >>> document = load_vignette("teach-coagulopathy-lung-t9")
    >>> document.case.primary_tumor, document.board is not None
    ('lung', True)
    """
    files = vignette_files(folder)
    if name not in files:
        resolve(name, folder)  # raises CaseError with the nearest names
        raise CaseError(f"{name}: not a vignette name (`spinemets cases` lists them)")
    return read_case_file(files[name])
