"""Worker processes for `spinemets batch`: tasks out, results back in input order, output written by the workers.

A task's result carries its output as pieces of bytes. When the output is a regular file, the worker that made a
result keeps its pieces and writes them into the file itself, at the offset the main process gives it once every
earlier result's length is known: the output's bytes never cross a pipe, and the file still holds them in input
order. For any other output (a pipe, a terminal, a text buffer) the pieces come back with the result.

Each worker has its own task queue, since the one holding a result's bytes is the one to tell where they go; the
queues' feeder threads keep dispatching from ever waiting on a busy worker. Results come back on one pipe per
worker, and a worker that dies is noticed by its process sentinel. Workers are fresh interpreters ('spawn'): the
engine's durable-rules host keeps state in C per process, and a forked copy of a live one is not safe.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import signal
import stat
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from .._internal import output
from ..errors import EngineError

IN_FLIGHT_PER_WORKER = 2   # one task being worked on, one waiting, so that a worker never waits for the next
WINDOW_PER_WORKER = 6      # tasks handed out past the oldest unfinished one: bounds what is held in memory


class Result(Protocol):
    """What a task's result must carry: its output as pieces to write one after the other, and their length."""

    pieces: list[bytes]
    length: int


T = TypeVar("T")
R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Placed:
    """An output the workers can write into at offsets: a regular file's descriptor, and its name for messages."""

    fd: int
    name: str

    def position(self, out: Any) -> int:
        """Where the next bytes go: after whatever `out` has written (flushed first)."""
        out.flush()
        return os.lseek(self.fd, 0, os.SEEK_CUR)


def placed_output(out: Any) -> Placed | None:
    """`out` as a file to write into at offsets, or None (a pipe, a terminal, a text or byte buffer).

    A regular file opened without O_APPEND only: on Linux, pwrite on an O_APPEND descriptor appends.
    """
    try:
        out.flush()
        fd = int(out.fileno())
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        os.lseek(fd, 0, os.SEEK_CUR)
    except (AttributeError, OSError, ValueError):
        return None
    if not regular or _appends(fd):
        return None
    return Placed(fd, str(getattr(out, "name", "the output")))


def _appends(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # not on POSIX
        return True
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)


def write_pieces(fd: int, pieces: list[bytes], offset: int, name: str) -> int:
    """Write `pieces` one after the other into the file at `offset`, without joining them; return the bytes written.

    Joining would copy every byte into fresh memory once more, which costs measurably more than the write.
    """
    total = 0
    try:
        for first in range(0, len(pieces), _IOV_MAX):
            group = pieces[first:first + _IOV_MAX]
            size = sum(map(len, group))
            written = os.pwritev(fd, group, offset + total)
            if written < size:  # a short write (rare on a regular file): the rest from one buffer
                rest = memoryview(b"".join(group))[written:]
                while rest:
                    done = os.pwrite(fd, rest, offset + total + written)
                    rest, written = rest[done:], written + done
            total += size
    except OSError as err:
        raise output.OutputError(f"{name}: cannot write ({err.strerror or err})") from None
    return total


def _iov_max() -> int:
    try:
        return max(2, min(1024, os.sysconf("SC_IOV_MAX")))
    except (AttributeError, ValueError, OSError):
        return 16


_IOV_MAX = _iov_max()


