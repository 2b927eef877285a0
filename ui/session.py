"""The board meeting: an agenda of patients to step through, the board's decisions, and where (if anywhere) they go.

Everything here lives in the session's memory. Decisions are written to the board log (SQLite) only while the
board has turned recording on, and the page says where; otherwise they are kept for this meeting's minutes alone.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemets.board_log import DECISION, BoardDecision, BoardLog, LogRecord, default_path, fallback_path, standing
from spinemets.case import VERTEBRAE
from spinemets.errors import InputError
from spinemets.fields import FieldSpec

from . import case_state
from .imports import Imported

AGENDA = "agenda.items"
CURRENT = "agenda.current"
DECISIONS = "board.decisions"
RECORDING = "board.recording"
DB_PATH = "board.db_path"
ATTENDEES = "board.attendees"
MEETING_DATE = "board.date"
_COUNTER = itertools.count(1)
# A meeting discusses tens of patients; every patient is drawn with its buttons, and a browser given thousands
# (a 20,000-row registry) never finishes drawing. A whole registry is for `spinemets batch`.
AGENDA_LIMIT = 200
LEFT_OUT = "agenda.left_out"
State = case_state.State


@dataclass
class Item:
    """One patient on the agenda: the case as the form holds it (edits kept), or why it did not read."""

    key: str
    source: str
    values: dict[str, Any] | None
    error: str | None = None
    decided: list[int] = field(default_factory=list)   # indexes into the session's decisions

    @property
    def case_id(self) -> str:
        return str((self.values or {}).get("id") or self.source)

    @property
    def levels(self) -> list[str]:
        """The vertebrae the case describes: its lesions' levels when entered one by one, else its levels."""
        values = self.values or {}
        if values.get("per_level"):
            found = [str(lesion.get("level")) for lesion in values.get("lesions") or []]
        else:
            found = [str(level) for level in values.get("levels") or []]
        return sorted(found, key=lambda v: VERTEBRAE.index(v) if v in VERTEBRAE else len(VERTEBRAE))

    @property
    def label(self) -> str:
        if self.values is None:
            return f"{self.source} (does not read)"
        title = str(self.values.get("title") or "").strip()
        return f"{self.case_id}: {title}" if title else self.case_id


@dataclass(frozen=True)
class Recorded:
    """A decision the board made in this session, with its log record when recording was on."""

    decision: BoardDecision
    record: LogRecord | None = None
    path: str | None = None


def agenda(state: State) -> list[Item]:
    items: list[Item] = state.setdefault(AGENDA, [])
    return items


def current(state: State) -> Item | None:
    key = state.get(CURRENT)
    return next((i for i in agenda(state) if i.key == key), None)


def decisions(state: State) -> list[Recorded]:
    recorded: list[Recorded] = state.setdefault(DECISIONS, [])
    return recorded


def add(state: State, specs: dict[str, FieldSpec], found: list[Imported]) -> list[Item]:
    """Put imported cases on the agenda, in the order given, up to AGENDA_LIMIT patients in all (the rest are left
    out and counted in `state[LEFT_OUT]`)."""
    added = []
    room = max(0, AGENDA_LIMIT - len(agenda(state)))
    state[LEFT_OUT] = max(0, len(found) - room)
    for imported in found[:room]:
        values = case_state.from_case(specs, imported.document.case) if imported.document is not None else None
        item = Item(f"item-{next(_COUNTER)}", imported.source, values, imported.error)
        agenda(state).append(item)
        added.append(item)
    return added


def add_form(state: State) -> Item:
    """The case in the form, typed in, as a new patient on the agenda (and the one now open)."""
    item = Item(f"item-{next(_COUNTER)}", "typed in", case_state.snapshot(state))
    agenda(state).append(item)
    state[CURRENT] = item.key
    return item


def save_current(state: State) -> None:
    """Keep the form's edits with the open patient, so stepping away and back loses nothing."""
    item = current(state)
    if item is not None and item.values is not None:
        item.values = case_state.snapshot(state)


def open_item(state: State, specs: dict[str, FieldSpec], key: str) -> None:
    save_current(state)
    item = next((i for i in agenda(state) if i.key == key), None)
    if item is None or item.values is None:
        return
    state[CURRENT] = key
    case_state.restore(state, specs, item.values)


def detach(state: State) -> None:
    """Before a case from elsewhere replaces the form: the open patient keeps its own case, and the form stops
    being that patient."""
    save_current(state)
    state[CURRENT] = None


def step(state: State, specs: dict[str, FieldSpec], offset: int) -> None:
    readable = [i for i in agenda(state) if i.values is not None]
    if not readable:
        return
    keys = [i.key for i in readable]
    here = state.get(CURRENT)
    index = keys.index(here) + offset if here in keys else 0
    open_item(state, specs, keys[max(0, min(len(keys) - 1, index))])


def remove(state: State, key: str) -> None:
    state[AGENDA] = [i for i in agenda(state) if i.key != key]
    if state.get(CURRENT) == key:
        state[CURRENT] = None


def log_path(state: State) -> Path:
    """Where recording writes: the page's setting, else SPINEMETS_BOARD_DB, else the user's data folder."""
    text = str(state.get(DB_PATH) or "").strip()
    return Path(text).expanduser() if text else (default_path() or fallback_path())


def recording(state: State) -> bool:
    return bool(state.get(RECORDING))


def meeting_date(state: State) -> dt.date:
    value = state.get(MEETING_DATE)
    return value if isinstance(value, dt.date) else dt.date.today()


def attendees(state: State) -> list[str]:
    return list(state.get(ATTENDEES) or [])


def numbered(state: State) -> list[tuple[int, Recorded]]:
    """The meeting's decisions with their numbers: the log's seq when recorded there, else the entry's place in
    the meeting's minutes (what a correcting record's `supersedes` names)."""
    return [(r.record.seq if r.record else i + 1, r) for i, r in enumerate(decisions(state))]


def standing_for(state: State, case_id: str) -> tuple[int, Recorded] | None:
    """The record that stands for this case in this meeting (not a void), with its number."""
    entries = dict(numbered(state))
    found = [s for s in standing((n, r.decision) for n, r in entries.items()) if s.decision.case_id == case_id]
    return (found[-1].number, entries[found[-1].number]) if found and not found[-1].voided else None


def history_of(state: State, entry: Recorded) -> list[tuple[int, Recorded]]:
    """The earlier records of the meeting that `entry` replaced, oldest first."""
    entries = dict(numbered(state))
    for s in standing((n, r.decision) for n, r in entries.items()):
        if s.decision is entry.decision:
            return [(n, entries[n]) for n, _ in s.history]
    return []


def record(state: State, decision: BoardDecision) -> tuple[int, Recorded]:
    """Keep the decision for the minutes, and append it to the board log when recording is on."""
    stored = None
    path = None
    if recording(state):
        path = log_path(state)
        try:
            with BoardLog(path) as log:  # refuses, before writing, any file that is not a board log
                stored = log.append(DECISION, decision)
        except InputError:
            # one message whatever the cause: the page must not tell whether some other file exists there
            raise InputError(f"the board log file {path} cannot be used: recording writes only to a new file or "
                             "to an existing spinemets board log this server can write") from None
    entry = Recorded(decision, stored, str(path) if path else None)
    found = decisions(state)
    found.append(entry)
    item = current(state)
    if item is not None:
        item.decided.append(len(found) - 1)
    return (stored.seq if stored else len(found)), entry

