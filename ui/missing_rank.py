""""Still to find out", ranked by what the answer could do: fields that could move the top suggestion first.

The engine's own what-if sweep says which value of each unknown field would change which status; a field with a
value that moves the top suggestion comes first, then by how many options it could change, then in the data
dictionary's order. Kept per case and rule base, so a rerun that did not change the case costs nothing.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from spinemets import Case, Decision, Engine
from spinemets.whatif import sweep


@dataclass(frozen=True)
class Ask:
    """An unknown field worth finding out, with what its answer could do."""

    field: str
    affects: tuple[str, ...]                       # options whose status it could change
    moves_top: tuple[tuple[Any, str], ...] = ()    # (value, the top suggestion it would give)


_CACHE: OrderedDict[tuple[str, str], list[Ask]] = OrderedDict()
_LOCK = threading.Lock()
_SIZE = 256


def ranked(engine: Engine, case: Case, decision: Decision) -> list[Ask]:
    key = (engine.sha256, case.model_dump_json())
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    found = _rank(engine, case, decision)
    with _LOCK:
        _CACHE[key] = found
        while len(_CACHE) > _SIZE:
            _CACHE.popitem(last=False)
    return found


def _rank(engine: Engine, case: Case, decision: Decision) -> list[Ask]:
    missing = {m.field: m for m in decision.missing}
    moving: dict[str, list[tuple[Any, str]]] = {}
    for change in sweep(engine, case, decision):
        if change.field in missing and change.moves_top:
            moving.setdefault(change.field, []).append((change.after, change.top_after))
    order = list(missing)
    asks = [Ask(name, missing[name].affects, tuple(moving.get(name, ()))) for name in order]
    asks.sort(key=lambda a: (not a.moves_top, -len(a.affects), order.index(a.field)))
    return asks
