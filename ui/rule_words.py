"""Rules described for the browser: which options, effects and sources a rule touches."""
from __future__ import annotations

from typing import Any

from spinemets import Rulebook
from spinemets.conditions import AllOf, Compare, Condition, NotOf, Presence, fields_of
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

from . import labels
from .text import md


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


# ---- conditions and effects in words, for the rule base page -----------------------------------------------

_OPS = {"==": "is", "!=": "is not", "<": "is below", "<=": "is at most", ">": "is above", ">=": "is at least",
        "in": "is one of", "not in": "is none of"}


def condition_lines(rulebook: Rulebook, cond: Condition, depth: int = 0) -> list[str]:
    """The condition as nested Markdown bullets, in the form's field titles and value words:
    'Histology confirmed is not known' rather than `unknown(histology_confirmed)`."""
    pad = "  " * depth
    if isinstance(cond, Compare):
        title = labels.field_title(rulebook, cond.field)
        if isinstance(cond.value, tuple):
            shown = ", ".join(labels.value_words(rulebook, cond.field, v) for v in cond.value)
        else:
            shown = labels.value_words(rulebook, cond.field, cond.value)
        return [f"{pad}- **{md(title)}** {_OPS.get(cond.op, cond.op)} {md(shown)}"]
    if isinstance(cond, Presence):
        state = "is known" if cond.kind == "known" else "is not known (unknown)"
        return [f"{pad}- **{md(labels.field_title(rulebook, cond.field))}** {state}"]
    if isinstance(cond, NotOf):
        return [f"{pad}- not:", *condition_lines(rulebook, cond.item, depth + 1)]
    head = "all of:" if isinstance(cond, AllOf) else "any of:"
    if depth == 0 and isinstance(cond, AllOf):  # the top level's "all of" goes without saying
        return [line for item in cond.items for line in condition_lines(rulebook, item, depth)]
    return [f"{pad}- {head}", *(line for item in cond.items for line in condition_lines(rulebook, item, depth + 1))]


def effect_words(rulebook: Rulebook, effect: Any) -> str:
    def named(codes: Any) -> str:
        return labels.options_in_words(rulebook, codes)

    if isinstance(effect, Indicate):
        return f"indicates {named(effect.indicate)} ({effect.strength})"
    if isinstance(effect, Contraindicate):
        return f"contraindicates {named(effect.contraindicate)} ({effect.severity})"
    if isinstance(effect, AdviseAgainst):
        return f"advises against {named(effect.advise_against)}"
    if isinstance(effect, Limit):
        return f"holds {named(effect.limit)} at {effect.at_most} at most"
    if isinstance(effect, Prefer):
        return f"prefers {named([effect.prefer])} over {named(effect.over)}"
    if isinstance(effect, Conflict):
        return f"the sources disagree about {named(effect.conflict)}"
    if isinstance(effect, Adjunct):
        what = effect.adjunct.replace("_", " ")
        return f"adds the adjunct *{what}*" + (f" with {named(effect.options)}" if effect.options else "")
    derived = getattr(effect, "derive", None)
    if derived is not None:
        return f"derives the fact *{labels.fact_title(rulebook, derived)}*"
    return str(effect.describe())


def field_words(rulebook: Rulebook, rule: Rule) -> str:
    """The field titles and option names a rule's condition and effects use, for the search box."""
    names = [labels.field_title(rulebook, n) for n in fields_of(rule.when)]
    names += [labels.option_title(rulebook, o) for o in options_of(rule)]
    return " ".join(names).lower()
