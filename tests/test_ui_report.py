"""The tumor board summary: Markdown and PDF with everything the minutes need, and no crash on any character."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from spinemets import get_engine
from spinemets.case import case_from_values
from tests.ui_apptest import document, vignette_files
from spinemets.ui import report_content, report_markdown, report_pdf

WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=timezone.utc)


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages, as a PDF reader extracts it (pypdf parses the file: no regex over
    compressed streams, whose bytes may hold anything), lines joined by spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split("\n")) for page in reader.pages)


@pytest.mark.parametrize("path", vignette_files(), ids=lambda p: p.stem)
def test_the_summary_holds_decision_reasons_references_missing_data_and_identity(path):
    engine = get_engine()
    case = document(path).case
    decision = engine.evaluate(case)
    summary = report_content.build(engine.rulebook, case, decision, WHEN)
    markdown = report_markdown.render(summary)
    text = pdf_text(report_pdf.render(summary))
    for out in (markdown, text):
        assert "not a medical device" in out
        assert decision.rulebook.sha256 in out.replace(" ", "") and decision.rulebook.version in out
        assert "2025-03-04 09:30" in out and case.id in out
        assert f"Top suggestion: {decision.top}" in out
        for option in decision.options:
            assert option.option in out
    for option in decision.options:
        for reason in option.reasons:
            assert reason.rule in markdown
    cited = {(c.source, c.locator) for o in decision.options for r in o.reasons for c in r.citations}
    unescaped = markdown.replace("\\", "")
    for source, locator in cited:
        external = engine.rulebook.sources[source].kind == "external"
        # a paper's passage is quoted; an external source's locator is a pointer and must not look like a quote
        assert (f'"{locator}"' in unescaped) != external and locator in unescaped
    for item in decision.missing:
        assert engine.rulebook.catalog.get(item.field).title in markdown
    for conflict in decision.conflicts:
        assert conflict.rule in markdown
    for option in decision.options:
        for reason in option.reasons:
            for fact in decision.rests_on(reason.rule):
                assert f"rests on {fact.title}" in unescaped and f"rests on {fact.title}" in " ".join(text.split())


def test_the_pdf_prints_unicode_as_written():
    engine = get_engine()
    case = case_from_values("unicode", {}, title="Łódź: SINS ≥ 13, leak risk 10⁻³",
                            presentation="Ωμέγα Привет; pain ↑ at night; Ø 3 cm mass, µ ≤ 5 → α")
    summary = report_content.build(engine.rulebook, case, engine.evaluate(case), WHEN)
    text = pdf_text(report_pdf.render(summary))
    for written in ("Łódź", "≥", "10⁻³", "Łódź: SINS ≥ 13, leak risk 10⁻³", "Ωμέγα Привет", "µ ≤ 5 → α", "↑", "Ø"):
        assert written in text


def test_characters_the_font_lacks_are_spelled_out_or_marked():
    assert report_pdf.printable("≥ 50% – “T12” at 37 °C, Łódź") == "≥ 50% – “T12” at 37 °C, Łódź"
    assert report_pdf.printable("中 ☃ 🦴") == "? ☃ ?"
    assert report_pdf.printable("Ｔ１２ 𝐀") == "T12 A"  # fullwidth and mathematical forms: their plain letters


def test_a_pdf_builds_whatever_characters_the_case_and_rules_hold():
    engine = get_engine()
    case = case_from_values("odd-chars", {}, title="≥50% collapse – “worst” level 🦴 中文 ∑",
                            presentation="Kyphosis ≥ 20°; pain ↑ at night; Ø 3 cm mass\u200b\u00a0.")
    summary = report_content.build(engine.rulebook, case, engine.evaluate(case), WHEN)
    text = pdf_text(report_pdf.render(summary))
    assert "≥50% collapse – “worst” level ? ?? ∑" in text
    assert "Kyphosis ≥ 20°" in text


def test_the_tokuhashi_vignette_exercises_the_rests_on_lines():
    # Without a reason resting on a derived fact, the check in the test above would pass vacuously.
    path = next(p for p in vignette_files() if "tokuhashi" in p.stem)
    decision = get_engine().evaluate(document(path).case)
    assert any(decision.rests_on(r.rule) for o in decision.options for r in o.reasons)
