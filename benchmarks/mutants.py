"""Mutation testing of the rule base: which clinically meaningful edits `spinemets verify` and the tests catch.

    python benchmarks/mutants.py                 # verify and the test subset (about 10 minutes on 2 cores)
    python benchmarks/mutants.py --verify-only   # verify alone (about a minute): while writing invariants
    python benchmarks/mutants.py --json out.json --markdown survivors.md

Each mutant is a copy of rules/ with one edit a rule author could make by mistake, or a source could
tempt them to make (docs/verification.md, "Mutation testing", lists the operators). A mutant counts only
when it changes some decision (an option's status, or the ranking) on the vignettes of cases/: an edit
no vignette notices is left out, since no test written from the vignettes could be asked to see it.
Then:
  verify  kills a mutant when `spinemets verify` on the copy does not pass (exit 3: an invariant is
          violated or a structural check fails; exit 1, a proof in doubt, is counted and shown apart);
  tests   kill a mutant when the test subset (TESTS below; no browser, no proof tests) fails with the copy
          as the built-in rule base (a pytest plugin in this file swaps it in, and SPINEMETS_RULES points the
          CLI tests at it).
Prints each mutant with its verdicts, then the kill rates. Asserts nothing: a measure, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
CASES = ROOT / "cases"

# The test subset: the tests of the decisions (vignettes against their boards, decision semantics, scores,
# properties, what-if), about a minute per surviving mutant. Left out: the browser and UI page tests (slow, and
# they check rendering), the proof tests (verify is measured on its own) and the CLI tests (subprocesses, and
# they check the interface). Deselected: the knowledge-base document is a golden file that any edit of a rule
# fails, so it would "kill" every mutant without telling anything about the decisions; the proof report test
# runs verify.
TESTS = ["tests/test_vignettes.py", "tests/test_decision.py", "tests/test_scores.py", "tests/test_properties.py",
         "tests/test_whatif.py"]
DESELECT = ["tests/test_vignettes.py::test_knowledge_base_document_is_generated_from_the_rules",
            "tests/test_properties.py::test_the_proof_report_is_deterministic"]

# A clinically relevant step for each threshold the rules compare against (both directions are tried):
# survival by the 3-month step the papers' cut-offs differ by, Karnofsky by one grade of its 10-point scale,
# kyphosis and height loss by 10 (degrees, percent), ASA by one class, levels by one, SINS by one point.
STEPS = {"life_expectancy_months": 3, "karnofsky": 10, "kyphosis_degrees": 10, "height_loss_percent": 10,
         "asa_class": 1, "level_count": 1, "lesion_count": 1, "sins_total": 1, "tokuhashi_total": 1, "tomita_total": 1,
         "age": 10, "cement_level_count": 1, "surgery_level_count": 1, "conservative_level_count": 1}
COMPARISON = re.compile(r"\b([a-z_][a-z_.]*)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)")


@dataclass
class Mutant:
    id: str
    operator: str
    description: str
    file: str
    apply: Callable[[Any], None]  # edits the file's parsed YAML in place
    changed: list[str] = field(default_factory=list)  # vignettes whose decision changes
    valid: bool = True
    verify: str = ""        # killed (exit 3), doubt (exit 1), survived (exit 0), invalid (exit 2)
    verify_by: str = ""     # the invariants and checks that failed
    tests: str = ""         # killed, survived, not run
    tests_by: str = ""      # the first failing test


# --- the operators ------------------------------------------------------------------------------------------


def rule_files(rules: Path) -> dict[str, Any]:
    """Every rule-base file holding `rules:`, `scores:` or `plan:` (the patient's plan rules), parsed (invariants
    and the rest are never mutated)."""
    out = {}
    for path in sorted(rules.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and ("rules" in data or "scores" in data or "plan" in data):
            out[str(path.relative_to(rules))] = data
    return out


def _strings(when: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every condition string of a `when` tree, with its place."""
    if isinstance(when, str):
        yield path, when
    elif isinstance(when, list):
        for i, item in enumerate(when):
            yield from _strings(item, (*path, i))
    elif isinstance(when, dict):
        for key, value in when.items():
            yield from _strings(value, (*path, key))