class FileWriter:
    """Writes pieces into a file at offsets, keeping the file from piling up in the page cache.

    Each region written is handed to the disk at once (POSIX_FADV_DONTNEED starts its write-back) and dropped
    from the cache two writes later, written by then; the kernel never drops a page not yet written, so this
    is advice that loses nothing. Pages dropped are soon reused for the next writes: a run writing gigabytes of
    decisions neither evicts the machine's other caches nor waits at the end for all of it to reach the disk,
    and on a virtual machine that returns freed memory to its host, writing into recycled pages costs a third
    of writing into fresh ones (measured, docs/batch.md).
    """

    LAG = 2

    def __init__(self, fd: int, name: str) -> None:
        self.fd, self.name = fd, name
        self._recent: deque[tuple[int, int]] = deque()

    def write(self, pieces: list[bytes], offset: int) -> int:
        """Write `pieces` one after the other at `offset`; return the bytes written."""
        length = write_pieces(self.fd, pieces, offset, self.name)
        self._advise(offset, length)
        self._recent.append((offset, length))
        if len(self._recent) > self.LAG:
            self._advise(*self._recent.popleft())
        return length

    def _advise(self, offset: int, length: int) -> None:
        if _FADVISE and length:
            with contextlib.suppress(OSError):  # advice only: a file system may not take it
                os.posix_fadvise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)


_FADVISE = hasattr(os, "posix_fadvise")


class SharedFile:
    """An open file handed to a spawned worker: the descriptor is duplicated into the child as it starts."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        from multiprocessing.reduction import DupFd

        return (_attach_file, (DupFd(self.fd),))


def _attach_file(duplicate: Any) -> SharedFile:
    return SharedFile(int(duplicate.detach()))


def _sendable(err: BaseException) -> BaseException:
    try:
        pickle.dumps(err)
    except (pickle.PicklingError, TypeError, AttributeError):  # it cannot cross to the main process; its words can
        return EngineError(f"{type(err).__name__}: {err}")
    return err


def _serve(tasks: Any, results: Any, work: Callable[[Any], Result], warm: Callable[[], object] | None,
           shared: SharedFile | None, name: str) -> None:
    """A worker's loop: do the tasks it is given; with a shared output, keep each result's pieces until the main
    process says at which offset they go, then write them there."""
    # Ctrl-C reaches every process of the terminal's group: the main process stops the run, workers stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    held: dict[int, list[bytes]] = {}
    writer = FileWriter(shared.fd, name) if shared is not None else None
    try:
        if warm is not None:
            warm()  # while the main process gets ready too
        while True:
            task = tasks.get()
            if task is None:
                break
            kind, index, value = task
            if kind == "write":
                assert writer is not None
                writer.write(held.pop(index), value)
                continue
            result = work(value)
            if shared is not None:
                held[index], result.pieces = result.pieces, []
            elif len(result.pieces) > 1:
                result.pieces = [b"".join(result.pieces)]  # one object to pickle and to write
            results.send(("result", index, result))
        results.send(("stopped", 0, len(held)))
    except BaseException as err:  # noqa: BLE001 - reported to the main process, which stops the run with it
        try:
            results.send(("error", -1, _sendable(err)))
        except OSError:  # the main process is gone (interrupted): nobody to tell, and no traceback to print
            os._exit(1)
        return
    # Done, and nothing is left to flush (what was written went straight to the file, the result to the pipe):
    # leave without the interpreter's teardown, which the main process would otherwise wait for.
    os._exit(0)


def _end_with_parent() -> None:
    """Ask Linux to end this worker when the main process dies, whatever killed it (SIGKILL included): an
    orphaned worker would otherwise wait for tasks forever. Elsewhere the main process's clean-up ends it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


