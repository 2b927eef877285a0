"""The spine picture (ui/spine_picture.py): well-formed SVG, every vertebra C1-S5, each involved level marked in
colour *and* words, fracture and compression each a symbol and a word, the level in focus highlighted, nothing
fetched from elsewhere."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from spinemets.case import VERTEBRAE
from spinemets.ui.spine_picture import Mark, describe, svg

NS = "{http://www.w3.org/2000/svg}"
MARKS = {
    "T11": Mark(advice="PVP", advice_words="Vertebroplasty", status_words="recommended", colour="#0072B2",
                status="recommended",
                fracture=True, compression=False),
    "L1": Mark(advice="SURGERY", advice_words="Open surgery", status_words="caution", colour="#D55E00",
               status="caution",
               fracture=False, compression=True, provisional=True),
    "C5": Mark(fracture=None, compression=None),
}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-level"): g for g in root.iter(f"{NS}g")}


def test_every_vertebra_is_drawn_once_in_order():
    root = parse(svg({}))
    assert list(groups(root)) == list(VERTEBRAE)
    assert all(g.get("data-involved") is None for g in groups(root).values())
    assert root.find(f"{NS}desc").text == "No level described."


def test_involved_levels_carry_their_advice_status_and_findings():
    found = groups(parse(svg(MARKS, focus="L1")))
    assert {level for level, g in found.items() if g.get("data-involved") == "true"} == {"T11", "L1", "C5"}
    assert (found["T11"].get("data-option"), found["T11"].get("data-status")) == ("PVP", "recommended")
    assert (found["T11"].get("data-fracture"), found["T11"].get("data-compression")) == ("true", "false")
    assert (found["C5"].get("data-fracture"), found["C5"].get("data-compression")) == ("unknown", "unknown")
    # coloured by the option advised there
    assert found["T11"].find(f"{NS}rect").get("fill") == "#0072B2"
    assert found["L1"].find(f"{NS}rect").get("fill") == "#D55E00"
    assert found["T10"].find(f"{NS}rect").get("fill") != "#0072B2"


def _words(group: ET.Element) -> str:
    return " ".join(" ".join(part for part in t.itertext()) for t in group.iter(f"{NS}text"))


def test_fracture_and_compression_are_a_symbol_and_a_word_not_colour_alone():
    found = groups(parse(svg(MARKS)))
    symbols = {level: {e.get("data-symbol") for e in g.iter() if e.get("data-symbol")} for level, g in found.items()}
    assert symbols["T11"] == {"fracture"} and "fracture" in _words(found["T11"])
    assert "compression" not in _words(found["T11"])
    assert symbols["L1"] == {"compression"} and "compression" in _words(found["L1"])
    assert "fracture" not in _words(found["L1"])
    # the advice and its status are words beside the vertebra, a provisional one marked
    assert "T11 · Vertebroplasty recommended · ⚡ fracture" in _words(found["T11"])
    assert "L1 · Open surgery caution * · ▶ compression" in _words(found["L1"])
    # a level with no decision yet says so
    assert "no decision yet" in _words(found["C5"])


def test_the_words_of_neighbouring_levels_never_overlap():
    # every vertebra from T1 to L5 involved: the words stand one below the other, joined by leader lines
    marks = {level: Mark(advice="PVP", advice_words="Vertebroplasty", status_words="recommended", fracture=True)
             for level in VERTEBRAE[7:24]}
    root = parse(svg(marks))
    tops = [float(g.find(f"{NS}text[@font-size='12']").get("y")) for g in groups(root).values()
            if g.get("data-involved")]
    assert all(b - a >= 28 for a, b in zip(tops, tops[1:])), tops
    height = float(root.get("viewBox").split()[3])
    assert tops[-1] + 20 <= height


def test_the_level_in_focus_is_highlighted_and_named():
    root = parse(svg(MARKS, focus="T11"))
    found = groups(root)
    assert [level for level, g in found.items() if g.get("data-focus") == "true"] == ["T11"]
    assert float(found["T11"].find(f"{NS}rect").get("stroke-width")) > float(
        found["L1"].find(f"{NS}rect").get("stroke-width"))
    assert any(e.get("data-symbol") == "focus" for e in found["T11"].iter())
    assert "T11 in focus" in root.find(f"{NS}title").text
    # a focus on an uninvolved level highlights nothing
    assert not [g for g in groups(parse(svg(MARKS, focus="T2"))).values() if g.get("data-focus")]


def test_the_picture_has_an_accessible_name_and_description():
    root = parse(svg(MARKS, ident="pic"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "pic-title pic-desc"
    assert root.find(f"{NS}title").get("id") == "pic-title"
    desc = root.find(f"{NS}desc").text
    # cranio-caudal, each level in words
    assert desc.index("C5") < desc.index("T11") < desc.index("L1")
    assert "T11: Vertebroplasty, recommended; fracture" in desc
    assert "L1: Open surgery, caution (provisional); compression" in desc
    assert "C5: no decision yet; fracture unknown, compression unknown" in desc


def test_nothing_is_fetched_from_elsewhere():
    # the namespace is a name, not an address that is fetched
    text = svg(MARKS, focus="L1").replace("xmlns='http://www.w3.org/2000/svg'", "")
    assert not re.search(r"href|url\(|https?:|@import|<script|<image", text, re.I)


def test_text_is_escaped():
    text = svg({"T1": Mark(advice="X", advice_words="<b>&", colour="#000")})
    parse(text)  # still well-formed
    assert "<b>&" not in text and "&lt;b&gt;&amp;" in text


def test_a_level_that_is_not_a_vertebra_is_refused():
    with pytest.raises(ValueError, match="T13"):
        svg({"T13": Mark()})


def test_describe_says_unknown_not_absent():
    assert describe("T4", Mark(fracture=None, compression=False)) == "T4: no decision yet; fracture unknown"
