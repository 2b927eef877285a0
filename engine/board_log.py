"""The board's decision log: an opt-in, local SQLite file of hash-chained records (tamper-evident).

Each record holds what the board (or a clinician answering a CDS Hooks card) decided for one case, beside
the case, the engine's decision and the rule base's version and sha256. Every record's hash covers its own
content and the previous record's hash, so editing, deleting or reordering any record breaks the chain at
that record; `verify()` names the first record that does not hold. Deleting the newest records cannot be
told from a shorter log by the file alone: the head hash `verify()` reports is what a board writes into its
minutes to pin the log at that point.

Nothing is written unless a caller opens a log with a path: the front end and the command line take it from
`SPINEMETS_BOARD_DB` (or a setting / `--db`) and only when the board turns recording on.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, Problem
from .vocabulary import Option

ENV_VAR = "SPINEMETS_BOARD_DB"
GENESIS = "0" * 64
DECISION = "board_decision"
CDS_FEEDBACK = "cds_feedback"
SCHEMA_VERSION = 1
# SQLite's application id for a board log (the bytes "SPML"), set when a log is made: with the header and the
# schema it tells a board log from any other file before anything writes to it.
APPLICATION_ID = 0x53504D4C
_SQLITE_HEADER = b"SQLite format 3\x00"
_RECORD_COLUMNS = ("seq", "recorded_at", "kind", "payload", "prev_hash", "hash")

OverrideReason = Literal["missed_contraindication", "patient_preference", "technical", "evidence_disagreement",
                         "other"]
OVERRIDE_REASONS: dict[str, str] = {
    "missed_contraindication": "A contraindication the rules missed",
    "patient_preference": "Patient preference",
    "technical": "Technical reasons (equipment, expertise, access)",
    "evidence_disagreement": "The board weighs the evidence differently",
    "other": "Other (explained in the comment)",
}
Source = Literal["ui", "cli", "cds-hooks"]


class BoardDecision(BaseModel):
    """What the board decided for one case, with what the engine advised: one record of the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    case_id: str = Field(title="Case id", description="the case's `id`")
    case: dict[str, Any] = Field(title="Case", description="the case as evaluated (data-dictionary fields)")
    decision: dict[str, Any] = Field(title="Decision", description="the engine's decision JSON for the case")
    rulebook_version: str = Field(title="Rule base version", description="version of the rule base that decided")
    rulebook_sha256: str = Field(title="Rule base sha256", description="content hash of that rule base")
    top: Option | None = Field(title="Top suggestion", description="the engine's top suggestion")
    chosen: tuple[Option, ...] = Field(title="Chosen", description="the option(s) the board chose", min_length=1)
    follows_top: bool = Field(title="Follows the top suggestion",
                              description="true when the board's first choice is the engine's top suggestion")
    override_reason: OverrideReason | None = Field(
        default=None, title="Override reason", description="why the board did not follow the top suggestion")
    comment: str | None = Field(default=None, title="Comment", description="free text", max_length=4000)
    attendees: tuple[str, ...] = Field(default=(), title="Attendees", description="roles present (no names)")
    meeting_date: dt.date | None = Field(default=None, title="Meeting date", description="date of the board")
    source: Source = Field(default="ui", title="Source", description="where the record was made")
    # The chain is append-only: a wrong record is never edited, it is corrected or withdrawn by a later record
    # that names it. standing() resolves which record stands for each case.
    supersedes: int | None = Field(
        default=None, ge=1, title="Supersedes", description="the number of the earlier record of the same case "
        "that this one corrects or voids (its seq in the log; with recording off, its entry number in the meeting)")
    voids: bool = Field(default=False, title="Voids", description="true when this record withdraws the record it "
                        "supersedes and stands for no decision itself")


@dataclass(frozen=True)
class Standing:
    """The record that stands for a case, with the earlier records of the case it replaced (oldest first)."""

    number: int
    decision: BoardDecision
    history: tuple[tuple[int, BoardDecision], ...] = ()

    @property
    def voided(self) -> bool:
        return self.decision.voids


def standing(decisions: Iterable[tuple[int, BoardDecision]]) -> list[Standing]:
    """Each case's latest standing record, in the order the cases were first recorded, with its history.

    `decisions` are (number, decision) in recording order. A record that supersedes the standing record of its
    case replaces it; a voiding record withdraws it (the result keeps it, `voided`, so that the minutes can say
    so; concordance skips it). A record naming a number that does not stand for the same case replaces nothing:
    it stands on its own rather than silently taking another patient's decision away."""
    found: dict[int, Standing] = {}
    for number, decision in decisions:
        earlier = found.get(decision.supersedes) if decision.supersedes is not None else None
        if earlier is not None and earlier.decision.case_id == decision.case_id and not earlier.voided:
            del found[earlier.number]
            found[number] = Standing(number, decision, (*earlier.history, (earlier.number, earlier.decision)))
        else:
            found[number] = Standing(number, decision)
    return list(found.values())


