"""Reading a registry of cases: a CSV file, a JSON Lines file or a folder of case files.

Reading is split in two so that the expensive half runs in worker processes: `open_registry` checks
the file as a whole (format, CSV header) and yields each row's raw text with the line the user sees
it on; `parse_row` turns one raw row into a validated case, or a CaseError whose problems carry that
line and the field.

CSV conventions (docs/batch.md): one row per case, the header names the data dictionary's fields
(SINS components as `sins.location` ...), an empty cell is unknown, `levels` is written `T11;T12`,
yes-no fields are `true` or `false` (any letter case; not yes/no or 1/0, which a registry may use
for something else), numbers use a decimal point, codes are written as in the data dictionary.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from ._internal import reading
from ._internal.suggest import did_you_mean
from .case import NOT_CLINICAL, SINS_COMPONENTS, Case
from .case_io import case_from_data, read_case_file
from .errors import CaseError, InputError, Problem
from .fields import input_specs
from .vignette import CaseDocument

FORMATS = ("csv", "jsonl", "folder")
CASE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
_INTEGER = re.compile(r"[+-]?\d+")
_EMPTY_ROW = re.compile(r"[\s,]*")  # a blank line, or a row of empty cells: no case
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Registry:
    """An opened registry: its format, where it came from, the CSV header, and its rows."""

    format: str
    name: str
    header: tuple[str, ...]
    rows: Iterator[tuple[int, str]]   # (line or file number, raw row: a CSV record, a JSON line, or a path)


def csv_columns() -> list[str]:
    """The CSV columns spinemets reads and writes: id, title, presentation, then every clinical field."""
    names = [n for n in Case.model_fields if n in NOT_CLINICAL]
    for name in Case.model_fields:
        if name == "sins":
            names += [f"sins.{c}" for c in SINS_COMPONENTS]
        elif name not in NOT_CLINICAL:
            names.append(name)
    return names


def detect_format(path: str, given: str | None) -> str:
    if given:
        return given
    if path != "-" and Path(path).is_dir():
        return "folder"
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(f"{path}: cannot tell the format from the name; use --format csv or --format jsonl "
                     "(a folder of case files is read as such)")


def open_registry(path: str, fmt: str | None = None) -> Registry:
    """Open the input and check it as a whole; row problems are left to `parse_row`. Raises InputError."""
    fmt = detect_format(path, fmt)
    name = "<stdin>" if path == "-" else path
    if fmt == "folder":
        return Registry("folder", name, (), _folder_rows(path))
    stream = _open_text(path, name)
    if fmt == "jsonl":
        return Registry("jsonl", name, (), _jsonl_rows(stream))
    records = _records(stream)
    first = next(records, None)
    if first is None:
        raise InputError(f"{name}: the file is empty; expected a header row naming the fields")
    try:
        header = tuple(cell.strip() for cell in _cells(first[1]))
    except csv.Error as err:
        raise InputError(f"{name}:1: not a readable CSV header ({err})") from None
    _check_header(header, name)
    return Registry("csv", name, header, ((line, text) for line, text in records if not _EMPTY_ROW.fullmatch(text)))


def _open_text(path: str, name: str) -> TextIO:
    # Undecodable bytes are kept as surrogates and refused row by row, so one bad row does not stop the rest.
    with reading.explained(name, InputError, "give --format folder or a CSV / JSON Lines file"):
        if path == "-":
            return open(sys.stdin.fileno(), encoding="utf-8-sig", errors="surrogateescape", newline="", closefd=False)
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _check_header(header: tuple[str, ...], name: str) -> None:
    known = csv_columns()
    problems = []
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.append(Problem("column named twice", file=name, line=1, field=column))
        seen.add(column)
        if column not in known:
            hint = did_you_mean(column, known)
            if column == "sins":
                hint = f"; write one column per component: {', '.join('sins.' + c for c in SINS_COMPONENTS)}"
            problems.append(Problem(f"unknown column{hint}", file=name, line=1, field=column or "(empty)"))
    if "id" not in header:
        problems.append(Problem("required: every row needs an id", file=name, line=1, field="id"))
    if problems:
        raise InputError(f"{name}: the header does not name the data dictionary's fields", problems)


def _records(stream: TextIO) -> Iterator[tuple[int, str]]:
    """CSV records as raw text, each with the line it starts on; the worker processes split them into cells.

    A record goes on while a quote is open: a quoted cell may hold line breaks, and a quote inside one is
    doubled, so an odd count of quotes so far means the record is not finished.
    """
    with stream:
        pending: list[str] = []
        start = quotes = 0
        for number, line in enumerate(stream, start=1):
            if not pending:
                start = number
            pending.append(line)
            quotes += line.count('"')
            if quotes % 2 == 0:
                yield start, "".join(pending)
                pending, quotes = [], 0
        if pending:
            yield start, "".join(pending)


def _cells(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text), strict=True))
    return rows[0] if rows else []


def _jsonl_rows(stream: TextIO) -> Iterator[tuple[int, str]]:
    with stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line


def _folder_rows(path: str) -> Iterator[tuple[int, str]]:
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{path}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in CASE_FILE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"{path}: no case files (.yaml, .yml, .json) in this folder")
    return ((number, str(p)) for number, p in enumerate(files, start=1))


# --- one row to one case ----------------------------------------------------------------------------------


def parse_row(registry_format: str, name: str, header: tuple[str, ...], line: int, raw: Any) -> CaseDocument:
    """One raw row as a validated case; a CaseError names the row's line and each field at fault."""
    if registry_format == "folder":
        return read_case_file(raw)
    problems: list[Problem] = []
    data = _json_row(raw, problems) if registry_format == "jsonl" else _csv_row(header, raw, problems)
    if data is not None and not problems and registry_format == "csv":
        # The header was checked, so the mapping has only case fields and no nulls: validate it directly,
        # and leave explaining a refusal (the same validation, with every problem worded) to case_from_data.
        try:
            return CaseDocument(case=Case.model_validate(data), path=None if name.startswith("<") else name)
        except ValidationError:
            pass
    if data is not None:
        try:
            document = case_from_data(data, name)
        except CaseError as err:
            problems += err.problems
        else:
            if not problems:
                return document
    where = f"{name}:{line}"
    raise CaseError(f"{where}: the row does not match the data dictionary",
                    [replace(p, file=name, line=line) for p in problems])


