"""The board log: records chain by hash; any edit, removal or reordering is found and named."""
from __future__ import annotations

import json
import sqlite3

import pytest

from spinemets import InputError
from spinemets.board_log import BoardLog, make_decision_record


def _decision(engine, case):
    return json.loads(engine.evaluate(case).to_json())


CASE = {"id": "log-1", "pathological_fracture": True, "refractory_to_conservative": True,
        "neurological_deficit": False, "coagulopathy": False}


def _filled(tmp_path, engine, n=3):
    log = BoardLog(tmp_path / "board.sqlite")
    decision = _decision(engine, CASE)
    for i in range(n):
        chosen = [decision["ranking"][0]] if i % 2 == 0 else ["CONSERVATIVE"]
        record = make_decision_record({**CASE, "id": f"log-{i}"}, decision, chosen,
                                      override_reason=None if i % 2 == 0 else "patient_preference")
        log.append("board_decision", record)
    return log


def test_an_untouched_log_verifies_and_reports_its_head(tmp_path, engine):
    log = _filled(tmp_path, engine)
    result = log.verify()
    assert result.ok and result.count == 3
    assert result.head == list(log.records())[-1].hash


@pytest.mark.parametrize("tamper, bad", [
    ("UPDATE records SET payload = replace(payload, 'patient_preference', 'technical') WHERE seq = 2", 2),
    ("DELETE FROM records WHERE seq = 2", 3),
    ("UPDATE records SET recorded_at = '2020-01-01T00:00:00+00:00' WHERE seq = 1", 1),
    ("UPDATE records SET kind = 'cds_feedback' WHERE seq = 3", 3),
])
def test_an_edited_removed_or_redated_record_is_named(tmp_path, engine, tamper, bad):
    log = _filled(tmp_path, engine)
    log.close()
    with sqlite3.connect(tmp_path / "board.sqlite") as db:
        db.execute(tamper)
    result = BoardLog(tmp_path / "board.sqlite").verify()
    assert not result.ok and result.bad_seq == bad, result


def test_a_rewritten_chain_from_an_edited_record_on_still_fails_at_the_edit(tmp_path, engine):
    """Recomputing the edited record's own hash does not help: the next record's link no longer matches."""
    from spinemets.board_log import record_hash
    log = _filled(tmp_path, engine)
    first = list(log.records())[0]
    payload = {**first.payload, "comment": "changed"}
    digest = record_hash(first.prev_hash, first.seq, first.recorded_at, first.kind, payload)
    log._db.execute("UPDATE records SET payload = ?, hash = ? WHERE seq = 1", (json.dumps(payload), digest))
    result = log.verify()
    assert not result.ok and result.bad_seq == 2


def test_an_override_needs_a_reason_and_other_needs_a_comment(engine):
    decision = _decision(engine, CASE)
    other = next(o for o in decision["ranking"] if o != decision["ranking"][0])
    with pytest.raises(InputError) as err:
        make_decision_record(CASE, decision, [other])
    assert err.value.problems[0].field == "override_reason"
    with pytest.raises(InputError):
        make_decision_record(CASE, decision, [other], override_reason="other")
    record = make_decision_record(CASE, decision, [other], override_reason="other", comment="family wishes")
    assert record.follows_top is False and record.top == decision["ranking"][0]


def test_following_the_top_records_no_override_reason(engine):
    decision = _decision(engine, CASE)
    record = make_decision_record(CASE, decision, [decision["ranking"][0]], override_reason="technical")
    assert record.follows_top and record.override_reason is None
    assert record.rulebook_sha256 == engine.sha256


def test_an_unwritable_place_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError):
        BoardLog(blocker / "board.sqlite")
