"""Reading a registry of cases: a CSV file, a JSON Lines file or a folder of case files.

Reading is split in two so that the expensive half runs in worker processes: `open_registry` checks
the input as a whole (format, CSV header) and yields every row with the line the user sees it on;
`parse_row` turns one row into a validated case, or a CaseError whose problems carry that line and
the field.

No row is ever dropped or merged: a CSV file is read in one pass of the standard `csv` reader (each
record numbered by the physical line it starts on, counted as the reader takes lines, so that a line
skipped past a limit still counts), and its cells go to the workers as the reader split them;
a record the reader refuses, or one past the size limit of a registry row (limits.py), becomes a
rejected row naming its line. So rows read = rows evaluated + rows rejected = the records the
standard reader finds, less the blank ones (tests/test_registry_io.py proves it by property).

CSV conventions (docs/batch.md): one row per case, the header names the data dictionary's fields
(SINS components as `sins.location` ...), an empty cell is unknown, `levels` is written `T11;T12`,
yes-no fields are `true` or `false` (any letter case; not yes/no or 1/0, which a registry may use
for something else), numbers use a decimal point, codes are written as in the data dictionary.

A header with a `level` column is the long form: one row per lesion, the patient's fields repeated on each of
its rows, a case's rows one after the other. The main process groups the rows by case id (it reads the id cell
only) and sends each case's rows to a worker as one `LongCase`; a case's rows that cannot all be read together
(more rows than vertebrae, an unreadable record between them, an id seen in an earlier group) are refused there,
whole, so that no case is ever evaluated from part of its rows.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from ._internal import limits, reading, yamlio
from ._internal.suggest import did_you_mean
from .case import NOT_CLINICAL, PER_LEVEL_FIELDS, SINS_COMPONENTS, STRUCTURED, VERTEBRAE, Case
from .case_io import case_from_data, read_case_file
from .errors import CaseError, InputError, Problem
from .fields import input_specs
from .lesion import LESION_ONLY_FIELDS
from .vignette import CaseDocument

FORMATS = ("csv", "jsonl", "folder")
CASE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

# One physical line past the row limit is a rejected row, its rest skipped; a line past this many characters is
# not a registry at all (`/dev/zero`, a binary file): the whole input is refused instead of skipped forever.
LINE_CHARACTERS = 16 * limits.REGISTRY_ROW.bytes

# A case has at most one lesion per vertebra: past this many rows of one case id, the long form's reader keeps
# counting the case's rows but no longer holds them (10,000 rows of one id cost no more memory than 30).
LESION_ROWS = len(VERTEBRAE)


@dataclass(frozen=True)
class LongCase:
    """The rows of one case in the long CSV form: (line, cells) of each, in input order, one per lesion."""

    records: tuple[tuple[int, list[str]], ...]


# What one row carries to a worker: a CSV record's cells, a long-form case's records, a JSON line's text, a case
# file's path, or the reason the main process already refused it (a malformed or oversized record).
Payload = list[str] | LongCase | str | Problem
Row = tuple[int, Payload]


@dataclass
class Registry:
    """An opened registry: its format, where it came from, the CSV header, and its rows.

    `size` is the input's total in `position` units (bytes of a file, files of a folder) when known, for a
    progress bar; `position()` says how far reading has got in the same units.
    """

    format: str
    name: str
    header: tuple[str, ...]
    rows: Iterator[Row]   # (line, or file number in a folder; payload)
    size: int | None = None
    position: Callable[[], int] = field(default=lambda: 0)
    files: tuple[str, ...] = ()  # a folder's case files, in order
    # CSV records read so far (blank ones not counted): in the long form several make one row of `rows`
    records: Callable[[], int] = field(default=lambda: 0)
    long: bool = False  # a CSV file in the long form (one row per lesion)


def csv_columns() -> list[str]:
    """The CSV columns spinemets reads and writes: id, title, presentation, then every clinical field."""
    names = [n for n in Case.model_fields if n in NOT_CLINICAL]
    for name in Case.model_fields:
        if name == "sins":
            names += [f"sins.{c}" for c in SINS_COMPONENTS]
        elif name not in NOT_CLINICAL and name not in STRUCTURED:
            names.append(name)
    return names


def long_csv_columns() -> list[str]:
    """The columns of the long form (one row per lesion): id, title, presentation, the patient's fields, then
    `level`, the lesion's findings (SINS as `sins.<component>`) and the lesion-only fields.

    `levels` is not among them: each row names its vertebra in `level`.
    """
    patient = [n for n in csv_columns() if n != "levels" and n.split(".")[0] not in PER_LEVEL_FIELDS]
    lesion = [n for n in csv_columns() if n.split(".")[0] in PER_LEVEL_FIELDS]
    return [*patient, "level", *lesion, *LESION_ONLY_FIELDS]


def is_lesion_column(column: str) -> bool:
    """A long-form column that belongs to the lesion of its row rather than to the patient."""
    return column == "level" or column.split(".", 1)[0] in PER_LEVEL_FIELDS or column in LESION_ONLY_FIELDS


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
        files = _folder_files(path)
        done = [0]

        def rows() -> Iterator[Row]:
            for number, file in enumerate(files, start=1):
                done[0] = number
                yield number, file
        return Registry("folder", name, (), rows(), len(files), lambda: done[0], files)
    stream, size = _open_binary(path, name)
    return _stream_registry(fmt, name, stream, size)


def registry_from_bytes(name: str, data: bytes, fmt: str) -> Registry:
    """A CSV or JSON Lines registry held in memory (an upload in the front end), read exactly as a file is."""
    if fmt not in ("csv", "jsonl"):
        raise InputError(f"{name}: a registry in memory is CSV or JSON Lines, not {fmt}")
    return _stream_registry(fmt, name, io.BytesIO(data), len(data))


def _stream_registry(fmt: str, name: str, stream: BinaryIO, size: int | None) -> Registry:
    lines = _Lines(stream, limits.REGISTRY_ROW.bytes, name)
    counted = _Counted()
    if fmt == "jsonl":
        return Registry("jsonl", name, (), counted.rows(_jsonl_rows(lines)), size, lines.position, records=counted)
    reader = csv.reader(lines, strict=True)
    header = _header(reader, name)
    rows = counted.rows(_csv_rows(reader, lines))
    if "level" in header:
        return Registry("csv", name, header, _long_cases(rows, header.index("id"), name), size, lines.position,
                        records=counted, long=True)
    return Registry("csv", name, header, rows, size, lines.position, records=counted)


class _Counted:
    """How many records an iterator of rows has given so far: the summary's count of rows read."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count

    def rows(self, rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            self.count += 1
            yield row


def _long_cases(rows: Iterator[Row], id_column: int, name: str) -> Iterator[Row]:
    """The long form's records grouped into cases: each run of consecutive records with one id is one case,
    numbered by its first line. Every record ends in exactly one yielded row (a case or a refusal).

    A group is refused whole, naming its lines, when it has more records than a case has vertebrae, when a record
    the reader could not read sits between two of its records (it may hold one of the case's lesions), or when
    its id already had an earlier group (the case's rows are not together: the earlier group was read as the whole
    case, and the message says so).
    """
    earlier: dict[str, tuple[int, int, bool]] = {}   # id -> first and last line of its first group, sent on
    group: list[tuple[int, list[str]]] = []
    group_id: str | None = None
    first = last = count = 0
    unreadable: list[Row] = []      # refused records met since the group's last readable record
    inside: list[Row] = []          # refused records between two records of the group: reported after it

    def close() -> Iterator[Row]:
        assert group_id is not None
        span = f"line {first}" if first == last else f"lines {first}-{last}"
        shown = repr(group_id) if group_id else "without an id"
        problem = None
        if inside:
            problem = Problem(f"case {shown} ({span}) is not evaluated: the unreadable row at line "
                              f"{', '.join(str(at) for at, _ in inside)} comes between its rows and may hold one of "
                              "its lesions", field="id")
        elif count > LESION_ROWS:
            problem = Problem(f"case {shown} has {count:,} rows ({span}), more than the {LESION_ROWS} vertebrae "
                              f"C1-S5: one row per lesion, each vertebra once; the case is not evaluated",
                              field="lesions")
        elif group_id in earlier:
            start, end, evaluated = earlier[group_id]
            before = f"line {start}" if start == end else f"lines {start}-{end}"
            taken = "read as the whole case" if evaluated else "refused as reported"
            problem = Problem(f"the rows of case {shown} are not together: its rows at {span} come after other "
                              f"cases' rows and are not evaluated; its rows at {before}, read first, were {taken}; "
                              "put a case's rows one after the other", field="id")
        if problem is not None:
            yield first, replace(problem, file=name, line=first)
        else:
            yield first, LongCase(tuple(group))
        earlier.setdefault(group_id, (first, last, problem is None))
        yield from inside

    for line, payload in rows:
        if isinstance(payload, Problem):
            unreadable.append((line, payload))
            continue
        assert isinstance(payload, list)
        case_id = payload[id_column].strip() if len(payload) > id_column else ""
        if group_id is not None and case_id == group_id:
            inside += unreadable
            unreadable.clear()
        else:
            if group_id is not None:
                yield from close()
            yield from unreadable
            unreadable.clear()
            group, group_id, first, count, inside = [], case_id, line, 0, []
        count += 1
        last = line
        if count <= LESION_ROWS:
            group.append((line, payload))
    if group_id is not None:
        yield from close()
    yield from unreadable


def _open_binary(path: str, name: str) -> tuple[BinaryIO, int | None]:
    with reading.explained(name, InputError, "give --format folder or a CSV / JSON Lines file"):
        if path == "-":
            return reading.stdin_binary(InputError), None
        # The stream outlives this function: the registry's row iterator reads it and closes it at the end.
        stream = open(path, "rb")  # noqa: SIM115
        size = Path(path).stat().st_size
        return stream, (size if Path(path).is_file() else None)


class _RowTooLarge(Exception):
    pass


class _Lines:
    """Lines of a byte stream as text, for `csv.reader`: never more than `limit` characters for one record.

    Lines end where Python's csv reader expects them to (a file opened with newline="": at \\n, \\r\\n or
    a lone \\r), so that line numbers agree with the standard reader's. A byte-order mark is dropped.
    Undecodable bytes are kept as surrogates and refused row by row, so one bad row does not stop the rest.
    Past the limit, the rest of the physical line is skipped and `_RowTooLarge` raised through the reader,
    which starts afresh on the next line.
    """

    def __init__(self, stream: BinaryIO, limit: int, name: str = "<registry>") -> None:
        self.raw, self.limit, self.name = stream, limit, name
        self.text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self.line = 0           # physical lines read so far: the csv reader's line_num misses skipped ones
        self.record = 0         # characters of the record being read

    def __iter__(self) -> _Lines:
        return self

    def position(self) -> int:
        """Bytes read from the input so far (in the text layer's chunks), for progress."""
        try:
            return int(self.raw.tell())
        except (OSError, ValueError):
            return 0

    def __next__(self) -> str:
        if self.text.closed:
            raise StopIteration
        line = self.text.readline(self.limit + 1)
        if not line:
            self.text.close()  # asked again after the end (a reader that failed on the last record): still the end
            raise StopIteration
        self.line += 1
        self.record += len(line)
        if self.record > self.limit:
            skipped = len(line)
            while not line.endswith(("\n", "\r")):
                line = self.text.readline(self.limit + 1)
                if not line:
                    break
                skipped += len(line)
                if skipped > LINE_CHARACTERS:
                    raise InputError(f"{self.name}:{self.line}: the line does not end within the limit of "
                                     f"{LINE_CHARACTERS // 1024 ** 2} MiB for one line of a registry: not CSV or "
                                     "JSON Lines text; nothing after it is read")
            self.record = 0
            raise _RowTooLarge
        return line


def _too_large_problem() -> Problem:
    return Problem(f"exceeds {limits.REGISTRY_ROW.describe('bytes')}; the rest of its line is skipped")


def _header(reader: Any, name: str) -> tuple[str, ...]:
    try:
        cells = next(reader, None)
    except csv.Error as err:
        raise InputError(f"{name}:1: not a readable CSV header ({err})") from None
    except _RowTooLarge:
        raise InputError(f"{name}:1: the header {_too_large_problem().message}") from None
    if cells is None:
        raise InputError(f"{name}: the file is empty; expected a header row naming the fields")
    header = tuple(cell.strip() for cell in cells)
    _check_header(header, name)
    return header


def _csv_rows(reader: Any, lines: _Lines) -> Iterator[Row]:
    """Every record after the header: its cells, or why the reader refused it; blank records are no case."""
    while True:
        start = lines.line + 1
        lines.record = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            where = f" (lines {start}-{lines.line} read as one record: a quote opened and did not close)" \
                if lines.line > start else ""
            yield start, Problem(f"not a readable CSV row: {err}{where}")
            continue
        except _RowTooLarge:
            yield start, _too_large_problem()
            continue
        if any(cell.strip() for cell in cells):
            yield start, cells


def _check_header(header: tuple[str, ...], name: str) -> None:
    long = "level" in header
    known = long_csv_columns() if long else csv_columns()
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
            elif column == "lesions":
                hint = ("; lesions are written one row each: the long form has a `level` column and the lesion's "
                        "fields (docs/batch.md)")
            elif column == "levels" and long:
                hint = ("; in the long form (a `level` column) each row names its vertebra in `level`: "
                        "leave out `levels`")
            elif column in LESION_ONLY_FIELDS:
                hint = ("; a lesion's field: add a `level` column for the long form, one row per lesion "
                        "(docs/batch.md)")
            problems.append(Problem(f"unknown column{hint}", file=name, line=1, field=column or "(empty)"))
    if "id" not in header:
        problems.append(Problem("required: every row needs an id", file=name, line=1, field="id"))
    if problems:
        raise InputError(f"{name}: the header does not name the data dictionary's fields", problems)


def _jsonl_rows(lines: _Lines) -> Iterator[Row]:
    while True:
        number = lines.line + 1
        lines.record = 0
        try:
            line = next(lines)
        except StopIteration:
            return
        except _RowTooLarge:
            yield number, _too_large_problem()
            continue
        if line.strip():
            yield number, line


def _folder_files(path: str) -> tuple[str, ...]:
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{path}: no such folder")
    files = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in CASE_FILE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"{path}: no case files (.yaml, .yml, .json) in this folder")
    return tuple(files)


