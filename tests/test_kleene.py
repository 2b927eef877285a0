"""Kleene three-valued logic: truth tables, unknown fields, and the two readings of known/unknown."""
from __future__ import annotations

import itertools

import pytest

from spinemets.conditions import AllOf, AnyOf, Compare, NotOf, Presence
from spinemets.kleene import F, T, U, Truth, compile_condition, truth_and, truth_not, truth_or

AND_TABLE = {(T, T): T, (T, U): U, (T, F): F, (U, T): U, (U, U): U, (U, F): F, (F, T): F, (F, U): F, (F, F): F}
OR_TABLE = {(T, T): T, (T, U): T, (T, F): T, (U, T): T, (U, U): U, (U, F): U, (F, T): T, (F, U): U, (F, F): F}
NOT_TABLE = {T: F, U: U, F: T}

# A field whose truth we control: x == true is T, F or U as x is true, false or absent.
X = Compare(field="coagulopathy", op="==", value=True)
Y = Compare(field="active_infection", op="==", value=True)
SETTING = {T: {"v": True}, F: {"v": False}, U: {}}


def values_for(tx: Truth, ty: Truth) -> dict:
    values = {}
    if tx != U:
        values["coagulopathy"] = tx == T
    if ty != U:
        values["active_infection"] = ty == T
    return values


@pytest.mark.parametrize("a, b", list(itertools.product([T, U, F], repeat=2)))
def test_and_or_tables(rulebook, a, b):
    values = values_for(a, b)
    assert compile_condition(AllOf(items=(X, Y)), rulebook.catalog)(values) == AND_TABLE[a, b]
    assert compile_condition(AnyOf(items=(X, Y)), rulebook.catalog)(values) == OR_TABLE[a, b]
    assert truth_and(a, b) == AND_TABLE[a, b] and truth_or(a, b) == OR_TABLE[a, b]


@pytest.mark.parametrize("a", [T, U, F])
def test_not_table(rulebook, a):
    assert compile_condition(NotOf(item=X), rulebook.catalog)(values_for(a, U)) == NOT_TABLE[a]
    assert truth_not(a) == NOT_TABLE[a]


@pytest.mark.parametrize("op, value, known, expected", [
    ("<", 40, 30, T), ("<", 40, 40, F), ("<=", 40, 40, T), (">", 40, 40, F), (">=", 40, 40, T),
    ("==", 40, 40, T), ("!=", 40, 40, F), ("!=", 40, 30, T),
])
def test_comparisons_on_known_and_unknown_values(rulebook, op, value, known, expected):
    cond = compile_condition(Compare(field="karnofsky", op=op, value=value), rulebook.catalog)
    assert cond({"karnofsky": known}) == expected
    assert cond({}) == U  # an unknown field never satisfies nor refutes a comparison


def test_membership(rulebook):
    inside = compile_condition(Compare(field="lesion_type", op="in", value=("lytic", "mixed")), rulebook.catalog)
    outside = compile_condition(Compare(field="lesion_type", op="not in", value=("lytic", "mixed")), rulebook.catalog)
    assert (inside({"lesion_type": "mixed"}), outside({"lesion_type": "mixed"})) == (T, F)
    assert (inside({"lesion_type": "blastic"}), outside({"lesion_type": "blastic"})) == (F, T)
    assert (inside({}), outside({})) == (U, U)


def test_known_and_unknown_read_now_and_settled(rulebook):
    known = Presence(kind="known", field="karnofsky")
    unknown = Presence(kind="unknown", field="karnofsky")
    now_known, now_unknown = (compile_condition(c, rulebook.catalog) for c in (known, unknown))
    settled_known, settled_unknown = (compile_condition(c, rulebook.catalog, settled=True) for c in (known, unknown))
    # as the case stands, presence is a fact about the record
    assert (now_known({}), now_unknown({})) == (F, T)
    assert (now_known({"karnofsky": 50}), now_unknown({"karnofsky": 50})) == (T, F)
    # once the field is filled in, presence flips: before that it is undecided
    assert (settled_known({}), settled_unknown({})) == (U, U)
    assert (settled_known({"karnofsky": 50}), settled_unknown({"karnofsky": 50})) == (T, F)


def test_short_circuit_does_not_hide_unknown(rulebook):
    cond = compile_condition(AnyOf(items=(X, Y)), rulebook.catalog)
    assert cond({"coagulopathy": False}) == U
    assert cond({"coagulopathy": True}) == T
