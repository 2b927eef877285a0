"""The board log proves it is whole, not only ordered: minutes and signed checkpoints pin its head, and
`verify-log --against` them finds records removed or rewritten after; reading commands never write the log and
refuse a broken chain (exit 3) unless told --allow-broken."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from spinemets import get_engine, read_case_file
from spinemets.board_log import GENESIS, BoardLog, probe, record_hash
from spinemets.commands.cli import main

from .conftest import CASES_DIR

FIRST = sorted(CASES_DIR.glob("*.yaml"))[0]
RECORDS = 5


@pytest.fixture(scope="module")
def top() -> str:
    return get_engine().evaluate(read_case_file(FIRST).case).top


@pytest.fixture
def log(tmp_path, top) -> Path:
    db = tmp_path / "log" / "board.sqlite"
    for day in range(1, RECORDS + 1):
        assert main(["board", "record", str(FIRST), "--db", str(db), "--chosen", top,
                     "--date", f"2026-03-0{day}"]) == 0
    return db


@pytest.fixture
def key(tmp_path, capsys) -> Path:
    path = tmp_path / "keys" / "board.pem"
    path.parent.mkdir()
    assert main(["board", "keygen", str(path)]) == 0
    capsys.readouterr()
    return path


def _anchors(log: Path, key: Path, tmp_path: Path, capsys) -> dict[str, Path]:
    """Every kind of anchor, made now (before the tampering)."""
    made = {}
    for fmt, suffix in (("markdown", "md"), ("json", "json"), ("pdf", "pdf")):
        out = tmp_path / f"minutes.{suffix}"
        assert main(["board", "export", "--db", str(log), "--format", fmt, "--out", str(out), "--key", str(key)]) == 0
        made[fmt] = out
    unsigned = tmp_path / "minutes-unsigned.md"
    assert main(["board", "export", "--db", str(log), "--out", str(unsigned)]) == 0
    made["unsigned markdown"] = unsigned
    checkpoint = tmp_path / "checkpoint.json"
    assert main(["board", "checkpoint", "--db", str(log), "--key", str(key), "--out", str(checkpoint)]) == 0
    made["checkpoint"] = checkpoint
    capsys.readouterr()
    return made


def _verify(log: Path, *extra: str) -> int:
    return main(["board", "verify-log", "--db", str(log), *extra])


def _rehash_from(db: sqlite3.Connection, first: int) -> None:
    """A forger's re-chain: every record from `first` on gets a fresh hash linking to the one before."""
    rows = db.execute("SELECT seq, recorded_at, kind, payload FROM records ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, recorded_at, kind, payload in rows:
        if seq >= first:
            digest = record_hash(prev, seq, recorded_at, kind, json.loads(payload))
            db.execute("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()[0]


def _edit_newest_and_rehash(db: sqlite3.Connection) -> None:
    db.execute("UPDATE records SET payload = replace(payload, '\"comment\":null', '\"comment\":\"edited\"') "
               f"WHERE seq = {RECORDS}")
    _rehash_from(db, RECORDS)


def _rechain_everything(db: sqlite3.Connection) -> None:
    db.execute("UPDATE records SET payload = replace(payload, '\"comment\":null', '\"comment\":\"forged\"')")
    _rehash_from(db, 1)


TAMPERING = {
    "newest record edited and re-hashed": _edit_newest_and_rehash,
    "last record deleted": lambda db: db.execute(f"DELETE FROM records WHERE seq = {RECORDS}"),
    "last 3 records deleted": lambda db: db.execute(f"DELETE FROM records WHERE seq > {RECORDS - 3}"),
    "every record deleted": lambda db: db.execute("DELETE FROM records"),
    "table dropped": lambda db: db.execute("DROP TABLE records"),
    "full re-chain forgery": _rechain_everything,
}


@pytest.mark.parametrize("tamper", TAMPERING)
def test_tampering_after_an_anchor_is_found_against_every_kind_of_anchor(log, key, tmp_path, capsys, tamper):
    anchors = _anchors(log, key, tmp_path, capsys)
    for path in anchors.values():  # the untouched log holds against each of them
        assert _verify(log, "--against", str(path), "--key", str(key)) == 0, capsys.readouterr()
    with sqlite3.connect(log) as db:
        TAMPERING[tamper](db)
    for kind, path in anchors.items():
        assert _verify(log, "--against", str(path), "--key", str(key)) == 3, (kind, capsys.readouterr())
        assert "does not hold" in capsys.readouterr().err


def test_a_log_truncated_to_zero_bytes_fails_with_or_without_an_anchor(log, key, tmp_path, capsys):
    anchors = _anchors(log, key, tmp_path, capsys)
    log.write_bytes(b"")
    assert _verify(log) == 3
    assert "no records table" in capsys.readouterr().err
    for path in anchors.values():
        assert _verify(log, "--against", str(path), "--key", str(key)) == 3


def test_without_an_anchor_the_chain_alone_cannot_tell_a_shortened_log(log):
    """What the anchors are for: a log with its newest records removed still holds as a chain."""
    with sqlite3.connect(log) as db:
        db.execute(f"DELETE FROM records WHERE seq > {RECORDS - 3}")
    assert _verify(log) == 0


def test_a_forged_checkpoint_is_refused_by_its_signature(log, key, tmp_path, capsys):
    """The forger re-chains the whole log and writes a checkpoint of the new head, without the board's key."""
    anchors = _anchors(log, key, tmp_path, capsys)
    with sqlite3.connect(log) as db:
        _rechain_everything(db)
    forged = json.loads(anchors["checkpoint"].read_text())
    forged_head = BoardLog(log, create=False).verify().head
    forged["head"] = forged_head
    anchors["checkpoint"].write_text(json.dumps(forged))
    assert _verify(log, "--against", str(anchors["checkpoint"]), "--key", str(key)) == 3
    assert "signature does not hold" in capsys.readouterr().err
    # signed by a key of the forger's own: refused as another key
    other = tmp_path / "forger.pem"
    assert main(["board", "keygen", str(other)]) == 0
    forger_checkpoint = tmp_path / "forger-checkpoint.json"
    assert main(["board", "checkpoint", "--db", str(log), "--key", str(other), "--out", str(forger_checkpoint)]) == 0
    capsys.readouterr()
    assert _verify(log, "--against", str(forger_checkpoint), "--key", str(key)) == 3
    assert "signed by another key" in capsys.readouterr().err


def test_a_public_key_checks_and_a_checkpoint_needs_a_key(log, key, tmp_path, capsys):
    public = tmp_path / "board.pub"
    assert main(["board", "keygen", str(tmp_path / "k2.pem")]) == 0
    capsys.readouterr()
    from spinemets.board_checkpoint import load_key, public_pem
    public.write_text(public_pem(load_key(key)))
    anchors = _anchors(log, key, tmp_path, capsys)
    assert _verify(log, "--against", str(anchors["checkpoint"]), "--key", str(public)) == 0
    assert _verify(log, "--against", str(anchors["checkpoint"])) == 2
    assert "give --key" in capsys.readouterr().err
    assert main(["board", "checkpoint", "--db", str(log), "--key", str(public)]) == 2   # a public key cannot sign
    assert main(["board", "keygen", str(key)]) == 2                                       # never overwritten
    assert main(["board", "checkpoint", "--db", str(log), "--key", str(log)]) == 2       # the key is not the log


def _digest(path: Path) -> tuple[str, list[str]]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())


def test_reading_commands_never_write_the_log(log, key, tmp_path, capsys):
    before = _digest(log)[0]
    for args in (["verify-log"], ["concordance"], ["export"], ["export", "--format", "json"],
                 ["checkpoint", "--key", str(key)]):
        assert main(["board", *args, "--db", str(log)]) == 0, args
        assert _digest(log)[0] == before, args
    # an empty file stays empty: verify-log used to create the tables in it
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert _verify(empty) == 3 and empty.read_bytes() == b""
    # an SQLite file of something else: no table added, no journal mode switched
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    before_other = other.read_bytes()
    for action in ("verify-log", "export", "concordance"):
        assert main(["board", action, "--db", str(other)]) == 2
    assert other.read_bytes() == before_other
    assert "not a spinemets board log" in capsys.readouterr().err


@pytest.mark.parametrize("action", [["export"], ["export", "--format", "json"], ["concordance"],
                                    ["concordance", "--json"]])
def test_reading_commands_refuse_a_broken_chain_unless_allowed(log, capsys, action):
    with sqlite3.connect(log) as db:
        db.execute("UPDATE records SET payload = replace(payload, '\"comment\":null', '\"comment\":\"x\"') "
                   "WHERE seq = 2")
    assert main(["board", *action, "--db", str(log)]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "record 2 does not hold" in captured.err
    assert main(["board", *action, "--db", str(log), "--allow-broken"]) == 0
    out = capsys.readouterr().out
    good_head = BoardLog(log, create=False).verify().head  # the last record that holds: never shown as the head
    if action == ["export"]:
        assert "the chain does NOT hold" in out and "pinned at" not in out and f"`{good_head}`" not in out
    elif action == ["export", "--format", "json"]:
        data = json.loads(out)
        assert data["head"] is None and data["log"]["holds"] is False
    elif action == ["concordance"]:
        assert "does not hold" in out
    else:
        assert json.loads(out)["log"]["chain_holds"] is False


def test_minutes_pin_the_count_and_head_and_a_broken_chain_pins_nothing(log, tmp_path, capsys):
    assert main(["board", "export", "--db", str(log)]) == 0
    head = BoardLog(log, create=False).verify().head
    assert f"pinned at {RECORDS} records, head hash `{head}`" in capsys.readouterr().out
    broken = tmp_path / "broken.md"
    with sqlite3.connect(log) as db:
        db.execute(f"DELETE FROM records WHERE seq = {RECORDS - 1}")
    assert main(["board", "export", "--db", str(log), "--allow-broken", "--out", str(broken)]) == 0
    assert _verify(log, "--against", str(broken)) == 2
    assert "pin nothing" in capsys.readouterr().err


def test_concordance_accounts_for_every_record(log, tmp_path, capsys):
    with BoardLog(log) as board:
        board.append("cds_feedback", {"service": "x", "card": "c", "outcome": "accepted", "outcome_timestamp": "t"})
        board.append("note", {"text": "a record of another kind"})
    assert main(["board", "concordance", "--db", str(log), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["log"]["records"] == RECORDS + 2 and data["overall"]["decisions"] == RECORDS
    assert [n["record"] for n in data["log"]["not_counted"]] == [RECORDS + 1, RECORDS + 2]
    assert "CDS Hooks card" in data["log"]["not_counted"][0]["why"]
    assert main(["board", "concordance", "--db", str(log)]) == 0
    text = capsys.readouterr().out
    assert f"Log records: {RECORDS + 2}; counted as board decisions: {RECORDS}; not counted: 2" in text


def test_recording_refuses_a_file_that_is_not_a_board_log_before_writing(tmp_path, top, capsys):
    for name, content in (("text.txt", b"not a log\n"), ("random.sqlite", b"SQLite format 3\x00" + b"\x01" * 200)):
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["board", "record", str(FIRST), "--db", str(path), "--chosen", top]) == 2
        assert path.read_bytes() == content and probe(path) == "other"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    before = other.read_bytes()
    assert main(["board", "record", str(FIRST), "--db", str(other), "--chosen", top]) == 2
    assert other.read_bytes() == before and not (tmp_path / "other.sqlite-wal").exists()
    assert "not a spinemets board log" in capsys.readouterr().err
    # an empty file is a new log
    empty = tmp_path / "new.sqlite"
    empty.write_bytes(b"")
    assert main(["board", "record", str(FIRST), "--db", str(empty), "--chosen", top]) == 0
    assert probe(empty) == "log"


def test_recording_into_a_log_whose_table_was_dropped_is_refused(log, top):
    with sqlite3.connect(log) as db:
        db.execute("DROP TABLE records")
    assert main(["board", "record", str(FIRST), "--db", str(log), "--chosen", top]) == 2
    assert _verify(log) == 3
