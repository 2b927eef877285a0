"""Writing a command's output file: checked before any input is read, written atomically after a successful run.

Every command that writes a file (`batch --out`, `synth --out`, `knowledge-base --out`, `verify
--counterexamples`, and any command added later) must write it through this module, never with a bare
`open(path, "w")`:

- `target(path, inputs)` first, before the command reads anything: it refuses (InputError, exit 2) an
  output that is one of the inputs (the same file by device and inode, stdin included, however it is
  named), a file that would land inside an input folder among the files read from there, and an
  existing path that is not a regular file (a folder, /dev/null, /dev/full, a pipe); `-` is stdout.
- `Target.open()` around the run: the output goes to a temporary file in the target's own folder
  (so the final rename stays on one file system), which replaces the target only when the block ends
  without an exception. A failed or interrupted run leaves the target exactly as it was; the target
  is never truncated early and never unlinked. The new file keeps an existing target's permissions.
  The temporary file is owner-only and removed on any exception, Ctrl-C, SIGTERM or SIGHUP (cli.py
  turns those into an interruption); only SIGKILL leaves it, and the next run to the same output
  removes it (its name holds the process id, which is then gone).
- `write_file(path, data, inputs)` does both for output computed in memory, and `folder(path, inputs)`
  prepares a folder whose files are then written with `write_file`.
"""
from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import InputError

# What the readers of a folder take from it (case folders, rule bases): a new file with one of these
# suffixes inside an input folder would become part of the input the next time it is read.
READ_FROM_FOLDERS = (".yaml", ".yml", ".json")

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"))


class OutputError(InputError):
    """The output cannot be written where the user asked (exit 2, like any unusable input)."""


@dataclass(frozen=True)
class Target:
    """A checked output: standard output, or a regular file (existing or not) that is none of the inputs."""

    name: str              # as the user gave it, for messages
    path: Path | None      # the file the rename replaces (symlinks resolved); None for stdout
    mode: int | None       # permission bits to keep (an existing target's), None for a new file

    @property
    def stdout(self) -> bool:
        return self.path is None

    @contextmanager
    def open(self, binary: bool = True) -> Iterator[_Guarded]:
        """The stream to write to; the file appears (or replaces the old one) only if the block succeeds."""
        if self.path is None:
            stream = _stdout()
            if binary and getattr(stream, "buffer", None) is not None:
                stream.flush()  # what was printed before comes first
                stream = stream.buffer
            guarded = _Guarded(stream, "standard output")
            yield guarded
            guarded.flush()
            return
        _sweep(self.path)
        try:
            # owner-only (mkstemp's 0600) until it is complete; the process id in the name lets a later run tell
            # a partial file left by a killed run (SIGKILL cannot be caught) from one being written now
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".partial",
                                             dir=self.path.parent)
        except OSError as err:
            raise OutputError(f"{self.name}: cannot write ({err.strerror or err})") from None
        try:
            with os.fdopen(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline="") as stream:
                yield _Guarded(stream, self.name)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temporary).chmod(self.mode if self.mode is not None else 0o666 & ~_umask())
            Path(temporary).replace(self.path)
        except BaseException:
            with suppress(OSError):
                Path(temporary).unlink()
            raise


def _sweep(path: Path) -> None:
    """Remove the partial files of earlier runs to the same output whose process is gone: a run killed with
    SIGKILL leaves its partial file (decisions, patient data) until the next run to that output."""
    prefix = f".{path.name}."
    try:
        names = [p.name for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".partial")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with suppress(OSError):
            (path.parent / name).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # someone else's process: alive
    return True