# --- one row to one case ----------------------------------------------------------------------------------


def parse_row(registry_format: str, name: str, header: tuple[str, ...], line: int, payload: Payload) -> CaseDocument:
    """One row as a validated case; a CaseError names the row's line and each field at fault."""
    if isinstance(payload, Problem):
        raise CaseError(f"{name}:{line}: the row cannot be read", [replace(payload, file=name, line=line)])
    if registry_format == "folder":
        assert isinstance(payload, str)
        return read_case_file(payload)
    if isinstance(payload, LongCase):
        return _long_case(header, payload, name)
    problems: list[Problem] = []
    if registry_format == "jsonl":
        assert isinstance(payload, str)
        data = _json_row(payload, problems)
    else:
        assert isinstance(payload, list)
        data = _csv_row(header, payload, problems)
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


def _long_case(header: tuple[str, ...], case: LongCase, name: str) -> CaseDocument:
    """The rows of one long-form case as one case with `lesions`, or a CaseError naming the line and the field at
    fault: a lesion's field as `lesions.<i>.<column>` on its row, a patient's field on the row that disagrees."""
    problems: list[Problem] = []
    patient: dict[str, Any] = {}
    lesions: list[dict[str, Any]] = []
    first_line = case.records[0][0]
    patient_columns = [c for c in header if not is_lesion_column(c)]
    said: dict[str, tuple[int, Any]] = {}   # patient column -> (line, value) of the first row that was read
    for i, (line, cells) in enumerate(case.records):
        found: list[Problem] = []
        data = _csv_row(header, cells, found)
        for problem in found:
            where = problem.field
            if where is not None and is_lesion_column(where):
                where = f"lesions.{i}.{where}"
            problems.append(replace(problem, file=name, line=line, field=where))
        if data is None:
            continue
        failed = {p.field for p in found}
        for column in patient_columns:
            if column in failed:
                continue
            value = data.get(column)
            if column not in said:
                said[column] = (line, value)
                if value is not None:
                    patient[column] = value
            elif said[column][1] != value:
                at, before = said[column]
                problems.append(Problem(
                    f"the patient's field differs between the rows of one case: line {at} says {_cell(before)}, "
                    f"line {line} {_cell(value)}; repeat a patient's fields identically on each of its rows",
                    file=name, line=line, field=column))
        lesions.append({k: v for k, v in data.items() if is_lesion_column(k) or k == "sins"})
    data = {**patient, "lesions": lesions}
    if not problems:
        try:
            return CaseDocument(case=Case.model_validate(data), path=None if name.startswith("<") else name)
        except ValidationError:
            pass
    try:  # the cells that were read, checked as a case: every problem of the rows is reported at once
        document = case_from_data(data, name)
    except CaseError as err:
        problems += [_located(p, case, name) for p in err.problems]
    else:
        if not problems:
            return document
    raise CaseError(f"{name}:{first_line}: the case does not match the data dictionary", problems)


