"""`spinemets batch`: a whole registry evaluated on every core, decisions in input order, then a summary.

Each worker process builds its own engine: durable-rules keeps its state in C, per process, and a forked
copy of a live host is not safe, so workers are started with 'spawn' (a fresh interpreter, which also
needs no temporary files). Rows travel in chunks to amortise the inter-process traffic, and results are
written strictly in input order, so the output is byte-identical whatever the number of workers.
"""
from __future__ import annotations

import argparse
import io
import itertools
import os
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TextIO

from ..errors import CaseError, EngineError, InputError, Problem
from ..registry_io import FORMATS, Registry, open_registry, parse_row
from ..vocabulary import OPTIONS, STATUSES

CHUNK_ROWS = 200
# Starting a worker (a fresh interpreter that loads and compiles the rule base) costs about half a
# second; below this many rows one process finishes sooner.
IN_PROCESS_ROWS = 1500
IN_FLIGHT_PER_WORKER = 3


@dataclass(frozen=True)
class Chunk:
    rules: str
    sha256: str
    format: str
    name: str
    header: tuple[str, ...]
    rows: list[tuple[int, str]]
    decisions: bool


@dataclass
class Summary:
    """Counts over a registry (or one chunk of it): rows read, evaluated and rejected, tops and statuses."""

    options: tuple[str, ...] = OPTIONS
    rows: int = 0
    rejected: int = 0
    top: Counter[str] = field(default_factory=Counter)
    status: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, top: str, statuses: dict[str, str]) -> None:
        self.rows += 1
        self.top[top] += 1
        for option, status in statuses.items():
            self.status.setdefault(option, Counter())[status] += 1

    def add_rejected(self) -> None:
        self.rows += 1
        self.rejected += 1

    def merge(self, other: Summary) -> None:
        self.rows += other.rows
        self.rejected += other.rejected
        self.top.update(other.top)
        for option, counts in other.status.items():
            self.status.setdefault(option, Counter()).update(counts)

    @property
    def evaluated(self) -> int:
        return self.rows - self.rejected

    def render(self) -> str:
        width = max(len(o) for o in self.options) + 2
        lines = [f"Rows: {self.rows} read, {self.evaluated} evaluated, {self.rejected} rejected"]
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

    decisions: bytes                          # the evaluated rows' decisions as UTF-8 JSON lines, in input order
    summary: Summary
    rejections: list[tuple[Problem, ...]]     # each rejected row's problems, in input order


# --- worker side ------------------------------------------------------------------------------------------

_WORKER_ENGINES: dict[tuple[str, str], Any] = {}


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


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent stops the run, workers stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def evaluate_chunk(chunk: Chunk) -> ChunkResult:
    """Parse, validate and evaluate every row of a chunk; a row the data dictionary refuses is reported, not raised."""
    engine = _engine_for(chunk.rules, chunk.sha256)
    lines: list[bytes] = []
    summary = Summary()
    rejections: list[tuple[Problem, ...]] = []
    for line, raw in chunk.rows:
        try:
            document = parse_row(chunk.format, chunk.name, chunk.header, line, raw)
            decision = engine.evaluate(document.case)
        except CaseError as err:
            where = {"file": raw} if chunk.format == "folder" else {"file": chunk.name, "line": line}
            rejections.append(tuple(p if p.file else replace(p, **where) for p in err.problems)
                              or (Problem(err.summary, **where),))
            summary.add_rejected()
            continue
        summary.add(decision.top, decision.statuses())
        if chunk.decisions:
            # the bytes model_dump_json would decode: they go to the file as they are
            lines.append(decision.__pydantic_serializer__.to_json(decision))
    return ChunkResult(b"".join(line + b"\n" for line in lines), summary, rejections)


# --- the run ----------------------------------------------------------------------------------------------


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _chunks(registry: Registry, rules: str, sha256: str, decisions: bool) -> Iterator[Chunk]:
    rows = iter(registry.rows)
    while True:
        batch = list(itertools.islice(rows, CHUNK_ROWS))
        if not batch:
            return
        yield Chunk(rules, sha256, registry.format, registry.name, registry.header, batch, decisions)


