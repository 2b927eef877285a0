"""Words and colours for the engine's codes: presentation only, every meaning comes from the engine and rule base."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinemets import STATUSES, Rulebook
from spinemets.case import GROUPS


@dataclass(frozen=True)
class StatusStyle:
    label: str
    colour: str       # strong colour: borders and badges
    tint: str         # background of a card
    icon: str


# Colour carries the status at a glance across the room; the word is always printed too, for colour-blind readers.
STATUS_STYLES: dict[str, StatusStyle] = {
    "recommended": StatusStyle("Recommended", "#15803d", "#e9f7ee", "✔"),
    "appropriate": StatusStyle("Appropriate", "#4d7c0f", "#f2f8e6", "✓"),
    "caution": StatusStyle("Caution", "#b45309", "#fdf3e3", "⚠"),
    "not_recommended": StatusStyle("Not recommended", "#57606a", "#f1f2f4", "–"),
    "contraindicated": StatusStyle("Contraindicated", "#b91c1c", "#fbeaea", "✖"),
}
assert set(STATUS_STYLES) == set(STATUSES), "every status of the engine needs a style"

EFFECT_WORDS = {
    "indicates": "Indicated",
    "contraindicates": "Contraindicated",
    "advises_against": "Advised against",
    "conflict": "The sources disagree",
    "prefers": "Preferred",
}

# Rule-base effect keys (rules/*.yaml) in the words the rule browser filters by.
EFFECT_KEYS = {
    "indicate": "indicate",
    "contraindicate": "contraindicate",
    "advise_against": "advise against",
    "prefer": "prefer",
    "conflict": "conflict",
    "adjunct": "adjunct",
    "derive": "derive a fact",
}

GROUP_TITLES = {
    "neurologic": "Neurologic",
    "oncologic": "Oncologic",
    "mechanical": "Mechanical",
    "systemic": "Systemic",
    "pain": "Pain",
    "identity": "Case",
}
assert set(GROUPS) <= set(GROUP_TITLES)

UNKNOWN_WORD = "unknown"


def status_label(status: str) -> str:
    return STATUS_STYLES[status].label


# Codes whose plain underscore-to-space reading would mislead; the rest read well as they are.
CODE_WORDS = {
    "unknown_primary": "cancer of unknown primary",
    "over_50": "over 50%",
    "under_50": "under 50%",
    "none_over_50_involved": "none, over 50% of the body involved",
}


def code_label(code: Any) -> str:
    """A code as words: 'multiple_myeloma' -> 'multiple myeloma'."""
    if code is None:
        return UNKNOWN_WORD
    if isinstance(code, bool):
        return "yes" if code else "no"
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    if isinstance(code, (list, tuple)):
        return ", ".join(code_label(c) for c in code) or UNKNOWN_WORD
    return CODE_WORDS.get(str(code), str(code).replace("_", " "))


def option_title(rulebook: Rulebook, code: str) -> str:
    return next((o.title for o in rulebook.manifest.options if o.code == code), code)


def option_label(rulebook: Rulebook, code: str) -> str:
    return f"{code} - {option_title(rulebook, code)}"


def field_title(rulebook: Rulebook, name: str) -> str:
    spec = rulebook.catalog.get(name)
    if spec is not None:
        return spec.title
    if name == "levels":
        return "Levels to treat"
    return name.replace("_", " ")


def field_group(rulebook: Rulebook, name: str) -> str:
    if name == "levels" or name.startswith("sins."):
        return "mechanical"
    spec = rulebook.catalog.get(name)
    return spec.group if spec is not None and spec.group else ""


def value_label(value: Any) -> str:
    return code_label(value)

DISCLAIMER = ("Decision support, not a medical device. spinemets summarises published papers for a tumor board and "
              "for teaching; it is not certified, has not been clinically validated, and does not replace the "
              "judgement of the clinicians responsible for the patient.")
