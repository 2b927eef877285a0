"""Rules described for the browser: which options, effects and sources a rule touches."""
from __future__ import annotations

from spinemets.rulebook import (
    Adjunct,
    AdviseAgainst,
    Conflict,
    Contraindicate,
    Indicate,
    Limit,
    Prefer,
    Rule,
    effect_key,
)


def options_of(rule: Rule) -> set[str]:
    found: set[str] = set()
    for e in rule.then:
        if isinstance(e, Indicate):
            found |= set(e.indicate)
        elif isinstance(e, Contraindicate):
            found |= set(e.contraindicate)
        elif isinstance(e, AdviseAgainst):
            found |= set(e.advise_against)
        elif isinstance(e, Limit):
            found |= set(e.limit)
        elif isinstance(e, Prefer):
            found |= {e.prefer, *e.over}
        elif isinstance(e, Conflict):
            found |= set(e.conflict)
        elif isinstance(e, Adjunct):
            found |= set(e.options)
    return found


def effects_of(rule: Rule) -> set[str]:
    return {effect_key(e) for e in rule.then}


def sources_of(rule: Rule) -> set[str]:
    return {c.source for c in rule.citations}


def haystack(rule: Rule) -> str:
    """Everything a search should match: id, title, text, notes and the cited passages."""
    parts = [rule.id, rule.title, rule.text, rule.notes or ""]
    parts += [f"{c.source} {c.section} {c.locator} {c.claim or ''}" for c in rule.citations]
    parts += [getattr(e, "text", None) or "" for e in rule.then]
    return " ".join(parts).lower()
