"""Condition trees: parsed from the YAML syntax, type-checked against the field catalog, put in negation normal form."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._internal import yamlio
from ._internal.limits import CONDITION_VALUE
from ._internal.suggest import did_you_mean
from .fields import FieldCatalog, FieldSpec

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
ORDER_OPS = frozenset({"<", "<=", ">", ">="})
NEGATED_OP: dict[str, str] = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">",
                              "in": "not in", "not in": "in"}
_LEAF = re.compile(r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*"
                   r"(?P<op>==|!=|<=|>=|<|>|not\s+in\b|in\b)\s*(?P<value>.*?)\s*$")

_NODE = ConfigDict(frozen=True, extra="forbid")


class Compare(BaseModel):
    """`field op value`: TRUE only when the field is known and the comparison holds."""

    model_config = _NODE
    kind: Literal["compare"] = "compare"
    field: str
    op: Op
    value: Any


class Presence(BaseModel):
    """`known: field` or `unknown: field`: whether the case states the field at all."""

    model_config = _NODE
    kind: Literal["known", "unknown"]
    field: str


class AllOf(BaseModel):
    model_config = _NODE
    kind: Literal["all"] = "all"
    items: tuple[Condition, ...]


class AnyOf(BaseModel):
    model_config = _NODE
    kind: Literal["any"] = "any"
    items: tuple[Condition, ...]


class NotOf(BaseModel):
    model_config = _NODE
    kind: Literal["not"] = "not"
    item: Condition


Condition = Annotated[Compare | Presence | AllOf | AnyOf | NotOf, Field(discriminator="kind")]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()


class ConditionProblem(ValueError):
    def __init__(self, message: str, path: tuple[Any, ...], field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.field = message, path, field


def parse(node: Any, catalog: FieldCatalog, path: tuple[Any, ...] = (),
          report: Callable[[ConditionProblem], None] | None = None
          ) -> Condition | None:
    """Parse the YAML form of a condition; each problem goes to `report` (or is raised)."""

    def fail(problem: ConditionProblem) -> None:
        if report is None:
            raise problem
        report(problem)

    if isinstance(node, str):
        return _parse_leaf(node, catalog, path, fail)
    if isinstance(node, dict) and len(node) == 1:
        (key, value), = node.items()
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                fail(ConditionProblem(f"'{key}' needs a non-empty list of conditions", path + (key,)))
                return None
            items = [parse(item, catalog, path + (key, i), report) for i, item in enumerate(value)]
            if any(item is None for item in items):
                return None
            return (AllOf if key == "all" else AnyOf)(items=tuple(items))
        if key == "not":
            item = parse(value, catalog, path + ("not",), report)
            return None if item is None else NotOf(item=item)
        if key in ("known", "unknown"):
            return _parse_presence(key, value, catalog, path + (key,), fail)
    fail(ConditionProblem(
        "a condition is a comparison such as 'karnofsky < 40', or a mapping with one key: "
        f"all, any, not, known or unknown; got {_short(node)}", path))
    return None


def _short(node: Any) -> str:
    text = repr(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_presence(key: str, value: Any, catalog: FieldCatalog, path: tuple[Any, ...],
                    fail: Callable[..., Any]) -> Presence | None:
    spec = catalog.get(value) if isinstance(value, str) else None
    if spec is None:
        fail(ConditionProblem(f"unknown field {value!r}{did_you_mean(str(value), catalog.names())}", path,
                              str(value)))
        return None
    if spec.kind == "fact":
        fail(ConditionProblem(f"'{key}' cannot test the derived fact '{value}': a derived fact is true, false or "
                              "unknown by its rules; compare it with == true or == false", path, str(value)))
        return None
    return Presence(kind=key, field=value)


def _parse_leaf(text: str, catalog: FieldCatalog, path: tuple[Any, ...], fail: Callable[..., Any]) -> Compare | None:
    match = _LEAF.match(text)
    if not match or not match.group("value"):
        fail(ConditionProblem(f"cannot read the comparison {text!r}: write 'field op value' with op one of "
                              "==, !=, <, <=, >, >=, in, not in", path))
        return None
    name, op = match.group("field"), re.sub(r"\s+", " ", match.group("op"))
    try:
        value = yamlio.load_value(match.group("value"), limits=CONDITION_VALUE)
    except yamlio.YamlProblem as err:
        fail(ConditionProblem(f"cannot read the value in {text!r}: {err.message}", path, name))
        return None
    spec = catalog.get(name)
    if spec is None:
        fail(ConditionProblem(f"unknown field '{name}'{did_you_mean(name, catalog.names())}", path, name))
        return None
    problem = _type_problem(spec, op, value)
    if problem:
        fail(ConditionProblem(f"in {text!r}: {problem}", path, name))
        return None
    if isinstance(value, list):
        value = tuple(value)
    return Compare(field=name, op=op, value=value)


def _type_problem(spec: FieldSpec, op: str, value: Any) -> str | None:
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            return f"'{op}' needs a non-empty list, e.g. [a, b]"
        if spec.kind in ("bool", "fact"):
            return f"'{op}' is for codes and numbers; '{spec.name}' is true or false: use == or !="
        bad = [v for v in value if not spec.accepts(v)]
        if bad:
            return (f"{_short(bad[0])} is not a value of '{spec.name}' ({spec.describe_type()})"
                    f"{_quote_hint(spec, bad[0])}")
        return None
    if isinstance(value, list):
        return f"a list needs 'in' or 'not in', not '{op}'"
    if isinstance(value, float) and "e" in repr(value).lower():
        return f"write {value!r} in plain decimal notation"
    if op in ORDER_OPS and not spec.numeric:
        return f"'{op}' compares numbers; '{spec.name}' is {spec.describe_type()}"
    if not spec.accepts(value):
        if spec.numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value!r} is outside the range of '{spec.name}' ({spec.describe_type()})"
        return f"{_short(value)} is not a value of '{spec.name}' ({spec.describe_type()}){_quote_hint(spec, value)}"
    return None


def _quote_hint(spec: FieldSpec, value: Any) -> str:
    if spec.kind == "enum" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"; codes are text: quote them, e.g. \"{value}\""
    return ""


# --- structure --------------------------------------------------------------------------------------------


def fields_of(cond: Condition) -> frozenset[str]:
    """Every field and derived fact the condition names."""
    if isinstance(cond, (Compare, Presence)):
        return frozenset({cond.field})
    if isinstance(cond, NotOf):
        return fields_of(cond.item)
    return frozenset().union(*(fields_of(i) for i in cond.items))


def leaves(cond: Condition) -> list[Compare | Presence]:
    """The comparisons and presence tests of a tree, left to right."""
    if isinstance(cond, (Compare, Presence)):
        return [cond]
    if isinstance(cond, NotOf):
        return leaves(cond.item)
    return [leaf for item in cond.items for leaf in leaves(item)]


def negate(cond: Condition) -> Condition:
    """Negation pushed to the leaves (Kleene: NOT is exact on comparisons of known fields)."""
    if isinstance(cond, Compare):
        return Compare(field=cond.field, op=NEGATED_OP[cond.op], value=cond.value)
    if isinstance(cond, Presence):
        return Presence(kind="unknown" if cond.kind == "known" else "known", field=cond.field)
    if isinstance(cond, NotOf):
        return nnf(cond.item)
    if isinstance(cond, AllOf):
        return AnyOf(items=tuple(negate(i) for i in cond.items))
    return AllOf(items=tuple(negate(i) for i in cond.items))


def nnf(cond: Condition) -> Condition:
    """Negation normal form: no NotOf nodes remain."""
    if isinstance(cond, NotOf):
        return negate(cond.item)
    if isinstance(cond, AllOf):
        return AllOf(items=tuple(nnf(i) for i in cond.items))
    if isinstance(cond, AnyOf):
        return AnyOf(items=tuple(nnf(i) for i in cond.items))
    return cond


def to_text(cond: Condition) -> str:
    """One readable line, for docs, the UI and counterexamples."""
    if isinstance(cond, Compare):
        value = cond.value
        shown = "[" + ", ".join(_fmt(v) for v in value) + "]" if isinstance(value, tuple) else _fmt(value)
        return f"{cond.field} {cond.op} {shown}"
    if isinstance(cond, Presence):
        return f"{cond.kind}({cond.field})"
    if isinstance(cond, NotOf):
        return f"not ({to_text(cond.item)})"
    joiner = " and " if isinstance(cond, AllOf) else " or "
    return "(" + joiner.join(to_text(i) for i in cond.items) + ")"


def to_yaml(cond: Condition) -> Any:
    """The YAML form `parse` reads back: the inverse of parsing, for generated and mutated rules."""
    if isinstance(cond, Compare):
        value = list(cond.value) if isinstance(cond.value, tuple) else cond.value
        return f"{cond.field} {cond.op} {json.dumps(value)}"
    if isinstance(cond, Presence):
        return {cond.kind: cond.field}
    if isinstance(cond, NotOf):
        return {"not": to_yaml(cond.item)}
    return {cond.kind: [to_yaml(i) for i in cond.items]}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if value[:1].isdigit() else value
    return f"{value:g}" if isinstance(value, float) else str(value)