def _cell(value: Any) -> str:
    if value is None:
        return "nothing (unknown)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return csv_number(value)
    return _shown(str(value))


def csv_number(value: float) -> str:
    """A number as a CSV cell: whole numbers without a decimal point."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


_LESION_AT = re.compile(r"lesions\.(\d+)(\.|$)")


def _located(problem: Problem, case: LongCase, name: str) -> Problem:
    """A problem of the assembled case on the row it comes from: a lesion's on its own row, the rest on the first."""
    line = case.records[0][0]
    found = _LESION_AT.match(problem.field or "")
    if found and int(found.group(1)) < len(case.records):
        line = case.records[int(found.group(1))][0]
    return replace(problem, file=name, line=line)


def read_registry(path: str | Path, fmt: str | None = None) -> Iterator[CaseDocument]:
    """Every row of a registry (CSV, JSON Lines or a folder of case files; docs/batch.md) as a case document, in
    order, read as `spinemets batch` reads it. A row that does not read raises CaseError naming its line and
    fields (`spinemets batch` reports such rows and goes on; here the caller decides).

    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from spinemets import read_registry
    >>> with TemporaryDirectory() as folder:
    ...     path = Path(folder) / "registry.csv"
    ...     _ = path.write_text("id,primary_tumor,levels\\nr1,breast,T11;T12\\nr2,lung,\\n")
    ...     [(d.case.id, d.case.levels) for d in read_registry(path)]
    [('r1', ['T11', 'T12']), ('r2', None)]
    """
    registry = open_registry(str(path), fmt)
    for line, payload in registry.rows:
        yield parse_row(registry.format, registry.name, registry.header, line, payload)


