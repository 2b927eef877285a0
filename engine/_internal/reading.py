"""Operating-system errors of reading an input, turned into the input errors the command line reports."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InputError


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
        raise error(f"{name}: cannot read ({err.strerror})") from None
