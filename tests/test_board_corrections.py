"""A wrong board record is corrected or voided by a later record that names it; the chain stays append-only, and
concordance and minutes count the record that stands for each case, with its history."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spinemets import InputError, minutes
from spinemets.board_log import BoardLog, make_decision_record, standing
from spinemets.concordance import concordance

CASE = {"id": "corr-1", "pathological_fracture": True, "refractory_to_conservative": True,
        "neurological_deficit": False, "coagulopathy": False}
CLI = [str(Path(sys.executable).parent / "spinemets")]


@pytest.fixture
def decision(engine):
    return json.loads(engine.evaluate(CASE).to_json())


def _other(decision):
    return next(o for o in ("CONSERVATIVE", "SURGERY") if o != decision["ranking"][0])


def test_a_correction_replaces_the_record_it_names_and_a_void_withdraws_it(decision):
    top = decision["ranking"][0]
    wrong = make_decision_record(CASE, decision, [_other(decision)], override_reason="patient_preference")
    other_case = make_decision_record({**CASE, "id": "corr-2"}, decision, [top])
    right = make_decision_record(CASE, decision, [top], supersedes=1)
    resolved = standing([(1, wrong), (2, other_case), (3, right)])
    assert [(s.number, s.decision.case_id) for s in resolved] == [(2, "corr-2"), (3, "corr-1")]
    assert resolved[1].history == ((1, wrong),)
    result = concordance(s.decision for s in resolved if not s.voided)
    assert result.overall.decisions == 2 and result.overall.followed == 2

    void = make_decision_record(CASE, decision, [top], supersedes=3, voids=True, comment="wrong patient")
    resolved = standing([(1, wrong), (2, other_case), (3, right), (4, void)])
    assert [s.voided for s in resolved] == [False, True]
    assert resolved[1].history == ((1, wrong), (3, right))
    assert concordance(s.decision for s in resolved if not s.voided).overall.decisions == 1


def test_a_record_naming_another_cases_record_replaces_nothing(decision):
    first = make_decision_record({**CASE, "id": "corr-2"}, decision, [decision["ranking"][0]])
    stray = make_decision_record(CASE, decision, [decision["ranking"][0]], supersedes=1)
    assert [s.number for s in standing([(1, first), (2, stray)])] == [1, 2]


def test_a_void_needs_the_record_it_withdraws_and_a_reason(decision):
    with pytest.raises(InputError) as err:
        make_decision_record(CASE, decision, [decision["ranking"][0]], voids=True)
    fields = {p.field for p in err.value.problems}
    assert fields == {"supersedes", "comment"}


def test_minutes_and_concordance_from_a_log_count_the_standing_record_and_show_the_history(tmp_path, decision):
    db = tmp_path / "board.sqlite"
    top = decision["ranking"][0]
    with BoardLog(db) as log:
        log.append("board_decision", make_decision_record(CASE, decision, [_other(decision)],
                                                          override_reason="technical"))
        log.append("board_decision", make_decision_record(CASE, decision, [top], supersedes=1,
                                                          comment="recorded against the wrong option"))
        assert log.verify().ok and log.verify().count == 2
        entries = minutes.from_log(log)
    assert len(entries) == 1 and entries[0].record.seq == 2
    text = minutes.markdown(entries, {})
    assert "Patients: 1; the board followed the top suggestion for 1" in text
    assert f"History: this record corrects record 1 ({_other(decision)})" in text
    assert json.loads(minutes.to_json(entries))["entries"][0]["replaces"][0]["number"] == 1
    out = subprocess.run([*CLI, "board", "concordance", "--db", str(db), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["overall"]["decisions"] == 1
