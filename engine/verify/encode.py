"""The rule base as SMT constraints over every case: unknown fields, Kleene conditions, derived facts, the decision.

One `CaseSpace` is one symbolic case: each input field is a pair (a Bool `known` and a value of the
field's type and range); `levels` is abstracted to what rules can read of it (its count and regions).
An `Encoding` builds, over one case space, the three-valued truth of every condition (two Bools:
TRUE and FALSE; UNKNOWN is neither), the derived facts as Kleene ORs of their deriving rules, and the
decision of docs/decision.md: statuses, ranking, top suggestion, adjuncts and provisional flags.
Expressions are built once and shared (z3 terms are hash-consed), so each proof asserts only what it needs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import annotated_types
import z3

from ..case import REGION_OF_PREFIX, VERTEBRAE, Case
from ..conditions import AllOf, AnyOf, Compare, Condition, NotOf, Presence
from ..decision import limits_of
from ..engine import checks_a_lesion
from ..fields import LEVEL_REGIONS, FieldSpec
from ..lesion import LESION_ONLY_FIELDS
from ..rulebook import Adjunct, Conflict, Contraindicate, Indicate, Limit, Prefer, Rule, Rulebook, effect_options
from ..vocabulary import STATUS_RANK

NOW, SETTLED = "now", "settled"
RECOMMENDED, APPROPRIATE, CAUTION, NOT_RECOMMENDED, CONTRAINDICATED = (
    STATUS_RANK[s] for s in ("recommended", "appropriate", "caution", "not_recommended", "contraindicated"))
STATUS_OF_RANK = {rank: status for status, rank in STATUS_RANK.items()}
LEVEL_MAX = next((m.max_length for m in Case.model_fields["levels"].metadata if isinstance(m, annotated_types.MaxLen)),
                 len(VERTEBRAE))
# The facts over all lesions a lesion's view carries (docs/verification.md, "Lesions").
LESION_FORM, LESION_COUNT, DISCRETE = "lesion_form", "lesion_count", "discrete_compressive_lesions"
COMPRESSION = "spinal_cord_compression"  # what makes a lesion compressive (lesion_views.discrete_compressions)
LESION_MAX = next((m.max_length for m in Case.model_fields["lesions"].metadata
                   if isinstance(m, annotated_types.MaxLen)), len(VERTEBRAE))
REGION_SIZE = {region: sum(1 for v in VERTEBRAE if REGION_OF_PREFIX[v[0]] == region) for region in LEVEL_REGIONS}
# [start, end) of each region's vertebrae in VERTEBRAE (cranio-caudal order).
REGION_SPAN = {region: (min(i for i, v in enumerate(VERTEBRAE) if REGION_OF_PREFIX[v[0]] == region),
                        max(i for i, v in enumerate(VERTEBRAE) if REGION_OF_PREFIX[v[0]] == region) + 1)
               for region in LEVEL_REGIONS}


def any_of(items: list[z3.BoolRef]) -> z3.BoolRef:
    return z3.Or(*items) if items else z3.BoolVal(False)


def all_of(items: list[z3.BoolRef]) -> z3.BoolRef:
    return z3.And(*items) if items else z3.BoolVal(True)


@dataclass(frozen=True)
class Truth3:
    """A Kleene truth value as two Bools that are never both true: TRUE, FALSE, and UNKNOWN when neither."""

    t: z3.BoolRef
    f: z3.BoolRef

    def negated(self) -> Truth3:
        return Truth3(self.f, self.t)


def exact(value: Any) -> Fraction:
    """A YAML number as the exact rational it is written as (0.1 is 1/10, not the nearest double)."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


