"""Words and colours for the engine's codes: presentation only, every meaning comes from the engine and rule base.

Where the rule base has a word for a code it is used (option titles, score band titles, Bilsky and ASIA grade
titles, derived-fact and rule titles); the tables here hold words only for the codes the rule base and the case
model leave as bare codes. tests/test_ui_labels.py checks that every code a person can meet has its words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinemets import STATUSES, Rulebook
from spinemets.case import GROUPS, VERTEBRAE, Case
from spinemets.decision import Reason


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

# One vocabulary: a reason says what it does to the option in the words of the statuses the cards show.
EFFECT_WORDS = {
    "indicates": "Indicated",
    "contraindicates": "Contraindicated",
    "advises_against": "Advised against",
    "limits": "The lesser choice",
    "conflict": "The sources disagree",
    "prefers": "Preferred",
}
_REASON_HEADINGS = {
    ("indicates", "strong"): "Indicated: recommended",
    ("indicates", "moderate"): "Indicated: appropriate",
    ("contraindicates", "absolute"): "Absolute contraindication: contraindicated",
    ("contraindicates", "relative"): "Relative contraindication: caution at most",
    ("advises_against", None): "Advised against: not recommended at most",
    ("limits", "appropriate"): "The lesser choice: appropriate at most",
    ("conflict", "caution"): "The sources disagree: caution at most",
    ("conflict", None): "The sources disagree: caution at most",
    ("conflict", "note"): "The sources disagree (for information)",
}

# Rule-base effect keys (rules/*.yaml) in the words the rule browser filters by.
EFFECT_KEYS = {
    "indicate": "indicate",
    "contraindicate": "contraindicate",
    "advise_against": "advise against",
    "limit": "limit (the lesser choice)",
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


# Codes whose underscore-to-space reading would mislead, wherever they appear.
CODE_WORDS = {
    "unknown_primary": "cancer of unknown primary",
    "multiple_myeloma": "multiple myeloma",
    "over_50": "over 50%",
    "under_50": "under 50%",
    "none_over_50_involved": "none, over 50% of the body involved",
}

# Words for a field's codes where the case model keeps them terse; Bilsky and ASIA come from the rule base's scales.
VALUE_WORDS: dict[str, dict[str, str]] = {
    "visceral_metastases": {"none": "none", "removable": "removable", "unremovable": "not removable"},
    "lesion_type": {"lytic": "lytic (osteolytic)", "blastic": "blastic (osteoblastic)",
                    "mixed": "mixed lytic and blastic"},
    "compression_site": {"cord": "spinal cord", "conus": "conus medullaris", "cauda_equina": "cauda equina",
                         "root": "a single nerve root"},
    "sins.location": {"junctional": "junctional (occiput-C2, C7-T2, T11-L1, L5-S1)",
                      "mobile": "mobile spine (C3-C6, L2-L4)", "semirigid": "semi-rigid (T3-T10)",
                      "rigid": "rigid (S2-S5)"},
    "sins.pain": {"mechanical": "mechanical", "occasional": "occasional, not mechanical", "none": "pain-free lesion"},
    "sins.lesion": {"lytic": "lytic", "mixed": "mixed lytic and blastic", "blastic": "blastic"},
    "sins.alignment": {"subluxation": "subluxation or translation",
                       "deformity": "de novo deformity (kyphosis, scoliosis)", "normal": "normal alignment"},
    "sins.collapse": {"over_50": "over 50% collapse", "under_50": "under 50% collapse",
                      "none_over_50_involved": "no collapse, over 50% of the body involved", "none": "none of these"},
    "sins.posterolateral": {"bilateral": "bilateral", "unilateral": "unilateral", "none": "none"},
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


def value_label(value: Any) -> str:
    return code_label(value)


def scale_grades(rulebook: Rulebook, name: str) -> dict[str, Any]:
    """Grade code -> the rule base's grade (title, description) for a field a scale defines (Bilsky, ASIA)."""
    for scale in getattr(rulebook, "scales", ()):
        if scale.field == name:
            return {g.code: g for g in scale.grades}
    return {}


