"""`spinemets board`: record, export the minutes, verify the chain, concordance; nothing stored without a log."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from spinemets import OPTIONS, get_engine, read_case_file
from spinemets.board_log import OVERRIDE_REASONS, BoardLog, make_decision_record
from spinemets.commands.cli import main
from spinemets.concordance import concordance

from .conftest import CASES_DIR

SCRIPT = Path(sys.executable).parent / "spinemets"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spinemets.commands.cli"]
FIRST = sorted(CASES_DIR.glob("*.yaml"))[0]


def _top(path: Path) -> str:
    return get_engine().evaluate(read_case_file(path).case).top


def _other(path: Path) -> str:
    return next(o for o in OPTIONS if o != _top(path))


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "board.sqlite"


def _record(db: Path, path: Path, *extra: str) -> int:
    return main(["board", "record", str(path), "--db", str(db), *extra])


def test_without_a_log_nothing_is_stored_and_the_command_says_how(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SPINEMETS_BOARD_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["board", "record", str(FIRST), "--chosen", _top(FIRST)]) == 2
    assert "--db" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_log_comes_from_the_environment_when_no_db_is_given(db, monkeypatch):
    monkeypatch.setenv("SPINEMETS_BOARD_DB", str(db))
    assert main(["board", "record", str(FIRST), "--chosen", _top(FIRST)]) == 0
    assert [r.payload["case_id"] for r in BoardLog(db).records()] == [read_case_file(FIRST).case.id]


def test_an_override_needs_a_reason_and_is_not_stored_without_one(db, capsys):
    assert _record(db, FIRST, "--chosen", _top(FIRST)) == 0
    assert _record(db, FIRST, "--chosen", _other(FIRST)) == 2
    assert "override_reason" in capsys.readouterr().err
    assert _record(db, FIRST, "--chosen", _other(FIRST), "--override-reason", "other") == 2  # 'other' needs a comment
    assert _record(db, FIRST, "--chosen", "NOT_AN_OPTION", "--override-reason", "technical") == 2
    assert _record(db, FIRST, "--chosen", _other(FIRST), "--override-reason", "made_up") == 2
    assert len(list(BoardLog(db).records())) == 1


def test_a_record_holds_the_case_the_decision_and_the_rule_base(db):
    chosen = _other(FIRST)
    assert _record(db, FIRST, "--chosen", chosen, "--override-reason", "patient_preference", "--comment", "wishes",
                   "--attendee", "spine surgery", "--attendee", "radiation oncology", "--date", "2026-03-04") == 0
    record = next(BoardLog(db).decisions())[1]
    engine = get_engine()
    case = read_case_file(FIRST).case
    assert record.case["id"] == case.id and record.case.get("primary_tumor") == case.primary_tumor
    assert record.decision == json.loads(engine.evaluate(case).to_json())
    assert (record.rulebook_sha256, record.rulebook_version) == (engine.sha256, engine.rulebook.version)
    assert record.chosen == (chosen,) and not record.follows_top and record.override_reason == "patient_preference"
    assert record.attendees == ("spine surgery", "radiation oncology") and str(record.meeting_date) == "2026-03-04"
    assert record.source == "cli"


def test_verify_log_holds_then_names_the_edited_record_with_a_non_zero_exit(db):
    for _ in range(3):
        assert _record(db, FIRST, "--chosen", _top(FIRST)) == 0
    ok = subprocess.run([*CLI, "board", "verify-log", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "holds over 3 records" in ok.stdout
    with sqlite3.connect(db) as con:
        con.execute("UPDATE records SET payload = replace(payload, '\"follows_top\":true', '\"follows_top\":false') "
                    "WHERE seq = 2")
    bad = subprocess.run([*CLI, "board", "verify-log", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "record 2 does not hold" in bad.stderr, bad.stderr


def test_reading_commands_do_not_create_a_log(tmp_path, capsys):
    missing = tmp_path / "nowhere.sqlite"
    for action in ("verify-log", "export", "concordance"):
        assert main(["board", action, "--db", str(missing)]) == 2
    assert not missing.exists()


def test_export_puts_the_boards_decision_beside_the_engines_in_words(db, tmp_path, capsys):
    top, other = _top(FIRST), _other(FIRST)
    assert _record(db, FIRST, "--chosen", top, "--date", "2026-03-04") == 0
    assert _record(db, FIRST, "--chosen", other, "--override-reason", "technical", "--date", "2026-03-05") == 0
    capsys.readouterr()
    assert main(["board", "export", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    titles = {o.code: o.title for o in get_engine().rulebook.manifest.options}
    assert f"Engine's top suggestion: {titles[top]}" in text and f"Board's decision: {titles[other]}" in text
    assert OVERRIDE_REASONS["technical"] in text and BoardLog(db).verify().head in text
    assert main(["board", "export", "--db", str(db), "--date", "2026-03-05", "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [e["seq"] for e in exported["entries"]] == [2]
    assert exported["entries"][0]["decision"]["chosen"] == [other]
    pdf = tmp_path / "minutes.pdf"
    assert main(["board", "export", "--db", str(db), "--format", "pdf", "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert main(["board", "export", "--db", str(db), "--format", "pdf"]) == 2  # no PDF on the terminal


def test_concordance_counts_follows_and_overrides_by_option_rule_and_reason(db, capsys):
    top, other = _top(FIRST), _other(FIRST)
    _record(db, FIRST, "--chosen", top)
    _record(db, FIRST, "--chosen", other, "--override-reason", "technical")
    _record(db, FIRST, "--chosen", other, "--override-reason", "technical")
    capsys.readouterr()
    assert main(["board", "concordance", "--db", str(db), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["overall"] == {"decisions": 3, "followed": 1, "overridden": 2, "rate": 0.3333,
                                 "reasons": {"technical": 2}}
    assert counts["by_top"][top]["decisions"] == 3 and counts["by_chosen"][other]["followed"] == 0
    fired = get_engine().evaluate(read_case_file(FIRST).case).fired
    assert set(counts["by_rule"]) == set(fired)
    assert main(["board", "concordance", "--db", str(db)]) == 0
    assert "Why boards did not follow it" in capsys.readouterr().out


_DECISION = json.loads(get_engine().evaluate(read_case_file(FIRST).case).to_json())


@given(st.lists(st.tuples(st.sampled_from(OPTIONS), st.sampled_from(list(OVERRIDE_REASONS))), max_size=12))
def test_concordance_tallies_add_up(choices):
    records = [make_decision_record({"id": f"c{i}"}, _DECISION, [chosen], override_reason=reason, comment="why")
               for i, (chosen, reason) in enumerate(choices)]
    result = concordance(records)
    overall = result.overall
    assert overall.decisions == len(records) and overall.followed + overall.overridden == overall.decisions
    assert overall.followed == sum(1 for r in records if r.chosen[0] == _DECISION["ranking"][0])
    assert sum(t.decisions for t in result.by_top.values()) == overall.decisions
    assert sum(t.decisions for t in result.by_chosen.values()) == overall.decisions
    assert sum(overall.reasons.values()) == overall.overridden == len(result.overrides)
    assert (overall.rate is None) == (not records)
