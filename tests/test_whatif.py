"""What-if: single-field changes and their effect on the decision."""
from __future__ import annotations

from spinemets.case import case_from_values
from spinemets.fields import FieldSpec
from spinemets.whatif import candidate_values, diff, sweep, with_value


def test_numeric_candidates_cover_every_cell_between_thresholds():
    spec = FieldSpec("karnofsky", "int", "KPS", minimum=0, maximum=100)
    values = candidate_values(spec, (40, 70))
    # each cell (below 40, at 40, between, at 70, above) has a representative
    assert {v < 40 for v in values} == {True, False}
    assert 40 in values and 70 in values and any(40 < v < 70 for v in values) and any(v > 70 for v in values)


def test_sweep_finds_the_change_that_moves_the_top(engine):
    case = case_from_values("w", {"pathological_fracture": True, "refractory_to_conservative": True,
                                  "neurological_deficit": False})
    changes = sweep(engine, case)
    moving = {(c.field, c.after) for c in changes if c.moves_top}
    assert ("coagulopathy", True) in moving
    for change in changes:  # each reported change really changes the decision it reports
        after = engine.evaluate(with_value(case, change.field, change.after))
        assert diff(engine.evaluate(case), after) == change.changes
    assert changes == sorted(changes, key=lambda c: not c.moves_top) or changes[0].moves_top
