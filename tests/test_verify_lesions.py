"""The proof over lesions (engine/verify/lesions.py, docs/verification.md "Lesions"): discreteness as the engine
reads it, the one-view abstraction against the exact encoding of several lesions, views turned into cases."""
from __future__ import annotations

import itertools

import pytest
import z3

from spinemets.case import VERTEBRAE
from spinemets.lesion_views import adjacent_levels, discrete_compressions
from spinemets.verify.encode import COMPRESSION, DISCRETE, LESION_COUNT, LESION_FORM, LESION_MAX, Encoding, _literal
from spinemets.verify.lesions import LesionCase
from spinemets.verify.witness import witness_case


def discrete(lesions: list[tuple[str, bool | None]]) -> bool | None:
    return discrete_compressions(dict(lesions))


def settled(levels: list[str], compression: list[bool | None]) -> bool | None:
    """Discreteness the long way: two or more separate runs of compressive vertebrae in every completion of the
    unknown compressions (TRUE), in none (FALSE), or in some (UNKNOWN)."""
    unknown = [i for i, c in enumerate(compression) if c is None]
    seen = set()
    for fill in itertools.product([True, False], repeat=len(unknown)):
        filled = list(compression)
        for i, value in zip(unknown, fill, strict=True):
            filled[i] = value
        places = sorted(VERTEBRAE.index(v) for v, c in zip(levels, filled, strict=True) if c)
        runs = sum(1 for n, p in enumerate(places) if n == 0 or p != places[n - 1] + 1)
        seen.add(runs >= 2)
    return seen.pop() if len(seen) == 1 else None


def test_the_engines_discreteness_is_what_every_completion_says():
    """lesion_views.discrete_compressions, which the encoding of several lesions reads as Kleene's "some pair"."""
    window = VERTEBRAE[10:18]
    checked = 0
    for n in range(1, 6):
        for levels in itertools.combinations(window, n):
            for compression in itertools.product([True, False, None], repeat=n):
                lesions = list(zip(levels, compression, strict=True))
                assert discrete(lesions) is settled(list(levels), list(compression)), lesions
                checked += 1
    assert checked > 5000


def test_discreteness_ignores_the_order_lesions_come_in():
    lesions = [("T4", True), ("L1", True), ("T5", None)]
    assert discrete(lesions) is discrete(list(reversed(lesions))) is True


@pytest.fixture(scope="module")
def four(rulebook):
    case = LesionCase(rulebook, 4, "t:")
    solver = z3.Solver()
    solver.add(*case.domain())
    return case, solver


def pinned_discreteness(case: LesionCase, solver: z3.Solver, lesions: list[tuple[str, bool | None]]):
    """The encoding's discreteness, lesion count and first view with the slots pinned to these lesions."""
    ordered = sorted(lesions, key=lambda lesion: VERTEBRAE.index(lesion[0]))
    pins = []
    for j in range(case.k):
        space = case.slots[j].case
        if j < len(ordered):
            level, c = ordered[j]
            pins += [case.present[j], case.level[j] == VERTEBRAE.index(level)]
            known, value = space.known[COMPRESSION], space.value[COMPRESSION]
            pins += [z3.Not(known)] if c is None else [known, value == c]
        else:
            pins.append(z3.Not(case.present[j]))
    solver.push()
    try:
        solver.add(*pins)
        assert solver.check() == z3.sat
        model = solver.model()
        space = case.slots[0].case
        known = z3.is_true(model.eval(space.discrete_known, model_completion=True))
        value = z3.is_true(model.eval(space.discrete, model_completion=True))
        return (value if known else None), model.eval(space.lesion_count).as_long()
    finally:
        solver.pop()


@pytest.mark.parametrize("lesions", [
    [("T4", True)],
    [("T4", True), ("T5", True)],
    [("T4", True), ("T6", True)],
    [("T4", True), ("T5", False), ("T6", True)],
    [("T4", True), ("T5", None), ("T6", True)],
    [("T4", True), ("T5", True), ("T6", True), ("T7", True)],
    [("T4", True), ("T9", None)],
    [("T4", False), ("T9", None), ("L2", True)],
    [("C7", None), ("T1", None), ("T2", None), ("T3", None)],
    [("T12", True), ("L1", None), ("L2", True), ("S5", False)],
])
def test_the_encoding_computes_discreteness_as_the_definition(four, lesions):
    case, solver = four
    got, count = pinned_discreteness(case, solver, lesions)
    assert count == len(lesions)
    assert got is discrete(lesions) is settled([lv for lv, _ in lesions], [c for _, c in lesions])


def test_every_view_of_a_case_of_four_lesions_is_in_the_one_view_domain(four):
    case, solver = four
    assert solver.check(z3.Not(case.views_covered())) == z3.unsat