def _json_row(text: str, problems: list[Problem]) -> dict[str, Any] | None:
    if _undecodable(text):
        problems.append(Problem("not UTF-8 text"))
        return None
    try:
        data = yamlio.load_json(text, limits=limits.REGISTRY_ROW, lines=False)
    except yamlio.YamlProblem as err:
        problems.append(Problem(err.message, field=err.field))
        return None
    if not isinstance(data, dict):
        problems.append(Problem("expected a JSON object of case fields with at least 'id'"))
        return None
    return data


def _csv_row(header: tuple[str, ...], cells: list[str], problems: list[Problem]) -> dict[str, Any] | None:
    if len(cells) != len(header):
        problems.append(Problem(f"the row has {len(cells)} cells, the header {len(header)}"))
        return None
    data: dict[str, Any] = {}
    for index, column, kind, component in _plan(header):
        text = cells[index].strip()
        if not text:
            continue  # unknown
        # the common cases first (a worker spends this per cell); anything else goes through _typed's checks
        if kind == "bool" and text.lower() in _BOOLS:
            value: Any = _BOOLS[text.lower()]
        elif kind == "text" and text.isascii():
            value = text
        elif _undecodable(text):
            problems.append(Problem("not UTF-8 text", field=column))
            continue
        else:
            try:
                value = _typed(column, text)
            except ValueError as err:
                problems.append(Problem(str(err), field=column))
                continue
        if component is not None:
            data.setdefault("sins", {})[component] = value
        else:
            data[column] = value
    return data


