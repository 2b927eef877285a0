"""The verification report: each invariant proved or violated (with a counterexample case ready to load),
each structural check passed or failed, the time it took; as text for people and JSON for tools."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .prove import InvariantResult
from .structure import CheckResult

EXIT_HOLDS, EXIT_INTERNAL, EXIT_VIOLATED = 0, 1, 3


@dataclass
class Report:
    name: str
    version: str
    sha256: str
    rules: int
    invariants: list[InvariantResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    solver: str = ""

    @property
    def violated(self) -> list[InvariantResult]:
        return [r for r in self.invariants if r.outcome == "violated"]

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def internal_problems(self) -> list[str]:
        """Where the proof cannot be trusted: the solver gave up, or the engine contradicts a solver's case."""
        out = [f"{r.invariant.id}: {r.detail}" for r in self.invariants if r.outcome == "unknown"]
        out += [f"{r.invariant.id}: counterexample not confirmed by the engine ({r.counterexample.engine_says})"
                for r in self.violated if r.counterexample and not r.counterexample.confirmed]
        for c in self.checks:
            out += [f"{c.check.id}: the solver gave up on {u}" for u in c.undecided]
            out += [f"{c.check.id}: {u}" for u in c.unconfirmed]
        return out

    @property
    def exit_code(self) -> int:
        """1 when the proof itself is in doubt, 3 when the rule base breaks an invariant or check, else 0."""
        if self.internal_problems:
            return EXIT_INTERNAL
        if self.violated or self.failed_checks:
            return EXIT_VIOLATED
        return EXIT_HOLDS

    # --- text -----------------------------------------------------------------------------------------------

    def render(self, style: Callable[[str, str], str] = lambda text, _: text) -> str:
        out = [style(f"spinemets verify: rule base {self.name} {self.version} (sha256 {self.sha256[:16]}), "
                     f"{self.rules} active rules", "bold"), ""]
        proved = sum(1 for r in self.invariants if r.outcome == "proved")
        out.append(style(f"Invariants ({proved} of {len(self.invariants)} proved over every admissible case)", "bold"))
        for r in self.invariants:
            inv = r.invariant
            mark = {"proved": style("PROVED  ", "recommended"), "violated": style("VIOLATED", "contraindicated"),
                    "unknown": style("UNKNOWN ", "caution")}[r.outcome]
            out.append(f"  {mark} {inv.id}  {inv.title}")
            if r.outcome == "proved":
                continue
            out.append(f"           when:  {inv.when_text}")
            for claim in inv.then:
                out.append(f"           claim: {claim.describe()}")
            if r.detail:
                out.append(f"           {r.detail}")
            cx = r.counterexample
            if cx is not None:
                verdict = "confirmed by the engine" if cx.confirmed else "NOT confirmed by the engine (a bug in verify)"
                out.append(f"           engine: {cx.engine_says} ({verdict})")
                out.append("           counterexample (a case file; load it in the front end or `spinemets evaluate`):")
                out += ["             " + line for line in case_yaml(cx.case).splitlines()]
        out.append("")
        passed = sum(1 for c in self.checks if c.passed)
        out.append(style(f"Structural checks ({passed} of {len(self.checks)} passed)", "bold"))
        for c in self.checks:
            mark = style("PASSED  ", "recommended") if c.passed else style("FAILED  ", "contraindicated")
            out.append(f"  {mark} {c.check.id}  {c.check.title}: {c.summary}")
            for f in c.findings:
                tag = f"allowed: {f.allowed}" if f.allowed else "finding"
                out.append(f"           - {f.message} [{tag}]")
                if f.witness is not None:
                    verdict = "confirmed by the engine" if f.witness.confirmed else "NOT confirmed by the engine"
                    out.append(f"             engine: {f.witness.engine_says} ({verdict})")
                    for n, case in enumerate(f.witness.cases):
                        label = ("case" if len(f.witness.cases) == 1 else ("partial case", "filled in")[n])
                        out.append(f"             {label}:")
                        out += ["               " + line for line in case_yaml(case).splitlines()]
            for u in c.undecided:
                out.append(f"           - the solver gave up on {u}")
            for u in c.unconfirmed:
                out.append(f"           - {u}")
        out.append("")
        problems = self.internal_problems
        verdict = ("all invariants and checks hold" if self.exit_code == EXIT_HOLDS else
                   f"{len(problems)} result(s) in doubt" if problems else
                   f"{len(self.violated)} invariant(s) violated, {len(self.failed_checks)} check(s) failed")
        out.append(style(f"Result: {verdict}; {proved}/{len(self.invariants)} invariants proved, "
                         f"{passed}/{len(self.checks)} checks passed in {self.seconds:.1f} s ({self.solver})", "bold"))
        return "\n".join(out) + "\n"

    # --- JSON -----------------------------------------------------------------------------------------------

    def to_json(self) -> str:
        data = {
            "rulebook": {"name": self.name, "version": self.version, "sha256": self.sha256},
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "invariants": [{
                "id": r.invariant.id, "title": r.invariant.title, "outcome": r.outcome,
                "seconds": round(r.seconds, 4), "detail": r.detail or None,
                "counterexample": None if r.counterexample is None else {
                    "case": r.counterexample.case, "confirmed": r.counterexample.confirmed,
                    "engine_says": r.counterexample.engine_says},
            } for r in self.invariants],
            "checks": [{
                "id": c.check.id, "check": c.check.check, "passed": c.passed, "summary": c.summary,
                "seconds": round(c.seconds, 4),
                "findings": [{"key": f.key, "message": f.message, "allowed": f.allowed,
                              "witness": None if f.witness is None else {
                                  "cases": f.witness.cases, "confirmed": f.witness.confirmed,
                                  "engine_says": f.witness.engine_says}} for f in c.findings],
                "undecided": c.undecided, "unconfirmed": c.unconfirmed,
            } for c in self.checks],
            "internal_problems": self.internal_problems,
        }
        return json.dumps(data, indent=2, default=str) + "\n"


    # --- JUnit XML -------------------------------------------------------------------------------------------

    def to_junit(self) -> str:
        """The report as JUnit XML, so that CI shows each invariant and check as a test: a violated invariant or a
        failed check is a <failure> carrying its counterexample, a result in doubt an <error>."""
        from xml.etree import ElementTree as ET

        root = ET.Element("testsuites", name="spinemets verify", time=f"{self.seconds:.3f}")
        suites = (("invariants", [(r.invariant.id, r.invariant.title, r.seconds, self._junit_outcome(r))
                                  for r in self.invariants]),
                  ("checks", [(c.check.id, c.check.title, c.seconds, self._junit_check(c)) for c in self.checks]))
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for name, cases in suites:
            suite = ET.SubElement(root, "testsuite", name=f"spinemets verify: {name}")
            props = ET.SubElement(suite, "properties")
            for key, value in (("rulebook", self.name), ("version", self.version), ("sha256", self.sha256),
                               ("solver", self.solver)):
                ET.SubElement(props, "property", name=key, value=value)
            counts = {"tests": len(cases), "failures": 0, "errors": 0}
            for case_id, title, seconds, outcome in cases:
                test = ET.SubElement(suite, "testcase", classname=f"spinemets.verify.{name}", name=case_id,
                                     time=f"{seconds:.4f}")
                if outcome is not None:
                    kind, message, text = outcome
                    counts["failures" if kind == "failure" else "errors"] += 1
                    ET.SubElement(test, kind, message=f"{title}: {message}", type=message.split(":")[0]).text = text
            suite.set("time", f"{sum(c[2] for c in cases):.3f}")
            for key, count in counts.items():
                suite.set(key, str(count))
                totals[key] += count
        for key, count in totals.items():
            root.set(key, str(count))
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    @staticmethod
    def _junit_outcome(r: InvariantResult) -> tuple[str, str, str] | None:
        if r.outcome == "proved":
            return None
        inv = r.invariant
        lines = [f"when:  {inv.when_text}"] + [f"claim: {claim.describe()}" for claim in inv.then]
        lines += [r.detail] if r.detail else []
        cx = r.counterexample
        if cx is not None:
            verdict = "confirmed by the engine" if cx.confirmed else "NOT confirmed by the engine (a bug in verify)"
            lines += [f"engine: {cx.engine_says} ({verdict})", "counterexample:", case_yaml(cx.case)]
        if r.outcome == "violated" and (cx is None or cx.confirmed):
            return "failure", "violated", "\n".join(lines)
        return "error", "in doubt" if r.outcome == "violated" else "unknown: the solver gave up", "\n".join(lines)

    @staticmethod
    def _junit_check(c: CheckResult) -> tuple[str, str, str] | None:
        lines = []
        for f in c.findings:
            lines.append(f"- {f.message} [{f'allowed: {f.allowed}' if f.allowed else 'finding'}]")
            if f.witness is not None:
                lines += [f"  engine: {f.witness.engine_says}"] + [case_yaml(case) for case in f.witness.cases]
        doubts = [f"the solver gave up on {u}" for u in c.undecided] + list(c.unconfirmed)
        if doubts:
            return "error", "in doubt", "\n".join(doubts + lines)
        if not c.passed:
            return "failure", f"failed: {c.summary}", "\n".join(lines)
        return None


class _CaseDumper(yaml.SafeDumper):
    """Block mappings, with lists (levels) on one line as case files write them."""


_CaseDumper.add_representer(
    list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def case_yaml(case: dict[str, Any]) -> str:
    """A case as the YAML a case file holds (codes that look like numbers quoted, levels on one line)."""
    return yaml.dump(case, Dumper=_CaseDumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=100)