class CaseSpace:
    """Every case the data dictionary admits, as z3 variables (names carry `prefix`, so two cases can coexist)."""

    def __init__(self, rulebook: Rulebook, prefix: str = "") -> None:
        self.rulebook = rulebook
        self.prefix = prefix
        self.inputs: dict[str, FieldSpec] = {n: s for n, s in rulebook.catalog.specs.items() if s.origin == "input"}
        self.known: dict[str, z3.BoolRef] = {}
        self.value: dict[str, z3.ExprRef] = {}
        for name, spec in self.inputs.items():
            self.known[name] = z3.Bool(f"{prefix}known:{name}")
            self.value[name] = _variable(f"{prefix}{name}", spec)
        self.levels_known = z3.Bool(f"{prefix}known:levels")
        self.level_count = z3.Int(f"{prefix}level_count")
        self.regions = {r: z3.Bool(f"{prefix}region_{r}") for r in LEVEL_REGIONS}
        self.top_level = z3.Int(f"{prefix}top_level")  # index into VERTEBRAE of the most cranial level
        # The facts over a case's lesions (engine/lesion_views.py): free within what a lesion's view can hold, so a
        # proof over this space covers every lesion of every case in lesion form as well as every flat case.
        self.lesion_form = z3.Bool(f"{prefix}lesion_form")
        self.lesion_count = z3.Int(f"{prefix}lesion_count")
        self.adjacent = z3.Int(f"{prefix}adjacent_levels")
        self.discrete_known = z3.Bool(f"{prefix}known:discrete_compressive_lesions")
        self.discrete = z3.Bool(f"{prefix}discrete_compressive_lesions")
        self._lesion_only = tuple(n for n in LESION_ONLY_FIELDS if n in self.inputs)
        self._scores = {s.id: s for s in rulebook.scores}
        self._score_memo: dict[str, tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef]] = {}

    # --- the domain ---------------------------------------------------------------------------------------

    def domain(self) -> list[z3.BoolRef]:
        """Every view the engine decides: a flat case, or one lesion of a case in lesion form."""
        return self.base_domain() + self.lesion_domain()

    def base_domain(self) -> list[z3.BoolRef]:
        """Value ranges (stated whether or not the field is known, which keeps models tidy) and what `levels` can be;
        what the facts over lesions can be is `lesion_domain` (a case of several lesions computes them instead)."""
        facts = []
        for name, spec in self.inputs.items():
            v = self.value[name]
            if spec.kind == "enum":
                facts += [v >= 0, v < len(spec.values)]
            elif spec.numeric:
                if spec.minimum is not None:
                    facts.append(v >= _constant(spec, spec.minimum))
                if spec.maximum is not None:
                    facts.append(v <= _constant(spec, spec.maximum))
        # A list of distinct vertebrae: at least one level per region it touches, at most the region sizes.
        chosen = [z3.If(self.regions[r], 1, 0) for r in LEVEL_REGIONS]
        room = [z3.If(self.regions[r], REGION_SIZE[r], 0) for r in LEVEL_REGIONS]
        facts += [self.level_count >= 1, self.level_count <= LEVEL_MAX, any_of(list(self.regions.values())),
                  self.level_count >= z3.Sum(chosen), self.level_count <= z3.Sum(room)]
        # The most cranial level lies in a region the list touches, no touched region lies above it, and the
        # list fits into the vertebrae of the touched regions from it downwards.
        top = self.top_level
        facts += [top >= 0, top < len(VERTEBRAE)]
        below = []
        for region in LEVEL_REGIONS:
            start, end = REGION_SPAN[region]
            facts.append(z3.Implies(z3.And(top >= start, top < end), self.regions[region]))
            facts.append(z3.Implies(self.regions[region], top < end))
            span = z3.If(top <= start, end - start, z3.If(top < end, end - top, 0))
            below.append(z3.If(self.regions[region], span, 0))
        facts.append(self.level_count <= z3.Sum(below))
        return facts

    def lesion_domain(self) -> list[z3.BoolRef]:
        """What the facts over lesions can be in one view: a flat case is one lesion not described by level
        (its lesion-only fields unknown, no discrete compressions); a lesion's view names its one level, and
        compressions can be discrete, or undecided, only with another lesion beside it."""
        flat = z3.Not(self.lesion_form)
        return [self.lesion_count >= 1, self.lesion_count <= len(VERTEBRAE),
                # a run of adjacent levels within the lesions; lesions outside it leave a vertebra free beside it
                self.adjacent >= 1, self.adjacent <= self.lesion_count,
                z3.Implies(self.adjacent < self.lesion_count, self.lesion_count <= len(VERTEBRAE) - 1),
                z3.Implies(flat, self.adjacent == 1),
                # lesions all in one run are separate compressions (or may be) only across a lesion between them
                z3.Implies(z3.And(self.adjacent == self.lesion_count, z3.Or(z3.Not(self.discrete_known),
                                                                             self.discrete)),
                           self.lesion_count >= 3),
                z3.Implies(flat, z3.And(self.lesion_count == 1, self.discrete_known, z3.Not(self.discrete),
                                        *[z3.Not(self.known[n]) for n in self._lesion_only])),
                z3.Implies(self.lesion_form, z3.And(self.levels_known, self.level_count == 1)),
                z3.Implies(z3.Or(z3.Not(self.discrete_known), self.discrete), self.lesion_count >= 2),
                *self._realisable()]

    def _realisable(self) -> list[z3.BoolRef]:
        """What the other lesions of a view must be able to give (verify/witness.py builds them): discrete
        compressions beside a level that does not compress need two more lesions, as does an undecided answer
        beside a level known not to compress. (A level known not to cause the deficit is read without it while
        another lesion can cause it, and with it otherwise (lesion_views.view_values): either reading is a view, so
        the deficit fields stay free here.)"""
        known, value = self.known, self.value
        compressed_known, compressed = known["spinal_cord_compression"], value["spinal_cord_compression"]
        not_compressing = z3.And(compressed_known, z3.Not(compressed))
        counted = z3.And(self.lesion_form, known["vertebral_metastases"])
        return [
            # the patient's own check: no fewer vertebral metastases than lesions (consistency.yaml)
            z3.Implies(counted, value["vertebral_metastases"] >= self.lesion_count),
            z3.Implies(z3.And(self.discrete_known, self.discrete, z3.Not(z3.And(compressed_known, compressed))),
                       self.lesion_count >= 3),
            z3.Implies(z3.And(z3.Not(self.discrete_known), not_compressing), self.lesion_count >= 3),
        ]

    # --- what a condition may read --------------------------------------------------------------------------

    def field(self, name: str) -> tuple[z3.BoolRef, z3.ExprRef]:
        """(known, value) of a case field, a computed value (from `levels` or the metastasis counts), or a score."""
        if name in self.inputs:
            return self.known[name], self.value[name]
        if name == "level_count":
            return self.levels_known, self.level_count
        if name == "top_level":
            return self.levels_known, self.top_level
        if name.startswith("region_") and name[7:] in self.regions:
            return self.levels_known, self.regions[name[7:]]
        if name == "lesion_form":
            return z3.BoolVal(True), self.lesion_form
        if name == "lesion_count":
            return z3.BoolVal(True), self.lesion_count
        if name == "adjacent_levels":
            return z3.BoolVal(True), self.adjacent
        if name == "discrete_compressive_lesions":
            return self.discrete_known, self.discrete
        if name == "bone_metastases_total":  # vertebral plus extraspinal, known when both are
            parts = ("vertebral_metastases", "extraspinal_bone_metastases")
            return z3.And(*(self.known[p] for p in parts)), z3.Sum(*(self.value[p] for p in parts))
        for score in self._scores.values():
            if name in (score.total_field, score.band_field):
                known, total, band = self._score(score.id)
                return known, (total if name == score.total_field else band)
        raise KeyError(f"no encoding for field {name!r}")

    def _score(self, score_id: str) -> tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef]:
        """A score is known when every component is known and its value has points in the published table."""
        if score_id in self._score_memo:
            return self._score_memo[score_id]
        score = self._scores[score_id]
        knowns, points = [], []
        for component in score.components:
            known, value = self.field(component.input)
            spec = self.rulebook.catalog.specs[component.input]
            if component.points:
                table = [(spec.values.index(code), p) for code, p in component.points.items() if code in spec.values]
                mapped = any_of([value == i for i, _ in table])
                expr: z3.ArithRef = z3.IntVal(0)
                for i, p in table:
                    expr = z3.If(value == i, p, expr)
            else:
                cells = [(z3.And(value >= _constant(spec, r.min), value <= _constant(spec, r.max)), r.points)
                         for r in component.ranges]
                mapped = any_of([c for c, _ in cells])
                expr = z3.IntVal(0)
                for cell, p in reversed(cells):  # the first range that holds, as ScoreComponent.points_for
                    expr = z3.If(cell, p, expr)
            knowns.append(z3.And(known, mapped))
            points.append(expr)
        total = z3.Sum(points) if points else z3.IntVal(0)
        bands = self.rulebook.catalog.specs[score.band_field].values
        band: z3.ArithRef = z3.IntVal(0)
        for b in reversed(score.bands):
            band = z3.If(z3.And(total >= b.min, total <= b.max), bands.index(b.name), band)
        self._score_memo[score_id] = result = (all_of(knowns), total, band)
        return result

    # --- between z3 models and cases -------------------------------------------------------------------------

    def values_from(self, model: z3.ModelRef) -> dict[str, Any]:
        """The known values of the case a model describes (flat `sins.x` keys and a `levels` list)."""
        values: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if not z3.is_true(model.eval(self.known[name], model_completion=True)):
                continue
            raw = model.eval(self.value[name], model_completion=True)
            if spec.kind == "bool":
                values[name] = z3.is_true(raw)
            elif spec.kind == "enum":
                values[name] = spec.values[raw.as_long()]
            elif spec.kind == "int":
                values[name] = raw.as_long()
            else:
                number = Fraction(raw.numerator_as_long(), raw.denominator_as_long())
                values[name] = int(number) if number.denominator == 1 else float(number)
        if z3.is_true(model.eval(self.lesion_form, model_completion=True)):
            values["lesion_form"] = True
            values["lesion_count"] = model.eval(self.lesion_count, model_completion=True).as_long()
            values["adjacent_levels"] = model.eval(self.adjacent, model_completion=True).as_long()
            if z3.is_true(model.eval(self.discrete_known, model_completion=True)):
                values["discrete_compressive_lesions"] = z3.is_true(model.eval(self.discrete, model_completion=True))
        if z3.is_true(model.eval(self.levels_known, model_completion=True)):
            count = model.eval(self.level_count, model_completion=True).as_long()
            regions = [r for r in LEVEL_REGIONS if z3.is_true(model.eval(self.regions[r], model_completion=True))]
            top = model.eval(self.top_level, model_completion=True).as_long()
            values["levels"] = levels_for(count, regions, top)
        return values

    def equals(self, values: dict[str, Any]) -> list[z3.BoolRef]:
        """Constraints that pin this case space to one concrete case (known values as given, the rest unknown)."""
        pinned = []
        for name, spec in self.inputs.items():
            if name in values:
                pinned += [self.known[name], self.value[name] == _literal(spec, values[name])]
            else:
                pinned.append(z3.Not(self.known[name]))
        levels = values.get("levels")
        if levels:
            regions = {REGION_OF_PREFIX[v[0]] for v in levels}
            pinned += [self.levels_known, self.level_count == len(levels),
                       self.top_level == min(VERTEBRAE.index(v) for v in levels)]
            pinned += [self.regions[r] == (r in regions) for r in LEVEL_REGIONS]
        else:
            pinned.append(z3.Not(self.levels_known))
        # a case given as values is flat unless the values carry the facts over lesions
        pinned.append(self.lesion_form == bool(values.get("lesion_form", False)))
        pinned.append(self.lesion_count == int(values.get("lesion_count", 1)))
        pinned.append(self.adjacent == int(values.get("adjacent_levels", 1)))
        if "discrete_compressive_lesions" in values or not values.get("lesion_form", False):
            pinned += [self.discrete_known, self.discrete == bool(values.get("discrete_compressive_lesions", False))]
        else:
            pinned.append(z3.Not(self.discrete_known))
        return pinned

    def extended_by(self, other: CaseSpace) -> z3.BoolRef:
        """`other` states everything this case states, with the same values, and may state more."""
        same = [z3.Implies(self.known[n], z3.And(other.known[n], other.value[n] == self.value[n])) for n in self.inputs]
        same.append(z3.Implies(self.levels_known, z3.And(
            other.levels_known, other.level_count == self.level_count, other.top_level == self.top_level,
            *[other.regions[r] == self.regions[r] for r in LEVEL_REGIONS])))
        same += [other.lesion_form == self.lesion_form, other.lesion_count == self.lesion_count,
                 other.adjacent == self.adjacent,
                 z3.Implies(self.discrete_known, z3.And(other.discrete_known, other.discrete == self.discrete))]
        return z3.And(*same)


