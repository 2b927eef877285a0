"""Proofs that the rule base is safe: invariants and structural properties over every admissible case.

`verify(rules)` loads the rule base and its `invariants:` entries, encodes the rule base in z3
(engine/verify/encode.py), proves each invariant or finds a counterexample that the engine confirms
(prove.py), runs the structural checks (structure.py) and returns a `Report` (report.py).
The command line is `spinemets verify` (engine/commands/verify.py); the language is described in docs/verification.md.
z3 is imported only when a proof runs, so the rest of the engine starts without it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, RulebookError
from ..rulebook import Rulebook, load_rulebook

if TYPE_CHECKING:  # z3 is imported only when a proof runs
    from .report import Report


def verify(rules: str | Path | Rulebook | None = None, *, timeout_ms: int | None = None, minimize: bool = True,
           only: set[str] | None = None, progress: Callable[[int, int, str], None] | None = None) -> Report:
    """Prove every invariant and structural check of a rule base; `only` restricts to those ids.
    `progress(done, total, id)` is called after each invariant and check (for a progress bar)."""
    try:
        import z3
    except ImportError as err:  # the prover is an extra: say which, in the library as on the command line
        raise ImportError("spinemets.verify needs z3-solver: pip install 'spinemets[verify]'", name="z3") from err

    from ..engine import get_engine
    from .invariants import load_invariants
    from .prove import DEFAULT_TIMEOUT_MS, Prover
    from .report import Report
    from .structure import StructureProver

    start = time.perf_counter()
    rulebook = rules if isinstance(rules, Rulebook) else load_rulebook(rules)
    invariants, checks = load_invariants(rulebook)
    if not invariants and not checks:
        raise RulebookError(f"rule base {rulebook.root}: no invariants to prove; add an `invariants:` file "
                            "(rules/invariants.yaml, see docs/verification.md)")
    if only:
        unknown = sorted(set(only) - {i.id for i in invariants} - {c.id for c in checks})
        if unknown:
            raise InputError(f"no invariant or check named {', '.join(unknown)}")
        invariants = tuple(i for i in invariants if i.id in only)
        checks = tuple(c for c in checks if c.id in only)
    engine = get_engine(rulebook)
    timeout = timeout_ms or DEFAULT_TIMEOUT_MS
    prover = Prover(engine, timeout_ms=timeout, minimize=minimize)
    structure = StructureProver(engine, prover.enc, prover.search, timeout_ms=timeout, minimize=minimize)
    m = rulebook.manifest
    report = Report(name=m.name, version=m.version, sha256=rulebook.sha256, rules=len(rulebook.active_rules),
                    solver=f"z3 {z3.get_version_string()}")
    total = len(invariants) + len(checks)
    for inv in invariants:
        report.invariants.append(prover.prove(inv))
        if progress is not None:
            progress(len(report.invariants), total, inv.id)
    for check in checks:
        report.checks.append(structure.run(check))
        if progress is not None:
            progress(len(report.invariants) + len(report.checks), total, check.id)
    report.seconds = time.perf_counter() - start
    return report


__all__ = ["verify"]
