"""Safe YAML and JSON reading: bounded (limits.py), line numbers kept, duplicate keys and tags refused."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .limits import Limits

# The C loader is the same SafeLoader grammar (no object construction), about 10x faster.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with YAML 1.2's booleans: only true and false (any case), as CSV reads them.

    YAML 1.1 also reads yes, no, on and off as booleans; a registry may mean something else by them (and
    `no` is the Norwegian country code), so they stay text here and a yes-no field refuses them by name.
    """


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()}
_SafeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))

Path_ = tuple[Any, ...]

_CORE = "tag:yaml.org,2002:"
# Explicit tags a document may carry: the plain JSON-like types. Anything else (!!python/object/apply:...,
# !!binary, !!set, a custom !tag) is refused with its line instead of reaching the constructor.
_ALLOWED_TAGS = frozenset({None, "!", *(_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))})
_INT = _CORE + "int"


@dataclass
class LineIndex:
    """Maps a path into the loaded data (keys and list indices) to the 1-based line it starts on."""

    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of `path` (a missing key points at its parent)."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def key_line(self, path: Path_) -> int | None:
        return self.lines.get(tuple(path) + ("<key>",)) or self.line(path)


class YamlProblem(ValueError):
    """Why a text is not a readable document; `limit` when it is readable but past one of limits.py."""

    def __init__(self, message: str, line: int | None, limit: bool = False, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.limit = limit
        self.field = field  # the list or mapping past the limit of entries, as `lesions` or `board.notes`


def decode_text(raw: bytes) -> str:
    """UTF-8 text or a YamlProblem that says the file is binary or in another encoding."""
    if b"\x00" in raw:
        raise YamlProblem("this is a binary file, not YAML or JSON text", None)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise YamlProblem(f"not UTF-8 text (byte 0x{raw[err.start]:02x})", line) from None


def _too_large(limits: Limits, which: str, line: int | None, field: str | None = None) -> YamlProblem:
    return YamlProblem(f"exceeds {limits.describe(which)}", line, limit=True, field=field)


def _dotted(path: tuple[Any, ...]) -> str | None:
    return ".".join(str(p) for p in path) if path else None


def load(text: str, *, limits: Limits) -> tuple[Any, LineIndex]:
    """Parse one YAML document with the safe loader; returns the data and its line index."""
    if len(text) > limits.bytes:
        raise _too_large(limits, "bytes", None)
    _check_events(text, limits)
    loader = _SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None, LineIndex()
            index = LineIndex()
            _index(node, (), index)
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark else None
            raise YamlProblem(f"not valid YAML: {err.problem or err}", line) from None
        except yaml.YAMLError as err:
            raise YamlProblem(f"not valid YAML: {err}", None) from None
    finally:
        loader.dispose()
    return data, index


def load_value(text: str, *, limits: Limits) -> Any:
    """One YAML value (a flow list, a number, a code), without line numbers."""
    return load(text, limits=limits)[0]


def _check_events(text: str, limits: Limits) -> None:
    """Walk the parser's events (constant memory) and refuse what the limits, tags or keys forbid.

    The expanded size of every anchored value is remembered, so an alias costs what it would expand to
    without being expanded; a merge key's list of aliases is counted the same way.
    """
    loader = _SafeLoader(text)
    # one frame per open list or mapping: [is mapping, nodes before it, anchor, children so far, path, last key]
    stack: list[list[Any]] = []
    sizes: dict[str, int] = {}          # anchor -> expanded size
    collections: set[str] = set()       # anchors naming a list or mapping (unhashable as a key)
    nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent):
                continue
            line = event.start_mark.line + 1 if event.start_mark else None
            if kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                _, before, anchor, *_ = stack.pop()
                if anchor is not None:
                    sizes[anchor] = nodes - before
                continue
            parent = stack[-1] if stack else None
            as_key = parent is not None and parent[0] and parent[3] % 2 == 0
            if parent is not None:
                parent[3] += 1
                if ((parent[3] + 1) // 2 if parent[0] else parent[3]) > limits.items:
                    raise _too_large(limits, "items", line, _dotted(parent[4]))
            if kind is yaml.AliasEvent:
                name = event.anchor
                if any(frame[2] == name for frame in stack):
                    raise YamlProblem(f"the alias *{name} refers to a value that contains it", line)
                if as_key and name in collections:
                    raise YamlProblem("a key must be a single value (text), not a list or mapping", line)
                nodes += sizes.get(name, 1)
                if nodes > limits.nodes:
                    raise _too_large(limits, "nodes", line)
                continue
            tag = event.tag
            if tag not in _ALLOWED_TAGS:
                shown = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
                raise YamlProblem(f"the tag {shown} is not allowed: write plain values (text, numbers, true/false, "
                                  "lists, mappings)", line)
            nodes += 1
            if nodes > limits.nodes:
                raise _too_large(limits, "nodes", line)
            anchor = event.anchor
            if kind is yaml.ScalarEvent:
                if as_key:
                    parent[5] = event.value  # type: ignore[index]
                if anchor is not None:
                    sizes[anchor] = 1
                if len(event.value) > limits.int_digits and _is_int(loader, event):
                    raise _too_large(limits, "int_digits", line)
                continue
            if as_key:
                raise YamlProblem("a key must be a single value (text), not a list or mapping", line)
            if anchor is not None:
                collections.add(anchor)
            path = () if parent is None else (*parent[4], parent[5] if parent[0] else parent[3] - 1)
            stack.append([kind is yaml.MappingStartEvent, nodes - 1, anchor, 0, path, None])
            if len(stack) > limits.depth:
                raise _too_large(limits, "depth", line)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlProblem(f"not valid YAML: {err.problem or err}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise YamlProblem(f"not valid YAML: {err}", None) from None
    finally:
        loader.dispose()


def _is_int(loader: Any, event: yaml.ScalarEvent) -> bool:
    if event.tag == _INT:
        return True
    if event.tag is not None or event.style not in (None, ""):
        return False
    return bool(loader.resolve(yaml.ScalarNode, event.value, (True, False)) == _INT)


def _index(node: yaml.Node, path: Path_, index: LineIndex) -> None:
    index.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlProblem(f"duplicate key '{key}' (first on line {seen[key]})", line)
            seen[key] = line
            index.lines[path + (key, "<key>")] = line
            _index(value_node, path + (key,), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), index)


# --- JSON ---------------------------------------------------------------------------------------------------


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _LongInt(Exception):
    pass


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in items:
        if key in data:
            raise _Duplicate(key)
        data[key] = value
    return data


def load_json(text: str, *, limits: Limits, lines: bool = True) -> Any:
    """Parse JSON as strictly as YAML is read: duplicate keys refused, the limits enforced.

    With `lines`, a duplicate key is located by reading the text once more as YAML (JSON is YAML), which
    names both lines; a JSON Lines row passes False, its line being the row's.
    """
    if len(text) > limits.bytes:
        raise _too_large(limits, "bytes", None)

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("+-")) > limits.int_digits:
            raise _LongInt
        return int(digits)

    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=parse_int)
    except json.JSONDecodeError as err:
        raise YamlProblem(f"not valid JSON: {err.msg} (column {err.colno})", err.lineno) from None
    except RecursionError:
        raise _too_large(limits, "depth", None) from None
    except _LongInt:
        raise _too_large(limits, "int_digits", None) from None
    except _Duplicate as dup:
        if lines:
            try:
                load(text, limits=limits)
            except YamlProblem as err:
                if err.message.startswith("duplicate key"):
                    raise err from None
        raise YamlProblem(f"duplicate key '{dup.key}'", None) from None
    _check_structure(data, limits)
    return data


def _check_structure(data: Any, limits: Limits) -> None:
    """Depth, entries and values of parsed JSON (it has no aliases: its size is bounded by its bytes)."""
    nodes = 0
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if nodes > limits.nodes:
            raise _too_large(limits, "nodes", None)
        if isinstance(value, (dict, list)):
            if depth + 1 > limits.depth:
                raise _too_large(limits, "depth", None)
            if len(value) > limits.items:
                raise _too_large(limits, "items", None, _dotted(_path_to(data, value)))
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)


def _path_to(data: Any, target: Any) -> tuple[Any, ...]:
    """Where `target` sits in `data` (by identity), for a message: only looked for once a limit is exceeded."""
    pending: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while pending:
        value, path = pending.pop()
        if value is target:
            return path
        if isinstance(value, dict):
            pending.extend((child, (*path, key)) for key, child in value.items())
        elif isinstance(value, list):
            pending.extend((child, (*path, i)) for i, child in enumerate(value))
    return ()
