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


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify", help="prove the safety invariants and structural checks over every possible case (exit 3 if any fails)")
    p.add_argument("--rules", metavar="DIR", default=os.environ.get("SPINEMETS_RULES"),
                   help="rule base folder (default: the built-in rules/, or $SPINEMETS_RULES)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--counterexamples", metavar="DIR",
                   help="also write each counterexample as a case file DIR/<invariant id>.yaml")
    p.add_argument("--only", metavar="ID", action="append", help="prove only this invariant or check (repeatable)")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=None,
                   help="give up on one query after this long (default 20)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .terminal import Style
    from ..verify import verify
    from ..verify.report import case_yaml

    from .._internal import output
    from ..rulebook import DEFAULT_RULES_DIR

    timeout = int(args.timeout * 1000) if args.timeout else None
    rules = args.rules or DEFAULT_RULES_DIR
    if args.counterexamples:  # refused before anything is read if it is (inside) the rule base
        output.folder(args.counterexamples, [rules])
    report = verify(args.rules, timeout_ms=timeout, only=set(args.only) if args.only else None)
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
    return report.exit_code
