"""The minutes of a tumor board: for each patient the board's decision beside the engine's, as Markdown, PDF or JSON.

Built from board decisions, with their place in the log when they were recorded (a meeting held with recording
off still gets minutes, from the decisions kept in memory). Option names are words taken from the rule base. Each
case appears once, with the record that stands for it (board_log.standing) and the records it corrected or voided.
"""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .board_checkpoint import PIN_TEXT, one_line
from .board_log import OVERRIDE_REASONS, BoardDecision, BoardLog, LogRecord, Verification, standing

DISCLAIMER = ("Decision support, not a medical device: the engine's suggestions summarise published papers; the "
              "decisions are the board's.")


@dataclass(frozen=True)
class Pin:
    """Where the minutes pin the board log: its record count and head hash (a signed checkpoint of them when
    the board's key was given), or, when the chain did not hold, why: then the minutes pin nothing, and say so
    rather than print the last good record's hash as the head."""

    records: int
    head: str | None
    broken: str = ""
    checkpoint: dict[str, Any] | None = None

    @classmethod
    def of(cls, result: Verification, checkpoint: dict[str, Any] | None = None) -> Pin:
        if result.ok:
            return cls(result.count, result.head, checkpoint=checkpoint)
        where = f"record {result.bad_seq}: " if result.bad_seq is not None else ""
        return cls(result.count, None, broken=f"{where}{result.reason}")

    def words(self) -> list[str]:
        """The lines the Markdown and PDF minutes print (and `board verify-log --against` reads back)."""
        if self.head is None:
            return [f"Board log: the chain does NOT hold ({self.broken}); these minutes pin nothing"]
        found = [PIN_TEXT.format(records=self.records, head=f"`{self.head}`") + " (keep these minutes: `spinemets "
                 "board verify-log --against` them fails if a record up to there is later removed or rewritten)"]
        if self.checkpoint is not None:
            found.append(f"Signed checkpoint: `{one_line(self.checkpoint)}`")
        return found

    def to_json(self) -> dict[str, Any]:
        if self.head is None:
            return {"holds": False, "records": self.records, "head": None, "reason": self.broken}
        found: dict[str, Any] = {"holds": True, "records": self.records, "head": self.head}
        if self.checkpoint is not None:
            found["checkpoint"] = self.checkpoint
        return found


def pin_of_session(records: Sequence[LogRecord | None]) -> Pin | None:
    """A meeting's minutes pin the log at the newest record this meeting wrote (the log may hold more)."""
    last = max((r for r in records if r is not None), key=lambda r: r.seq, default=None)
    return None if last is None else Pin(last.seq, last.hash)


@dataclass(frozen=True)
class Entry:
    """One patient's decision, with its log record when it was recorded."""

    decision: BoardDecision
    record: LogRecord | None = None
    history: tuple[tuple[int, BoardDecision], ...] = ()   # the earlier records of the case it replaced


def standing_entries(entries: Iterable[tuple[int, LogRecord | None, BoardDecision]]) -> list[Entry]:
    """(number, record, decision) in recording order -> one entry per case: the standing record, with history."""
    listed = list(entries)
    records = {number: record for number, record, _ in listed}
    return [Entry(s.decision, records[s.number], s.history)
            for s in standing((number, decision) for number, _, decision in listed)]


def from_log(log: BoardLog, *, meeting: dt.date | None = None, since: dt.date | None = None) -> list[Entry]:
    """The log's board decisions, optionally of one meeting date or from a date on (by meeting date, else the
    day recorded)."""
    found = []
    for entry in standing_entries((record.seq, record, decision) for record, decision in log.decisions()):
        record = entry.record
        assert record is not None
        day = entry.decision.meeting_date or dt.date.fromisoformat(record.recorded_at[:10])
        if (meeting is None or day == meeting) and (since is None or day >= since):
            found.append(entry)
    return found


def status_words(code: str | None) -> str:
    return "not graded" if not code else code.replace("_", " ")


def _statuses(decision: BoardDecision) -> dict[str, str]:
    return {o.get("option"): o.get("status") for o in decision.decision.get("options") or ()}


@dataclass(frozen=True)
class Line:
    """An entry in words."""

    number: int
    case_id: str
    title: str
    tool: str          # "Percutaneous vertebroplasty (PVP), recommended"
    board: str         # "Conservative care (CONSERVATIVE), graded not recommended by the engine"
    follows: bool
    reason: str
    comment: str
    attendees: str
    meeting: str
    rulebook: str
    record: str        # "record 3, hash 1a2b..." or "not recorded"
    history: str = ""  # "corrects record 2 (Conservative care (CONSERVATIVE))" or ""
    voided: bool = False
    plan: str = ""     # a case in lesion form: "T11 Percutaneous vertebroplasty (PVP), recommended; ..."


