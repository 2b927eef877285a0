"""`spinemets board`: the board's decision log from the command line (record, export, verify-log, concordance).

The log is the SQLite file named by `--db` or SPINEMETS_BOARD_DB; without either nothing is written. Exit status:
0 ok; 2 bad input (no log given, a case that does not read, an override without a reason); 3 (`verify-log`) the
chain does not hold: a record was edited, removed or reordered, and the first such record is named.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from .terminal import EXIT_INPUT, EXIT_OK, rules_arg

EXIT_TAMPERED = 3
FORMATS = ("markdown", "pdf", "json")


def register(subparsers: Any) -> None:
    board = subparsers.add_parser("board", help="the tumor board's decision log: record, export minutes, verify, "
                                  "concordance")
    sub = board.add_subparsers(dest="board_command", required=True, metavar="ACTION")

    p = sub.add_parser("record", help="record the board's decision for a case (evaluated now, stored with it)")
    p.add_argument("case", help="case file (.yaml, .yml, .json), - for stdin, or a shipped vignette's name")
    p.add_argument("--chosen", required=True, action="append", metavar="OPTION",
                   help="the option the board chose (repeat for several, first is the main one)")
    p.add_argument("--override-reason", metavar="CODE", help="why the board did not follow the top suggestion: "
                   + ", ".join(_reason_codes()))
    p.add_argument("--comment", metavar="TEXT", help="free text for the minutes (no patient names)")
    p.add_argument("--attendee", action="append", default=[], metavar="ROLE",
                   help="a role present at the board, e.g. 'spine surgery' (repeatable; no names)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the meeting date (default: today)")
    _db_arg(p)
    rules_arg(p)
    p.set_defaults(run=_record)

    p = sub.add_parser("export", help="the minutes: each decision beside the engine's, as Markdown, PDF or JSON")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--out", metavar="FILE", help="write to FILE (required for PDF) instead of stdout")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="only the meeting of this date")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only meetings from this date on")
    _db_arg(p)
    rules_arg(p)
    p.set_defaults(run=_export)

    p = sub.add_parser("verify-log", help="recompute the hash chain: exit 0 when it holds, 3 naming the first bad "
                       "record")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _db_arg(p)
    p.set_defaults(run=_verify)

    p = sub.add_parser("concordance", help="how often boards followed the top suggestion: by option, by rule, why not")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    _db_arg(p)
    rules_arg(p)
    p.set_defaults(run=_concordance)


def _reason_codes() -> list[str]:
    from ..board_log import OVERRIDE_REASONS
    return list(OVERRIDE_REASONS)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="FILE", help="the board log (SQLite); default $SPINEMETS_BOARD_DB")


def _db_path(args: argparse.Namespace) -> Path:
    from ..board_log import ENV_VAR, default_path

    path = Path(args.db).expanduser() if args.db else default_path()
    if path is None:
        raise InputError(f"no board log given: pass --db FILE or set {ENV_VAR} (nothing is stored unless you do)")
    return path


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: expected a date as YYYY-MM-DD, got {text!r}",
                         [Problem("not a date", field=option)]) from None


def _titles(rules: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Option and rule titles from the rule base, for words; a rule base that does not load leaves the codes."""
    from ..engine import get_engine
    from ..errors import RulebookError

    try:
        book = get_engine(rules).rulebook
    except RulebookError:
        return {}, {}
    return {o.code: o.title for o in book.manifest.options}, {r.id: r.title for r in book.rules}


