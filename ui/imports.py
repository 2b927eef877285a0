"""Cases brought in from files, read in memory through the engine's public readers (nothing touches the disk).

A YAML or JSON file goes through `parse_case_text` (which also reads whatever else the engine learns to read, a
FHIR Bundle for one); a CSV registry or JSON Lines file goes through `registry_io`'s one-pass reader and
`parse_row`, so a registry reads here exactly as `spinemets batch` reads it. Each case or row that does not
read is kept with its message, so one bad row does not stop the rest.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml
from spinemets import CaseDocument, InputError, parse_case_text
from spinemets.errors import Problem
from spinemets.registry_io import parse_row, registry_from_bytes

CASE_SUFFIXES = (".yaml", ".yml", ".json")
REGISTRY_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Imported:
    """One case from a file (or a row of a registry), or why it did not read."""

    source: str
    document: CaseDocument | None
    error: str | None = None


def read_file(name: str, data: bytes, limit: int | None = None) -> list[Imported]:
    """Every case a file holds (of a registry, the first `limit` rows); a file of another kind is reported, not
    guessed at."""
    suffix = PurePath(name).suffix.lower()
    if suffix in CASE_SUFFIXES:
        try:
            return [Imported(name, parse_case_text(data, name))]
        except InputError as err:
            return [Imported(name, None, str(err))]
    if suffix == ".csv":
        return _registry(name, data, "csv", limit)
    if suffix in (".jsonl", ".ndjson"):
        return _registry(name, data, "jsonl", limit)
    return [Imported(name, None, f"{name}: not a case file (.yaml, .yml, .json) or registry (.csv, .jsonl)")]


def _registry(name: str, data: bytes, fmt: str, limit: int | None = None) -> list[Imported]:
    """Every row of a registry (the first `limit` rows, the rest left unparsed), read by the same one-pass
    reader as `spinemets batch` (registry_io)."""
    try:
        registry = registry_from_bytes(name, data, fmt)
        rows = list(itertools.islice(registry.rows, limit))
    except InputError as err:
        return [Imported(name, None, str(err))]
    found = []
    for line, payload in rows:
        where = f"{name}:{line}"
        if isinstance(payload, Problem):
            found.append(Imported(where, None, f"{where}: {payload.message}"))
            continue
        try:
            found.append(Imported(where, parse_row(fmt, name, registry.header, line, payload)))
        except InputError as err:
            found.append(Imported(where, None, str(err)))
    return found


def case_file(data: dict[str, Any], fmt: str) -> bytes:
    """The form's case as a file a board can keep or open again: YAML (codes that look like numbers quoted) or
    JSON."""
    if fmt == "json":
        import json
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).encode()
