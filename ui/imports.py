"""Cases brought in from files, read in memory through the engine's public readers (nothing touches the disk).

A YAML or JSON file goes through `parse_case_text` (which also reads whatever else the engine learns to read, a
FHIR Bundle for one); a CSV registry or JSON Lines file goes row by row through `registry_io.parse_row`, so a
registry reads here exactly as `spinemets batch` reads it. Each case or row that does not read is kept with its
message, so one bad row does not stop the rest.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml

from spinemets import CaseDocument, InputError, parse_case_text
from spinemets.registry_io import csv_columns, parse_row

CASE_SUFFIXES = (".yaml", ".yml", ".json")
REGISTRY_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Imported:
    """One case from a file (or a row of a registry), or why it did not read."""

    source: str
    document: CaseDocument | None
    error: str | None = None


def read_file(name: str, data: bytes) -> list[Imported]:
    """Every case a file holds; a file of another kind is reported, not guessed at."""
    suffix = PurePath(name).suffix.lower()
    if suffix in CASE_SUFFIXES:
        try:
            return [Imported(name, parse_case_text(data, name))]
        except InputError as err:
            return [Imported(name, None, str(err))]
    if suffix == ".csv":
        return _csv(name, data)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl(name, data)
    return [Imported(name, None, f"{name}: not a case file (.yaml, .yml, .json) or registry (.csv, .jsonl)")]


def _text(name: str, data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _csv(name: str, data: bytes) -> list[Imported]:
    text = _text(name, data)
    if text is None:
        return [Imported(name, None, f"{name}: not UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = tuple(cell.strip() for cell in next(reader))
    except (StopIteration, csv.Error):
        return [Imported(name, None, f"{name}: empty, or no readable header row")]
    unknown = [c for c in header if c not in csv_columns()]
    if unknown or "id" not in header:
        why = f"unknown columns {', '.join(unknown)}" if unknown else "no 'id' column"
        return [Imported(name, None, f"{name}: the header does not name the data dictionary's fields ({why})")]
    found = []
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            raw = io.StringIO()
            csv.writer(raw, lineterminator="\n").writerow(cells)
            found.append(_row(name, "csv", header, start, raw.getvalue()))
    except csv.Error as err:
        found.append(Imported(f"{name}:{line + 1}", None, f"{name}:{line + 1}: not a readable CSV row ({err})"))
    return found


def _jsonl(name: str, data: bytes) -> list[Imported]:
    text = _text(name, data)
    if text is None:
        return [Imported(name, None, f"{name}: not UTF-8 text")]
    return [_row(name, "jsonl", (), number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def _row(name: str, fmt: str, header: tuple[str, ...], line: int, raw: Any) -> Imported:
    try:
        return Imported(f"{name}:{line}", parse_row(fmt, name, header, line, raw))
    except InputError as err:
        return Imported(f"{name}:{line}", None, str(err))


def case_file(data: dict[str, Any], fmt: str) -> bytes:
    """The form's case as a file a board can keep or open again: YAML (codes that look like numbers quoted) or
    JSON."""
    if fmt == "json":
        import json
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).encode()
