"""`spinemets verify`: prove the rule base's invariants and structural checks, print the report.

Exit status: 0 every invariant and check holds; 3 some invariant is violated or some check fails
(the rule base is unsafe: each is shown with a counterexample case); 2 the rule base or its
invariants do not load (invalid input, as for every command); 1 the proof itself is in doubt
(the solver gave up, or the engine contradicts a case the solver found: a bug in verify).
3 is distinct from 2 so that CI can tell "the rules are wrong" from "the rules do not load".
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify",
        help="prove the safety invariants and structural checks over every possible case (exit 3 if any fails)")
    p.add_argument("--rules", metavar="DIR", default=os.environ.get("SPINEMETS_RULES"),
                   help="rule base folder (default: the built-in rules/, or $SPINEMETS_RULES)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--junit", metavar="FILE",
                   help="also write the report as JUnit XML (one test per invariant and check) for CI")
    p.add_argument("--counterexamples", metavar="DIR",
                   help="also write each counterexample as a case file DIR/<invariant id>.yaml")
    p.add_argument("--only", metavar="ID", action="append", help="prove only this invariant or check (repeatable)")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=None,
                   help="give up on one query after this long (default 20)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only shows on a terminal anyway)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .extras import require

    require("spinemets verify", "verify")  # before the prover's modules, which import z3
    from .._internal import output
    from ..rulebook import DEFAULT_RULES_DIR
    from ..verify import verify
    from ..verify.report import case_yaml
    from .terminal import Style, progress_bar

    timeout = int(args.timeout * 1000) if args.timeout else None
    rules = args.rules or DEFAULT_RULES_DIR
    if args.counterexamples:  # refused before anything is read if it is (inside) the rule base
        output.folder(args.counterexamples, [rules])
    with progress_bar(sys.stderr, enabled=not args.no_progress) as bar:
        task = bar.add_task("verify", total=None) if bar is not None else None

        def advance(done: int, total: int, item: str) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total, description=f"verify {item}")

        report = verify(args.rules, timeout_ms=timeout, only=set(args.only) if args.only else None,
                        progress=advance)
    if args.junit:
        with output.target(args.junit).open(binary=False) as junit:
            junit.write(report.to_junit())
    if args.counterexamples:
        folder = output.folder(args.counterexamples, [rules])
        for result in report.violated:
            if result.counterexample is not None:
                output.write_file(folder / f"{result.invariant.id}.yaml", case_yaml(result.counterexample.case),
                                  [rules])
    if args.json:
        sys.stdout.write(report.to_json())
    else:
        sys.stdout.write(report.render(Style(sys.stdout)))
    code: int = report.exit_code
    return code
