"""Driving the Streamlit app in-process (AppTest) the way a user would: by widget, in the case's own terms."""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable
from unittest.mock import patch

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from spinemets import CaseDocument, get_engine, read_case_file
from spinemets.ui import case_state, labels
from spinemets.ui.evaluation import input_specs

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "ui" / "app.py"
CASES = ROOT / "cases"


def start(timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=timeout).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def vignette_files() -> list[Path]:
    """Every vignette that reads; the lead adds more, so tests iterate over whatever is there."""
    found = []
    for path in sorted(CASES.glob("*.y*ml")) + sorted(CASES.glob("*.json")):
        try:
            read_case_file(path)
        except Exception:  # a vignette being written is another engineer's test to fail
            continue
        found.append(path)
    return found


def document(path: Path) -> CaseDocument:
    return read_case_file(path)


def _find(at: AppTest, key: str) -> Any:
    for kind in (at.segmented_control, at.radio, at.selectbox, at.text_input, at.multiselect, at.text_area):
        try:
            return kind(key=key)
        except KeyError:
            continue
    return None


def widget(at: AppTest, name: str, key: str | None = None) -> Any:
    """A field's widget; the form draws one group of fields at a time, so its group is opened first if need be."""
    found = _find(at, key or case_state.key(name))
    if found is None and key is None and name not in case_state.IDENTITY:
        group = labels.field_group(get_engine().rulebook, name)
        if at.session_state["form.group"] != group:
            at.segmented_control(key="form.group").set_value(group)
            at.run()
            found = _find(at, case_state.key(name))
    if found is None:
        raise KeyError(f"no widget with key {key or case_state.key(name)!r}")
    return found


def set_field(at: AppTest, name: str, value: Any, key: str | None = None) -> AppTest:
    """Set a field to a case value (None: unknown) through its widget, and rerun."""
    element = widget(at, name, key)
    shown = case_state.widget_value(name, input_specs(get_engine()).get(name), value)
    if element.type == "text_input":
        element.input(shown)
    else:
        element.set_value(shown)
    return at.run()


def load_vignette(at: AppTest, path: Path) -> AppTest:
    at.selectbox(key="board.vignette").set_value(path.name)
    next(b for b in at.button if b.label == "Load into the form").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


_VIEWS = {"Options and reasons": "options", "Still to find out": "missing", "Papers disagree": "conflicts",
          "Adjuncts": "adjuncts"}


def open_decision_tab(at: AppTest, label: str) -> AppTest:
    """Show a view of the decision, as a click on its button would (only the chosen view is built)."""
    at.segmented_control(key="decision.view").set_value(_VIEWS[label])
    return at.run()


def top_shown(at: AppTest) -> str | None:
    for element in at.markdown:
        match = re.search(r"<div class='sm-top' data-option='([A-Z_]+)'", element.value)
        if match:
            return match.group(1)
    return None


def statuses_shown(at: AppTest) -> dict[str, str]:
    """The glance row: option -> status, in the order shown."""
    for element in at.markdown:
        pairs = re.findall(r"class='sm-chip' data-option='([A-Z_]+)' data-status='([a-z_]+)'", element.value)
        if pairs:
            return dict(pairs)
    return {}


def html_bodies(at: AppTest) -> list[str]:
    """The HTML elements of the page (st.html: the option cards)."""
    return [e.proto.body for e in at.get("html")]


def markdown_text(at: AppTest) -> str:
    """The page's Markdown and HTML with tags removed and entities decoded: what a reader sees."""
    return html.unescape(re.sub(r"<[^>]+>", " ", "\n".join([e.value for e in at.markdown] + html_bodies(at))))


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def texts(at: AppTest) -> str:
    """Every Markdown, caption and alert on the page, as one string to search."""
    parts = [e.value for e in at.markdown] + html_bodies(at) + [e.value for e in at.caption] + [markdown_text(at)]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    return "\n".join(parts)


@contextmanager
def deferred_downloads() -> Iterator[dict[str, Callable[[], Any]]]:
    """File name -> the callable a download button runs when clicked (AppTest cannot click one itself)."""
    found: dict[str, Callable[[], Any]] = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        found[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    with patch.object(MediaFileManager, "add_deferred", record):
        yield found
