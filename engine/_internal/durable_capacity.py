"""What a ruleset's alpha network needs from durable-rules' fixed-size tables, checked before durable sees it.

durable-rules (2.0.28, rete.c) builds one alpha network per ruleset: every join term's expression is a
chain of tests from one root, and identical tests under the same parent share a node. Each node has
fixed-size tables, and overflowing them is not always reported:

- at most 256 join terms may end on one node (else create_ruleset fails with error 108: 501 rules
  sharing the condition `coagulopathy == true` all end on the node of that test);
- at most 128 `$nex` tests or `$or` continuations may follow one node (else error 107);
- at most 512 distinct other tests may follow one node: past that, durable's lookup probes its full hash
  table forever and create_ruleset never returns (513 rules testing 513 different first conditions);
- at most 4,096 rules in one ruleset (MAX_ACTIONS; else error 106).

`model` replays durable's construction (createBeta / createAlpha / findAlpha / linkAlpha) on a
definition and counts what each node holds; `grouped` spreads a definition's terms over always-true
group tests (`kind != "~g<n>"`), so that no node gathers more than a group's worth of terms, without
changing which facts any term matches.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# durable's table sizes (rete.h: BETA_LIST_LENGTH, NEXT_LIST_LENGTH, NEXT_BUCKET_LENGTH), with a margin for
# the ways the model could count slightly fewer than durable (values durable compares as equal).
MAX_TERMS_ENDING = 240
MAX_LISTED = 120
MAX_HASHED = 480
MAX_RULES = 4096
GROUP_SIZES = (100, 25, 6)  # terms per group tried in turn when the plain definition does not fit

_COMPARISONS = frozenset({"$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex", "$mt", "$imt"})


class _Node:
    __slots__ = ("hashed", "label", "listed", "listed_count", "terms")

    def __init__(self, label: str) -> None:
        self.hashed: dict[tuple[str, str, str], _Node] = {}
        self.listed: dict[tuple[str, str, str], _Node] = {}
        self.listed_count = 0  # $nex tests and $or continuations
        self.terms = 0
        self.label = label


@dataclass(frozen=True)
class Overflow:
    """A node of the alpha network that holds more than durable's table allows."""

    what: str     # "terms ending", "$nex/$or links", "distinct tests"
    count: int
    limit: int
    test: str     # the chain of tests leading to the node, for the message

    def __str__(self) -> str:
        where = "in the ruleset" if self.what == "rules" else f"on the test {self.test}"
        return f"{self.count:,} {self.what} {where}, where durable-rules allows {self.limit:,}"


def model(definition: dict[str, Any]) -> list[Overflow]:
    """The nodes of the definition's alpha network that overflow a durable table (empty: it fits)."""
    root = _Node("(root)")
    nodes: list[_Node] = [root]
    for rule in definition.values():
        for _alias, expression in _terms(rule):
            end = _alpha(expression, root, nodes)
            end.terms += 1
    overflows = [Overflow("rules", len(definition), MAX_RULES, "(the whole ruleset)")] \
        if len(definition) > MAX_RULES else []
    for node in nodes:
        for what, count, limit in (("terms ending", node.terms, MAX_TERMS_ENDING),
                                   ("$nex/$or links", node.listed_count, MAX_LISTED),
                                   ("distinct tests", len(node.hashed), MAX_HASHED)):
            if count > limit:
                overflows.append(Overflow(what, count, limit, node.label))
    return overflows


def _terms(rule: dict[str, Any]) -> list[tuple[str, Any]]:
    """(alias, expression) of every join term of a rule: its `all` list, or each `any` branch's."""
    found: list[tuple[str, Any]] = []
    for key in ("all", "any"):
        for item in rule.get(key, ()):
            for alias, value in item.items():
                if alias.endswith(("$all", "$any", "$not")):
                    found += _terms({"all": value})
                else:
                    found.append((alias, value))
    return found


