"""A decision in a notebook: to_dict, and the HTML and Markdown views, with everything from the input escaped."""
from __future__ import annotations

import html
import json
import re

import pytest

from spinemets import Decision, evaluate, load_vignette

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script> **bold** [link](http://evil.example)'


@pytest.fixture(scope="module")
def decision() -> Decision:
    return evaluate(load_vignette("teach-coagulopathy-lung-t9"))


def _hostile(decision: Decision) -> Decision:
    """The decision with attacker-controlled text in every string a rule base or case can carry."""
    options = []
    for option in decision.options:
        reasons = tuple(r.model_copy(update={"text": HOSTILE, "rule": HOSTILE, "detail": HOSTILE,
                                             "citations": tuple(c.model_copy(update={"section": HOSTILE})
                                                                for c in r.citations)})
                        for r in option.reasons)
        options.append(option.model_copy(update={"reasons": reasons}))
    book = decision.rulebook.model_copy(update={"name": HOSTILE, "version": HOSTILE})
    return decision.model_copy(update={"case_id": HOSTILE, "options": tuple(options), "rulebook": book})


def test_to_dict_is_the_json_form(decision):
    data = decision.to_dict()
    assert data == json.loads(decision.to_json())
    assert Decision.model_validate(data) == decision


def test_the_views_show_top_statuses_reasons_and_citations(decision):
    for view in (decision._repr_html_(), decision._repr_markdown_()):
        text = html.unescape(view).replace("\\", "")
        assert "top suggestion" in text and decision.top in text
        for option in decision.options:
            assert option.option in text and option.status in text
            for reason in option.reasons:
                assert reason.rule in text
                for citation in reason.citations:
                    assert citation.source in text and citation.section in text
        assert decision.rulebook.sha256[:16] in text


def test_no_tag_from_the_input_survives_in_html(decision):
    shown = _hostile(decision)._repr_html_()
    assert "<script" not in shown and "<img" not in shown and "onerror=\"" not in shown
    assert html.escape(HOSTILE, quote=True) in shown
    tags = set(re.findall(r"<\s*([a-zA-Z]+)", shown))
    assert tags <= {"div", "p", "b", "br", "small", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "i"}


def test_no_tag_or_markup_from_the_input_survives_in_markdown(decision):
    shown = _hostile(decision)._repr_markdown_()
    assert "<" not in shown, "a notebook renders inline HTML in Markdown"
    assert "**bold**" not in shown and "[link](" not in shown
    assert "\\*\\*bold\\*\\*" in shown


def test_a_decision_with_every_option_contraindicated_still_shows(decision):
    empty = decision.model_copy(update={"ranking": ()})
    assert "every option is contraindicated" in empty._repr_markdown_()
    assert "every option is contraindicated" in empty._repr_html_()


def test_option_names_an_unknown_code(decision):
    with pytest.raises(KeyError, match="PVP"):
        decision.option("VERTEBROPLASTY")