class _Guarded:
    """A stream that takes text or bytes, and whose write errors (disk full, quota, I/O) are the user's
    output error (exit 2), not an internal one."""

    def __init__(self, stream: IO[Any], name: str) -> None:
        self._stream, self._name = stream, name
        self._text = isinstance(stream, io.TextIOBase)

    def write(self, data: str | bytes) -> int:
        if self._text and isinstance(data, bytes):
            data = data.decode("utf-8")
        elif not self._text and isinstance(data, str):
            data = data.encode("utf-8")
        try:
            return int(self._stream.write(data))
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputError(f"{self._name}: cannot write ({err.strerror or err})") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputError(f"{self._name}: cannot write ({err.strerror or err})") from None

    @property
    def name(self) -> str:
        """The output as the user named it, for messages."""
        return self._name

    def fileno(self) -> int:
        """The underlying descriptor, for writers that place data at offsets (batch's worker processes);
        they must flush first and report their own write errors as OutputError."""
        return int(self._stream.fileno())


def _stdout() -> Any:
    if sys.stdout is None:
        raise OutputError("standard output is closed; give --out FILE, or run with standard output open")
    return sys.stdout


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def target(path: str | Path, inputs: Iterable[str | Path] = ()) -> Target:
    """Check an output path against the inputs before reading any of them; `-` is standard output."""
    name = str(path)
    if name == "-":
        _stdout()
        return Target(name, None, None)
    given = Path(path)
    real = Path(os.path.realpath(given))
    try:
        info: os.stat_result | None = real.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise OutputError(f"{name}: cannot write ({err.strerror or err})") from None
    if info is not None:
        kind = next((words for test, words in _KINDS if test(info.st_mode)), None)
        if kind is not None or not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{name}: is {kind or 'not a regular file'}; give the path of a file to write, "
                              "or - for standard output")
    for source in inputs:
        _refuse_if_input(name, real, info, source)
    if info is not None and not os.access(real, os.W_OK):
        # replacing it by rename would ignore the protection its owner gave it
        raise OutputError(f"{name}: is read-only; make it writable or give another file")
    if not real.parent.is_dir():
        raise OutputError(f"{name}: cannot write (no such folder: {given.parent})")
    return Target(name, real, stat.S_IMODE(info.st_mode) if info is not None else None)


def _refuse_if_input(name: str, real: Path, info: os.stat_result | None, source: str | Path) -> None:
    if str(source) == "-":
        if info is not None and sys.stdin is not None:
            try:
                stdin = os.fstat(sys.stdin.fileno())
            except (OSError, ValueError):
                return
            if (stdin.st_dev, stdin.st_ino) == (info.st_dev, info.st_ino):
                raise OutputError(f"{name}: is the input (standard input reads this file); write the output "
                                  "to another file")
        return
    try:
        other = os.stat(source)  # noqa: PTH116 - Path('') would stat '.', os.stat('') reports a missing input
    except OSError:
        return  # a missing input is the reader's to report
    if stat.S_ISDIR(other.st_mode):
        folder = Path(os.path.realpath(source))
        if real.is_relative_to(folder) and real.suffix.lower() in READ_FROM_FOLDERS:
            raise OutputError(f"{name}: is inside the input folder {source}, among the files read from it; "
                              "write the output elsewhere")
        return
    if info is not None and (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
        raise OutputError(f"{name}: is the input {source}; write the output to another file")


def write_file(path: str | Path, data: str | bytes, inputs: Iterable[str | Path] = ()) -> None:
    """Check `path` and write `data` to it atomically (text as UTF-8)."""
    out = target(path, inputs)
    with out.open(binary=True) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)


def folder(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """A folder to write output files into (made if missing), refused if it is, or is inside, an input folder."""
    name = str(path)
    given = Path(path)
    real = Path(os.path.realpath(given))
    if given.exists() and not given.is_dir():
        raise OutputError(f"{name}: is not a folder; give a folder for the output files")
    for source in inputs:
        if str(source) != "-" and Path(source).is_dir() and real.is_relative_to(Path(os.path.realpath(source))):
            raise OutputError(f"{name}: is inside the input folder {source}; its files would be read as input")
    try:
        real.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{name}: cannot make the folder ({err.strerror or err})") from None
    return given
