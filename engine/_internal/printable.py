"""Text from an input made safe to print on a terminal: control characters shown as escapes, not sent."""
from __future__ import annotations

import re

# C0 and C1 control characters (ESC starts every terminal escape sequence, CSI is also 0x9b; CR rewrites a
# line), and the Unicode direction overrides and isolates that reorder what a reader sees.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, lines: bool = False) -> str:
    """`text` with every control character written as an escape; with `lines`, line breaks are kept."""
    return (_CONTROL_BUT_LINES if lines else _CONTROL).sub(_escape, text)
