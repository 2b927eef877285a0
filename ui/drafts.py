"""The work in progress survives a reload: kept in the server's memory, found again by a random tab token.

A reload starts a new Streamlit session with empty state. The browser tab keeps one random token in its
sessionStorage (nothing else: no case data, never in the URL, gone when the tab closes); a tiny component hands
it to the server, which keeps each tab's form, agenda and board session in memory, for a few hours at most and
never on disk. The first run after a reload draws an empty page; the token arrives a moment later and the next
run puts everything back.
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

import streamlit as st

from .case_state import State

# Session-state keys that make up the work in progress. Buttons and uploaders are not among them: Streamlit does
# not let a script set their state.
PREFIXES = ("case.", "agenda.", "board.", "trainee.", "undo.", "form.", "decision.", "record.")
TOKEN_KEY = "drafts.tab"  # noqa: S105 - a session-state key's name, not a secret
TOKEN = "drafts.token"  # noqa: S105 - likewise: where the tab's draft token is kept
RESTORED = "drafts.restored"
_TOKEN = re.compile(r"[0-9a-f]{32}")
_MAX_TABS = 200
_MAX_AGE_SECONDS = 12 * 3600

_JS = """
export default function(component) {
  const { setStateValue } = component;
  const name = "spinemets.tab";
  let token = null;
  try { token = window.sessionStorage.getItem(name); } catch (e) {}
  if (!token || !/^[0-9a-f]{32}$/.test(token)) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    try { window.sessionStorage.setItem(name, token); } catch (e) {}
  }
  if (window.__spinemetsTab !== token) {
    window.__spinemetsTab = token;
    setStateValue("token", token);
  }
}
"""
_tab_component = st.components.v2.component("spinemets.tab_token", js=_JS)


class Store:
    """Each tab's work in progress, in memory, oldest dropped first."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(token)
            if found is None or time.monotonic() - found[0] > _MAX_AGE_SECONDS:
                return None
            return found[1]

    def put(self, token: str, values: dict[str, Any]) -> None:
        with self._lock:
            self._items[token] = (time.monotonic(), values)
            self._items.move_to_end(token)
            while len(self._items) > _MAX_TABS:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def store() -> Store:
    return Store()


def tab_token() -> str | None:
    """This tab's token, once the browser has sent it (None on a session's first run, and in AppTest)."""
    result = _tab_component(key=TOKEN_KEY, on_token_change=lambda: None, height=0)
    token = getattr(result, "token", None)
    return token if isinstance(token, str) and _TOKEN.fullmatch(token) else None


def work(state: State) -> dict[str, Any]:
    return {k: v for k, v in state.items() if isinstance(k, str) and k.startswith(PREFIXES)}


def restore_once(state: State, token: str | None) -> bool:
    """Put back what this tab had before a reload (once per session); True when something was restored."""
    if token is None or state.get(RESTORED):
        return False
    state[RESTORED] = True
    state[TOKEN] = token
    saved = store().get(token)
    if not saved:
        return False
    for k, v in saved.items():
        state[k] = v
    return True


def save(state: State) -> None:
    """Keep the work in progress for this tab (only once its earlier work, if any, has been restored)."""
    token = state.get(TOKEN)
    if state.get(RESTORED) and isinstance(token, str):
        store().put(token, work(state))
