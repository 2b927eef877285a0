"""Text from the rule base or the user shown literally in Streamlit Markdown."""
from __future__ import annotations

import html

_MARKDOWN_SPECIAL = "\\`*_{}[]#+|~$"


def md(text: object) -> str:
    """Escape Markdown, HTML and LaTeX markers so '<', '*', '$' in a rule's text print as themselves."""
    escaped = html.escape(str(text), quote=False)
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in escaped)


def attr(text: object) -> str:
    """For text placed inside our own HTML snippets."""
    return html.escape(str(text), quote=True)
