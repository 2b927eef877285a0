"""Reading an input: operating-system errors turned into input errors, and never more bytes than its limit."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from .limits import Limits


@contextmanager
def explained(name: str, error: type[InputError], on_folder: str) -> Iterator[None]:
    """Inside this block a missing file, a folder or an unreadable file raise `error` naming `name`."""
    try:
        yield
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a folder; {on_folder}") from None
    except OSError as err:
        raise error(f"{name}: cannot read ({err.strerror or err})") from None


def stdin_binary(error: type[InputError]) -> BinaryIO:
    """Standard input as bytes, or `error` when the process was started with it closed."""
    stream = sys.stdin
    if stream is None or getattr(stream, "buffer", None) is None:
        raise error("<stdin>: standard input is closed; give a file, or pipe the input in")
    buffer: BinaryIO = stream.buffer
    return buffer



def read_bounded(path: str | Path, limits: Limits, error: type[InputError], on_folder: str) -> bytes:
    """The bytes of a file ('-': stdin), refused with `error` past `limits.bytes` (so /dev/zero stops at once)."""
    name = "<stdin>" if str(path) == "-" else str(path)
    with explained(name, error, on_folder):
        if name == "<stdin>":
            raw = stdin_binary(error).read(limits.bytes + 1)
        else:
            with open(path, "rb") as stream:
                raw = stream.read(limits.bytes + 1)
    if len(raw) > limits.bytes:
        raise error(f"{name}: larger than {limits.describe('bytes')}")
    return raw
