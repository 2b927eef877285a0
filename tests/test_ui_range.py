"""The option cards show a provisional option's range and the questions toward each end, in words."""
from __future__ import annotations

import re

from spinemets import read_case_file
from spinemets.ui import cards

from .conftest import CASES_DIR

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def test_a_provisional_card_shows_its_range_and_what_could_move_it(engine):
    decision = engine.evaluate(read_case_file(CASES_DIR / "teach-mostly-unknown-lung-t8.yaml"))
    html = cards.option_card(engine.rulebook, decision.option("PVP"), 2, decision)
    assert "data-range='recommended..contraindicated'" in html
    assert "Recommended at best, Contraindicated at worst" in html
    lift, lower = html.split("Could lift it:", 1)[1].split("Could lower it:", 1)
    assert "Uncorrectable coagulopathy" in lower and "Uncorrectable coagulopathy" not in lift
    assert "Refractory to conservative care" in lift
    assert not SNAKE.findall(html.split("<details class='sm-cite' data-range", 1)[1].split("</details>", 1)[0]
                             .split("'>", 1)[1])  # words, not codes


def test_a_settled_card_has_no_range(engine):
    decision = engine.evaluate({"id": "k", "pathological_fracture": True, "refractory_to_conservative": True,
                                "neurological_deficit": False, "coagulopathy": True})
    pvp = decision.option("PVP")
    assert not pvp.provisional and "data-range" not in cards.option_card(engine.rulebook, pvp, None, decision)
