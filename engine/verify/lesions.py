"""A patient with up to K lesions, encoded exactly: K lesion views sharing the patient's fields.

The one-view encoding (encode.py) proves an invariant for every view the engine can decide, taking the
facts over all lesions (`lesion_count`, `discrete_compressive_lesions`) as free within what any case allows:
an over-approximation, sound for any number of lesions. Here a case of K lesion slots is encoded as the
engine sees it: the patient's inputs once, each present slot with its own per-level inputs and its level
(slots in cranio-caudal order, the first always present), the lesion count the number of present slots,
and discrete compressive lesions computed from the slots' compression (three-valued, as the engine does).
It proves each invariant at every lesion of every case of 1..K lesions, that the one-view domain covers
every view of such a case (the abstraction is sound), and the patient-level invariants of the plan that
the solver can state.
"""
from __future__ import annotations

from typing import Any

import z3

from ..case import PER_LEVEL_FIELDS, VERTEBRAE
from ..lesion import LESION_ONLY_FIELDS
from ..lesion_views import DEFICIT_FIELDS, REFRACTORY_FIELDS
from ..rulebook import Contraindicate, Rulebook
from .encode import COMPRESSION, DISCRETE, LESION_COUNT, LESION_FORM, CaseSpace, Encoding, Truth3, all_of, any_of


def lesion_input_names(rulebook: Rulebook) -> frozenset[str]:
    """The per-level case fields (SINS by component) and the lesion-only ones, as the rule base's inputs."""
    inputs = [n for n, s in rulebook.catalog.specs.items() if s.origin == "input"]
    return frozenset(n for n in inputs if n in LESION_ONLY_FIELDS or n.split(".", 1)[0] in PER_LEVEL_FIELDS)


class LesionSpace(CaseSpace):
    """One lesion slot: its own per-level inputs and level; the patient's inputs are the patient space's variables
    (the deficit's as the lesion's view reads them: `read_deficit`)."""

    def __init__(self, rulebook: Rulebook, prefix: str, patient: CaseSpace) -> None:
        super().__init__(rulebook, prefix)
        self.own = lesion_input_names(rulebook)
        for name in self.inputs:
            if name not in self.own:
                self.known[name], self.value[name] = patient.known[name], patient.value[name]
        self.levels_known = z3.BoolVal(True)
        self.level_count = z3.IntVal(1)
        self.lesion_form = z3.BoolVal(True)

    def cannot_cause_deficit(self) -> z3.BoolRef:
        """lesion_views.cannot_cause_deficit: the board says the lesion does not cause it, or (unsaid) nothing at
        the level compresses: compression known false, no compression site, no symptomatic cement leak."""
        known, value = self.known, self.value
        nothing = z3.And(known[COMPRESSION], z3.Not(value[COMPRESSION]), z3.Not(known["compression_site"]),
                         z3.Not(z3.And(known["symptomatic_cement_leak"], value["symptomatic_cement_leak"])))
        return z3.If(known["causes_deficit"], z3.Not(value["causes_deficit"]), nothing)

    def known_painless(self) -> z3.BoolRef:
        """lesion_views.known_painless: marked as no pain generator, pain score 0, or SINS pain none."""
        known, value = self.known, self.value
        none = self.rulebook.catalog.specs["sins.pain"].values.index("none")
        return z3.Or(z3.And(known["painful"], z3.Not(value["painful"])),
                     z3.And(known["pain_score"], value["pain_score"] == 0),
                     z3.And(known["sins.pain"], value["sins.pain"] == none))

    def read_pain(self, patient: CaseSpace, other_may_hurt: z3.BoolRef) -> None:
        """lesion_views.view_values: at a level known painless, while another lesion may hurt, the patient's
        refractory pain fields read false."""
        quiet = z3.And(other_may_hurt, self.known_painless())
        for name in REFRACTORY_FIELDS:
            self.value[name] = z3.If(quiet, z3.BoolVal(False), patient.value[name])

    def read_deficit(self, patient: CaseSpace, other_can_cause: z3.BoolRef) -> None:
        """lesion_views.view_values: a level known not to cause the deficit, while another lesion can, reads
        neurological_deficit false (when the patient's is known) and the deficit's grade, onset and course unknown."""
        elsewhere = z3.And(other_can_cause, patient.known["neurological_deficit"], self.cannot_cause_deficit())
        self.value["neurological_deficit"] = z3.If(elsewhere, z3.BoolVal(False), patient.value["neurological_deficit"])
        for name in DEFICIT_FIELDS[1:]:
            self.known[name] = z3.And(patient.known[name], z3.Not(elsewhere))