def _alpha(expression: Any, parent: _Node, nodes: list[_Node]) -> _Node:
    """The node an expression's chain ends on, creating (and counting) nodes as durable's createAlpha does."""
    name, value = next(iter(expression.items()))  # durable reads an expression's first name only
    if name == "$and":
        current = parent
        for item in value:
            current = _alpha(item, current, nodes)
        return current
    if name == "$or":
        forward = _Node(f"{parent.label} -> (or)")  # a fresh node per $or, never shared
        nodes.append(forward)
        for item in value:
            end = _alpha(item, parent, nodes)
            end.listed_count += 1
        return forward
    if name in _COMPARISONS:
        (prop, operand), = value.items()
        op = name
    else:
        prop, operand, op = name, value, "$eq"
    key = (op, prop, json.dumps(operand, sort_keys=True))
    table = parent.listed if op == "$nex" else parent.hashed
    node = table.get(key)
    if node is None:
        node = table[key] = _Node(f"{parent.label} -> {prop} {op} {key[2]}" if parent.label != "(root)"
                                  else f"{prop} {op} {key[2]}")
        nodes.append(node)
        if op == "$nex":
            parent.listed_count += 1
    return node


# How many ways one rule's tests may match one case, at most (`matching_paths`). durable-rules follows every
# alternative of an `$or` that holds as a path of its own, and a rule's join terms (an `any` rule's branches
# with them) multiply their paths: measured on 2.0.28, a rule of two branches of eleven two-way `$or` groups
# (4.2 million paths) peaks at 63 MB, the same rule with three branches (8.6 billion) exhausted memory in
# seconds (the 24 GB test process killed by the kernel). The built-in rules reach 1.05 million.
MAX_PATHS = 1 << 22


def matching_paths(rule: dict[str, Any]) -> int:
    """The most paths durable can follow for one rule on one case: the product, over its join terms, of each
    expression's paths ($and multiplies, $or adds; equality tests of one field in an $or exclude each other)."""
    total = 1
    for _alias, expression in _terms(rule):
        total *= _paths(expression)
    return total


def _paths(expression: Any) -> int:
    name, value = next(iter(expression.items()))
    if name == "$and":
        product = 1
        for item in value:
            product *= _paths(item)
        return product
    if name == "$or":
        fields: set[str] = set()
        total = 0
        for item in value:
            test, _ = next(iter(item.items()))
            if not test.startswith("$"):  # `field == value`: one field has one value, one option can hold
                if test not in fields:
                    fields.add(test)
                    total += 1
            else:
                total += _paths(item)
        return total
    return 1


def grouped(definition: dict[str, Any], size: int, anchor: str) -> dict[str, Any]:
    """The definition with an always-true test on `anchor` after each term's first test, one per `size` terms.

    Every term's first test is its anchor (`kind == "case"`, `kind == "derived"`): a fact has its anchor
    field, and no fact's anchor is a group's name, so `anchor != "~g<n>"` holds for every fact the term
    could match and the term still matches exactly the same facts.
    """
    counter = iter(range(10 ** 9))

    def group(expression: Any) -> Any:
        leaf = {"$neq": {anchor: f"~g{next(counter) // size}"}}
        if isinstance(expression, dict) and set(expression) == {"$and"}:
            first, *rest = expression["$and"]
            return {"$and": [first, leaf, *rest]}
        return {"$and": [expression, leaf]}

    def rewrite(rule: dict[str, Any]) -> dict[str, Any]:
        out = dict(rule)
        for key in ("all", "any"):
            if key in rule:
                out[key] = [{alias: (rewrite({"all": value})["all"] if alias.endswith(("$all", "$any", "$not"))
                                     else group(value)) for alias, value in item.items()} for item in rule[key]]
        return out

    return {name: rewrite(rule) for name, rule in definition.items()}


def fitted(definition: dict[str, Any], anchor: str) -> tuple[dict[str, Any], list[Overflow] | None]:
    """The definition as it is when it fits, else grouped finely enough; with the overflows when nothing fits."""
    overflows = model(definition)
    if not overflows:
        return definition, None
    if len(definition) > MAX_RULES:  # grouping adds tests, not room for rules
        return definition, overflows
    for size in GROUP_SIZES:
        candidate = grouped(definition, size, anchor)
        if not model(candidate):
            return candidate, None
    return definition, overflows