def _record(args: argparse.Namespace) -> int:
    from ..board_log import DECISION, BoardLog, make_decision_record
    from ..case import known_values
    from ..case_io import read_case_file
    from ..engine import get_engine
    from ..vocabulary import OPTIONS

    path = _db_path(args)
    unknown = [c for c in args.chosen if c not in OPTIONS]
    if unknown:
        raise InputError(f"--chosen: unknown option {', '.join(unknown)}; options: {', '.join(OPTIONS)}",
                         [Problem("unknown option", field="chosen")])
    if args.override_reason is not None and args.override_reason not in _reason_codes():
        raise InputError(f"--override-reason: unknown code {args.override_reason!r}; codes: "
                         + ", ".join(_reason_codes()), [Problem("unknown code", field="override_reason")])
    meeting = _date(args.date, "--date") or dt.date.today()
    from ..vignettes import resolve

    document = read_case_file(resolve(args.case))
    case = document.case
    decision = json.loads(get_engine(args.rules).evaluate(case).to_json())
    case_data = {"id": case.id, **({"title": case.title} if case.title else {}), **_flat_case(known_values(case))}
    record = make_decision_record(case_data, decision, args.chosen, override_reason=args.override_reason,
                                  comment=args.comment, attendees=args.attendee, meeting_date=meeting, source="cli")
    with BoardLog(path) as log:
        stored = log.append(DECISION, record)
    follows = "follows the top suggestion" if record.follows_top else f"overrides the top suggestion {record.top}"
    graded = {o["option"]: o["status"] for o in decision["options"]}
    if graded.get(record.chosen[0]) == "contraindicated":
        follows += f"; the engine grades {record.chosen[0]} contraindicated"
    print(f"recorded {case.id} as record {stored.seq} of {path}: {', '.join(record.chosen)} ({follows})")
    print(f"hash {stored.hash}")
    return EXIT_OK


def _flat_case(values: dict[str, Any]) -> dict[str, Any]:
    """Known values in the case file's shape (SINS components nested), JSON-ready."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith("sins."):
            data.setdefault("sins", {})[name.split(".", 1)[1]] = value
        else:
            data[name] = value
    return data


def _export(args: argparse.Namespace) -> int:
    from .. import minutes
    from ..board_log import BoardLog
    from .extras import require

    if args.format == "pdf":
        require("spinemets board export --format pdf", "pdf")
    path = _db_path(args)
    meeting, since = _date(args.date, "--date"), _date(args.since, "--since")
    with BoardLog(path, create=False) as log:
        entries = minutes.from_log(log, meeting=meeting, since=since)
        head = log.verify().head
    titles, _ = _titles(args.rules)
    if args.format == "pdf":
        if not args.out:
            raise InputError("--format pdf needs --out FILE (a PDF is not printed to the terminal)")
        body: bytes = minutes.pdf(entries, titles, head=head)
    elif args.format == "json":
        body = minutes.to_json(entries, head=head).encode()
    else:
        body = minutes.markdown(entries, titles, head=head).encode()
    if args.out:
        try:
            Path(args.out).write_bytes(body)
        except OSError as err:
            raise InputError(f"{args.out}: cannot write ({err.strerror})") from None
        print(f"{len(entries)} decisions written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(body.decode())
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from ..board_log import BoardLog

    path = _db_path(args)
    with BoardLog(path, create=False) as log:
        result = log.verify()
    if args.json:
        print(json.dumps({"ok": result.ok, "records": result.count, "head": result.head, "bad_record": result.bad_seq,
                          "reason": result.reason or None}))
    elif result.ok:
        print(f"{path}: the chain holds over {result.count} records; head {result.head}")
    else:
        print(f"{path}: record {result.bad_seq} does not hold: {result.reason}", file=sys.stderr)
        print(f"the {result.count - 1} records before it hold; head before it {result.head}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_TAMPERED


def _concordance(args: argparse.Namespace) -> int:
    from ..board_log import BoardLog, standing
    from ..concordance import concordance, render

    path = _db_path(args)
    with BoardLog(path, create=False) as log:
        result = concordance(s.decision for s in standing((r.seq, d) for r, d in log.decisions()) if not s.voided)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        options, rules = _titles(args.rules)
        sys.stdout.write(render(result, options, rules))
    return EXIT_OK


__all__ = ["EXIT_INPUT", "EXIT_TAMPERED", "register"]
