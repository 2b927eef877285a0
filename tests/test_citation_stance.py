"""Every place a reader meets a passage also shows its stance: the command line, the tumor board summaries, the
front end, the knowledge base and the clinical review."""
from __future__ import annotations

import re

from datetime import datetime, timezone

from spinemets.case_io import read_case_file
from spinemets.commands.cli import render_decision
from spinemets.commands.knowledge_base import render_review
from spinemets.ui import report_content, report_markdown, report_pdf
from tests.ui_apptest import load_vignette, open_decision_tab, start, texts

from .conftest import CASES_DIR
from .test_cli import run
from .test_ui_report import pdf_text

# A reported case whose conflict cites a passage that reports another study (Saliou et al., in the embolization
# series) and whose reasons cite a hypothesis (Gu et al.'s "might be the most important factors").
CASE = CASES_DIR / "gu-fig2-prostate-t11-neuro.yaml"
WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=timezone.utc)


def _plain(style_text: str, _style: str) -> str:
    return style_text


def _decision(engine):
    document = read_case_file(CASE)
    return document, engine.evaluate(document.case)


def _cited(decision):
    return [c for o in decision.options for r in o.reasons for c in r.citations] + [
        c for n in decision.conflicts for c in n.citations] + [c for a in decision.adjuncts for c in a.citations]


def test_the_case_cites_all_three_stances(engine):
    _, decision = _decision(engine)
    assert {c.stance for c in _cited(decision)} == {"states", "reports", "speculates"}


def test_the_command_line_shows_each_quote_with_its_stance(engine):
    document, decision = _decision(engine)
    shown = " ".join(render_decision(decision, document, engine.rulebook, _plain).split())
    for conflict in decision.conflicts:
        for c in conflict.citations:
            assert f"{c.source}, {c.section} ({c.stance_label}): {engine.rulebook.passage(c)}" in shown
    assert "reports Saliou et al. (ref. 14)" in shown and ": speculates" in shown


def test_the_summaries_give_each_reference_its_stance(engine):
    document, decision = _decision(engine)
    summary = report_content.build(engine.rulebook, document.case, decision, WHEN)
    labels = {c.stance_label for c in _cited(decision)}
    assert {r.stance for r in summary.references} == labels
    markdown = report_markdown.render(summary).replace("\\", "")
    pdf = " ".join(pdf_text(report_pdf.render(summary)).split())
    for ref in summary.references:
        assert f"{ref.section} ({ref.stance}): {ref.passage}" in markdown
        assert f"({ref.stance}):" in pdf


def test_the_front_end_shows_the_stance_beside_the_quote(engine):
    _, decision = _decision(engine)
    at = load_vignette(start(), CASE)
    open_decision_tab(at, "Papers disagree")
    # citations open in place (<details>): closed they name the paper, section and stance
    import html
    shown = html.unescape("\n".join(e.value for e in at.markdown))
    labels = re.findall(r"<summary>(.*?)</summary>", shown)
    reporting = next(c for n in decision.conflicts for c in n.citations if c.stance == "reports")
    assert any(reporting.section in label and reporting.stance_label in label for label in labels)
    assert f"The source reports {reporting.attributed_to}" in shown


def test_the_knowledge_base_shows_every_citations_stance(engine):
    text = (CASES_DIR.parent / "docs" / "knowledge-base.md").read_text()
    for rule in engine.rulebook.active_rules:
        for c in rule.citations:
            assert f"{c.source} ({c.section}; {c.stance_label})" in text
    for rule in engine.rulebook.active_rules:
        if rule.strength_rationale:
            assert " ".join(rule.strength_rationale.split()) in text


def test_the_review_prints_every_reason_beside_its_passages(engine):
    documents = [read_case_file(p) for p in sorted(CASES_DIR.glob("*.yaml"))]
    review = render_review(engine.rulebook, documents)
    for rule in engine.rulebook.active_rules:
        assert f"## `{rule.id}`" in review and " ".join(rule.text.split()) in review
        for c in rule.citations:
            assert f"| {c.source}, {c.section} | {c.stance_label} | {engine.rulebook.passage(c)} |" in review
    for document in documents:
        if document.board.kind == "reported":
            assert f"### `{document.case.id}`: the paper's team chose {document.board.top}" in review


def test_the_review_can_show_only_what_the_papers_report_or_speculate(engine):
    review = render_review(engine.rulebook, (), ["reports", "speculates"])
    shown = {r.id for r in engine.rulebook.active_rules if f"## `{r.id}`" in review}
    expected = {r.id for r in engine.rulebook.active_rules if any(c.stance != "states" for c in r.citations)}
    assert shown == expected and expected
    assert "ind.pvp_itr.broken_posterior_cortex" not in shown  # cites only Gu et al.'s own findings


def test_the_review_command_writes_its_file(tmp_path):
    out = run("review", "--stance", "speculates", "--out", str(tmp_path / "review.md"))
    assert out.returncode == 0, out.stderr
    assert "speculates" in (tmp_path / "review.md").read_text()
    bad = run("review", "--stance", "asserts")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_the_review_command_prints_to_standard_output():
    out = run("review")
    assert out.returncode == 0 and "# Clinical review" in out.stdout and "reports Chen et al. (ref. 21)" in out.stdout