def lines(entries: Sequence[Entry], titles: dict[str, str]) -> list[Line]:
    def named(code: str | None) -> str:
        if not code:
            return "none"
        title = titles.get(code)
        return f"{title} ({code})" if title else code

    out = []
    for number, entry in enumerate(entries, start=1):
        d = entry.decision
        statuses = _statuses(d)
        chosen = "; ".join(f"{named(c)}, graded {status_words(statuses.get(c))} by the engine" for c in d.chosen)
        record = entry.record
        # numbers are the log's seq when recorded there, else the entry's place in the meeting's minutes
        kind = "record" if record is not None else "minutes entry"
        earlier = "; ".join(f"{kind} {n} ({', '.join(named(c) for c in e.chosen)})" for n, e in entry.history)
        history = (f"{'voids' if d.voids else 'corrects'} {earlier}" if earlier else "")
        out.append(Line(
            number=number, case_id=d.case_id, title=str(d.case.get("title") or ""),
            tool=f"{named(d.top)}, {status_words(statuses.get(d.top or ''))}", board=chosen, follows=d.follows_top,
            reason="" if d.follows_top else OVERRIDE_REASONS.get(d.override_reason or "", "no reason recorded"),
            comment=d.comment or "", attendees=", ".join(d.attendees), meeting=str(d.meeting_date or ""),
            rulebook=f"version {d.rulebook_version}, sha256 {d.rulebook_sha256}",
            record=f"record {record.seq} of the log, {record.recorded_at}, hash {record.hash}" if record
            else "not recorded in a log (recording was off)", history=history, voided=d.voids,
            plan=_plan_words(d.decision.get("plan"), named)))
    return out


def _plan_words(plan: Any, named: Any) -> str:
    """The plan of a case in lesion form in one line: each level's advice and status, then the sessions."""
    if not isinstance(plan, dict):
        return ""
    levels = [f"{p.get('level')} {named(p.get('advice'))}, {status_words(p.get('status'))}"
              for p in plan.get("levels") or () if isinstance(p, dict)]
    sessions = [f"{named(p.get('option'))} in {len(p.get('sessions') or ())} "
                f"{'operation' if p.get('option') == 'SURGERY' else 'session'}(s): "
                + " / ".join("+".join(group) for group in p.get("sessions") or ())
                for p in plan.get("procedures") or () if isinstance(p, dict)]
    return "; ".join(levels) + (". " + "; ".join(sessions) if sessions else "")


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("<", "\\<").replace("|", "\\|")


