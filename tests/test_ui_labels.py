"""Words, not codes: every code a person can meet on the case page reads as words, taken from the rule base where
it has them."""
from __future__ import annotations

import html
import re

import pytest

from spinemets import OPTIONS, get_engine
from spinemets.case import input_fields
from tests.ui_apptest import document, html_bodies, load_vignette, open_decision_tab, start, vignette_files
from spinemets.ui import case_state, form, labels
from spinemets.ui.evaluation import input_specs

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")        # under_6_months, long_term_control
DOTTED = re.compile(r"\b(?:sins|derive|ind|ci|caution|adj|conflict|against)\.[a-z_.]+\b")   # sins.alignment
OPTION_CODES = re.compile(r"\b(?:" + "|".join(sorted(OPTIONS, key=len, reverse=True)) + r")\b")


@pytest.fixture(scope="module")
def engine():
    return get_engine()


def test_every_coded_value_of_the_form_has_words(engine):
    rulebook = engine.rulebook
    specs = input_specs(engine)
    for name in input_fields():
        spec = specs.get(name)
        if spec is None or spec.kind != "enum":
            continue
        for code in spec.values:
            words = form.choice_words(rulebook, name, code)
            assert not SNAKE.search(words), f"{name}={code} reads {words!r}"
            assert words != code or code.isalpha(), f"{name}={code} has no words"
    # graded scales show their definitions in the options (Bilsky, ASIA)
    for name in ("bilsky_grade", "asia_grade"):
        grades = labels.scale_grades(rulebook, name)
        assert grades, f"the rule base defines no scale for {name}"
        for code, grade in grades.items():
            assert grade.description in form.choice_words(rulebook, name, code, long=True)


def test_sins_choices_show_their_points(engine):
    rulebook = engine.rulebook
    score = next(s for s in rulebook.scores if s.id == "sins")
    for component in score.components:
        for code, points in component.points.items():
            assert f"{points} pt" in form.choice_words(rulebook, component.input, code)


def test_a_reason_heading_uses_the_status_words_of_the_cards(engine):
    rulebook = engine.rulebook
    words = {style.label.lower() for style in labels.STATUS_STYLES.values()}
    for path in vignette_files():
        for option in engine.evaluate(document(path).case).options:
            for reason in option.reasons:
                heading = labels.reason_heading(rulebook, reason).lower()
                if reason.effect == "prefers":
                    assert not OPTION_CODES.search(labels.reason_heading(rulebook, reason))
                elif reason.detail != "note":
                    assert any(w in heading for w in words), heading
                assert "contraindicated (relative)" not in heading


def _visible(at) -> str:
    """What a reader sees: Markdown, captions and alerts, with tags, code badges and tooltips removed."""
    parts = [e.value for e in at.markdown] + html_bodies(at) + [e.value for e in at.caption]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    text = "\n".join(parts)
    text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
    # Citations quote the papers and name sources as the rule base does ("Danish vertebroplasty series"): kept verbatim.
    text = re.sub(r"<details class='sm-cite'>.*?</details>", " ", text, flags=re.S)
    text = re.sub(r"<span class='sm-code'[^>]*>[A-Z_]+</span>", " ", text)
    text = re.sub(r"sha256 `[0-9a-f]+`|case `[^`]+`|:material/[a-z_]+:", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\\_", "_")


@pytest.mark.parametrize("path", vignette_files(), ids=lambda p: p.stem)
def test_the_case_page_shows_no_raw_codes(path):
    at = load_vignette(start(), path)
    seen = []
    for view in ("Options and reasons", "Still to find out", "Papers disagree", "Adjuncts"):
        open_decision_tab(at, view)
        seen.append(_visible(at))
    text = "\n".join(seen)
    case_id = document(path).case.id
    text = text.replace(case_id, " ")
    assert not SNAKE.findall(text), sorted(set(SNAKE.findall(text)))
    assert not DOTTED.findall(text), sorted(set(DOTTED.findall(text)))
    assert not OPTION_CODES.findall(text), sorted(set(OPTION_CODES.findall(text)))


def test_an_unknown_value_reads_unknown_everywhere(engine):
    rulebook = engine.rulebook
    assert form.choice_words(rulebook, "coagulopathy", case_state.UNKNOWN) == labels.UNKNOWN_WORD
    assert labels.value_words(rulebook, "bilsky_grade", None) == labels.UNKNOWN_WORD
