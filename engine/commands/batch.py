"""`spinemets batch`: a whole registry evaluated on every core, decisions in input order, then a summary.

Each worker process builds its own engine: durable-rules keeps its state in C, per process, and a forked
copy of a live host is not safe, so workers are started with 'spawn' (a fresh interpreter, which also
needs no temporary files). Rows travel to the workers in chunks; when the decisions go to a file, each
worker writes its chunks' decisions into it itself, at the offset the main process gives once the chunks
before are done, so a decision's bytes never cross a pipe. The output is in input order and
byte-identical whatever the number of workers.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from pydantic import BaseModel

from .._internal import output
from .._internal.printable import printable
from ..errors import CaseError, EngineError, InputError, Problem
from ..registry_io import FORMATS, Registry, Row, open_registry, parse_row
from ..vignette import CaseDocument
from ..vocabulary import OPTIONS, STATUSES, Citation
from .batch_workers import FileWriter, WorkerPool, placed_output

CHUNK_ROWS = 200
# Starting a worker (a fresh interpreter that loads and compiles the rule base) costs about half a
# second; below this many rows one process finishes sooner.
IN_PROCESS_ROWS = 1500
COMPACT_FORMAT = "spinemets-compact-decisions/1"


@dataclass(frozen=True)
class Chunk:
    rules: str
    sha256: str
    format: str
    name: str
    header: tuple[str, ...]
    rows: list[Row]
    decisions: bool
    compact: bool = False
    position: int = 0   # how far reading had got once this chunk was taken (bytes or files), for progress


@dataclass
class Summary:
    """Counts over a registry (or one chunk of it): rows read, evaluated and rejected, tops and statuses."""

    options: tuple[str, ...] = OPTIONS
    rows: int = 0
    rejected: int = 0
    repeated: int = 0   # evaluated rows whose id an earlier row already had
    records: int = 0    # CSV records read when a case is several of them (the long form), else 0
    top: Counter[str] = field(default_factory=Counter)
    status: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, top: str, statuses: dict[str, str]) -> None:
        self.rows += 1
        self.top[top] += 1
        counts = self.status
        for option, status in statuses.items():
            if option not in counts:
                counts[option] = Counter()
            counts[option][status] += 1

    def add_rejected(self) -> None:
        self.rows += 1
        self.rejected += 1

    def merge(self, other: Summary) -> None:
        self.rows += other.rows
        self.rejected += other.rejected
        self.repeated += other.repeated
        self.top.update(other.top)
        for option, counts in other.status.items():
            self.status.setdefault(option, Counter()).update(counts)

    @property
    def evaluated(self) -> int:
        return self.rows - self.rejected

    def render(self) -> str:
        width = max(len(o) for o in self.options) + 2
        lines = [f"Rows: {self.rows} read, {self.evaluated} evaluated, {self.rejected} rejected"]
        if self.records:
            lines = [f"Rows: {self.records} read as {self.rows} cases (one row per lesion): {self.evaluated} "
                     f"evaluated, {self.rejected} rejected"]
        if self.repeated:
            lines[0] += f"; {self.repeated} evaluated rows repeat an earlier row's id"
        if self.evaluated:
            lines.append("Top suggestion:")
            rank = {o: i for i, o in enumerate(self.options)}
            for option, count in sorted(self.top.items(), key=lambda kv: (-kv[1], rank[kv[0]])):
                lines.append(f"  {option:<{width}}{count:>9}  {100 * count / self.evaluated:5.1f}%")
            lines.append("Status per option:")
            lines.append("  " + " " * width + "".join(f"{s:>17}" for s in STATUSES))
            for option in self.options:
                counts = self.status.get(option, Counter())
                lines.append(f"  {option:<{width}}" + "".join(f"{counts[s]:>17}" for s in STATUSES))
        return "\n".join(lines) + "\n"


@dataclass
class ChunkResult:
    """What a worker sends back for a chunk: little to pickle, and nothing for the main process to redo."""

    # The evaluated rows' decisions as UTF-8 JSON lines in input order, as pieces (a decision, b"\n", ...) to be
    # written one after the other: empty when the worker writes them into the output itself.
    pieces: list[bytes]
    summary: Summary
    rejections: list[tuple[Problem, ...]]     # each rejected row's problems, in input order
    ids: list[tuple[str, str]] = field(default_factory=list)  # (where, case id) of each evaluated row
    position: int = 0
    length: int = 0                           # bytes of the decisions, written or to write


# --- compact output ---------------------------------------------------------------------------------------

_CITATION_START = b'{"source":"'
def bibliography(rulebook: Any) -> dict[str, Citation]:
    """Every citation the rule base can put in a decision, keyed `<source>/<n>` in a fixed order."""
    found: dict[Citation, str] = {}
    counts: Counter[str] = Counter()

    def walk(value: Any) -> None:
        if isinstance(value, Citation):
            if value not in found:
                counts[value.source] += 1
                found[value] = f"{value.source}/{counts[value.source]}"
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))

    walk(tuple(rulebook.rules))
    walk(tuple(rulebook.scores))
    walk(tuple(rulebook.frameworks))
    walk(tuple(rulebook.plan_rules))  # the plan of a case in lesion form cites too
    return {key: citation for citation, key in found.items()}


def compact_encoder(rulebook: Any) -> Callable[[bytes], bytes]:
    """bytes of a decision -> the same with each citation replaced by its bibliography key (a JSON string).

    Every citation a decision can hold is one of the bibliography's, written by the same serializer, so its
    bytes are known: at each `{"source":"` the candidates sharing the next bytes are compared whole. A
    citation not in the bibliography stays inline (still valid JSON).
    """
    keys = {c.__pydantic_serializer__.to_json(c): f'"{key}"'.encode() for key, c in bibliography(rulebook).items()}
    width = min((len(full) for full in keys), default=0)
    candidates: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for full, key in keys.items():
        candidates.setdefault(full[:width], []).append((full, key))

    def encode(data: bytes) -> bytes:
        pieces: list[bytes] = []
        done = 0
        at = data.find(_CITATION_START)
        while at != -1:
            for full, key in candidates.get(data[at:at + width], ()):
                if data.startswith(full, at):
                    pieces += (data[done:at], key)
                    done = at + len(full)
                    break
            at = data.find(_CITATION_START, max(done, at + 1))
        pieces.append(data[done:])
        return b"".join(pieces)

    return encode


def compact_header(rulebook: Any) -> bytes:
    """The first line of a compact file: the rule base and the bibliography its decisions cite by key."""
    import json

    book = {"name": rulebook.manifest.name, "version": rulebook.version, "sha256": rulebook.sha256}
    citations = {key: c.model_dump(mode="json") for key, c in bibliography(rulebook).items()}
    return json.dumps({"format": COMPACT_FORMAT, "rulebook": book, "citations": citations},
                      ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# --- worker side ------------------------------------------------------------------------------------------

_WORKER_ENGINES: dict[tuple[str, str], Any] = {}
_ENCODERS: dict[tuple[str, str], Callable[[bytes], bytes]] = {}


def _engine_for(rules: str, sha256: str) -> Any:
    engine = _WORKER_ENGINES.get((rules, sha256))
    if engine is None:
        from ..engine import get_engine

        engine = get_engine(rules)
        if engine.sha256 != sha256:
            raise EngineError(f"the rule base in {rules} changed while the batch ran "
                              f"(sha256 {engine.sha256[:12]}, expected {sha256[:12]}); run the batch again")
        _WORKER_ENGINES[(rules, sha256)] = engine
    return engine


def evaluate_chunk(chunk: Chunk) -> ChunkResult:
    """Parse, validate and evaluate every row of a chunk; a row the data dictionary refuses is reported, not raised.

    All rows are parsed first, then evaluated: each stage keeps its own code and data warm in the caches, which
    measurably beats alternating them. Decisions are kept as separate pieces: joining them would copy every
    byte into fresh memory once more (about a tenth of a decision's time, measured).
    """
    engine = _engine_for(chunk.rules, chunk.sha256)
    encode = None
    if chunk.compact:
        encode = _ENCODERS.get((chunk.rules, chunk.sha256))
        if encode is None:
            encode = _ENCODERS[(chunk.rules, chunk.sha256)] = compact_encoder(engine.rulebook)
    pieces: list[bytes] = []
    length = 0
    summary = Summary()
    rejections: list[tuple[Problem, ...]] = []
    ids: list[tuple[str, str]] = []
    folder = chunk.format == "folder"
    parsed_rows = [_parse(chunk, line, payload) for line, payload in chunk.rows]
    for (line, payload), parsed in zip(chunk.rows, parsed_rows, strict=True):
        try:
            if isinstance(parsed, CaseError):
                raise parsed
            decision = engine.evaluate(parsed.case)
        except CaseError as err:
            one_file = folder and isinstance(payload, str)
            where = {"file": payload} if one_file else {"file": chunk.name, "line": line}
            rejections.append(tuple(p if p.file else replace(p, **where, line=_line_in(parsed, p))
                                    if one_file else replace(p, **where) for p in err.problems)
                              or (Problem(err.summary, **where),))
            summary.add_rejected()
            continue
        summary.add(decision.top, decision.statuses())
        ids.append((str(payload) if folder else f"{chunk.name}:{line}", decision.case_id))
        if chunk.decisions:
            # the bytes model_dump_json would decode: they go to the file as they are
            data = decision.__pydantic_serializer__.to_json(decision)
            if encode is not None:
                data = encode(data)
            pieces += (data, b"\n")
            length += len(data) + 1
    return ChunkResult(pieces, summary, rejections, ids, chunk.position, length)


def _line_in(parsed: Any, problem: Problem) -> int | None:
    """A case file of a folder: the line of the problem's field in that file, as `evaluate` gives it."""
    return parsed.line_of(problem.field, *problem.also) if isinstance(parsed, CaseDocument) else None


def _parse(chunk: Chunk, line: int, payload: Any) -> Any:
    try:
        return parse_row(chunk.format, chunk.name, chunk.header, line, payload)
    except CaseError as err:
        return err


# --- the run ----------------------------------------------------------------------------------------------


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _chunks(registry: Registry, rows: Iterator[Row], rules: str, sha256: str, decisions: bool,
            compact: bool) -> Iterator[Chunk]:
    while True:
        batch = list(itertools.islice(rows, CHUNK_ROWS))
        if not batch:
            return
        yield Chunk(rules, sha256, registry.format, registry.name, registry.header, batch, decisions, compact,
                    registry.position())


def warm_engine(rules: str | None) -> None:
    """Load and compile the rule base in a worker before its first chunk arrives (the chunks name it by its root)."""
    from ..engine import get_engine

    engine = get_engine(rules)
    _WORKER_ENGINES.setdefault((engine.rulebook.root, engine.sha256), engine)


def _in_this_process(chunks: Iterator[Chunk], rulebook: Any) -> Iterator[ChunkResult]:
    from ..engine import get_engine

    _WORKER_ENGINES.setdefault((rulebook.root, rulebook.sha256), get_engine(rulebook))
    for chunk in chunks:
        yield evaluate_chunk(chunk)


class Progress:
    """A progress bar with rows, rate and time left on stderr, drawn by `rich`, only when stderr is a terminal.

    Its unit is the input's bytes (or a folder's files), which are known without reading the input twice;
    rejection messages are printed above the bar so that it stays at the bottom.
    """

    def __init__(self, stream: TextIO, total: int | None, enabled: bool) -> None:
        self.stream = stream
        self.on = enabled and stream.isatty()
        self.rows = 0
        self.started = time.monotonic()
        self._bar: Any = None
        if self.on:
            from rich.console import Console
            from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            console = Console(file=stream, highlight=False)
            columns: list[Any] = [TextColumn("batch"), BarColumn(), TaskProgressColumn(),
                                  TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]}"),
                                  TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(),
                                  TextColumn("left")]
            self._bar = Bar(*columns, console=console, transient=True, refresh_per_second=5)
            self._task = self._bar.add_task("batch", total=total, rows=0, rate="")
            self._bar.start()

    def advance(self, rows: int, position: int) -> None:
        self.rows += rows
        if self._bar is not None:
            rate = self.rows / max(time.monotonic() - self.started, 1e-9)
            self._bar.update(self._task, completed=position, rows=self.rows, rate=f"{rate:,.0f}/s")

    def print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def run(path: str, *, fmt: str | None = None, rules: str | None = None, out: Any | None = None,
        workers: int | None = None, report: TextIO | None = None, progress: bool = True,
        compact: bool = False) -> Summary:
    """Evaluate every row; write each decision as one JSON line to `out` (None: count only); report rejections.

    `out` may be a binary or a text stream (anything with `write`); when it is a regular file, the worker
    processes write the decisions into it themselves (batch_workers.py). With `compact`, the first line holds the
    bibliography and each reason cites by key (docs/batch.md). With more than one worker, call this under
    `if __name__ == "__main__":` in a script: the workers are fresh interpreters that import it.
    """
    from ..rulebook import load_rulebook

    report = report if report is not None else sys.stderr
    registry = open_registry(path, fmt)  # the input as a whole (a CSV header) is checked here
    rows = iter(registry.rows)
    head = list(itertools.islice(rows, IN_PROCESS_ROWS + 1))
    count = workers or usable_cores()
    placed = placed_output(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        pool: WorkerPool[Chunk, ChunkResult] | None = None
        if count > 1 and len(head) > IN_PROCESS_ROWS:
            # started first: each worker loads the rule base while this process loads and checks it
            pool = stack.enter_context(WorkerPool(count, evaluate_chunk, functools.partial(warm_engine, rules),
                                                  placed))
        rulebook = load_rulebook(rules)  # a broken rule base stops here, before anything is evaluated
        summary = Summary(options=rulebook.option_order)
        chunks = _chunks(registry, itertools.chain(head, rows), rulebook.root, rulebook.sha256,
                         decisions=out is not None, compact=compact)
        write = _bytes_writer(out) if out is not None else None
        if write is not None and compact:
            write(compact_header(rulebook))
        offset = placed.position(out) if placed is not None else 0  # where the next decisions go in a placed output
        here = FileWriter(placed.fd, placed.name) if placed is not None else None  # for chunks evaluated here
        results = pool.results(chunks, offset) if pool is not None else _in_this_process(chunks, rulebook)
        first_seen: dict[str, str] = {}
        bar = Progress(report, registry.size, progress)
        try:
            for result in results:
                summary.merge(result.summary)
                for problems in result.rejections:
                    for problem in problems:
                        bar.print(f"spinemets: rejected {printable(str(problem))}")
                for where, case_id in result.ids:
                    first = first_seen.setdefault(case_id, where)
                    if first != where:
                        summary.repeated += 1
                        bar.print(f"spinemets: repeated id {printable(case_id)!r} at {printable(where)} "
                                  f"(first at {printable(first)}); both evaluated")
                if here is not None:
                    if result.pieces:  # evaluated in this process; else a worker wrote them already
                        here.write(result.pieces, offset)
                    offset += result.length
                elif write is not None and result.pieces:
                    write(b"".join(result.pieces))
                bar.advance(result.summary.rows, result.position)
        finally:
            bar.close()
    if placed is not None:
        os.lseek(placed.fd, offset, os.SEEK_SET)  # the stream goes on after the decisions, as if it wrote them
    if registry.long:
        summary.records = registry.records()
    return summary


def _bytes_writer(out: Any) -> Callable[[bytes], Any]:
    import io

    if isinstance(out, io.TextIOBase):
        if hasattr(out, "buffer"):
            out.flush()
            buffer_write: Callable[[bytes], Any] = out.buffer.write
            return buffer_write
        return lambda data: out.write(data.decode("utf-8"))
    plain_write: Callable[[bytes], Any] = out.write
    return plain_write


# --- command line -----------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    from .terminal import rules_arg

    p = subparsers.add_parser(
        "batch", help="evaluate a registry (CSV, JSON Lines or a folder of case files) on every core",
        description="Evaluate every case of a registry. Decisions are written as JSON Lines in input order; "
                    "rows the data dictionary refuses are reported on stderr with their line and field, and the "
                    "rest are still evaluated. Exit status 2 when any row was rejected or repeats an earlier "
                    "row's id. See docs/batch.md.")
    p.add_argument("input", help="a .csv or .jsonl file, a folder of .yaml/.json case files, or - for stdin")
    p.add_argument("--out", metavar="FILE", help="write the decisions here (default: stdout); written only once "
                   "the run succeeds")
    p.add_argument("--compact", action="store_true",
                   help="reasons cite by key into one bibliography, the file's first line (docs/batch.md)")
    p.add_argument("--summary-only", action="store_true", help="print only the summary; write no decisions")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the name)")
    p.add_argument("--workers", type=_positive, metavar="N",
                   help=f"worker processes (default: one per core, here {usable_cores()})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal anyway)")
    rules_arg(p)
    p.set_defaults(run=_cmd_batch)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return n


def _cmd_batch(args: argparse.Namespace) -> int:
    if args.summary_only and (args.out or args.compact):
        raise InputError("--summary-only writes no decisions; leave out --out and --compact")
    # the output is checked before anything is read: it may not be the input, a folder or a device
    inputs = [args.input, *([args.rules] if args.rules else [])]
    target = None if args.summary_only else output.target(args.out or "-", inputs)
    started = time.monotonic()
    options: dict[str, Any] = {"fmt": args.format, "rules": args.rules, "workers": args.workers,
                               "progress": not args.no_progress, "compact": args.compact}
    if target is None:
        summary = run(args.input, out=None, **options)
        sys.stdout.write(summary.render())
    else:
        with target.open(binary=True) as out:
            summary = run(args.input, out=out, **options)
        (sys.stderr if target.stdout else sys.stdout).write(summary.render())
    elapsed = time.monotonic() - started
    print(f"spinemets batch: {summary.evaluated} decisions in {elapsed:.1f} s "
          f"({(summary.records or summary.rows) / max(elapsed, 1e-9):,.0f} rows per second)", file=sys.stderr)
    return 2 if summary.rejected or summary.repeated else 0