def markdown(entries: Sequence[Entry], titles: dict[str, str], *, pin: Pin | None = None,
             generated: dt.datetime | None = None) -> str:
    when = (generated or dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    rows = lines(entries, titles)
    out = ["# Tumor board minutes", "", f"> **{DISCLAIMER}**", "", f"- Generated: {when}",
           f"- Patients: {len(rows)}; the board followed the top suggestion for "
           f"{sum(r.follows for r in rows if not r.voided)}"
           + (f"; {sum(r.voided for r in rows)} decision(s) withdrawn" if any(r.voided for r in rows) else "")]
    if pin is not None:
        out += [f"- {line}" for line in pin.words()]
    out += ["", "| # | case | engine's top suggestion | board's decision | follows |", "|---|---|---|---|---|"]
    for r in rows:
        board = "withdrawn (voided)" if r.voided else _md(r.board)
        follows = "-" if r.voided else "yes" if r.follows else "no"
        out.append(f"| {r.number} | `{r.case_id}` | {_md(r.tool)} | {board} | {follows} |")
    for r in rows:
        out += ["", f"## {r.number}. `{r.case_id}`" + (f": {_md(r.title)}" if r.title else ""), "",
                f"- Engine's top suggestion: {_md(r.tool)}", f"- Board's decision: {_md(r.board)}",
                f"- Follows the top suggestion: {'yes' if r.follows else 'no'}"]
        if r.voided:
            out[-2:] = ["- Board's decision: withdrawn (the record below voids it)"]
        if r.plan:
            out.append(f"- Plan by level: {_md(r.plan)}")
        if r.history:
            out.append(f"- History: this record {_md(r.history)}")
        if r.reason:
            out.append(f"- Why not: {_md(r.reason)}")
        if r.comment:
            out.append(f"- Comment: {_md(r.comment)}")
        if r.attendees:
            out.append(f"- Attendees (roles): {_md(r.attendees)}")
        if r.meeting:
            out.append(f"- Meeting date: {r.meeting}")
        out += [f"- Rule base: {_md(r.rulebook)}", f"- {_md(r.record)}"]
    out += ["", "---", "", f"*{DISCLAIMER}*", ""]
    return "\n".join(out)


def to_json(entries: Sequence[Entry], *, pin: Pin | None = None) -> str:
    """Every entry with its full record (case, decision JSON, rule base hash) and its place in the chain."""
    items: list[dict[str, Any]] = []
    for entry in entries:
        item: dict[str, Any] = {"decision": entry.decision.model_dump(mode="json"),
                                "replaces": [{"number": n, "decision": e.model_dump(mode="json")}
                                             for n, e in entry.history]}
        if entry.record is not None:
            r = entry.record
            item.update(seq=r.seq, recorded_at=r.recorded_at, kind=r.kind, prev_hash=r.prev_hash, hash=r.hash)
        items.append(item)
    document = {"head": pin.head if pin is not None else None, "log": pin.to_json() if pin is not None else None,
                "disclaimer": DISCLAIMER, "entries": items}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_SPELLED = {"≥": ">=", "≤": "<=", "–": "-", "—": "-", "−": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
            "→": "->", "•": "*", "\u00a0": " "}


def _latin1(text: str) -> str:
    """Text fpdf's core fonts can print (latin-1): symbols spelled out, accents dropped where latin-1 lacks them."""
    out = []
    for given in str(text):
        char = _SPELLED.get(given, given)
        try:
            char.encode("latin-1")
        except UnicodeEncodeError:
            stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            char = stripped if stripped and stripped.isascii() else "?"
        out.append(char)
    return "".join(out)


def pdf(entries: Sequence[Entry], titles: dict[str, str], *, pin: Pin | None = None,
        generated: dt.datetime | None = None) -> bytes:
    """The minutes as an A4 PDF, built in memory."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    when = (generated or dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    doc = FPDF(format="A4", unit="mm")
    doc.set_margins(14, 12, 14)
    doc.set_auto_page_break(auto=True, margin=14)
    doc.set_creator("spinemets")
    doc.set_title("Tumor board minutes")
    if pin is not None:  # the document's metadata is not compressed: verify-log --against reads the pin there
        doc.set_subject(" ".join(pin.words()).replace("`", ""))
    doc.add_page()

    def text(body: str, size: float = 9, style: str = "", gap: float = 0.6, indent: float = 0) -> None:
        doc.set_font("Helvetica", style, size)
        doc.set_x(doc.l_margin + indent)
        doc.multi_cell(doc.epw - indent, size * 0.45, _latin1(body), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        doc.ln(gap)

    text("Tumor board minutes", 15, "B", 1)
    text(DISCLAIMER, 8, "B", 1)
    rows = lines(entries, titles)
    text(f"Generated {when}. Patients: {len(rows)}; the board followed the top suggestion for "
         f"{sum(r.follows for r in rows if not r.voided)}.", 8.5)
    if pin is not None:
        for line in pin.words():
            text(line.replace("`", ""), 7.5)
    for r in rows:
        doc.ln(1.5)
        text(f"{r.number}. {r.case_id}" + (f": {r.title}" if r.title else ""), 11, "B", 0.8)
        text(f"Engine's top suggestion: {r.tool}", 9, indent=3)
        if r.plan:
            text(f"Plan by level: {r.plan}", 9, indent=3)
        if r.voided:
            text("Board's decision: withdrawn (this record voids it)", 9, "B", indent=3)
        else:
            text(f"Board's decision: {r.board}", 9, "B", indent=3)
            text(f"Follows the top suggestion: {'yes' if r.follows else 'no'}", 9, indent=3)
        for label, value in (("Why not", r.reason), ("Comment", r.comment), ("Attendees (roles)", r.attendees),
                             ("Meeting date", r.meeting), ("History: this record", r.history)):
            if value:
                text(f"{label}: {value}", 9, indent=3)
        text(f"Rule base {r.rulebook}", 7, indent=3, gap=0.2)
        text(r.record[:1].upper() + r.record[1:], 7, indent=3)
    return bytes(doc.output())


def entries_of(decisions: Iterable[tuple[LogRecord | None, BoardDecision]]) -> list[Entry]:
    return [Entry(decision, record) for record, decision in decisions]
