"""Safe YAML reading that keeps line numbers and refuses duplicate keys."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

# The C loader is the same SafeLoader grammar (no object construction), about 10x faster.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[Any, ...]


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
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def decode_text(raw: bytes) -> str:
    """UTF-8 text or a YamlProblem that says the file is binary or in another encoding."""
    if b"\x00" in raw:
        raise YamlProblem("this is a binary file, not YAML or JSON text", None)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise YamlProblem(f"not UTF-8 text (byte 0x{raw[err.start]:02x})", line) from None


def load(text: str) -> tuple[Any, LineIndex]:
    """Parse one YAML document with the safe loader; returns the data and its line index."""
    loader = _SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark else None
            raise YamlProblem(f"not valid YAML: {err.problem or err}", line) from None
        except yaml.YAMLError as err:
            raise YamlProblem(f"not valid YAML: {err}", None) from None
        if node is None:
            return None, LineIndex()
        index = LineIndex()
        _index(node, (), index)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return data, index


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