_BOOLS = {"true": True, "false": False}


@functools.lru_cache(maxsize=64)
def _plan(header: tuple[str, ...]) -> tuple[tuple[int, str, str, str | None], ...]:
    """For each column: its index, name, kind (levels are their own) and SINS component, worked out once."""
    plan = []
    for index, column in enumerate(header):
        kind = "levels" if column == "levels" else _kind(column)
        if kind not in ("bool", "int", "number", "levels"):
            kind = "text"  # codes too: the case model checks them
        plan.append((index, column, kind, column[5:] if column.startswith("sins.") else None))
    return tuple(plan)


@functools.cache
def _csv_specs() -> dict[str, Any]:
    return input_specs()


# The lesion-only fields are yes-no findings (engine/lesion.py); `level` is a code the model checks.
_LESION_ONLY_KINDS = dict.fromkeys(LESION_ONLY_FIELDS, "bool")


def _kind(column: str) -> str:
    spec = _csv_specs().get(column)
    return spec.kind if spec is not None else _LESION_ONLY_KINDS.get(column, "text")


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _typed(column: str, text: str) -> Any:
    """A cell's text as the field's type; the case model then checks ranges and codes."""
    if column == "levels":
        if "," in text:
            raise ValueError(f"separate levels with ';', e.g. T11;T12, got {_shown(text)}")
        levels = [piece.strip() for piece in text.split(";")]
        if not all(levels):
            raise ValueError(f"an empty level in {_shown(text)}; separate levels with ';', e.g. T11;T12")
        return levels
    kind = _kind(column)
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"expected true or false, got {_shown(text)}")
    if kind == "int":
        if _INTEGER.fullmatch(text):
            if len(text.lstrip("+-")) > limits.REGISTRY_ROW.int_digits:
                raise ValueError(f"exceeds {limits.REGISTRY_ROW.describe('int_digits')}")
            return int(text)
        raise ValueError(f"expected a whole number, got {_shown(text)}")
    if kind == "number":
        if _DECIMAL.fullmatch(text):
            return float(text)
        hint = "; use a point as the decimal separator" if re.fullmatch(r"[+-]?\d+,\d+", text) else ""
        raise ValueError(f"expected a number, got {_shown(text)}{hint}")
    return text


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text) if not text.isascii() else False