class CdsFeedback(BaseModel):
    """A clinician's answer to a CDS Hooks card (the service's feedback endpoint): one record of the log, kind
    `cds_feedback`. It holds no case: the card's top option, the order it was about and the rule base."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    service: str = Field(title="Service", description="the CDS service id the card came from")
    card: str = Field(title="Card", description="the card's uuid")
    outcome: Literal["accepted", "overridden"] = Field(title="Outcome", description="accepted or overridden")
    outcome_timestamp: str = Field(title="Outcome time", description="when the clinician answered, as the "
                                   "client sent it")
    accepted_suggestions: tuple[str, ...] = Field(default=(), title="Accepted suggestions",
                                                  description="uuids of the suggestions taken")
    override_reason: OverrideReason | None = Field(
        default=None, title="Override reason", description="the reason, when it is one the card offered")
    override_coding: dict[str, str] | None = Field(
        default=None, title="Override reason as sent", description="the Coding the client sent (system, code, "
        "display), also when it is the client's own")
    comment: str | None = Field(default=None, title="Comment", description="the clinician's comment",
                                   max_length=4000)
    hook: str | None = Field(default=None, title="Hook", description="the hook the card answered")
    top: Option | None = Field(default=None, title="Top suggestion", description="the card's top option")
    ordered: Option | None = Field(default=None, title="Ordered", description="the drafted order's option")
    indicator: str | None = Field(default=None, title="Indicator", description="info, warning or critical")
    rulebook_version: str | None = Field(default=None, title="Rule base version",
                                            description="version of the rule base behind the card")
    rulebook_sha256: str | None = Field(default=None, title="Rule base sha256",
                                           description="content hash of that rule base")
    source: Source = Field(default="cds-hooks", title="Source", description="where the record was made")


@dataclass(frozen=True)
class LogRecord:
    """One stored record with its place in the chain."""

    seq: int
    recorded_at: str
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Anchor:
    """A point of the log pinned outside it (RFC 9162's signed tree head, without the tree): how many records
    it held and the hash of the last of them, and where that was read (a minutes file, a checkpoint)."""

    records: int
    head: str
    source: str = "the anchor"
    signed: bool = False


@dataclass(frozen=True)
class Verification:
    """The chain's state: whether it holds, how many records, the head hash, and the first bad record."""

    ok: bool
    count: int
    head: str
    bad_seq: int | None = None
    reason: str = ""
    pinned: Anchor | None = None   # the anchor it was checked against and held to


def default_path() -> Path | None:
    """The log's path from SPINEMETS_BOARD_DB, or None (recording off)."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def fallback_path() -> Path:
    """Where the front end offers to keep the log when SPINEMETS_BOARD_DB is not set (used only once the board
    turns recording on): the user's data folder, never the working directory."""
    base = os.environ.get("XDG_DATA_HOME", "").strip() or "~/.local/share"
    return Path(base).expanduser() / "spinemets" / "board-log.sqlite"


def probe(path: Path) -> Literal["missing", "empty", "log", "other"]:
    """What is at `path`, read without writing: nothing, an empty file, a spinemets board log, or another file.

    A board log is an SQLite file whose application id is the log's, or (a log made before the id was set)
    whose `records` table has the log's columns. The file is only read (its first 100 bytes, then SQLite
    read-only), so probing a path the user typed changes nothing there.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "other"
    if not stat.S_ISREG(info.st_mode):
        return "other"
    if info.st_size == 0:
        return "empty"
    try:
        with path.open("rb") as stream:
            header = stream.read(100)
    except OSError:
        return "other"
    if len(header) < 100 or not header.startswith(_SQLITE_HEADER):
        return "other"
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return "log"
    try:
        db = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=5)
        try:
            columns = tuple(row[1] for row in db.execute("PRAGMA table_info(records)"))
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            versioned = "meta" in tables and db.execute(
                "SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return "other"
    return "log" if columns == _RECORD_COLUMNS or versioned else "other"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(prev_hash: str, seq: int, recorded_at: str, kind: str, payload: dict[str, Any]) -> str:
    """The hash that chains a record to the previous one."""
    body = _canonical({"seq": seq, "recorded_at": recorded_at, "kind": kind, "payload": payload})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def make_decision_record(case: dict[str, Any], decision: dict[str, Any], chosen: Sequence[str], *,
                         override_reason: str | None = None, comment: str | None = None,
                         attendees: Sequence[str] = (), meeting_date: dt.date | None = None,
                         source: str = "ui", supersedes: int | None = None, voids: bool = False) -> BoardDecision:
    """A board decision from the engine's decision JSON; refuses an override without a reason."""
    ranking = decision.get("ranking") or []
    top = ranking[0] if ranking else None
    follows = bool(chosen) and chosen[0] == top
    problems = []
    if not follows and override_reason is None:
        problems.append(Problem("the board did not follow the top suggestion: give an override reason "
                                f"({', '.join(OVERRIDE_REASONS)})", field="override_reason"))
    if override_reason == "other" and not (comment or "").strip():
        problems.append(Problem("override reason 'other' needs a comment that says why", field="comment"))
    if voids and supersedes is None:
        problems.append(Problem("a voiding record names the record it withdraws", field="supersedes"))
    if voids and not (comment or "").strip():
        problems.append(Problem("voiding a record needs a comment that says why", field="comment"))
    if problems:
        raise InputError("board decision not recorded", problems)
    rulebook = decision.get("rulebook") or {}
    try:
        return BoardDecision(
            case_id=str(case.get("id") or decision.get("case_id")), case=case, decision=decision,
            rulebook_version=str(rulebook.get("version", "")), rulebook_sha256=str(rulebook.get("sha256", "")),
            top=top, chosen=tuple(chosen), follows_top=follows,
            override_reason=override_reason if not follows else None,
            comment=comment, attendees=tuple(attendees), meeting_date=meeting_date, source=source,
            supersedes=supersedes, voids=voids)
    except ValidationError as err:
        raise InputError("board decision not recorded", [
            Problem(e["msg"], field=".".join(str(p) for p in e["loc"]))
            for e in err.errors(include_url=False)]) from None


class BoardLog:
    """A hash-chained log in one SQLite file. Safe for several processes: appends are serialised by SQLite.

    A log opened for reading (create=False) is opened read-only (SQLite's `mode=ro`): no reading command can
    add a table, switch the journal or change a byte of the file. SQLite may still make its `-wal` and `-shm`
    side files beside a log kept in WAL mode, to read it while a writer appends.
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        """Open (or, with `create`, start) the log at `path`; reading commands pass create=False so that a
        mistyped path is an error rather than a new, empty log, and nothing is written to it.

        With `create`, the file is checked before anything touches it: only a missing or empty file (a new log)
        or a spinemets board log (SQLite header, application id or schema) is opened, never another file."""
        self.path = Path(path)
        self.writable = create
        if not create:
            kind = probe(self.path)
            if kind == "missing":
                raise InputError(f"{self.path}: no board log here (nothing has been recorded to this path)")
            if kind == "other":
                raise InputError(f"{self.path}: not a spinemets board log")
            try:
                self._db = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro", uri=True, timeout=30,
                                           isolation_level=None)
            except sqlite3.Error as err:
                raise InputError(f"{self.path}: cannot open the board log ({err})") from None
            return
        kind = probe(self.path)
        if kind == "other":
            # the page and the commands never say more than this: whether some other file exists is not theirs to tell
            raise InputError(f"{self.path}: not a spinemets board log; recording writes only to a new file or an "
                             "existing board log")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if kind == "log" and not self._has_records_table():
                self._db.close()
                raise InputError(f"{self.path}: the board log's records table is gone (dropped?); nothing was "
                                 "written: run `spinemets board verify-log`")
            if kind != "log":
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, "
                "kind TEXT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except (OSError, sqlite3.Error) as err:
            raise InputError(f"{self.path}: cannot open the board log ({err})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> BoardLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, kind: str, payload: BaseModel | dict[str, Any], *, now: dt.datetime | None = None) -> LogRecord:
        """Add a record at the head of the chain, atomically."""
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else json.loads(_canonical(payload))
        recorded_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = record_hash(prev, seq, recorded_at, kind, data)
            db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                       (seq, recorded_at, kind, _canonical(data), prev, digest))
            db.execute("COMMIT")
        except sqlite3.Error as err:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise InputError(f"{self.path}: cannot write the board log ({err})") from None
        return LogRecord(seq, recorded_at, kind, data, prev, digest)

    def records(self, kind: str | None = None) -> Iterator[LogRecord]:
        """Every record in chain order (optionally of one kind); payloads as stored. None when the records table
        is gone (verify() says so)."""
        if not self._has_records_table():
            return
        rows = self._db.execute("SELECT seq, recorded_at, kind, payload, prev_hash, hash FROM records ORDER BY seq")
        for seq, recorded_at, rkind, payload, prev, digest in rows:
            if kind is None or rkind == kind:
                try:
                    data = json.loads(payload)
                except ValueError:
                    data = {"unreadable": payload}
                yield LogRecord(seq, recorded_at, rkind, data, prev, digest)

    def decisions(self, skipped: list[tuple[int, str]] | None = None) -> Iterator[tuple[LogRecord, BoardDecision]]:
        """The board's decisions in chain order: `board_decision` records, and CDS Hooks feedback records whose
        payload is a board decision too. Every other record is passed over, and, given `skipped`, listed there
        as (record number, why) so that a count can say what it left out (verify() still checks them all)."""
        for record in self.records():
            if record.kind not in (DECISION, CDS_FEEDBACK):
                if skipped is not None:
                    skipped.append((record.seq, f"a record of kind {record.kind!r}, not a board decision"))
                continue
            try:
                yield record, BoardDecision.model_validate(record.payload)
            except ValidationError as err:
                if skipped is not None:
                    if record.kind == CDS_FEEDBACK:
                        why = "a clinician's answer to a CDS Hooks card (no case or board choice to count)"
                    else:
                        first = err.errors(include_url=False)[0]
                        where = ".".join(str(p) for p in first["loc"]) or "payload"
                        why = f"its content does not read as a board decision ({where}: {first['msg']})"
                    skipped.append((record.seq, why))
                continue

    def _has_records_table(self) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'"
                                ).fetchone() is not None

    def verify(self, against: Anchor | None = None) -> Verification:
        """Recompute the chain; the first record whose hash, link or number does not hold is named.

        The chain alone proves the records are in order and unedited up to its head, not that the head is
        the newest record: removing the newest records, or re-hashing the newest after editing it, leaves a
        shorter chain that holds. With `against` (the count and head a minutes file or a signed checkpoint
        pinned earlier), the log must still hold that many records, and the record at the pinned count must
        still have the pinned hash: the check RFC 9162 calls consistency, done here by recomputing the chain.
        """
        try:
            if not self._has_records_table():
                return Verification(False, 0, GENESIS, None, "the log has no records table: it was dropped, or "
                                    "the file was emptied or replaced")
            result, pinned = self._walk(against.records if against is not None else None)
        except sqlite3.Error as err:
            return Verification(False, 0, GENESIS, None, f"the file cannot be read as a board log ({err})")
        if not result.ok or against is None:
            return result
        if result.count < against.records:
            gone = f"record {against.records}" if result.count + 1 == against.records else \
                f"records {result.count + 1}-{against.records}"
            return Verification(False, result.count, result.head, result.count + 1,
                                f"{against.source} pins {against.records} records, the log holds {result.count}: "
                                f"{gone} were removed")
        if pinned != against.head:
            return Verification(False, result.count, result.head, against.records or None,
                                f"record {against.records} is not the one {against.source} pins (hash "
                                f"{against.head[:16]}...): it or a record before it was rewritten and the chain "
                                "re-hashed")
        return Verification(True, result.count, result.head, pinned=against)

    def _walk(self, stop: int | None) -> tuple[Verification, str | None]:
        """The chain recomputed, and the hash of record `stop` (GENESIS for 0) when it is reached."""
        prev, count, expected_seq = GENESIS, 0, 1
        pinned = GENESIS if stop == 0 else None
        rows = self._db.execute("SELECT seq, recorded_at, kind, payload, prev_hash, hash FROM records ORDER BY seq")
        for seq, recorded_at, kind, payload, prev_hash, digest in rows:
            count += 1
            if seq != expected_seq:
                return Verification(False, count, prev, seq, f"record {expected_seq} is missing (found {seq})"), None
            if prev_hash != prev:
                return Verification(False, count, prev, seq, "its link to the previous record was changed, or a "
                                    "record before it was removed"), None
            try:
                data = json.loads(payload)
            except (TypeError, ValueError):
                return Verification(False, count, prev, seq, "its content is not valid JSON"), None
            if record_hash(prev, seq, recorded_at, kind, data) != digest:
                return Verification(False, count, prev, seq, "its content was changed after it was recorded"), None
            prev, expected_seq = digest, seq + 1
            if seq == stop:
                pinned = digest
        return Verification(True, count, prev), pinned
