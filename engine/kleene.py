"""Three-valued (Kleene) evaluation of condition trees over cases with unknown fields."""
from __future__ import annotations

import operator
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from .conditions import AllOf, AnyOf, Compare, Condition, NotOf, Presence
from .fields import FieldCatalog


class Truth(IntEnum):
    """Ordered so that AND is min, OR is max and NOT is 2 - x."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


F, U, T = Truth.FALSE, Truth.UNKNOWN, Truth.TRUE
Values = dict[str, Any]
Evaluate = Callable[[Values], int]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "==": operator.eq, "!=": operator.ne}
_MISSING = object()


def compile_condition(cond: Condition, catalog: FieldCatalog, *, settled: bool = False) -> Evaluate:
    """A function of the case's known values (derived facts as Truth) giving the condition's Truth.

    `settled=False` reads `known(x)` and `unknown(x)` off the case as it stands (what fires now).
    `settled=True` asks what could hold once unknown fields are filled in: on an unknown field both
    tests become UNKNOWN, since filling it in flips them.
    """
    if isinstance(cond, Compare):
        return _compile_compare(cond, catalog)
    if isinstance(cond, Presence):
        name, want_known = cond.field, cond.kind == "known"
        if settled:
            if want_known:
                return lambda v: T if name in v else U
            return lambda v: F if name in v else U
        if want_known:
            return lambda v: T if name in v else F
        return lambda v: F if name in v else T
    if isinstance(cond, NotOf):
        inner = compile_condition(cond.item, catalog, settled=settled)
        return lambda v: 2 - inner(v)
    parts = tuple(compile_condition(item, catalog, settled=settled) for item in cond.items)
    if isinstance(cond, AllOf):
        def all_of(v: Values) -> int:
            result: int = T
            for part in parts:
                t = part(v)
                if t == F:
                    return F
                if t < result:
                    result = t
            return result
        return all_of
    assert isinstance(cond, AnyOf)

    def any_of(v: Values) -> int:
        result: int = F
        for part in parts:
            t = part(v)
            if t == T:
                return T
            if t > result:
                result = t
        return result
    return any_of


def _compile_compare(cond: Compare, catalog: FieldCatalog) -> Evaluate:
    name, op, value = cond.field, cond.op, cond.value
    spec = catalog.get(name)
    if spec is not None and spec.kind == "fact":
        positive = (value is True) == (op == "==")
        return (lambda v: v[name]) if positive else (lambda v: 2 - v[name])
    if op in ("in", "not in"):
        members, inside = frozenset(value), op == "in"

        def member(v: Values) -> int:
            x = v.get(name, _MISSING)
            if x is _MISSING:
                return U
            return T if (x in members) == inside else F
        return member
    test = _ORDER[op]

    def compare(v: Values) -> int:
        x = v.get(name, _MISSING)
        if x is _MISSING:
            return U
        return T if test(x, value) else F
    return compare


def truth_and(*values: int) -> Truth:
    return Truth(min(values, default=T))


def truth_or(*values: int) -> Truth:
    return Truth(max(values, default=F))


def truth_not(value: int) -> Truth:
    return Truth(2 - value)