@pytest.fixture(scope="module")
def one_view(rulebook):
    enc = Encoding(rulebook, "view:")
    solver = z3.Solver()
    solver.add(*enc.domain())
    return enc, solver


def view_is_admitted(one_view, unknown=(), **pinned) -> bool:
    enc, solver = one_view
    space = enc.case
    terms = [z3.Not(space.known[name]) for name in unknown]
    for name, value in pinned.items():
        if name == LESION_FORM:
            terms.append(space.lesion_form == value)
        elif name == LESION_COUNT:
            terms.append(space.lesion_count == value)
        elif name == DISCRETE:
            terms += [space.discrete_known] + ([space.discrete == value] if value is not None else [])
            if value is None:
                terms = [t for t in terms if t is not space.discrete_known] + [z3.Not(space.discrete_known)]
        else:
            spec = enc.rulebook.catalog.specs[name]
            terms += [space.known[name], space.value[name] == _literal(spec, value)]
    return solver.check(*terms) == z3.sat


def test_a_pain_free_level_of_a_patient_in_refractory_pain_is_a_view_not_a_flat_case(one_view):
    """The engine holds a lesion's view to the checks that apply to a lesion (engine.checks_a_lesion): the proof
    must range over these views too (it did not: three invariants claimed cement at such a level)."""
    pain_free = {"pain_score": 0, "refractory_to_analgesics": True}
    assert view_is_admitted(one_view, **{LESION_FORM: True}, **pain_free)
    assert not view_is_admitted(one_view, **{LESION_FORM: False}, **pain_free)


def test_the_one_view_domain_admits_exactly_the_views_a_case_can_have(one_view):
    for count, wanted, mine in itertools.product((1, 2, 3), (True, False, None), (True, False, None)):
        pinned = {LESION_FORM: True, LESION_COUNT: count, DISCRETE: wanted}
        if mine is not None:
            pinned[COMPRESSION] = mine
        unknown = (COMPRESSION,) if mine is None else ()
        assert view_is_admitted(one_view, unknown, **pinned) is realizable(count, wanted, mine), (count, wanted, mine)


def realizable(count: int, wanted: bool | None, mine: bool | None) -> bool:
    """What CaseSpace.view_domain admits: discreteness in doubt or TRUE needs two lesions, and of two lesions
    this one must be (or may be) a compression."""
    if count == 1:
        return wanted is False
    return count > 2 or (wanted is not True or mine is True) and (wanted is not None or mine is not False)


VIEWS = [(n, w, m) for n in (1, 2, 3, 5, 12, 20, LESION_MAX) for w in (True, False, None) for m in (True, False, None)
         if realizable(n, w, m)]


@pytest.mark.parametrize(("count", "wanted", "mine"), VIEWS)
def test_a_view_becomes_a_case_with_its_count_and_discreteness(rulebook, count, wanted, mine):
    # 29 lesions are every vertebra: one run of adjacent levels (a lone level leaves its neighbours free)
    adjacent = LESION_MAX if count == LESION_MAX else 1
    values = {"levels": ["T8"], LESION_FORM: True, LESION_COUNT: count, "adjacent_levels": adjacent, "age": 70}
    if wanted is not None:
        values[DISCRETE] = wanted
    if mine is not None:
        values[COMPRESSION] = mine
    case, level = witness_case("view", values)
    assert level == "T8" and case.age == 70
    levels = [lesion.level for lesion in case.lesions]
    assert len(set(levels)) == len(levels) == count
    assert discrete([(lesion.level, lesion.spinal_cord_compression) for lesion in case.lesions]) is wanted
    assert adjacent_levels(case.lesions)["T8"] == adjacent


# --- the encoding of several lesions against the engine --------------------------------------------------------

from hypothesis import given, settings  # noqa: E402

from spinemets.errors import CaseError  # noqa: E402
from spinemets.verify.encode import STATUS_OF_RANK  # noqa: E402

from . import strategies as gen  # noqa: E402


def pins(case: LesionCase, patient: dict, lesions: list[tuple[str, dict]]) -> list:
    """Constraints that pin the encoding of several lesions to one concrete case."""
    book = case.rulebook
    own = case.slots[0].case.own
    out = []
    for name, spec in case.patient.inputs.items():
        if name in own:
            continue
        known, value = case.patient.known[name], case.patient.value[name]
        out += [known, value == _literal(spec, patient[name])] if name in patient else [z3.Not(known)]
    ordered = sorted(lesions, key=lambda lesion: VERTEBRAE.index(lesion[0]))
    for j in range(case.k):
        if j >= len(ordered):
            out.append(z3.Not(case.present[j]))
            continue
        level, values = ordered[j]
        space = case.slots[j].case
        out += [case.present[j], case.level[j] == VERTEBRAE.index(level)]
        for name in own:
            spec = book.catalog.specs[name]
            known, value = space.known[name], space.value[name]
            out += [known, value == _literal(spec, values[name])] if name in values else [z3.Not(known)]
    return out