def _json_row(text: str, problems: list[Problem]) -> dict[str, Any] | None:
    if _undecodable(text):
        problems.append(Problem("not UTF-8 text"))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        problems.append(Problem(f"not valid JSON: {err.msg} (column {err.colno})"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem("expected a JSON object of case fields with at least 'id'"))
        return None
    return data


def _csv_row(header: tuple[str, ...], text: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        cells = _cells(text)
    except csv.Error as err:
        lines = text.count("\n")
        span = f" (its quotes do not close: {lines} lines read as one row)" if lines > 1 else ""
        problems.append(Problem(f"not a readable CSV row: {err}{span}"))
        return None
    if len(cells) != len(header):
        problems.append(Problem(f"the row has {len(cells)} cells, the header {len(header)}"))
        return None
    specs = _csv_specs()
    data: dict[str, Any] = {}
    for column, cell in zip(header, cells, strict=True):  # the lengths are checked above
        text = cell.strip()
        if not text:
            continue  # unknown
        if _undecodable(text):
            problems.append(Problem("not UTF-8 text", field=column))
            continue
        try:
            value = _typed(column, text, specs)
        except ValueError as err:
            problems.append(Problem(str(err), field=column))
            continue
        if column.startswith("sins."):
            data.setdefault("sins", {})[column[5:]] = value
        else:
            data[column] = value
    return data


@functools.cache
def _csv_specs() -> dict[str, Any]:
    return input_specs()


def _typed(column: str, text: str, specs: dict[str, Any]) -> Any:
    """A cell's text as the field's type; the case model then checks ranges and codes."""
    if column == "levels":
        if "," in text:
            raise ValueError(f"separate levels with ';', e.g. T11;T12, got {text!r}")
        levels = [piece.strip() for piece in text.split(";")]
        if not all(levels):
            raise ValueError(f"an empty level in {text!r}; separate levels with ';', e.g. T11;T12")
        return levels
    spec = specs.get(column)
    kind = spec.kind if spec is not None else "text"
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"expected true or false, got {text!r}")
    if kind == "int":
        if _INTEGER.fullmatch(text):
            return int(text)
        raise ValueError(f"expected a whole number, got {text!r}")
    if kind == "number":
        if _DECIMAL.fullmatch(text):
            return float(text)
        hint = "; use a point as the decimal separator" if re.fullmatch(r"[+-]?\d+,\d+", text) else ""
        raise ValueError(f"expected a number, got {text!r}{hint}")
    return text


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text) if not text.isascii() else False