def value_words(rulebook: Rulebook, name: str, value: Any) -> str:
    """A field's value as a reader says it: 'spinal cord', '1b (thecal sac deformed)', '35 %'."""
    if value is None:
        return UNKNOWN_WORD
    grades = scale_grades(rulebook, name)
    if isinstance(value, str) and value in grades:
        return f"{value} ({grades[value].title.lower()})"
    table = VALUE_WORDS.get(name, {})
    if isinstance(value, str) and value in table:
        return table[value]
    return code_label(value)


def neutral_title(rulebook: Rulebook, number: int, case: Case) -> str:
    """'Vignette 7: breast; T10': what a board would say before discussing a vignette, never its title (which
    often gives the answer away). The trainee page and `spinemets cases` both name vignettes this way."""
    hints = [value_words(rulebook, "primary_tumor", case.primary_tumor)] if case.primary_tumor else []
    levels = case.levels or sorted((lesion.level for lesion in case.lesions or []), key=VERTEBRAE.index)
    hints += [", ".join(levels)] if levels else []
    return f"Vignette {number}" + (f": {'; '.join(hints)}" if hints else "")


def option_title(rulebook: Rulebook, code: str) -> str:
    return next((o.title for o in rulebook.manifest.options if o.code == code), code)


def option_label(rulebook: Rulebook, code: str) -> str:
    """'Percutaneous vertebroplasty (PVP)': the words first, the code the minutes use after."""
    return f"{option_title(rulebook, code)} ({code})"


def options_in_words(rulebook: Rulebook, codes: Any) -> str:
    names = [option_title(rulebook, c) for c in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


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


def fact_title(rulebook: Rulebook, fact: str) -> str:
    info = rulebook.manifest.facts.get(fact)
    return info.title if info is not None else field_title(rulebook, fact)


def rule_title(rulebook: Rulebook, rule_id: str) -> str:
    rule = rulebook.rule_by_id.get(rule_id)
    if rule is not None:
        return rule.title
    # a plan rule (rules/plan.yaml) reasons about the patient's plan, not an option
    plan_rule = next((p for p in rulebook.plan_rules if p.id == rule_id), None)
    return plan_rule.title if plan_rule is not None else rule_id


def band_titles(rulebook: Rulebook, score_id: str) -> dict[str, str]:
    score = next((s for s in rulebook.scores if s.id == score_id), None)
    return {b.name: b.title for b in score.bands} if score is not None else {}


def points_of(rulebook: Rulebook, name: str) -> dict[str, int]:
    """A score component's points per code (SINS), keyed by the field it reads."""
    for score in rulebook.scores:
        for component in score.components:
            if component.input == name and component.points:
                return dict(component.points)
    return {}


def reason_heading(rulebook: Rulebook, reason: Reason) -> str:
    """What a reason does to its option, in the cards' status words: 'Relative contraindication: caution at most'."""
    if reason.effect == "prefers":
        over = [c.strip() for c in (reason.detail or "").removeprefix("over ").split(",") if c.strip()]
        return "Preferred over " + options_in_words(rulebook, over) if over else "Preferred"
    heading = _REASON_HEADINGS.get((reason.effect, reason.detail)) or _REASON_HEADINGS.get((reason.effect, None))
    return heading or EFFECT_WORDS.get(reason.effect, reason.effect)


DISCLAIMER = ("Decision support, not a medical device. spinemets summarises published papers for a tumor board and "
              "for teaching; it is not certified, has not been clinically validated, and does not replace the "
              "judgement of the clinicians responsible for the patient.")

# Who sits at the board, by role (never by name): offered in the attendee list, others can be typed.
BOARD_ROLES = ("spine surgery", "neurosurgery", "interventional radiology", "diagnostic radiology",
               "radiation oncology", "medical oncology", "palliative care", "pain medicine", "nursing", "trainee")


# One colour per option, in the rule base's option order, on every chart and on the option cards' code badge:
# Okabe-Ito's colours, told apart by colour-blind readers (their yellow left out: it does not read on white).
OPTION_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")


def option_colour(rulebook: Rulebook, code: str) -> str:
    order = list(rulebook.option_order)
    return OPTION_COLOURS[order.index(code) % len(OPTION_COLOURS)] if code in order else "#57606a"
