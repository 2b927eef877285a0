"""`spinemets board`: the board's decision log from the command line (record, export, verify-log, concordance).

The log is the SQLite file named by `--db` or SPINEMETS_BOARD_DB; without either nothing is written. Reading
commands (export, verify-log, checkpoint, concordance) open it read-only. Exit status: 0 ok; 2 bad input (no log
given, a case that does not read, an override without a reason, an output that is the log); 3 the chain does not
hold, or does not hold against the minutes or checkpoint given with `--against`: a record was edited, removed or
reordered, and the first such record is named. export and concordance refuse a broken chain with 3 unless given
`--allow-broken`.
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

    p = sub.add_parser("export", help="the minutes: each decision beside the engine's, as Markdown, PDF or JSON, "
                       "pinned to the log's head")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--out", metavar="FILE", help="write to FILE (required for PDF) instead of stdout")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="only the meeting of this date")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only meetings from this date on")
    _db_arg(p)
    _key_arg(p, "sign the head the minutes pin with the board's key")
    _broken_arg(p)
    rules_arg(p)
    p.set_defaults(run=_export)

    p = sub.add_parser("verify-log", help="recompute the hash chain (and, with --against, that nothing pinned was "
                       "removed or rewritten): exit 0 when it holds, 3 naming the first bad record")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--against", metavar="FILE", help="minutes (Markdown, JSON, PDF) or a signed checkpoint: the log "
                   "must still hold the records it pins, unchanged")
    _db_arg(p)
    _key_arg(p, "the board's key (private or public) to check signed checkpoints with")
    p.set_defaults(run=_verify)

    p = sub.add_parser("checkpoint", help="sign the log's record count and head with the board's key (keep the "
                       "file apart from the log)")
    p.add_argument("--out", metavar="FILE", help="write the checkpoint to FILE instead of stdout")
    _db_arg(p)
    _key_arg(p, "the board's private key")
    p.set_defaults(run=_checkpoint)

    p = sub.add_parser("keygen", help="make the board's Ed25519 key for signed checkpoints (never beside the log)")
    p.add_argument("key", metavar="FILE", help="where to write the private key (owner-only; never overwritten)")
    p.set_defaults(run=_keygen)

    p = sub.add_parser("concordance", help="how often boards followed the top suggestion: by option, by rule, why not")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    _db_arg(p)
    _broken_arg(p)
    rules_arg(p)
    p.set_defaults(run=_concordance)


def _reason_codes() -> list[str]:
    from ..board_log import OVERRIDE_REASONS
    return list(OVERRIDE_REASONS)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="FILE", help="the board log (SQLite); default $SPINEMETS_BOARD_DB")


def _key_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--key", metavar="FILE", help=f"{what}; default $SPINEMETS_BOARD_KEY (keep it apart from "
                        "the log)")


def _broken_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-broken", action="store_true", help="read a log whose chain does not hold (the "
                        "output says so) instead of exiting 3")


def _key(args: argparse.Namespace, log: Path | None) -> Any:
    from ..board_checkpoint import key_path, load_key

    path = key_path(getattr(args, "key", None))
    return load_key(path, log) if path is not None else None


def _open_verified(path: Path, args: argparse.Namespace) -> Any:
    """The log opened read-only with its chain verified; a broken chain stops here (exit 3) unless the command
    was told --allow-broken, when it is said on stderr and the caller marks its output."""
    from ..board_log import BoardLog

    log = BoardLog(path, create=False)
    result = log.verify()
    if not result.ok:
        where = f"record {result.bad_seq} does not hold: " if result.bad_seq is not None else ""
        print(f"spinemets: {path}: the chain does not hold: {where}{result.reason}", file=sys.stderr)
        if not getattr(args, "allow_broken", False):
            log.close()
            print("spinemets: nothing read from a log that cannot be shown whole; run `spinemets board verify-log`, "
                  "or give --allow-broken to read it anyway", file=sys.stderr)
            raise _Broken
    return log, result


class _Broken(Exception):
    """The chain does not hold and the command was not told to read it anyway (exit 3)."""


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
    from .._internal import output
    from ..board_checkpoint import sign
    from .extras import require

    if args.format == "pdf":
        require("spinemets board export --format pdf", "pdf")
    path = _db_path(args)
    meeting, since = _date(args.date, "--date"), _date(args.since, "--since")
    if args.format == "pdf" and not args.out:
        raise InputError("--format pdf needs --out FILE (a PDF is not printed to the terminal)")
    # checked before the log is read: the minutes may not land on the log or its side files
    target = output.target(args.out or "-", _log_files(path))
    key = _key(args, path)
    try:
        log, result = _open_verified(path, args)
    except _Broken:
        return EXIT_TAMPERED
    with log:
        entries = minutes.from_log(log, meeting=meeting, since=since)
    checkpoint = sign(key, result) if key is not None and result.ok else None
    pin = minutes.Pin.of(result, checkpoint)
    titles, _ = _titles(args.rules)
    if args.format == "pdf":
        body: bytes = minutes.pdf(entries, titles, pin=pin)
    elif args.format == "json":
        body = minutes.to_json(entries, pin=pin).encode()
    else:
        body = minutes.markdown(entries, titles, pin=pin).encode()
    with target.open(binary=True) as stream:
        stream.write(body)
    if args.out:
        print(f"{len(entries)} decisions written to {args.out}", file=sys.stderr)
    return EXIT_OK


def _log_files(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + side) for side in ("-wal", "-shm", "-journal"))]


def _verify(args: argparse.Namespace) -> int:
    from ..board_checkpoint import SignatureProblem, read_anchor
    from ..board_log import BoardLog

    path = _db_path(args)
    key = _key(args, path)
    anchor = None
    problem = ""
    if args.against:
        try:
            anchor = read_anchor(args.against, key)
        except SignatureProblem as err:
            problem = str(err)
    with BoardLog(path, create=False) as log:
        result = log.verify(anchor)
    if problem:
        from ..board_log import Verification

        result = Verification(False, result.count, result.head, None, problem)
    if args.json:
        print(json.dumps({"ok": result.ok, "records": result.count, "head": result.head if result.ok else None,
                          "bad_record": result.bad_seq, "reason": result.reason or None,
                          "against": args.against, "pinned_records": anchor.records if anchor else None}))
    elif result.ok:
        against = f"; it still holds the {anchor.records} records {anchor.source} pins" if anchor else ""
        print(f"{path}: the chain holds over {result.count} records; head {result.head}{against}")
    else:
        where = f"record {result.bad_seq} does not hold: " if result.bad_seq is not None else "does not hold: "
        print(f"{path}: {where}{result.reason}", file=sys.stderr)
        if result.bad_seq is not None and result.count > 1:
            print(f"the records before record {result.bad_seq} hold", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_TAMPERED


def _checkpoint(args: argparse.Namespace) -> int:
    from .._internal import output
    from ..board_checkpoint import one_line, sign

    path = _db_path(args)
    target = output.target(args.out or "-", _log_files(path))
    key = _key(args, path)
    if key is None:
        raise InputError("no board key: pass --key FILE or set SPINEMETS_BOARD_KEY (make one with "
                         "`spinemets board keygen FILE`, kept apart from the log)")
    if key.private is None:
        raise InputError(f"{key.name}: a public key cannot sign; give the board's private key")
    args.allow_broken = False
    try:
        log, result = _open_verified(path, args)
    except _Broken:
        return EXIT_TAMPERED
    log.close()
    with target.open(binary=True) as stream:
        stream.write(one_line(sign(key, result)) + "\n")
    print(f"checkpoint of {result.count} records, head {result.head}, signed by {key.fingerprint}", file=sys.stderr)
    return EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    from ..board_checkpoint import generate, public_pem

    key = generate(Path(args.key).expanduser())
    print(f"board key written to {args.key} (owner-only); keep it apart from the log. Its public half, to check "
          f"checkpoints with (fingerprint {key.fingerprint}):", file=sys.stderr)
    sys.stdout.write(public_pem(key))
    return EXIT_OK


def _concordance(args: argparse.Namespace) -> int:
    from ..board_log import standing
    from ..concordance import concordance, render

    path = _db_path(args)
    try:
        log, chain = _open_verified(path, args)
    except _Broken:
        return EXIT_TAMPERED
    skipped: list[tuple[int, str]] = []
    with log:
        # each case's standing record only: a corrected decision counts once, a voided one not at all; the
        # records left out say so, so that the report still accounts for every record
        resolved = standing((record.seq, decision) for record, decision in log.decisions(skipped))
    for kept in resolved:
        replaced = "withdrawn" if kept.voided else "corrected"
        skipped += [(number, f"{replaced} by record {kept.number}") for number, _ in kept.history]
        if kept.voided:
            skipped.append((kept.number, "withdraws an earlier decision of its case (stands for no decision)"))
    result = concordance((s.decision for s in resolved if not s.voided), records=chain.count,
                         skipped=sorted(skipped), holds=chain.ok)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        options, rules = _titles(args.rules)
        sys.stdout.write(render(result, options, rules))
    return EXIT_OK


__all__ = ["EXIT_INPUT", "EXIT_TAMPERED", "register"]