class WorkerPool(Generic[T, R]):
    """`count` worker processes doing `work` on tasks; `results` gives the results in task order.

    With `placed`, the workers write each result's pieces into that file themselves, in task order from the
    offset `results` is given, and the results come back with their pieces emptied (their length kept). Use as a
    context manager: leaving it early (an error, Ctrl-C) ends the workers.
    """

    def __init__(self, count: int, work: Callable[[T], R], warm: Callable[[], object] | None = None,
                 placed: Placed | None = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.placed = placed
        self._processes: list[Any] = []
        self._queues: list[Any] = []
        self._readers: list[Any] = []
        self._stopped = False
        shared = SharedFile(placed.fd) if placed is not None else None
        try:
            for _ in range(count):
                reader, writer = context.Pipe(duplex=False)
                tasks = context.Queue()
                process = context.Process(target=_serve, daemon=True,
                                          args=(tasks, writer, work, warm, shared, placed.name if placed else ""))
                self._queues.append(tasks)
                self._readers.append(reader)
                process.start()
                self._processes.append(process)
                writer.close()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def results(self, tasks: Iterator[T], start: int = 0) -> Iterator[R]:
        """Every task's result, in task order; with a placed output, the results' bytes go to it from `start`."""
        count = len(self._processes)
        source = enumerate(tasks)
        done: dict[int, R] = {}
        owner: dict[int, int] = {}
        lengths: dict[int, int] = {}
        busy = [0] * count
        dispatched = yielded = placed_upto = 0
        offset = start
        exhausted = False

        def refill() -> None:
            nonlocal dispatched, exhausted
            for worker in sorted(range(count), key=busy.__getitem__):
                while not exhausted and busy[worker] < IN_FLIGHT_PER_WORKER \
                        and dispatched < yielded + WINDOW_PER_WORKER * count:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        return
                    index, task = item
                    owner[index] = worker
                    busy[worker] += 1
                    dispatched += 1
                    self._queues[worker].put(("task", index, task))

        refill()
        while yielded < dispatched or not exhausted:
            for index, result in self._receive():
                busy[owner[index]] -= 1
                done[index] = result
                if self.placed is not None:
                    lengths[index] = result.length
                    while placed_upto in lengths:  # every earlier length known: this one's place is too
                        self._queues[owner[placed_upto]].put(("write", placed_upto, offset))
                        offset += lengths.pop(placed_upto)
                        placed_upto += 1
            while yielded in done:
                del owner[yielded]
                yield done.pop(yielded)
                yielded += 1
            refill()
        self._stop()

    def _stop(self) -> None:
        """Tell every worker to finish (writing what it holds) and wait until each has."""
        for tasks in self._queues:
            tasks.put(None)
        for reader, process in zip(self._readers, self._processes, strict=True):
            kind, _, unwritten = _message(reader, process)
            if kind != "stopped" or unwritten:
                raise EngineError(f"a batch worker stopped with {unwritten} results unwritten")
        for process in self._processes:
            process.join()
        self._stopped = True

    def _receive(self) -> Iterator[tuple[int, R]]:
        """The results that are ready, waiting for at least one; a worker's error or death stops the run."""
        from multiprocessing.connection import wait

        sentinels = {process.sentinel: worker for worker, process in enumerate(self._processes)}
        ready = wait([*self._readers, *sentinels])
        for reader, process in zip(self._readers, self._processes, strict=True):
            if reader in ready:
                kind, index, value = _message(reader, process)
                if kind != "result":
                    raise EngineError(f"a batch worker sent {kind!r} before it was told to stop")
                yield index, value
        for sentinel, worker in sentinels.items():
            if sentinel in ready and not self._readers[worker].poll():
                raise EngineError("a batch worker process ended unexpectedly "
                                  f"(exit code {self._processes[worker].exitcode})")

    def close(self) -> None:
        """End the workers (at once, unless they were stopped in order) and release the queues and pipes."""
        for tasks in self._queues:
            tasks.cancel_join_thread()  # a queue's feeder must not wait on a worker that is gone
            tasks.close()
        if not self._stopped:
            for process in self._processes:
                process.terminate()
        for process in self._processes:
            process.join()
        for reader in self._readers:
            reader.close()
        self._processes, self._queues, self._readers = [], [], []


def _message(reader: Any, process: Any) -> tuple[str, int, Any]:
    try:
        kind, index, value = reader.recv()
    except (EOFError, OSError):
        process.join(timeout=5)
        raise EngineError(f"a batch worker process ended unexpectedly (exit code {process.exitcode})") from None
    if kind == "error":
        raise value
    return str(kind), int(index), value
