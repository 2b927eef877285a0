"""Reading cases from YAML or JSON, with errors that name the file, line and field."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ._internal import limits, reading, yamlio
from ._internal.suggest import did_you_mean
from .case import Case, Sins, mixing_problems
from .errors import CaseError, Problem
from .vignette import Board, CaseDocument, board_problems

VIGNETTE_KEYS = frozenset({"board"})
_NUMBER_WORDS = {"float_type": "a number", "int_type": "a whole number", "bool_type": "true or false",
                 "string_type": "text", "list_type": "a list", "dict_type": "a mapping",
                 "model_type": "a mapping", "model_attributes_type": "a mapping"}


def read_case_file(path: str | Path) -> CaseDocument:
    """Load a case or vignette from a .yaml/.yml/.json file, or from stdin when `path` is '-'."""
    name = "<stdin>" if str(path) == "-" else str(path)
    raw = reading.read_bounded(path, limits.CASE_FILE, CaseError, "give a case file")
    return parse_case_text(raw, name)


def parse_case_text(raw: bytes | str, name: str = "<case>") -> CaseDocument:
    """Parse case text (JSON when it looks like JSON or the name ends in .json, else YAML)."""
    try:
        if len(raw) > limits.CASE_FILE.bytes:
            raise yamlio.YamlProblem(f"larger than {limits.CASE_FILE.describe('bytes')}", None, limit=True)
        text = yamlio.decode_text(raw) if isinstance(raw, bytes) else raw
        if not text.strip():
            raise yamlio.YamlProblem("the file is empty; expected a mapping of case fields with at least 'id'", None)
        if name.endswith(".json") or text.lstrip().startswith("{"):
            data, index = _load_json(text)
        else:
            data, index = yamlio.load(text, limits=limits.CASE_FILE)
    except yamlio.YamlProblem as err:
        if err.limit:  # one line: the file, where, and the limit it exceeds
            where = f"{name}:{err.line}" if err.line else name
            where += f", field '{err.field}'" if err.field else ""
            raise CaseError(f"{where}: {err.message}") from None
        raise CaseError(f"{name}: cannot read the case", [Problem(err.message, file=name, line=err.line)]) from None
    return case_from_data(data, name, index)


def _load_json(text: str) -> tuple[Any, yamlio.LineIndex]:
    data = yamlio.load_json(text, limits=limits.CASE_FILE)
    try:  # JSON is YAML: reuse the YAML reader only to learn the line of each key
        _, index = yamlio.load(text, limits=limits.CASE_FILE)
    except yamlio.YamlProblem:
        index = yamlio.LineIndex()
    return data, index


def case_from_data(data: Any, name: str = "<case>", index: yamlio.LineIndex | None = None) -> CaseDocument:
    """Validate a mapping as a case (or vignette), or read a FHIR Bundle; every problem found is reported at once."""
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        from .fhir import bundle_to_document  # a FHIR R4 Bundle, read by engine/fhir/mapping.yaml

        return bundle_to_document(data, name)
    index = index or yamlio.LineIndex()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"[:60]
        raise CaseError(f"{name}: expected a mapping of case fields (field: value), got {kind}",
                        [Problem("the case must be a mapping with at least 'id'", file=name, line=index.line(()))])
    problems = _unknown_keys(data, name, index)
    case_data = {k: v for k, v in data.items() if k not in VIGNETTE_KEYS and k in Case.model_fields}
    if isinstance(case_data.get("sins"), dict):
        case_data["sins"] = {k: v for k, v in case_data["sins"].items() if k in Sins.model_fields}
    case_data = _drop_nulls(case_data)
    case = _validate(Case, case_data, (), name, index, problems, context={"located_lesion_problems": True})
    if case is not None:
        for field, message in mixing_problems(case):
            path = tuple(int(p) if p.isdigit() else p for p in field.split("."))
            problems.append(Problem(message, file=name, line=index.line(path), field=field))
    board = None
    if data.get("board") is not None:
        board = _validate(Board, data["board"], ("board",), name, index, problems)
    if case is not None and board is not None:
        for field, message in board_problems(case, board):
            path = tuple(field.split("."))
            problems.append(Problem(message, file=name, line=index.line(path), field=field))
    if problems:
        raise CaseError(f"{name}: the case does not match the data dictionary", problems)
    lines = {".".join(str(p) for p in path): line for path, line in index.lines.items()
             if path and "<key>" not in path}
    return CaseDocument(case=case, board=board, path=None if name.startswith("<") else name, lines=lines)


def _drop_nulls(data: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in data.items() if v is not None}
    if isinstance(cleaned.get("sins"), dict):
        cleaned["sins"] = {k: v for k, v in cleaned["sins"].items() if v is not None}
    if isinstance(cleaned.get("lesions"), list):  # a lesion's null is unknown, as a case's is
        cleaned["lesions"] = [_drop_nulls(lesion) if isinstance(lesion, dict) else lesion
                              for lesion in cleaned["lesions"]]
    return cleaned


def _unknown_keys(data: dict[str, Any], name: str, index: yamlio.LineIndex) -> list[Problem]:
    problems = []
    allowed = set(Case.model_fields) | VIGNETTE_KEYS
    for key in data:
        if key not in allowed:
            problems.append(Problem(f"unknown field{did_you_mean(key, allowed)}", file=name,
                                    line=index.key_line((key,)), field=str(key)))
    if isinstance(data.get("sins"), dict):
        for key in data["sins"]:
            if key not in Sins.model_fields:
                problems.append(Problem(f"unknown SINS component{did_you_mean(key, Sins.model_fields)}; "
                                        f"components: {', '.join(Sins.model_fields)}",
                                        file=name, line=index.key_line(("sins", key)), field=f"sins.{key}"))
    return problems


_LOCATED = re.compile(r"^(lesions\.\d+\.[a-z_]+): ")


def _validate(model: type[BaseModel], data: Any, base: yamlio.Path_, name: str, index: yamlio.LineIndex,
              problems: list[Problem], context: dict[str, Any] | None = None) -> Any:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            loc = base + tuple(e["loc"])
            located = _LOCATED.match(str(e.get("ctx", {}).get("error", "")))
            if located:  # a validator of the whole list that knows which entry is wrong
                loc = tuple(int(p) if p.isdigit() else p for p in located.group(1).split("."))
                e["msg"] = str(e["ctx"]["error"])[located.end():]
            problems.append(Problem(_explain(e), file=name, line=index.line(loc),
                                    field=".".join(str(p) for p in loc)))
        return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (int, float)):
        return f"{value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_EXPONENT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+")
_YES_NO = frozenset({"yes", "no", "on", "off", "y", "n"})


def _text_hint(kind: str, value: Any) -> str:
    """Why a text came where a number or true/false was expected, when the cause is how it was written."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if kind == "bool_type":
        if text.lower() in ("true", "false"):
            return "; write the value without quotes"
        if text.lower() in _YES_NO:
            return "; write true or false (yes, no, on and off are refused, in YAML as in CSV)"
        return ""
    if kind in ("float_type", "int_type"):
        if _EXPONENT.fullmatch(text):
            plain = float(text)
            shown = int(plain) if plain.is_integer() and abs(plain) < 1e15 else plain
            return (f"; YAML reads {text} as text, not as a number: write {shown}"
                    if kind == "float_type" or plain.is_integer() else "")
        if _PLAIN_NUMBER.fullmatch(text):
            return "; write the value without quotes"
    return ""


def _value_count(ctx: dict[str, Any]) -> str:
    count = ctx.get("actual_length")
    return f"{count:,}" if isinstance(count, int) else "more"


def _explain(error: ErrorDetails) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "required"
    if kind in _NUMBER_WORDS:
        return f"expected {_NUMBER_WORDS[kind]}, got {_describe(value)}{_text_hint(kind, value)}"
    if kind == "literal_error":
        message = f"expected one of {ctx.get('expected')}, got {_describe(value)}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            message += "; codes are text: quote them, e.g. \"2\""
        return message
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        limit = next(iter(ctx.values()), "?")
        return f"must be {bound} {limit}, got {_describe(value)}"
    if kind == "string_pattern_mismatch":
        return (f"got {_describe(value)}; use letters, digits, '.', '_' or '-' only, "
                "starting with a letter or digit (no patient names)")
    if kind == "too_long":  # a list longer than the field allows (`lesions`: one entry per vertebra, at most 29)
        return f"at most {ctx.get('max_length')} entries, got {_value_count(ctx)}"
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} entry: give one or leave the field out (unknown)"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "extra_forbidden":
        return "unknown field"
    return error["msg"]
