"""durable-rules' fixed tables: a rule base that fits them compiles (grouped when needed), one that cannot is
refused with a clear message, and none makes registration hang or fail later at evaluation."""
from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import pytest
from spinemets._internal import durable_capacity, durable_host
from spinemets.commands import cli
from spinemets.errors import RulebookError

from .conftest import CITATION


def _definition(n: int, term) -> dict:
    return {f"r{i:05d}": {"all": [{"c": term(i)}]} for i in range(n)}


def _fires(definition: dict, fact: dict) -> set[str]:
    name = f"capacity_{random.getrandbits(40)}"
    def handler(key: str):
        return lambda run: run.fired.add(key) or []
    durable_host.register(name, definition, {key: handler(key) for key in definition})
    return set(durable_host.run(name, fact).fired)


SHARED = lambda i: {"$and": [{"kind": "case"}, {"a": True}]}  # noqa: E731
DISTINCT = lambda i: {"$and": [{"kind": "case"}, {"a": i}]}  # noqa: E731
ALTERNATIVES = lambda i: {"$and": [{"kind": "case"}, {"$or": [{"a": True}, {"b": i}]}]}  # noqa: E731


@pytest.mark.parametrize("term, what", [(SHARED, "terms ending"), (DISTINCT, "distinct tests"),
                                        (ALTERNATIVES, "$nex/$or links")])
def test_the_model_sees_each_overflow_that_durable_fails_or_hangs_on(term, what):
    assert durable_capacity.model(_definition(100, term)) == []
    overflows = {o.what: o.count for o in durable_capacity.model(_definition(600, term))}
    assert overflows[what] == 600


@pytest.mark.parametrize("term", [SHARED, DISTINCT, ALTERNATIVES])
def test_overflowing_definitions_are_grouped_and_fire_exactly_as_written(term):
    definition = _definition(600, term)
    fitted, overflows = durable_capacity.fitted(definition, anchor="kind")
    assert overflows is None and durable_capacity.model(fitted) == [] and fitted != definition
    fact = {"kind": "case", "a": 7, "b": 3} if term is not SHARED else {"kind": "case", "a": True}
    expected = {"r00007"} if term is DISTINCT else {"r00003"} if term is ALTERNATIVES else set(definition)
    assert _fires(definition, fact) == expected


def test_513_distinct_first_tests_register_without_hanging():
    # durable's own lookup loops forever past 512 distinct tests after one node: run it in a child process
    script = textwrap.dedent("""
        from spinemets._internal import durable_host
        d = {f"r{i}": {"all": [{"c": {"$and": [{"kind": "case"}, {"a": i}]}}]} for i in range(513)}
        durable_host.register("t", d, {k: (lambda run: []) for k in d})
        print("registered")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "registered" in result.stdout, result.stderr[-2000:]


def test_more_rules_than_durable_runs_are_a_rule_base_error():
    with pytest.raises(RulebookError, match=r"4,097 rules in the ruleset, where durable-rules allows 4,096"):
        durable_host.register(f"too_many_{random.getrandbits(32)}", _definition(4097, SHARED),
                              {f"r{i:05d}": (lambda run: []) for i in range(4097)})


def test_a_rule_base_of_501_rules_sharing_one_condition_validates_and_runs(scratch_rules, tmp_path, capsys):
    rule = """
  - id: gen.shared{i:03d}
    title: generated rule {i}
    when: coagulopathy == true
    then:
      - advise_against: [KP]
    text: Generated rule {i}.
    evidence_level: 5
    citations:
      - source: {source}
        section: {section}
        locator: {locator}
        claim: {claim}
        stance: {stance}
        attributed_to: "{attributed_to}"
"""
    folder = scratch_rules("rules:" + "".join(rule.format(i=i, **CITATION) for i in range(501)))
    assert cli.main(["validate", str(folder)]) == 0, capsys.readouterr().err
    assert "502 durable-rules rules" in capsys.readouterr().out
    case = tmp_path / "case.yaml"
    case.write_text("id: x\ncoagulopathy: true\n")
    assert cli.main(["evaluate", str(case), "--json", "--rules", str(folder)]) == 0
    decision = capsys.readouterr().out
    assert all(f'"gen.shared{i:03d}"' in decision for i in range(501))