def _set(tree: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _rule(data: Any, rule_id: str, key: str = "rules") -> dict[str, Any]:
    return next(r for r in data[key] if r["id"] == rule_id)


def _shifts(rule: dict[str, Any], rid: str, file: str, key: str) -> Iterator[Mutant]:
    """A threshold of the rule's condition moved by its clinical step, both ways."""
    for path, text in _strings(rule.get("when")):
        for match in COMPARISON.finditer(text):
            name, op, number = match.groups()
            step = STEPS.get(name.split(".")[-1])
            if step is None:
                continue
            for sign in (-1, 1):
                value = float(number) + sign * step
                shown = str(int(value)) if value == int(value) else str(value)
                new = text[:match.start(3)] + shown + text[match.end(3):]

                def shift(d: Any, rid: str = rid, path: tuple[Any, ...] = path, new: str = new) -> None:
                    rule = _rule(d, rid, key)
                    if path:
                        _set(rule, ("when", *path), new)
                    else:
                        rule["when"] = new
                yield Mutant(f"shift:{rid}:{name}{op}{shown}", "shift a threshold",
                             f"{rid}: {name} {op} {number} -> {shown}", file, shift)


def _plan_mutants(file: str, data: Any) -> Iterator[Mutant]:
    """The patient's plan rules: one dropped, a session cap moved by one level either way, a threshold shifted."""
    for rule in data.get("plan", []):
        rid = rule["id"]
        yield Mutant(f"drop:{rid}", "drop a rule", f"plan rule {rid} removed", file,
                     lambda d, rid=rid: d["plan"].remove(_rule(d, rid, "plan")))
        for n, effect in enumerate(rule.get("then", [])):
            if "levels_at_most" not in effect:
                continue
            for sign in (-1, 1):
                cap = effect["levels_at_most"] + sign
                if cap < 1:
                    continue

                def recap(d: Any, rid: str = rid, n: int = n, cap: int = cap) -> None:
                    _rule(d, rid, "plan")["then"][n]["levels_at_most"] = cap
                yield Mutant(f"cap:{rid}:{cap}", "move a session cap", f"{rid}: at most {cap} levels per session",
                             file, recap)
        yield from _shifts(rule, rid, file, "plan")


def mutants(rules: Path) -> list[Mutant]:
    """The mutants of a rule base, in a stable order (ids are stable across runs of the same rule base)."""
    out: list[Mutant] = []
    for file, data in rule_files(rules).items():
        for rule in data.get("rules", []):
            rid = rule["id"]
            out.append(Mutant(f"drop:{rid}", "drop a rule", f"rule {rid} removed", file,
                              lambda d, rid=rid: d["rules"].remove(_rule(d, rid))))
            for n, effect in enumerate(rule.get("then", [])):
                if "contraindicate" in effect and effect.get("severity") == "absolute":
                    def relative(d: Any, rid: str = rid, n: int = n) -> None:
                        _rule(d, rid)["then"][n]["severity"] = "relative"
                    out.append(Mutant(f"relative:{rid}", "absolute -> relative",
                                      f"{rid}: contraindication made relative", file, relative))
                if "contraindicate" in effect and len(effect["contraindicate"]) > 1:
                    for option in effect["contraindicate"]:
                        def remove(d: Any, rid: str = rid, n: int = n, option: str = option) -> None:
                            _rule(d, rid)["then"][n]["contraindicate"].remove(option)
                        out.append(Mutant(f"unlist:{rid}:{option}", "remove an option from a contraindication",
                                          f"{rid}: {option} no longer contraindicated", file, remove))
                if "limit" in effect:
                    # The bound lost, the rule's other effects kept: the lesser choice back to a preference only.
                    def unbound(d: Any, rid: str = rid, n: int = n) -> None:
                        then = _rule(d, rid)["then"]
                        del then[n]
                        if not then:
                            d["rules"].remove(_rule(d, rid))
                    out.append(Mutant(f"unbound:{rid}", "drop a bound (limit)",
                                      f"{rid}: its limit removed, other effects kept", file, unbound))
                    for option in effect["limit"] if len(effect["limit"]) > 1 else []:
                        def unlimit(d: Any, rid: str = rid, n: int = n, option: str = option) -> None:
                            _rule(d, rid)["then"][n]["limit"].remove(option)
                        out.append(Mutant(f"unlimit:{rid}:{option}", "remove an option from a limit",
                                          f"{rid}: {option} no longer limited", file, unlimit))
                if "prefer" in effect:
                    for other in effect.get("over", []):
                        def invert(d: Any, rid: str = rid, n: int = n, other: str = other) -> None:
                            e = _rule(d, rid)["then"][n]
                            e["over"], e["prefer"] = [e["prefer"]], other
                        out.append(Mutant(f"invert:{rid}:{other}", "invert a preference",
                                          f"{rid}: {other} preferred over {effect['prefer']} instead", file, invert))
            out += _shifts(rule, rid, file, "rules")
        out += _plan_mutants(file, data)
        for score in data.get("scores", []):
            bands = score.get("bands") or []
            for i in range(len(bands) - 1):
                for sign in (-1, 1):
                    def move(d: Any, sid: str = score["id"], i: int = i, sign: int = sign) -> None:
                        b = next(s for s in d["scores"] if s["id"] == sid)["bands"]
                        b[i]["max"] += sign
                        b[i + 1]["min"] += sign
                    lower, upper = bands[i], bands[i + 1]
                    out.append(Mutant(f"band:{score['id']}:{upper['name']}{sign:+d}", "move a score band",
                                      f"{score['id']}: {lower['name']}/{upper['name']} boundary "
                                      f"{lower['max']}|{upper['min']} -> {lower['max'] + sign}|{upper['min'] + sign}",
                                      file, move))
    return out


def write_mutant(mutant: Mutant, rules: Path, target: Path) -> Path:
    """A copy of the rule base with the mutant's edit (only the edited file is rewritten)."""
    shutil.copytree(rules, target)
    path = target / mutant.file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutant.apply(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")
    return target


# --- the decisions on the vignettes ---------------------------------------------------------------------------


def decisions(rules: Path) -> dict[str, Any]:
    """Each vignette's statuses and ranking under a rule base, and on a case in lesion form each lesion's and the
    plan (an error is a decision too: it changes)."""
    from spinemets import InputError, get_engine, read_case_file
    from spinemets.errors import SpinemetsError

    engine = get_engine(rules)
    out: dict[str, Any] = {}
    for path in sorted(CASES.glob("*.yaml")):
        try:
            d = engine.evaluate(read_case_file(path).case)
            lesions = [(le.level, le.statuses(), list(le.ranking)) for le in getattr(d, "lesions", None) or ()]
            plan = getattr(d, "plan", None)
            out[path.stem] = ({o.option: o.status for o in d.options}, list(d.ranking), lesions,
                              plan.to_dict() if plan is not None else None)
        except (InputError, SpinemetsError) as err:
            out[path.stem] = f"error: {err}"
    return out


def run_verify(rules: Path) -> tuple[str, str]:
    from spinemets.errors import InputError
    from spinemets.verify import verify

    try:
        report = verify(rules)
    except InputError as err:
        return "invalid", str(err).splitlines()[0]
    failed = [r.invariant.id for r in report.violated] + [c.check.id for c in report.failed_checks]
    code = report.exit_code
    return {0: "survived", 3: "killed", 1: "doubt"}.get(code, f"exit {code}"), ", ".join(failed)


def run_tests(rules: Path, python: str) -> tuple[str, str]:
    env = {**os.environ, "SPINEMETS_MUTANT_RULES": str(rules), "SPINEMETS_RULES": str(rules),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    env.pop("CI", None)  # the default hypothesis profile, and no browser
    cmd = [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "mutants", "--no-header",
           "-o", "addopts=", *[f"--deselect={d}" for d in DESELECT], *TESTS]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)  # noqa: S603
    if proc.returncode == 0:
        return "survived", ""
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    return "killed", failed[0] if failed else f"pytest exit {proc.returncode}"


# --- the pytest plugin (-p mutants): the copy becomes the built-in rule base ------------------------------------


def _swap_rules() -> None:
    rules = os.environ.get("SPINEMETS_MUTANT_RULES")
    if not rules:
        return
    import spinemets
    from spinemets import rulebook
    from spinemets.rulebook import loader

    path = Path(rules)
    loader.DEFAULT_RULES_DIR = rulebook.DEFAULT_RULES_DIR = spinemets.DEFAULT_RULES_DIR = path


def pytest_configure(config: Any) -> None:  # noqa: ARG001 (pytest's hook signature)
    _swap_rules()


def pytest_collection_modifyitems(config: Any, items: Any) -> None:  # noqa: ARG001
    # fewer examples per property than the suite's own profile: a mutant that breaks a property breaks it
    # for many cases; tests/conftest.py loads its profile at import, so this comes after it
    if os.environ.get("SPINEMETS_MUTANT_RULES"):
        from hypothesis import HealthCheck, settings

        settings.register_profile("mutants", max_examples=25, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
        settings.load_profile("mutants")


# --- the run ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=Path, default=RULES, help="rule base to mutate (default: rules/)")
    parser.add_argument("--verify-only", action="store_true", help="skip the test subset")
    parser.add_argument("--jobs", type=int, default=2, help="test runs at once (default 2)")
    parser.add_argument("--only", metavar="PREFIX", action="append", help="mutants whose id starts so (repeatable)")
    parser.add_argument("--json", type=Path, help="write every mutant and verdict here")
    parser.add_argument("--markdown", type=Path, help="write the survivors of verify as a Markdown table here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()

    all_mutants = mutants(args.rules)
    if args.only:
        all_mutants = [m for m in all_mutants if any(m.id.startswith(p) for p in args.only)]
    baseline = decisions(args.rules)
    work = Path(tempfile.mkdtemp(prefix="spinemets-mutants-"))
    kept: list[tuple[Mutant, Path]] = []
    try:
        for n, mutant in enumerate(all_mutants):
            folder = write_mutant(mutant, args.rules, work / f"m{n:03d}")
            try:
                after = decisions(folder)
            except Exception as err:  # noqa: BLE001 (a mutant that does not load is reported, not fatal)
                mutant.valid, mutant.verify = False, "invalid"
                mutant.verify_by = str(err).splitlines()[0][:100]
                continue
            mutant.changed = sorted(k for k in baseline if baseline[k] != after.get(k))
            if mutant.changed:
                kept.append((mutant, folder))
        for mutant, folder in kept:
            mutant.verify, mutant.verify_by = run_verify(folder)
        if not args.verify_only:
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                verdicts = list(pool.map(lambda mf: run_tests(mf[1], sys.executable), kept))
            for (mutant, _), (verdict, by) in zip(kept, verdicts, strict=True):
                mutant.tests, mutant.tests_by = verdict, by
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report(all_mutants, [m for m, _ in kept], args.verify_only, time.perf_counter() - start)
    if args.json:
        rows = [{k: v for k, v in asdict(m).items() if k != "apply"} for m in all_mutants]
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown([m for m, _ in kept]), encoding="utf-8")
    return 0


def report(everything: list[Mutant], kept: list[Mutant], verify_only: bool, seconds: float) -> None:
    invalid = [m for m in everything if not m.valid]
    print(f"{len(everything)} mutants: {len(kept)} change a decision on the vignettes, "
          f"{len(everything) - len(kept) - len(invalid)} change none (left out), {len(invalid)} do not load")
    for m in invalid:
        print(f"  does not load: {m.id}: {m.verify_by}")
    print()
    width = max((len(m.id) for m in kept), default=10)
    for m in kept:
        tests = "" if verify_only else f"  tests {m.tests:<8} {m.tests_by}"
        print(f"  {m.id:<{width}}  verify {m.verify:<8} {m.verify_by[:60]:<60}{tests}")
    print()
    by_operator: dict[str, list[Mutant]] = {}
    for m in kept:
        by_operator.setdefault(m.operator, []).append(m)
    for operator, group in by_operator.items():
        line = f"  {operator:<42} {len(group):>3}  verify kills {sum(m.verify != 'survived' for m in group):>3}"
        if not verify_only:
            line += f"  tests kill {sum(m.tests == 'killed' for m in group):>3}"
        print(line)
    if kept:
        v = sum(m.verify != "survived" for m in kept)
        doubt = sum(m.verify == "doubt" for m in kept)
        print(f"\nverify kills {v} of {len(kept)} ({100 * v / len(kept):.0f}%)"
              + (f", {doubt} of them by a proof in doubt (exit 1)" if doubt else ""))
        if not verify_only:
            t = sum(m.tests == "killed" for m in kept)
            both = sum(m.tests == "killed" or m.verify != "survived" for m in kept)
            print(f"tests kill {t} of {len(kept)} ({100 * t / len(kept):.0f}%); "
                  f"verify or tests {both} ({100 * both / len(kept):.0f}%)")
        print("survivors of verify: " + (", ".join(m.id for m in kept if m.verify == "survived") or "none"))
    print(f"({seconds:.0f} s)")


def markdown(kept: list[Mutant]) -> str:
    rows = ["| mutant | what it does | vignettes changed | tests |", "|---|---|---|---|"]
    rows += [f"| `{m.id}` | {m.description} | {len(m.changed)} | {m.tests or 'not run'} |"
             for m in kept if m.verify == "survived"]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
