"""The `spinemets` command line: evaluate cases, validate rule bases, export schemas."""
from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from .._internal.printable import printable
from ..errors import CaseError, EngineError, InputError
from . import app, batch, board, fhir, knowledge_base, serve, synth
from . import verify as verify_command
from .about import VersionAction
from .terminal import DEFAULT_WIDTH, EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, Style, rules_arg

DISCLAIMER = "Decision support for a multidisciplinary tumor board, not a medical device."
CASE_HELP = ("case, vignette or Bundle file (.yaml, .yml, .json), - for stdin, or a shipped vignette's name "
             "(`spinemets cases`; a file that exists wins)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinemets", description="Cited treatment decision support for painful spinal metastases. " + DISCLAIMER)
    parser.add_argument("--version", action=VersionAction,
                        help="print the package version and the rule base's name, version and sha256, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("evaluate", help="grade the six options for one case, with cited reasons")
    p.add_argument("case", help=CASE_HELP)
    p.add_argument("--json", action="store_true", help="print the decision as JSON (the data dictionary's format)")
    rules_arg(p)
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser("validate", help="load and check a rule base; exit 2 with every problem if it is invalid")
    p.add_argument("path", nargs="?", default=None, help="rule base folder or file (default: the built-in rules/)")
    p.add_argument("--json", action="store_true",
                   help="print the summary, or every problem with its file, line, rule and field, as JSON")
    p.set_defaults(run=_cmd_validate)

    p = sub.add_parser("cases", help="list the shipped vignettes by name, with titles that give no answer away")
    p.add_argument("--json", action="store_true", help="print name, title and file of each as JSON")
    rules_arg(p)
    p.set_defaults(run=_cmd_cases)

    p = sub.add_parser("schema", help="print the JSON Schema of a case or a decision")
    p.add_argument("which", choices=["case", "decision"])
    p.set_defaults(run=_cmd_schema)
    verify_command.register(sub)
    batch.register(sub)
    synth.register(sub)
    knowledge_base.register(sub)
    fhir.register(sub)
    serve.register(sub)
    app.register(sub)
    board.register(sub)
    return parser


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..case_io import read_case_file
    from ..engine import get_engine
    from ..vignettes import resolve

    document = read_case_file(resolve(args.case))
    try:
        decision = get_engine(args.rules).evaluate(document.case)
    except CaseError as err:
        where = "<stdin>" if args.case == "-" else args.case
        raise CaseError(f"{where}: {err.summary}", [
            replace(p, file=where, line=p.line or document.line_of(p.field, *p.also)) for p in err.problems]) from None
    if document.record is not None:
        _tell_record(document.record, "<stdin>" if args.case == "-" else args.case, explain=False)
    if args.json:
        sys.stdout.write(decision.to_json() if document.record is None else with_record(decision, document.record))
    else:
        sys.stdout.write(render_decision(decision, document, get_engine(args.rules).rulebook, Style(sys.stdout)))
    return EXIT_OK


def with_record(decision: Any, record: Any) -> str:
    """The decision's JSON with the additive key `record`: provenance of every field read from a Bundle, and
    what was voided, asked or ignored (docs/interoperability.md)."""
    data = json.loads(decision.to_json())
    data["record"] = record.model_dump(mode="json")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _tell_record(record: Any, where: str, explain: bool) -> None:
    """The record's voided fields and questions on stderr (ignored elements too with --explain)."""
    kinds = ("voided", "question", "ignored") if explain else ("voided", "question")
    for note in record.notes:
        if note.kind in kinds:
            field = f" {note.field}" if note.field else ""
            print(f"{where}: {note.kind}{field}: {note.message}", file=sys.stderr)
    ignored = len(record.of("ignored"))
    if ignored and not explain:
        print(f"{where}: {ignored} resource(s) or coded element(s) not read (spinemets fhir import --explain "
              "lists them)", file=sys.stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    from ..engine import get_engine
    from ..errors import RulebookError
    from ..rulebook import load_rulebook
    from ..rulebook.loader import ignored_files, rule_files

    folder, files = rule_files(args.path)
    try:
        book = load_rulebook(args.path)
        # the engine's own compilation (durable-rules registration included): what validates can run
        engine = get_engine(book)
    except RulebookError as err:
        if not args.json:
            raise
        # the problems for tools: each with its file, line, rule and field; still exit 2
        problems = [{"message": p.message, "file": p.file, "line": p.line, "rule": p.rule, "field": p.field}
                    for p in err.problems] or [{"message": err.summary, "file": None, "line": None, "rule": None,
                                                "field": None}]
        print(json.dumps({"valid": False, "summary": err.summary, "problems": problems}, indent=2))
        return EXIT_INPUT
    rules = book.rules
    active = book.active_rules
    effects: dict[str, int] = {}
    for rule in active:
        for effect in rule.then:
            name = next(k for k in type(effect).model_fields if k != "text")
            effects[name] = effects.get(name, 0) + 1
    cited = {c.source for r in rules for c in r.citations}
    facts = [n for n, s in book.catalog.specs.items() if s.kind == "fact"]
    if args.json:
        print(json.dumps({
            "valid": True, "name": book.manifest.name, "version": book.version, "sha256": book.sha256,
            "rules": len(rules), "active_rules": len(active), "effects": dict(sorted(effects.items())),
            "sources": len(book.sources), "sources_cited": len(cited), "scores": [s.id for s in book.scores],
            "facts": facts, "consistency_checks": len(book.constraints)}, indent=2))
        return EXIT_OK
    print(f"rule base {book.manifest.name} {book.version}: valid")
    print(f"  sha256     {book.sha256}")
    print(f"  rules      {len(rules)} ({len(active)} active)")
    print("  effects    " + ", ".join(f"{k} {v}" for k, v in sorted(effects.items())))
    print(f"  sources    {len(book.sources)} declared, {len(cited)} cited by rules")
    print(f"  scores     {', '.join(s.id for s in book.scores) or 'none'}")
    print(f"  facts      {', '.join(facts) or 'none'}")
    print(f"  checks     {len(book.constraints)} consistency checks")
    print(f"  compiled   {len(engine.durable.definition)} durable-rules rules")
    print(f"  files      {len(files)} read: " + ", ".join(str(f.relative_to(folder)) for f in files))
    ignored = ignored_files(args.path)
    if ignored:
        print(f"  ignored    {len(ignored)} not .yaml or .yml: "
              + ", ".join(str(f.relative_to(folder)) for f in ignored))
    return EXIT_OK


def _cmd_cases(args: argparse.Namespace) -> int:
    from ..case_io import read_case_file
    from ..engine import get_engine
    from ..ui.labels import neutral_title  # words only: the front end's labels need no Streamlit
    from ..vignettes import vignette_files

    rulebook = get_engine(args.rules).rulebook
    rows = []
    for number, (name, path) in enumerate(vignette_files().items(), start=1):
        # numbered as the app's trainee page numbers them, so "Vignette 7" is the same case in both
        rows.append({"name": name, "title": neutral_title(rulebook, number, read_case_file(path).case),
                     "file": str(path)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['title']}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from ..case import Case
    from ..decision import Decision

    model = Case if args.which == "case" else Decision
    print(json.dumps(model.model_json_schema(mode="serialization" if args.which == "decision" else "validation"),
                     indent=2))
    return EXIT_OK


def range_lines(span: Any, width: int, style: Callable[[str, str], str]) -> list[str]:
    """A provisional option's range and the unknown fields that could move it toward each end."""
    if span is None:
        return []
    lines = [style(f"      range: {span.best} at best, {span.worst} at worst, once the unknown fields are known",
                   "dim")]
    for label, names in (("could lift it", span.toward_best), ("could lower it", span.toward_worst)):
        if names:
            lines += textwrap.wrap(f"{label}: {', '.join(names)}", width, initial_indent="      ? ",
                                   subsequent_indent=" " * 8)
    return lines


def plan_lines(decision: Any, titles: dict[str, str], width: int, style: Callable[[str, str], str]) -> list[str]:
    """A case in lesion form: the plan, then each level's grades, before the patient's summary."""
    plan = decision.plan
    out = [style("Plan for the patient", "bold")]
    for level in plan.levels:
        signs = [word for flag, word in ((level.fracture, "fracture"), (level.compression, "compression"),
                                         (level.painful is False, "not a pain generator"),
                                         (level.causes_deficit, "causes the deficit")) if flag]
        flag = " (provisional)" if level.provisional else ""
        extra = f"  [{', '.join(signs)}]" if signs else ""
        out.append(f"  {level.level:<4} {level.advice:<13}{style(f'{level.status:<16}', level.status)}"
                   f"{titles[level.advice]}{flag}{extra}")
    for procedure in plan.procedures:
        groups = "; ".join("+".join(group) for group in procedure.sessions)
        unit = "operation" if procedure.option == "SURGERY" else "session"
        count = len(procedure.sessions)
        out.append(f"  > {procedure.option} at {', '.join(procedure.levels)}: {count} {unit}"
                   f"{'s' if count > 1 else ''} ({groups})")
    if plan.radiotherapy:
        out.append(f"  > radiotherapy or no procedure now: {', '.join(plan.radiotherapy)}")
    if plan.weigh:
        out.append(f"  > for the board to weigh (top option at caution or below): {', '.join(plan.weigh)}")
    for reason in plan.reasons:
        maybe = " (may apply: unknown fields decide)" if reason.provisional else ""
        sources = "; ".join(f"{c.source}, {c.section}: {c.stance_label}" for c in reason.citations)
        out += textwrap.wrap(f"[{reason.rule}] {', '.join(reason.levels)}{maybe}: {reason.text}"
                             + style(f"  ({sources})", "dim"), width, initial_indent="  ! ", subsequent_indent="    ")
    out += ["", style("By level", "bold")]
    for lesion in decision.lesions:
        graded = ", ".join(f"{o.option} {o.status}{'?' if o.provisional else ''}" for o in lesion.options)
        out += textwrap.wrap(f"{lesion.level}: {graded}", width, initial_indent="  ", subsequent_indent="       ")
    out += ["", style("For the patient: each option at its best level (the levels in brackets)", "bold")]
    return out + [""]


def render_decision(decision: Any, document: Any, rulebook: Any, style: Callable[[str, str], str]) -> str:
    """The decision as a readable table: options best first, reasons with their sources, then what is missing."""
    width = getattr(style, "width", DEFAULT_WIDTH)  # the terminal's (terminal.Style), else 100
    out: list[str] = []
    case = document.case
    out.append(style(f"Case {printable(case.id)}", "bold") + (f" - {printable(case.title)}" if case.title else ""))
    book = decision.rulebook
    out.append(f"Rule base {book.name} {book.version} (sha256 {book.sha256[:16]})")
    out.append("")
    titles = {o.code: o.title for o in rulebook.manifest.options}
    if decision.plan is not None:
        out += plan_lines(decision, titles, width, style)
    for rank, option in enumerate(decision.options, start=1):
        number = f"{rank}." if option.option in decision.ranking else "--"
        flag = "  (provisional)" if option.provisional else ""
        status = style(f"{option.status:<16}", option.status)
        where = f" [{', '.join(option.levels)}]" if option.levels else ""
        out.append(f"{number:>3} {option.option:<13}{status}{titles[option.option]}{where}{flag}")
        out += range_lines(option.range, width, style)
        explained: set[str] = set()
        for reason in option.reasons:
            mark = {"indicates": "+", "prefers": ">", "conflict": "!", "contraindicates": "x",
                    "advises_against": "-", "limits": "<"}[reason.effect]
            detail = f" {reason.detail}" if reason.detail else ""
            head = f"      {mark} {reason.effect}{detail} [{reason.rule}]"
            if reason.rule in explained:  # one rule both indicating and preferring: its text once is enough
                out.append(head + style(" (as above)", "dim"))
                continue
            explained.add(reason.rule)
            sources = "; ".join(f"{c.source}, {c.section}: {c.stance_label}" for c in reason.citations)
            out += textwrap.wrap(reason.text + style(f"  ({sources})", "dim"), width, initial_indent=head + " ",
                                 subsequent_indent=" " * 8)
            study = rulebook.population_of(reason.rule) if reason.effect == "indicates" else None
            if study is not None:
                source_id, population = study
                bounds = [f"included {c.text}" for c in population.inclusion]
                bounds += [f"excluded {c.text}" for c in population.exclusion]
                out += textwrap.wrap(f"applies to patients like those of {rulebook.source_name(source_id)}: "
                                     + "; ".join(bounds), width, initial_indent=" " * 8,
                                     subsequent_indent=" " * 10)
            for fact in decision.rests_on(reason.rule):
                derivers = ", ".join(b.rule for b in fact.because)
                out.append(style(f"        rests on: {fact.title} [{derivers}]", "dim"))
    if decision.conflicts:
        out += ["", style("Conflicts between the sources", "bold")]
        for c in decision.conflicts:
            out += textwrap.wrap(f"{', '.join(c.options)}: {c.text}", width, initial_indent="  ! ",
                                 subsequent_indent="    ")
            out += [style(f"      {x.source}, {x.section} ({x.stance_label}): {rulebook.passage(x)}", "dim")
                    for x in c.citations]
    if decision.adjuncts:
        out += ["", style("Adjuncts", "bold")]
        for a in decision.adjuncts:
            tied = f" (with {', '.join(a.options)})" if a.options else ""
            out += textwrap.wrap(f"{a.title}{tied}: {a.text}", width, initial_indent="  * ", subsequent_indent="    ")
    if decision.missing:
        out += ["", style("Unknown fields that could change the advice, each on its own", "bold")]
        specs = rulebook.catalog.specs
        for m in decision.missing:
            title = specs[m.field].title if m.field in specs else m.field
            where = f" at {', '.join(m.levels)}" if m.levels else ""
            out.append(f"  ? {m.field} ({title}){where}: affects {', '.join(m.affects)}")
    scores = [s for s in decision.frameworks.values() if s.kind == "score"]
    shown = [s for s in scores if s.total is not None or len(s.unknown) < len(s.components)]
    if shown:
        out += ["", style("Scores", "bold")]
    out += [f"  {score.title}: {score.in_words()}" for score in shown]
    for summary in (s for s in decision.frameworks.values() if s.kind == "summary"):
        out += ["", style(summary.title, "bold")]
        for line in summary.lines:
            pending = f"  (find out: {', '.join(line.find_out)})" if line.provisional and line.find_out else ""
            out.append(f"  {line.title:<11} {line.text}{pending}")
    if decision.derived:
        out += ["", style("Derived along the way", "bold")]
        for d in decision.derived:
            out += textwrap.wrap(f"{d.title}: " + " ".join(b.text for b in d.because), width,
                                 initial_indent="  = ", subsequent_indent="    ")
    if document.board is not None:
        board = document.board
        out += ["", style(f"Board ({printable(board.kind)}): top {printable(board.top)}", "bold")]
        out += textwrap.wrap(printable(board.management), width, initial_indent="  ", subsequent_indent="  ")
        if board.engine_top:
            note = f"The engine ranks {board.engine_top} first: {board.engine_note or ''}".strip()
            out += textwrap.wrap(printable(note), width, initial_indent="  ", subsequent_indent="  ")
    out += ["", style(DISCLAIMER, "dim"), ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stderr is None:  # started with stderr closed: nowhere to explain anything
        return EXIT_INPUT
    if sys.stdout is None:
        print("spinemets: standard output is closed; run it with standard output open", file=sys.stderr)
        return EXIT_INPUT
    parser = build_parser()
    args = parser.parse_args(argv)
    restore = _interrupt_on_signals()
    try:
        code: int = args.run(args)
        _flush_stdout()
        return code
    except InputError as err:
        print(f"spinemets: {printable(str(err), lines=True)}", file=sys.stderr)
        return EXIT_INPUT
    except EngineError as err:
        print(f"spinemets: internal error: {printable(str(err), lines=True)}", file=sys.stderr)
        return EXIT_INTERNAL
    except BrokenPipeError:
        # the reader (e.g. `head`) went away; nothing left to say
        _discard_stdout()
        return EXIT_OK
    except KeyboardInterrupt as err:
        # Ctrl-C, or SIGTERM / SIGHUP turned into an interruption: the output's partial file is gone by now
        return 128 + int(getattr(err, "signum", signal.SIGINT))
    except Exception as err:
        if isinstance(err, OSError) and err.errno in _OUTPUT_ERRNOS:
            # standard output is a full disk or a device that refuses writes (`> /dev/full`)
            _discard_stdout()
            print(f"spinemets: cannot write to standard output ({err.strerror})", file=sys.stderr)
            return EXIT_INPUT
        if os.environ.get("SPINEMETS_DEBUG"):  # a bug: say so plainly, without a traceback unless asked
            raise
        print(f"spinemets: internal error ({type(err).__name__}: {err}); set SPINEMETS_DEBUG=1 for a traceback",
              file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        restore()


class Interrupted(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGHUP) raised as an interruption, so that every `finally` and context
    manager runs: the guarded writer removes its partial file and the batch's workers are ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# What a run may be stopped by and still clean up. SIGINT already raises KeyboardInterrupt; SIGPIPE stays
# ignored as Python sets it (a closed pipe is a BrokenPipeError where it is written); SIGKILL cannot be caught
# (docs/batch.md says what it leaves).
_CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _interrupt_on_signals() -> Callable[[], None]:
    """Turn SIGTERM and SIGHUP into Interrupted for this run; returns what puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (*_CAUGHT, signal.SIGINT)}

    def interrupt(signum: int, _frame: object) -> None:
        for sig in previous:  # the first signal starts the clean-up; a second must not cut it short
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    for sig in _CAUGHT:
        if previous[sig] is signal.SIG_DFL:  # a handler someone else set (a test runner, a server) stays theirs
            signal.signal(sig, interrupt)

    def restore() -> None:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
    return restore


# Write errors that can only come from standard output: files are written through _internal/output.py,
# which reports its own, and nothing else is written.
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EBADF})


def _flush_stdout() -> None:
    sys.stdout.flush()  # a full disk shows here, while it can still be reported, not at interpreter exit


def _discard_stdout() -> None:
    """What is still buffered for stdout goes nowhere, so that Python's exit does not fail writing it."""
    with suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
