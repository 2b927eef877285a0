"""SINS entered once: a SINS component that other fields of the case determine is filled from them.

Which fields a component shares its meaning with, and which values agree, is read from the rule base's own
consistency checks (rules/consistency.yaml: bone lesion and lesion type, SINS pain and mechanical pain, collapse
and height loss), never restated here. Before the form is drawn, each such component is narrowed to the values
the other fields allow: one value left is filled in (and shown as filled, not asked); several are offered alone;
a value the other fields now rule out is cleared. Choosing a component fills a yes/no or coded partner left
unknown when only one of its values agrees. So the form can never hold a SINS that contradicts the rest of the case.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spinemets import Engine
from spinemets.case import case_from_values
from spinemets.fields import FieldSpec

from . import case_state


@dataclass(frozen=True)
class Link:
    """What the rest of the case allows a SINS component to be."""

    component: str
    partners: tuple[str, ...]          # fields that share its meaning
    known: tuple[str, ...]             # those of them entered now
    allowed: tuple[str, ...]           # its codes that agree with them

    @property
    def determined(self) -> str | None:
        return self.allowed[0] if len(self.allowed) == 1 and self.known else None


def partners(engine: Engine) -> dict[str, tuple[str, ...]]:
    """SINS component -> the other case inputs a consistency check ties it to."""
    return _partners(engine)


@lru_cache(maxsize=8)
def _partners(engine: Engine) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    inputs = set(case_state.field_names())
    for check in engine.rulebook.constraints:
        names = [f for f in check.fields if f in inputs]
        for name in names:
            if name.startswith("sins."):
                found.setdefault(name, [])
                found[name] += [n for n in names if n != name and not n.startswith("sins.") and n not in found[name]]
    return {k: tuple(v) for k, v in found.items() if v}


def _agrees(engine: Engine, values: tuple[tuple[str, Any], ...], about: str) -> bool:
    return _agrees_cached(engine, values, about)


@lru_cache(maxsize=4096)
def _agrees_cached(engine: Engine, values: tuple[tuple[str, Any], ...], about: str) -> bool:
    try:
        case = case_from_values("sins-check", dict(values))
    except ValueError:
        return True  # a value the case model refuses is the form's problem to show, not a disagreement
    return not any(about in p.fields for p in engine.check(case))


def link(engine: Engine, specs: dict[str, FieldSpec], component: str, data: dict[str, Any]) -> Link:
    """The component's allowed codes given the partner values in `data` (case data as the form reads it)."""
    tied = partners(engine).get(component, ())
    known = tuple(p for p in tied if data.get(p) is not None)
    base = tuple((p, data[p]) for p in known)
    allowed = tuple(code for code in specs[component].values if _agrees(engine, base + ((component, code),), component))
    return Link(component, tied, known, allowed)


def flat(reading_data: dict[str, Any]) -> dict[str, Any]:
    """Case data with SINS components as `sins.<component>`, the way checks name them."""
    data = {k: v for k, v in reading_data.items() if k != "sins"}
    data.update({f"sins.{k}": v for k, v in (reading_data.get("sins") or {}).items()})
    return data


def settle(state: case_state.State, engine: Engine, specs: dict[str, FieldSpec],
           key_of: Callable[[str], str] = case_state.key, data: dict[str, Any] | None = None) -> dict[str, Link]:
    """Narrow every linked component to what its partners allow (before the widgets are drawn). A lesion's
    components: `key_of` names its widgets and `data` is that lesion's data (flat, as `flat` gives it)."""
    data = flat(case_state.read(state, specs).data) if data is None else data
    links = {}
    for component in partners(engine):
        found = link(engine, specs, component, data)
        links[component] = found
        current = state.get(key_of(component))
        if found.determined is not None:
            state[key_of(component)] = found.determined
        elif current not in (None, case_state.UNKNOWN) and current not in found.allowed:
            state[key_of(component)] = case_state.UNKNOWN
    return links


def fill_partners(state: case_state.State, engine: Engine, specs: dict[str, FieldSpec], component: str,
                  key_of: Callable[[str], str] = case_state.key) -> None:
    """After a component is chosen: an unknown coded or yes/no partner with one agreeing value gets that value."""
    code = state.get(key_of(component))
    if code in (None, case_state.UNKNOWN):
        return
    for partner in partners(engine).get(component, ()):
        spec = specs.get(partner)
        if spec is None or spec.numeric or state.get(key_of(partner)) not in (None, case_state.UNKNOWN):
            continue
        candidates = [True, False] if spec.kind == "bool" else list(spec.values)
        agreeing = [v for v in candidates if _agrees(engine, ((component, code), (partner, v)), component)]
        if len(agreeing) == 1:
            state[key_of(partner)] = case_state.widget_value(partner, spec, agreeing[0])