class LesionCase:
    """A case of 1..K lesions: K slots (`present[j]`), the lesion count and discreteness computed from them."""

    def __init__(self, rulebook: Rulebook, k: int, prefix: str = "") -> None:
        if k < 1:
            raise ValueError("a lesion case has at least one lesion")
        self.rulebook, self.k = rulebook, k
        self.patient = CaseSpace(rulebook, f"{prefix}patient:")
        self.present: list[z3.BoolRef] = [z3.BoolVal(True)] + [z3.Bool(f"{prefix}present:{j}") for j in range(1, k)]
        spaces = [LesionSpace(rulebook, f"{prefix}lesion{j}:", self.patient) for j in range(k)]
        self.slots = [Encoding(rulebook, space=s) for s in spaces]
        self.level = [s.top_level for s in spaces]  # index into VERTEBRAE of each slot's vertebra
        self.count = count = z3.Sum([z3.If(p, 1, 0) for p in self.present])
        self.compressive = [self._compressive(s) for s in self.slots]
        known, discrete = self._discrete()
        able = [z3.And(p, z3.Not(s.cannot_cause_deficit())) for p, s in zip(self.present, spaces, strict=True)]
        hurts = [z3.And(p, z3.Not(s.known_painless())) for p, s in zip(self.present, spaces, strict=True)]
        runs = self._runs()
        for j, s in enumerate(spaces):
            s.lesion_count, s.discrete_known, s.discrete = count, known, discrete
            s.adjacent = runs[j]
            s.read_deficit(self.patient, any_of([a for i, a in enumerate(able) if i != j]))
            s.read_pain(self.patient, any_of([h for i, h in enumerate(hurts) if i != j]))
        self.whole = Encoding(rulebook, space=self._whole(spaces))

    def _whole(self, spaces: list[LesionSpace]) -> CaseSpace:
        """The patient's own check (Engine._evaluate_lesions): the patient's values with `levels` every lesion's,
        no per-level finding, read as a flat case."""
        whole = self.patient
        for name in spaces[0].own:
            whole.known[name] = z3.BoolVal(False)
        whole.levels_known, whole.level_count, whole.top_level = z3.BoolVal(True), self.count, self.level[0]
        for region in whole.regions:
            whole.regions[region] = z3.Or(*[z3.And(p, s.regions[region]) for p, s in zip(self.present, spaces,
                                                                                        strict=True)])
        whole.lesion_form, whole.lesion_count, whole.adjacent = z3.BoolVal(False), z3.IntVal(1), z3.IntVal(1)
        whole.discrete_known, whole.discrete = z3.BoolVal(True), z3.BoolVal(False)
        return whole

    @staticmethod
    def _compressive(slot: Encoding) -> Truth3:
        known, value = slot.case.field(COMPRESSION)
        return Truth3(z3.And(known, value == True), z3.And(known, value == False))  # noqa: E712 (z3 terms)

    def _runs(self) -> list[z3.ArithRef]:
        """Each slot's run of adjacent lesion levels (lesion_views.adjacent_levels): itself, and the present slots
        above and below it whose vertebrae follow one another without a gap (slots are in cranio-caudal order)."""
        link = [z3.And(self.present[i + 1], self.level[i + 1] == self.level[i] + 1) for i in range(self.k - 1)]
        runs = []
        for j in range(self.k):
            above = [z3.If(all_of(link[j - m:j]), 1, 0) for m in range(1, j + 1)]
            below = [z3.If(all_of(link[j:j + m]), 1, 0) for m in range(1, self.k - j)]
            runs.append(z3.Sum([z3.IntVal(1), *above, *below]))
        return runs

    def _discrete(self) -> tuple[z3.BoolRef, z3.BoolRef]:
        """Kleene over every pair of present lesions: both compressive, and a vertebra between them that is not
        compressive (a vertebra without a lesion, or a lesion known not to compress). For this definition the
        Kleene reading equals "the same whichever way the unknown compressions turn out" (tests/test_verify_lesions)."""
        c, level = self.compressive, self.level
        true_pairs, false_pairs = [], []
        for i in range(self.k):
            for j in range(i + 1, self.k):
                between = range(i + 1, j)
                gap_t = z3.Or(level[j] - level[i] > j - i, *[c[m].f for m in between])
                gap_f = z3.And(level[j] - level[i] == j - i, *[c[m].t for m in between])
                true_pairs.append(z3.And(self.present[j], c[i].t, c[j].t, gap_t))
                false_pairs.append(z3.Or(z3.Not(self.present[j]), c[i].f, c[j].f, gap_f))
        is_true, is_false = any_of(true_pairs), all_of(false_pairs)
        return z3.Or(is_true, is_false), is_true

    def domain(self) -> list[z3.BoolRef]:
        """The patient's ranges, each present slot admissible at its own level, slots in cranio-caudal order.
        The one-view constraints (CaseSpace.lesion_domain) are NOT asserted: `views_covered` proves them."""
        facts = [*self.patient.base_domain(), self.whole.admissible]
        for j, slot in enumerate(self.slots):
            facts += slot.case.base_domain()
            facts.append(z3.Implies(self.present[j], slot.admissible))
            if j:
                facts += [z3.Implies(self.present[j], self.present[j - 1]),
                          z3.Implies(self.present[j], self.level[j] > self.level[j - 1])]
        return facts

    def views_covered(self) -> z3.BoolRef:
        """Every present slot's view lies in the one-view domain (UNSAT of its negation proves the abstraction)."""
        return all_of([z3.Implies(self.present[j], all_of(CaseSpace.lesion_domain(slot.case)))
                       for j, slot in enumerate(self.slots)])

    # --- the plan's invariants the solver can state ---------------------------------------------------------

    def absolute_contraindications(self, j: int, option: str) -> z3.BoolRef:
        """Some absolute contraindication of the option fires at slot j."""
        slot = self.slots[j]
        return any_of([slot.fired(i) for i, rule in enumerate(slot.rules) for e in rule.then
                       if isinstance(e, Contraindicate) and e.severity == "absolute" and option in e.contraindicate])

    # --- between models and cases ----------------------------------------------------------------------------

    def case_from(self, model: z3.ModelRef) -> dict[str, Any]:
        """The case a model describes: the patient's known fields and one lesion per present slot (SINS nested)."""
        own = lesion_input_names(self.rulebook)
        patient = self.patient.values_from(model)  # its per-level fields are unknown: the patient's own values
        data: dict[str, Any] = {k: v for k, v in patient.items()
                                if k not in own and k not in ("levels", LESION_FORM, LESION_COUNT, DISCRETE)}
        lesions = []
        for j, slot in enumerate(self.slots):
            if not z3.is_true(model.eval(self.present[j], model_completion=True)):
                continue
            values = slot.case.values_from(model)
            level = VERTEBRAE[model.eval(self.level[j], model_completion=True).as_long()]
            lesions.append(lesion_entry(level, {k: v for k, v in values.items() if k in own}))
        data["lesions"] = lesions
        return data


def lesion_entry(level: str, values: dict[str, Any]) -> dict[str, Any]:
    """A lesion mapping from flat values (`sins.x` keys nested under `sins`)."""
    entry: dict[str, Any] = {"level": level}
    sins = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("sins.")}
    entry.update({k: v for k, v in values.items() if not k.startswith("sins.")})
    if sins:
        entry["sins"] = sins
    return entry

