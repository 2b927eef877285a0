"""The rule base browser: every rule, searchable and filterable, with citations and the vignettes where it shows."""
from __future__ import annotations

import re

from spinemets import get_engine
from tests.ui_apptest import document, start, texts, vignette_files
from spinemets.ui import rule_words


def _open():
    at = start()
    at.switch_page("views/rule_base.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _count(at) -> int:
    caption = next(c.value for c in at.caption if re.match(r"\d+ of \d+ rules", c.value))
    return int(caption.split()[0])


def test_every_active_rule_is_listed_with_its_id():
    at = _open()
    rulebook = get_engine().rulebook
    assert _count(at) == len(rulebook.active_rules)
    page = texts(at)
    for rule in rulebook.active_rules:
        assert f"`{rule.id}`" in page


def test_search_and_filters_narrow_the_list():
    rulebook = get_engine().rulebook
    at = _open()
    rule = rulebook.active_rules[0]
    at.text_input(key="rules.search").input(rule.id).run()
    assert _count(at) >= 1 and f"`{rule.id}`" in texts(at)
    at.text_input(key="rules.search").input("").run()
    source = next(iter(rule_words.sources_of(rule)))
    at.multiselect(key="rules.sources").set_value([source]).run()
    expected = sum(1 for r in rulebook.active_rules if source in rule_words.sources_of(r))
    assert _count(at) == expected
    at.multiselect(key="rules.sources").set_value([]).run()
    at.multiselect(key="rules.effects").set_value(["conflict"]).run()
    assert _count(at) == sum(1 for r in rulebook.active_rules if "conflict" in rule_words.effects_of(r))
    at.multiselect(key="rules.effects").set_value([]).run()
    at.multiselect(key="rules.options").set_value(["SURGERY"]).run()
    assert _count(at) == sum(1 for r in rulebook.active_rules if "SURGERY" in rule_words.options_of(r))


def test_a_rule_lists_the_vignettes_where_it_shows():
    engine = get_engine()
    path = vignette_files()[0]
    decision = engine.evaluate(document(path).case)
    rule = decision.options[0].reasons[0].rule
    at = _open()
    at.text_input(key="rules.search").input(rule).run()
    assert f"`{document(path).case.id}`" in texts(at)


def test_sources_tab_gives_doi_or_pmid_links():
    at = _open()
    rulebook = get_engine().rulebook
    page = texts(at)
    for source in rulebook.sources.values():
        if source.doi:
            assert f"https://doi.org/{source.doi}" in page
        if source.pmid:
            assert f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/" in page


def test_every_source_is_named_as_a_reader_would_cite_it():
    """A source id is a key, not a name: papers whose authors the extracts lack carry their own short name."""
    from spinemets.ui.citations import short_name

    rulebook = get_engine().rulebook
    assert short_name(rulebook, "gu-2017") == "Gu et al. 2017"
    assert short_name(rulebook, "barbanti-brodano-2007") == "Barbanti Brodano et al. 2007"
    page = texts(_open())
    for source_id in rulebook.sources:
        name = short_name(rulebook, source_id)
        assert name != source_id, f"{source_id} has neither recorded authors nor a short name"
        assert name in page
