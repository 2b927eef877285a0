"""What every session shares: the engine and the teaching vignettes, each built once per content on disk."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from spinemets import DEFAULT_RULES_DIR, CaseDocument, CaseError, Engine, get_engine, read_case_file

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "cases"
_CASE_SUFFIXES = (".yaml", ".yml", ".json")


def _fingerprint(folder: Path, suffixes: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times: cheap to read on every rerun, and it changes when a file does."""
    if not folder.is_dir():
        return ()
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in suffixes and path.is_file():
            stat = path.stat()
            found.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def rules_dir() -> Path:
    """The built-in rule base, or another one named by SPINEMETS_RULES (for rule authors trying an edit)."""
    return Path(os.environ.get("SPINEMETS_RULES") or DEFAULT_RULES_DIR)


@st.cache_resource(show_spinner="Loading the rule base...", max_entries=4)
def _engine_for(folder: str, rules_fingerprint: tuple[Any, ...]) -> Engine:  # noqa: ARG001 (the cache key)
    # get_engine keeps one engine per content hash and is thread-safe, so sessions share it; the
    # fingerprint only makes a rule base edited on disk show up without restarting the server.
    return get_engine(folder)


def engine() -> Engine:
    """The engine for the rule base as it is on disk now; raises RulebookError if it does not load."""
    folder = rules_dir()
    return _engine_for(str(folder), _fingerprint(folder, (".yaml", ".yml")))


@dataclass(frozen=True)
class Vignette:
    """A vignette file: its document when it reads, else the reason it does not."""

    name: str
    document: CaseDocument | None
    error: str | None = None

    @property
    def label(self) -> str:
        if self.document is None:
            return f"{self.name} (does not read)"
        case = self.document.case
        return f"{case.title} ({case.id})" if case.title else case.id


@st.cache_resource(show_spinner=False, max_entries=4)
def _read_vignettes(fingerprint: tuple[Any, ...]) -> tuple[Vignette, ...]:
    found = []
    for name, _, _ in fingerprint:
        try:
            found.append(Vignette(name, read_case_file(CASES_DIR / name)))
        except CaseError as err:
            # One broken file must not take the others (or the app) down with it.
            found.append(Vignette(name, None, str(err)))
    return tuple(found)


def vignettes() -> tuple[Vignette, ...]:
    """Every file in cases/, in name order; files that do not read are kept with their error."""
    return _read_vignettes(_fingerprint(CASES_DIR, _CASE_SUFFIXES))


def readable_vignettes() -> list[Vignette]:
    return [v for v in vignettes() if v.document is not None]


@st.cache_resource(show_spinner=False, max_entries=4)
def _rules_fired_by_vignettes(sha256: str, fingerprint: tuple[Any, ...],  # noqa: ARG001 (sha256: the cache key)
                              _engine: Engine) -> dict[str, tuple[str, ...]]:
    fired: dict[str, list[str]] = {}
    for vignette in _read_vignettes(fingerprint):
        if vignette.document is None:
            continue
        case = vignette.document.case
        try:
            decision = _engine.evaluate(case)
        except CaseError:
            continue
        rules = {r.rule for o in decision.options for r in o.reasons}
        rules |= {c.rule for c in decision.conflicts} | {a.rule for a in decision.adjuncts}
        for rule in rules:
            fired.setdefault(rule, []).append(case.id)
    return {rule: tuple(ids) for rule, ids in fired.items()}


def vignettes_by_rule(engine: Engine) -> dict[str, tuple[str, ...]]:
    """Rule id -> ids of the vignettes whose decision shows it (as a reason, conflict or adjunct)."""
    return _rules_fired_by_vignettes(engine.sha256, _fingerprint(CASES_DIR, _CASE_SUFFIXES), engine)