def levels_for(count: int, regions: list[str], top: int = 0) -> list[str]:
    """`count` distinct vertebrae touching exactly `regions`, the most cranial at index `top` when it can be
    (one per region first, then fill in)."""
    pools = {r: [v for v in VERTEBRAE if REGION_OF_PREFIX[v[0]] == r and VERTEBRAE.index(v) >= top] or
                [v for v in VERTEBRAE if REGION_OF_PREFIX[v[0]] == r] for r in regions}
    chosen = [pools[r][0] for r in regions]
    spare = [v for r in regions for v in pools[r][1:]]
    chosen += spare[: max(0, count - len(chosen))]
    return sorted(chosen, key=VERTEBRAE.index)


def _variable(name: str, spec: FieldSpec) -> z3.ExprRef:
    if spec.kind == "bool":
        return z3.Bool(name)
    if spec.kind in ("enum", "int"):
        return z3.Int(name)
    return z3.Real(name)


def _constant(spec: FieldSpec, value: Any) -> z3.ExprRef:
    number = exact(value)
    if spec.kind == "int" and number.denominator == 1:
        return z3.IntVal(int(number))
    return z3.RealVal(number)


def _literal(spec: FieldSpec, value: Any) -> z3.ExprRef:
    if spec.kind in ("bool", "fact"):
        return z3.BoolVal(bool(value))
    if spec.kind == "enum":
        return z3.IntVal(spec.values.index(value))
    return _constant(spec, value)