def _in_order(chunks: Iterator[Chunk], workers: int, rulebook: Any) -> Iterator[ChunkResult]:
    """Chunk results in input order: in this process for small inputs, else on `workers` processes."""
    head = list(itertools.islice(chunks, IN_PROCESS_ROWS // CHUNK_ROWS + 1))
    if workers <= 1 or len(head) * CHUNK_ROWS <= IN_PROCESS_ROWS:
        from ..engine import get_engine

        _WORKER_ENGINES.setdefault((rulebook.root, rulebook.sha256), get_engine(rulebook))
        for chunk in itertools.chain(head, chunks):
            yield evaluate_chunk(chunk)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_interrupts) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        source = itertools.chain(head, chunks)
        try:
            for chunk in itertools.islice(source, workers * IN_FLIGHT_PER_WORKER):
                pending.append(pool.submit(evaluate_chunk, chunk))
            while pending:
                result = pending.popleft().result()
                for chunk in itertools.islice(source, 1):
                    pending.append(pool.submit(evaluate_chunk, chunk))
                yield result
        finally:
            for future in pending:
                future.cancel()


class Progress:
    """A one-line progress report on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO, total: int | None, enabled: bool) -> None:
        self.stream, self.total, self.on = stream, total, enabled and stream.isatty()
        self.start = self.last = time.monotonic()
        self.done = 0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.on and now - self.last >= 0.1:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            if self.total:
                filled = int(30 * min(self.done / self.total, 1))
                bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} rows"
            else:
                bar = f"{self.done} rows"
            self.stream.write(f"\r{bar}  {rate:,.0f}/s\033[K")
            self.stream.flush()

    def clear(self) -> None:
        if self.on:
            self.stream.write("\r\033[K")
            self.stream.flush()


def count_rows(path: str, fmt: str) -> int | None:
    """Rows in the input, for the progress bar; None when that would mean reading stdin twice."""
    if path == "-":
        return None
    return sum(1 for _ in open_registry(path, fmt).rows)


def run(path: str, *, fmt: str | None = None, rules: str | None = None, out: IO[Any] | None = None,
        workers: int | None = None, report: TextIO = sys.stderr, progress: bool = True) -> Summary:
    """Evaluate every row; write each decision as one JSON line to `out` (None: count only); report rejections.

    `out` may be a binary or a text stream. With more than one worker, call this under
    `if __name__ == "__main__":` in a script: the workers are fresh interpreters that import it.
    """
    from ..rulebook import load_rulebook

    rulebook = load_rulebook(rules)  # a broken rule base stops here, before any worker starts
    registry = open_registry(path, fmt)
    summary = Summary(options=rulebook.option_order)
    bar = Progress(report, count_rows(path, registry.format) if progress and report.isatty() else None, progress)
    chunks = _chunks(registry, rulebook.root, rulebook.sha256, decisions=out is not None)
    write = _bytes_writer(out) if out is not None else None
    for result in _in_order(chunks, workers or usable_cores(), rulebook):
        summary.merge(result.summary)
        if result.rejections:
            bar.clear()
            for problems in result.rejections:
                report.writelines(f"spinemets: rejected {problem}\n" for problem in problems)
        if write is not None:  # there is an output
            write(result.decisions)
        bar.advance(result.summary.rows)
    bar.clear()
    return summary


def _bytes_writer(out: Any) -> Any:
    if isinstance(out, io.TextIOBase):
        if hasattr(out, "buffer"):
            out.flush()
            return out.buffer.write
        return lambda data: out.write(data.decode("utf-8"))
    return out.write


# --- command line -----------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    from .terminal import rules_arg

    p = subparsers.add_parser(
        "batch", help="evaluate a registry (CSV, JSON Lines or a folder of case files) on every core",
        description="Evaluate every case of a registry. Decisions are written as JSON Lines in input order; "
                    "rows the data dictionary refuses are reported on stderr with their line and field, and the "
                    "rest are still evaluated. Exit status 2 when any row was rejected. See docs/batch.md.")
    p.add_argument("input", help="a .csv or .jsonl file, a folder of .yaml/.json case files, or - for stdin")
    p.add_argument("--out", metavar="FILE", help="write the decisions here (default: stdout)")
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
    if args.summary_only and args.out:
        raise InputError("--summary-only writes no decisions; leave out --out")
    started = time.monotonic()
    options = {"fmt": args.format, "rules": args.rules, "workers": args.workers, "progress": not args.no_progress}
    if args.summary_only:
        summary = run(args.input, out=None, **options)
        sys.stdout.write(summary.render())
    elif not args.out or args.out == "-":
        summary = run(args.input, out=sys.stdout, **options)
        sys.stdout.flush()
        sys.stderr.write(summary.render())
    else:
        summary = _run_to_file(args.input, Path(args.out), options)
        sys.stdout.write(summary.render())
    elapsed = time.monotonic() - started
    print(f"spinemets batch: {summary.evaluated} decisions in {elapsed:.1f} s "
          f"({summary.rows / max(elapsed, 1e-9):,.0f} rows per second)", file=sys.stderr)
    return 2 if summary.rejected else 0


def _run_to_file(source: str, target: Path, options: dict[str, Any]) -> Summary:
    """Write the decisions to `target`; a run that fails leaves no partial file that could pass for a result."""
    try:
        out = open(target, "wb")  # noqa: SIM115 (closed by the `with` below; opened apart to tell its errors)
    except OSError as err:
        raise InputError(f"{target}: cannot write ({err.strerror})") from None
    try:
        with out:
            return run(source, out=out, **options)
    except BaseException:
        target.unlink(missing_ok=True)
        raise

