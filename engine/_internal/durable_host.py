"""The only door to durable-rules: one timer-less host per process, one lock, one session per evaluation.

durable-rules keeps global state in C: a ruleset name can be registered once per process, live
sessions are capped (the 1,025th raises a bare MemoryError), the stock host runs actions on timer
threads (wrong results under thread switching), errors raised in actions are stored in the session
state instead of raised, an action whose callback runs past 10 s of wall clock is silently dropped,
and deleting a session after an unhandled message can segfault. Everything here exists to keep those
traps out of the rest of the engine.

durable's `Host` compiles and registers rulesets. Evaluations then drive durable's C engine with the
same calls its Python host makes (assert the fact, start an action, complete it and start the next,
delete the session), but without that host's per-action costs: it decodes the whole action message
(which carries every fact the rule matched) into Python objects and re-encodes the session state after
every action. Here the fired rule's name is read off the head of the message, our handlers run
directly, and nothing else is decoded. durable still matches every rule and schedules every action.
"""
from __future__ import annotations

import copy
import itertools
import json
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import EngineError, Problem, RulebookError
from . import durable_capacity

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import durable_rules_engine as _c
    from durable import engine as _durable

_NOT_HANDLED = 1  # assert_fact: no rule matched the fact (ERR_EVENT_NOT_HANDLED)
ANCHOR = "kind"  # every fact's first tested field (durable_ruleset: "case" or "derived")


class Run:
    """What one evaluation collects: the rules that fired and the derived facts asserted."""

    __slots__ = ("asserted", "fired")

    def __init__(self) -> None:
        self.fired: set[str] = set()
        self.asserted: set[str] = set()


# A handler runs when durable fires its rule; it returns the facts to assert into the same session.
Handler = Callable[[Run], Iterable[dict[str, Any]]]


class _QuietHost(_durable.Host):
    """A host that only registers: no dispatch or timer threads (the stock host starts two)."""

    def _run(self) -> None:
        return

    def get_action(self, action_name: str) -> Callable[[Any], None]:  # noqa: ARG002 (durable's signature)
        return _never_called


def _never_called(c: Any) -> None:  # noqa: ARG001 (durable calls an action with its context)
    raise EngineError("durable-rules' own action dispatch ran; only this module's driver may run actions")


_LOCK = threading.Lock()
_HOST: _QuietHost | None = None
_RULESETS: dict[str, tuple[int, dict[str, Handler]]] = {}
_SESSION_IDS = itertools.count(1)


def _host() -> _QuietHost:
    global _HOST  # noqa: PLW0603 (one host per process, created on first use, under _LOCK by the callers)
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def register(name: str, definition: dict[str, Any], handlers: dict[str, Handler]) -> bool:
    """Register a ruleset once per process; `handlers` maps each rule key of `definition` to its handler.

    Returns False when `name` was already registered: callers name rulesets by content hash, so an existing
    name means the same rules.
    """
    missing = set(definition) - set(handlers)
    if missing:
        raise EngineError(f"rules without a handler: {sorted(missing)}")
    with _LOCK:
        if name in _RULESETS:
            return False
        fitted, overflows = durable_capacity.fitted(definition, anchor=ANCHOR)
        if overflows:
            advice = ("split it into rule bases of fewer rules" if overflows[0].what == "rules" else
                      "give the rules that share this test more distinct conditions, or merge them")
            raise RulebookError(f"the rule base does not fit durable-rules' tables: {overflows[0]}; {advice}",
                                [Problem(str(o)) for o in overflows[1:5]])
        # durable deletes the 'run' keys from the dict it is given; every rule needs one to register
        spec = {key: dict(copy.deepcopy(rule), run=f"{name}/{key}") for key, rule in fitted.items()}
        host = _host()
        try:
            host.register_rulesets({name: spec})
        except _c.error as err:
            raise _registration_error(name, err) from None
        _RULESETS[name] = (host.get_ruleset(name)._handle, dict(handlers))
        return True


# durable's error codes for a ruleset past its fixed limits (rules.h): a property of the rule base.
_CAPACITY = {106: "too many rules, or too many distinct tests after one test",
             107: "too many $nex tests or alternatives after one test",
             108: "too many rules ending on one test", 112: "too many rulesets in one process",
             113: "a condition with too many and/or groups in one join"}


def _registration_error(name: str, err: Exception) -> Exception:
    text = str(err)
    code = int(text.rsplit(":", 1)[-1]) if text.rsplit(":", 1)[-1].strip().isdigit() else None
    if code in _CAPACITY:
        return RulebookError(f"durable-rules cannot compile the rule base: {_CAPACITY[code]} (error {code})")
    return EngineError(f"durable-rules refused ruleset {name}: {text}")


def is_registered(name: str) -> bool:
    return name in _RULESETS


def run(name: str, fact: dict[str, Any]) -> Run:
    """Assert one fact into a fresh session of ruleset `name`, run every action it triggers, delete the session."""
    try:
        handle, handlers = _RULESETS[name]
    except KeyError:
        raise EngineError(f"ruleset {name} is not registered") from None
    with _LOCK:
        sid = str(next(_SESSION_IDS))
        current = Run()
        code, state = _c.assert_fact(handle, json.dumps(dict(fact, sid=sid)))
        if code == _NOT_HANDLED:
            # no session was made, and deleting one after an unhandled fact dereferences uninitialised memory
            raise EngineError(f"no rule of ruleset {name} matched the case fact")
        try:
            started = _c.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                # the message is {"<rule key>": {<matched facts>}}: only the key is needed
                key = message[2:message.index('"', 2)]
                try:
                    for derived in handlers[key](current):
                        _c.assert_fact(handle, json.dumps(dict(derived, sid=sid)))
                except BaseException:
                    _c.abandon_action(handle, state)
                    raise
                message = _c.complete_and_start_action(handle, state)
        except EngineError:
            raise
        except MemoryError as err:
            raise EngineError(f"durable-rules ran out of memory or sessions in ruleset {name}") from err
        except Exception as err:
            raise EngineError(f"durable-rules failed in ruleset {name}: {err!r}") from err
        finally:
            _c.delete_state(handle, sid)
        return current
