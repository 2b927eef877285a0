"""The only door to durable-rules: one timer-less host per process, one lock, one session per evaluation.

durable-rules keeps global state in C: a ruleset name can be registered once per process, live
sessions are capped (the 1,025th raises a bare MemoryError), the stock host runs actions on timer
threads (wrong results under thread switching), errors raised in actions are stored in the session
state instead of raised, and deleting a session after an unhandled message can segfault. Everything
here exists to keep those traps out of the rest of the engine.
"""
from __future__ import annotations

import copy
import itertools
import threading
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import EngineError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from durable import engine as _durable

Action = Callable[[Any], None]


class _QuietHost(_durable.Host):
    """A host without the stock dispatch and timer threads: actions run inside assert_fact, on the caller's thread."""

    def _run(self) -> None:  # the stock host starts two threading.Timer loops here
        return

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        try:
            return _ACTIONS[action_name]
        except KeyError:
            raise EngineError(f"durable-rules asked for an unregistered action {action_name!r}") from None


_LOCK = threading.Lock()
_HOST: _QuietHost | None = None
_ACTIONS: dict[str, Action] = {}
_REGISTERED: set[str] = set()
_SESSION_IDS = itertools.count(1)


class Run:
    """What one evaluation collects from its actions; actions reach it through `current_run()`."""

    __slots__ = ("fired", "asserted", "errors")

    def __init__(self) -> None:
        self.fired: set[str] = set()
        self.asserted: set[str] = set()
        self.errors: list[BaseException] = []


_CURRENT: Run | None = None


def current_run() -> Run:
    if _CURRENT is None:
        raise EngineError("a durable-rules action ran outside an evaluation")
    return _CURRENT


def _host() -> _QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def register(name: str, definition: dict[str, Any], actions: dict[str, Action]) -> bool:
    """Register a ruleset once per process; returns False when `name` was already registered.

    Callers name rulesets by content hash, so an existing name means the same rules.
    """
    with _LOCK:
        if name in _REGISTERED:
            return False
        _ACTIONS.update(actions)
        # durable deletes the 'run' keys from the dict it is given
        _host().register_rulesets({name: copy.deepcopy(definition)})
        _REGISTERED.add(name)
        return True


def is_registered(name: str) -> bool:
    return name in _REGISTERED


def run(name: str, fact: dict[str, Any]) -> Run:
    """Assert one fact into a fresh session of ruleset `name`, run every action, delete the session."""
    global _CURRENT
    with _LOCK:
        sid = str(next(_SESSION_IDS))
        current = Run()
        _CURRENT = current
        delete = True
        try:
            state = _host().assert_fact(name, dict(fact, sid=sid))
        except _durable.MessageNotHandledException as err:
            delete = False  # delete_state after an unhandled message dereferences uninitialised memory
            raise EngineError(f"no rule of ruleset {name} matched the case fact ({err.message[:200]})") from None
        except MemoryError as err:
            raise EngineError(f"durable-rules ran out of sessions for ruleset {name}") from err
        finally:
            _CURRENT = None
            if delete:
                try:
                    _host().delete_state(name, sid)
                except Exception:  # the session may not exist if assert_fact failed early
                    pass
        if current.errors:
            raise EngineError(f"a rule action failed: {current.errors[0]!r}") from current.errors[0]
        stored = (state or {}).get("exception")
        if stored:
            raise EngineError(f"a rule action failed inside durable-rules: {str(stored)[:500]}")
        return current
