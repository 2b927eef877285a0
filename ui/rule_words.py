"""Rules described for the browser: each effect in words, and which options, effects and sources a rule touches."""
from __future__ import annotations

from engine.rulebook import Adjunct, AdviseAgainst, Conflict, Contraindicate, Derive, Indicate, Prefer, Rule

_KEYS = ((Indicate, "indicate"), (Contraindicate, "contraindicate"), (AdviseAgainst, "advise_against"),
         (Prefer, "prefer"), (Conflict, "conflict"), (Adjunct, "adjunct"), (Derive, "derive"))


def effect_key(effect: object) -> str:
    return next(key for cls, key in _KEYS if isinstance(effect, cls))


def effect_text(effect: object) -> str:
    if isinstance(effect, Indicate):
        return f"indicate {', '.join(effect.indicate)} ({effect.strength})"
    if isinstance(effect, Contraindicate):
        return f"contraindicate {', '.join(effect.contraindicate)} ({effect.severity})"
    if isinstance(effect, AdviseAgainst):
        return f"advise against {', '.join(effect.advise_against)}"
    if isinstance(effect, Prefer):
        return f"prefer {effect.prefer} over {', '.join(effect.over)}"
    if isinstance(effect, Conflict):
        return f"the sources disagree about {', '.join(effect.conflict)}" + (" (caution)" if effect.caution else " (note)")
    if isinstance(effect, Adjunct):
        return f"adjunct: {effect.adjunct}" + (f" with {', '.join(effect.options)}" if effect.options else "")
    if isinstance(effect, Derive):
        return f"derive the fact {effect.derive}"
    return type(effect).__name__


def options_of(rule: Rule) -> set[str]:
    found: set[str] = set()
    for e in rule.then:
        if isinstance(e, Indicate):
            found |= set(e.indicate)
        elif isinstance(e, Contraindicate):
            found |= set(e.contraindicate)
        elif isinstance(e, AdviseAgainst):
            found |= set(e.advise_against)
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