# --- the rule base ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionEffects:
    """What one rule does to one option's status: its floor and its ceiling (ranks), each possibly absent."""

    floor: int | None
    ceiling: int | None


class Encoding:
    """The decision of docs/decision.md for every case of one `CaseSpace`, as z3 expressions."""

    def __init__(self, rulebook: Rulebook, prefix: str = "", space: CaseSpace | None = None) -> None:
        self.rulebook = rulebook
        self.case = space if space is not None else CaseSpace(rulebook, prefix)
        self.rules: tuple[Rule, ...] = rulebook.active_rules
        self.options: tuple[str, ...] = rulebook.option_order
        self.derivers: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            for fact in rule.derives:
                self.derivers.setdefault(fact, []).append(i)
        self._rule_memo: dict[tuple[int, str], Truth3] = {}
        self._fact_memo: dict[tuple[str, str], Truth3] = {}
        self._provisional: dict[str, z3.BoolRef] = {}
        self.effects: dict[str, list[OptionEffects | None]] = {
            o: [self._option_effects(rule, o) for rule in self.rules] for o in self.options}

    @staticmethod
    def _option_effects(rule: Rule, option: str) -> OptionEffects | None:
        floors: list[int] = []
        ceilings: list[int] = []
        for effect in rule.then:
            if option in effect_options(effect):
                kind, status = limits_of(effect)
                assert status is not None  # every effect that names an option limits it
                (floors if kind == "floor" else ceilings).append(STATUS_RANK[status])
        if not floors and not ceilings:
            return None
        return OptionEffects(max(floors, default=None), min(ceilings, default=None))

    # --- three-valued conditions ----------------------------------------------------------------------------

    def condition(self, cond: Condition, reading: str = NOW) -> Truth3:
        """Kleene truth of a condition. NOW reads known()/unknown() off the case as it stands; SETTLED asks what
        holds whichever way unknown fields are filled in, so on an unknown field both tests are UNKNOWN."""
        if isinstance(cond, Compare):
            return self._compare(cond, reading)
        if isinstance(cond, Presence):
            known, _ = self.case.field(cond.field)
            if reading == SETTLED:
                truth = Truth3(known, z3.BoolVal(False))
                return truth if cond.kind == "known" else Truth3(z3.BoolVal(False), known)
            truth = Truth3(known, z3.Not(known))
            return truth if cond.kind == "known" else truth.negated()
        if isinstance(cond, NotOf):
            return self.condition(cond.item, reading).negated()
        parts = [self.condition(item, reading) for item in cond.items]
        if isinstance(cond, AllOf):
            return Truth3(all_of([p.t for p in parts]), any_of([p.f for p in parts]))
        assert isinstance(cond, AnyOf)
        return Truth3(any_of([p.t for p in parts]), all_of([p.f for p in parts]))

    def _compare(self, cond: Compare, reading: str) -> Truth3:
        spec = self.rulebook.catalog.specs[cond.field]
        if spec.kind == "fact":
            truth = self.fact(cond.field, reading)
            return truth if (cond.value is True) == (cond.op == "==") else truth.negated()
        known, value = self.case.field(cond.field)
        if cond.op in ("in", "not in"):
            holds = any_of([value == _literal(spec, v) for v in cond.value])
            if cond.op == "not in":
                holds = z3.Not(holds)
        else:
            other = _literal(spec, cond.value)
            holds = {"==": lambda: value == other, "!=": lambda: value != other, "<": lambda: value < other,
                     "<=": lambda: value <= other, ">": lambda: value > other, ">=": lambda: value >= other}[cond.op]()
        return Truth3(z3.And(known, holds), z3.And(known, z3.Not(holds)))

    def rule(self, i: int, reading: str = NOW) -> Truth3:
        key = (i, reading)
        if key not in self._rule_memo:
            self._rule_memo[key] = self.condition(self.rules[i].when, reading)
        return self._rule_memo[key]

    def fact(self, name: str, reading: str = NOW) -> Truth3:
        """TRUE when some deriving rule is TRUE, FALSE when every one is FALSE (none active: FALSE)."""
        key = (name, reading)
        if key not in self._fact_memo:
            parts = [self.rule(i, reading) for i in self.derivers.get(name, ())]
            self._fact_memo[key] = Truth3(any_of([p.t for p in parts]), all_of([p.f for p in parts]))
        return self._fact_memo[key]

    def fired(self, i: int) -> z3.BoolRef:
        return self.rule(i, NOW).t

    def undecided(self, i: int) -> z3.BoolRef:
        settled = self.rule(i, SETTLED)
        return z3.And(z3.Not(settled.t), z3.Not(settled.f))

    @cached_property
    def admissible(self) -> z3.BoolRef:
        """No consistency check of rules/consistency.yaml is TRUE of the case: the engine would refuse it. A lesion's
        view is held to the checks that apply to a lesion (engine.checks_a_lesion): one painless level of a patient
        whose pain is refractory contradicts nothing."""
        return all_of([z3.Not(self.condition(c.when, NOW).t) if checks_a_lesion(c.fields)
                       else z3.Implies(z3.Not(self.case.lesion_form), z3.Not(self.condition(c.when, NOW).t))
                       for c in self.rulebook.constraints])

    def domain(self) -> list[z3.BoolRef]:
        return self.case.domain() + [self.admissible]

    # --- statuses -------------------------------------------------------------------------------------------

    def status_of(self, option: str, member: Callable[[int], z3.BoolRef | None],
                  capping: Callable[[int], z3.BoolRef | None] | None = None) -> z3.ArithRef:
        """Rank of the option's status when the rules with `member(i)` true have fired: the highest floor
        (baseline not_recommended), capped by the lowest ceiling (of the rules with `capping(i)`, when given)."""
        by_floor: dict[int, list[z3.BoolRef]] = {RECOMMENDED: [], APPROPRIATE: []}
        by_ceiling: dict[int, list[z3.BoolRef]] = {CONTRAINDICATED: [], NOT_RECOMMENDED: [], CAUTION: [],
                                                    APPROPRIATE: []}
        for i, eff in enumerate(self.effects[option]):
            if eff is None:
                continue
            m = member(i)
            if eff.floor is not None and eff.floor > NOT_RECOMMENDED and m is not None and not z3.is_false(m):
                by_floor[eff.floor].append(m)
            c = m if capping is None else capping(i)
            if eff.ceiling is not None and eff.ceiling < RECOMMENDED and c is not None and not z3.is_false(c):
                by_ceiling[eff.ceiling].append(c)
        floor = z3.If(any_of(by_floor[RECOMMENDED]), RECOMMENDED,
                      z3.If(any_of(by_floor[APPROPRIATE]), APPROPRIATE, NOT_RECOMMENDED))
        ceiling = z3.If(any_of(by_ceiling[CONTRAINDICATED]), CONTRAINDICATED,
                        z3.If(any_of(by_ceiling[NOT_RECOMMENDED]), NOT_RECOMMENDED,
                              z3.If(any_of(by_ceiling[CAUTION]), CAUTION,
                                    z3.If(any_of(by_ceiling[APPROPRIATE]), APPROPRIATE, RECOMMENDED))))
        return z3.If(ceiling < floor, ceiling, floor)

    @cached_property
    def status(self) -> dict[str, z3.ArithRef]:
        return {o: self.status_of(o, self.fired) for o in self.options}

    def status_is(self, option: str, statuses: tuple[str, ...]) -> z3.BoolRef:
        return any_of([self.status[option] == STATUS_RANK[s] for s in statuses])

    def ranked(self, option: str) -> z3.BoolRef:
        return self.status[option] > CONTRAINDICATED

    @cached_property
    def best(self) -> z3.ArithRef:
        best: z3.ArithRef = z3.IntVal(CONTRAINDICATED)
        for o in self.options:
            best = z3.If(self.status[o] > best, self.status[o], best)
        return best

    def possible(self, i: int) -> z3.BoolRef:
        """The rule fires for some completion of the unknown fields: certain or undecided (not settled FALSE)."""
        return z3.Not(self.rule(i, SETTLED).f)

    def certain(self, i: int) -> z3.BoolRef:
        return self.rule(i, SETTLED).t

    @cached_property
    def span(self) -> dict[str, tuple[z3.ArithRef, z3.ArithRef]]:
        """(worst, best) status rank each option can reach (decision.span_of): the best fires every possible floor
        and only the certain ceilings, the worst the reverse."""
        return {o: (self.status_of(o, self.certain, self.possible), self.status_of(o, self.possible, self.certain))
                for o in self.options}

    def ranked_before(self, q: str, o: str) -> z3.BoolRef:
        """q comes before o among equals of rank_options: manifest order, except at not_recommended where an option
        some answer could still lift comes before one nothing can."""
        lq, lo = self.span[q][1] > NOT_RECOMMENDED, self.span[o][1] > NOT_RECOMMENDED
        earlier = z3.BoolVal(self.options.index(q) < self.options.index(o))
        by_range = z3.Or(z3.And(lq, z3.Not(lo)), z3.And(lq == lo, earlier))
        return z3.If(self.status[o] == NOT_RECOMMENDED, by_range, earlier)

    def prefers(self, better: str, worse: str) -> z3.BoolRef:
        return any_of([self.fired(i) for i, rule in enumerate(self.rules) for e in rule.then
                       if isinstance(e, Prefer) and e.prefer == better and worse in e.over])

    @cached_property
    def top(self) -> dict[str, z3.BoolRef]:
        """The first option of rank_options: the best status group, the first option (by range, then manifest
        order) that no other option of the group is preferred over (none such: the first of the group)."""
        group = {o: self.status[o] == self.best for o in self.options}
        free = {o: z3.And(group[o], z3.Not(any_of([z3.And(group[p], self.prefers(p, o))
                                                      for p in self.options if p != o])))
                for o in self.options}
        none_free = z3.Not(any_of(list(free.values())))
        top = {}
        for o in self.options:
            others = [q for q in self.options if q != o]
            first_free = z3.And(free[o], z3.Not(any_of([z3.And(free[q], self.ranked_before(q, o)) for q in others])))
            first_of_group = z3.And(none_free, group[o],
                                    z3.Not(any_of([z3.And(group[q], self.ranked_before(q, o)) for q in others])))
            top[o] = z3.And(self.best > CONTRAINDICATED, z3.Or(first_free, first_of_group))
        return top

    def adjunct_listed(self, code: str) -> z3.BoolRef:
        """A fired adjunct is listed unless every option it is tied to is contraindicated."""
        shown = []
        for i, rule in enumerate(self.rules):
            for e in rule.then:
                if isinstance(e, Adjunct) and e.adjunct == code:
                    tied = z3.BoolVal(True) if not e.options else any_of([self.ranked(o) for o in e.options])
                    shown.append(z3.And(self.fired(i), tied))
        return any_of(shown)

    def explained(self, option: str, status: str) -> z3.BoolRef:
        """The status rests on a fired rule with citations of the kind that produces it (docs/decision.md, 2)."""
        def fired_with(test: Callable[[Any], bool]) -> z3.BoolRef:
            return any_of([self.fired(i) for i, rule in enumerate(self.rules) if _cited(rule)
                           and any(test(e) for e in rule.then)])

        def lifts(strength: str | None = None) -> Callable[[Any], bool]:
            return lambda e: isinstance(e, Indicate) and option in e.indicate and strength in (None, e.strength)

        rank = STATUS_RANK[status]
        if rank == RECOMMENDED:
            return fired_with(lifts("strong"))
        if rank == APPROPRIATE:
            # A moderate indication, or a strong one held at appropriate by a limit (the lesser of two choices).
            limited = fired_with(lambda e: isinstance(e, Limit) and option in e.limit)
            return z3.Or(fired_with(lifts("moderate")), z3.And(fired_with(lifts("strong")), limited))
        if rank == CAUTION:
            caps = fired_with(lambda e: (isinstance(e, Contraindicate) and e.severity == "relative"
                                         and option in e.contraindicate)
                              or (isinstance(e, Conflict) and e.caution and option in e.conflict))
            return z3.And(fired_with(lifts()), caps)
        if rank == CONTRAINDICATED:
            return fired_with(lambda e: isinstance(e, Contraindicate) and e.severity == "absolute"
                              and option in e.contraindicate)
        return z3.BoolVal(True)

    def conflict_declared(self, options: tuple[str, ...]) -> z3.BoolRef:
        """Some fired conflict effect names one of the options (with or without caution)."""
        return any_of([self.fired(i) for i, rule in enumerate(self.rules) for e in rule.then
                       if isinstance(e, Conflict) and set(e.conflict) & set(options)])

    # --- provisional (decide.pivotal_rules) -----------------------------------------------------------------

    def provisional(self, option: str) -> z3.BoolRef:
        """Some undecided rule affecting the option changes its status when switched on, against one of four
        backgrounds: none of the other undecided rules, all of them, only those that lift, only those that limit."""
        if option not in self._provisional:
            self._provisional[option] = self._pivots(option)
        return self._provisional[option]

    def _pivots(self, option: str) -> z3.BoolRef:
        effects = {i: eff for i, eff in enumerate(self.effects[option]) if eff is not None}
        affecting = list(effects)
        certain = {i: self.rule(i, SETTLED).t for i in affecting}
        undecided = {i: self.undecided(i) for i in affecting}
        pivots = []
        for r in affecting:
            others = [i for i in affecting if i != r]
            backgrounds: list[set[int]] = [
                set(),
                set(others),
                {i for i in others if effects[i].floor is not None},
                {i for i in others if effects[i].ceiling is not None},
            ]
            changes = []
            for background in backgrounds:
                def without(i: int, bg: set[int] = background) -> z3.BoolRef:
                    return z3.Or(certain[i], undecided[i]) if i in bg else certain[i]

                def with_r(i: int, bg: set[int] = background) -> z3.BoolRef:
                    return z3.BoolVal(True) if i == r else without(i, bg)

                changes.append(self.status_of(option, with_r) != self.status_of(option, without))
            pivots.append(z3.And(undecided[r], z3.Or(*changes)))
        return any_of(pivots)


def _cited(rule: Rule) -> bool:
    return bool(rule.citations) and all(c.locator.strip() for c in rule.citations)