@given(parts=gen.lesion_case_parts(max_lesions=4))
@settings(max_examples=60)
def test_the_encoding_of_several_lesions_decides_each_lesion_as_the_engine(engine, four, parts):
    case, solver = four
    patient, lesions = parts
    built = gen.lesion_case("pinned", patient, lesions)
    try:
        decision = engine.evaluate(built)
    except CaseError:
        decision = None
    solver.push()
    try:
        solver.add(*pins(case, patient, lesions))
        outcome = solver.check()
        assert (outcome == z3.sat) == (decision is not None), "admissibility differs from the engine's"
        if decision is None:
            return
        model = solver.model()
        facts = decision.lesions  # cranio-caudal, as the slots
        for j, lesion in enumerate(facts):
            slot = case.slots[j]
            got = {o: STATUS_OF_RANK[model.eval(slot.status[o], model_completion=True).as_long()] for o in slot.options}
            assert got == lesion.statuses(), lesion.level
            tops = [o for o in slot.options if z3.is_true(model.eval(slot.top[o], model_completion=True))]
            assert tops == list(lesion.ranking[:1]), lesion.level
            fired = {r.id for i, r in enumerate(slot.rules) if z3.is_true(model.eval(slot.fired(i), model_completion=True))}
            assert fired == set(lesion.fired), lesion.level
    finally:
        solver.pop()


def test_dropping_a_lesion_rule_is_caught_at_a_lesion_with_a_case_the_engine_confirms(tmp_path):
    """Without ind.conservative.level_not_painful, cement is advised at a level that is no pain generator: verify
    refutes the invariant over views and at a lesion of a case of several lesions, each with a lesion-form case."""
    import shutil

    import yaml

    from spinemets.rulebook import DEFAULT_RULES_DIR
    from spinemets.verify import verify

    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    path = rules / "frame" / "lesions.yaml"
    data = yaml.safe_load(path.read_text())
    data["rules"] = [r for r in data["rules"] if r["id"] != "ind.conservative.level_not_painful"]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    report = verify(rules, only={"inv.lesions.level_not_painful_no_cement", "check.invariants_at_every_lesion"})
    (result,) = report.invariants
    assert result.outcome == "violated" and result.counterexample.confirmed
    assert result.counterexample.case["lesions"][0]["painful"] is False
    (check,) = report.checks
    finding = next(f for f in check.findings if f.key == "inv.lesions.level_not_painful_no_cement")
    assert finding.witness.confirmed and finding.witness.cases[0]["lesions"]
    assert report.internal_problems == []


@given(parts=gen.lesion_case_parts(max_lesions=5))
@settings(max_examples=60)
def test_the_one_view_encoding_decides_every_lesions_view_as_the_engine(engine, one_view, parts):
    """Each lesion's view of a case the engine accepts lies in the one-view domain, and the encoding pinned to it
    gives that lesion's statuses and top option."""
    from spinemets.lesion_views import ordered, view_facts
    from spinemets.verify.witness import view_of

    enc, solver = one_view
    patient, lesions = parts
    built = gen.lesion_case("view", patient, lesions)
    try:
        decision = engine.evaluate(built)
    except CaseError:
        return
    for lesion in decision.lesions:
        values = {**view_of(built, lesion.level), **view_facts(ordered(built.lesions), lesion.level)}
        solver.push()
        try:
            solver.add(*enc.case.equals(values))
            assert solver.check() == z3.sat, f"the view of {lesion.level} is outside the one-view domain"
            model = solver.model()
            got = {o: STATUS_OF_RANK[model.eval(enc.status[o], model_completion=True).as_long()] for o in enc.options}
            assert got == lesion.statuses(), lesion.level
            tops = [o for o in enc.options if z3.is_true(model.eval(enc.top[o], model_completion=True))]
            assert tops == list(lesion.ranking[:1]), lesion.level
        finally:
            solver.pop()


def test_dropping_the_multilevel_caution_is_caught_with_a_case_the_engine_confirms(rules_copy):
    # the caution reads a flat case's levels and, described level by level, a run of adjacent levels: without it
    # the invariant is violated, by a flat case or a lesion's view that the engine confirms
    import yaml as _yaml

    from spinemets.verify import verify

    cautions = rules_copy / "cautions.yaml"
    data = _yaml.safe_load(cautions.read_text())
    data["rules"] = [r for r in data["rules"] if r["id"] != "caution.surgery.multilevel"]
    cautions.write_text(_yaml.safe_dump(data, sort_keys=False))
    (result,) = verify(rules_copy, only={"inv.surgery.multilevel_caution"}).invariants
    assert result.outcome == "violated" and result.counterexample.confirmed, result.counterexample.engine_says
