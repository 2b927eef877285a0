"""Which command needs which optional part of the package, and the one line that says how to install it.

`pip install spinemets` evaluates, batches, exports FHIR and keeps the board log; the front end, the prover, the
CDS Hooks service and PDF output come with extras (pyproject.toml's [project.optional-dependencies]). A command
whose extra is missing stops before doing anything (exit 2, as for any unusable input) and names the extra,
rather than failing on an import halfway through.
"""
from __future__ import annotations

from importlib.util import find_spec

from ..errors import InputError

# The import names each extra provides (its own dependencies, not what they pull in).
EXTRAS: dict[str, tuple[str, ...]] = {
    "pdf": ("fpdf",),
    "app": ("streamlit", "altair", "pandas", "fpdf"),
    "verify": ("z3",),
    "service": ("fastapi", "uvicorn", "httpx", "jwt"),
}


class MissingExtra(InputError):
    """A command needs an optional dependency that is not installed."""


def missing(extra: str) -> list[str]:
    """The import names of `extra` that cannot be found in this environment (nothing is imported)."""
    return [name for name in EXTRAS[extra] if not _installed(name)]


def _installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses the name, or a module set to None in sys.modules
        return False


def require(command: str, extra: str) -> None:
    """Refuse `command` with the install line when the extra's packages are not all installed."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(f"{command} needs the {extra} extra ({', '.join(absent)} not installed): "
                           f"pip install 'spinemets[{extra}]'")
