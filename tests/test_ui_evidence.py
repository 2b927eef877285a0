"""The evidence page and the reader behind it: the papers' outcome figures as charts, with sources under each."""
from __future__ import annotations

import shutil

import pytest

from spinemets import get_engine, load_rulebook
from spinemets.rulebook import DEFAULT_RULES_DIR
from tests.ui_apptest import start, texts
from spinemets.ui import charts, evidence_data

# The layout of docs/rule-language.md ("Outcome evidence"), with numbers made up for the test.
EVIDENCE = """
evidence:
  - id: ev.test.pain_vas
    title: Pain (VAS) in a made-up series
    study: gu-2017
    design: made-up comparison, 20 patients
    measure: pain_vas
    unit: VAS 0-10, mean (SD)
    arms:
      - option: PVP_ITR
        label: group A
        n: 10
        points:
          - {time: before, months: 0, mean: 7.0, sd: 1.0, n: 10}
          - {time: 1 month, months: 1, mean: 2.0, sd: 0.5}
      - option: PVP
        label: group B
        n: 10
        points:
          - {time: before, months: 0, mean: 7.2, sd: 1.1}
          - {time: 1 month, months: 1, median: 3}
    citations:
      - source: gu-2017
        section: Table 3
        locator: "VAS score 7.09 ± 0.94 7.11 ± 0.89 2.30 ± 1.03* 2.82 ± 1.01 2.03 ± 1.14* 3.15 ± 1.52"
        stance: states
    notes: Made up for the test ≥ 1 °C.
  - id: ev.test.leakage
    title: Leakage in a made-up series
    study: pvp-zhengzhou
    design: made-up series, 5 patients
    measure: cement_leakage
    unit: "% of treated vertebrae"
    arms:
      - {option: PVP, label: PVP, n: 5, events: 3, total: 12, per: vertebrae, reported_percent: 25.1}
    citations:
      - source: gu-2017
        section: Table 3
        locator: "VAS score 7.09 ± 0.94 7.11 ± 0.89 2.30 ± 1.03* 2.82 ± 1.01 2.03 ± 1.14* 3.15 ± 1.52"
        stance: states
  - id: ev.test.paraplegia_recovery
    title: Recovery in a made-up series
    study: gu-2017
    design: made-up comparison, 20 patients
    measure: paraplegia_recovery
    unit: "% of patients with paraplegia who improved"
    arms:
      - {option: PVP_ITR, label: group A, events: 4, total: 5, per: patients}
    citations:
      - source: gu-2017
        section: Table 3
        locator: "VAS score 7.09 ± 0.94 7.11 ± 0.89 2.30 ± 1.03* 2.82 ± 1.01 2.03 ± 1.14* 3.15 ± 1.52"
        stance: states
"""


@pytest.fixture
def test_rules(tmp_path, monkeypatch):
    """A copy of the rule base whose evidence is the test's own, and the app pointed at it."""
    def make(evidence: str | None) -> object:
        target = tmp_path / "rules"
        shutil.copytree(DEFAULT_RULES_DIR, target, dirs_exist_ok=True)
        shutil.rmtree(target / "evidence", ignore_errors=True)
        if evidence is not None:
            (target / "evidence").mkdir()
            (target / "evidence" / "test.yaml").write_text(evidence, encoding="utf-8")
        monkeypatch.setenv("SPINEMETS_RULES", str(target))
        return target
    return make


def test_series_and_proportions_become_points(test_rules):
    evidence = evidence_data.read(load_rulebook(test_rules(EVIDENCE)))
    pain = evidence.topic("pain")
    assert [(p.option, p.time, p.months, p.value, p.statistic, p.sd) for p in pain] == [
        ("PVP_ITR", "before", 0, 7.0, "mean", 1.0), ("PVP_ITR", "1 month", 1, 2.0, "mean", 0.5),
        ("PVP", "before", 0, 7.2, "mean", 1.1), ("PVP", "1 month", 1, 3.0, "median", None)]
    assert pain[0].n == 10 and pain[0].low == 6.0 and pain[0].high == 8.0
    (leak,) = evidence.topic("leakage")
    assert (leak.value, leak.events, leak.total, leak.per, leak.reported_percent) == (25.0, 3, 12, "vertebrae", 25.1)
    (recovery,) = evidence.topic("neurologic")
    assert recovery.value == pytest.approx(80.0)
    assert evidence.items_for(pain)[0].citations[0].section == "Table 3"


def test_a_series_is_drawn_as_lines_with_error_bars_and_a_proportion_as_bars(test_rules):
    evidence = evidence_data.read(load_rulebook(test_rules(EVIDENCE)))
    studies = {"gu-2017": "Gu et al. 2017", "pvp-zhengzhou": "Zhengzhou series"}
    options = {"PVP": "Percutaneous vertebroplasty", "PVP_ITR": "Vertebroplasty with tumour removal"}
    pain = charts.chart_for(evidence.topic("pain"), studies, options).to_dict()
    assert [layer["mark"]["type"] for layer in pain["layer"]] == ["line", "errorbar"]
    # one colour per option, the same on every chart (the option's own, whatever the chart shows), the study by
    # the line's dash, studies by their reader's names, and legends that draw lines
    encoding = pain["layer"][0]["encoding"]
    assert encoding["color"]["field"] == "option"
    assert encoding["color"]["scale"]["domain"] == list(options.values())
    assert encoding["color"]["scale"]["range"] == list(charts.PALETTE[:len(options)])
    assert encoding["strokeDash"]["field"] == "series" and encoding["strokeDash"]["scale"]["domain"] == [
        "Gu et al. 2017"]
    assert encoding["color"]["legend"]["symbolType"] == "stroke"
    assert encoding["color"]["legend"]["labelFontSize"] >= 13
    assert pain["layer"][0]["encoding"]["x"]["title"] and pain["layer"][0]["encoding"]["y"]["title"]
    leak = charts.chart_for(evidence.topic("leakage"), studies, options).to_dict()
    assert [layer["mark"]["type"] for layer in leak["layer"]] == ["bar", "text", "text"]
    assert leak["height"] == {"step": charts.BAR_PX}
    assert leak["layer"][0]["encoding"]["color"]["scale"] == encoding["color"]["scale"]
    assert leak["layer"][0]["encoding"]["color"]["legend"]["direction"] == "vertical"
    assert "gu-2017" not in str(pain) and "pvp-zhengzhou" not in str(leak)


def test_the_page_draws_each_topic_with_its_sources(test_rules):
    test_rules(EVIDENCE)
    at = start()
    at.switch_page("views/evidence.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.header] == ["Pain", "Cement leakage", "Neurological recovery"]
    assert [h.value for h in at.subheader] == ["Pain VAS", "Cement leakage", "Paraplegia recovery"]
    page = texts(at)
    assert "Made up for the test ≥ 1 °C." in page and "made-up comparison, 20 patients" in page


def test_the_page_says_so_when_the_rule_base_has_no_figures(test_rules):
    test_rules(None)
    at = start()
    at.switch_page("views/evidence.py").run()
    assert not at.exception
    assert "no outcome figures yet" in texts(at)


def test_every_item_of_the_real_rule_base_is_charted():
    rulebook = get_engine().rulebook
    evidence = evidence_data.read(rulebook)
    assert {p.item for p in evidence.points} == {str(item["id"]) for item in rulebook.evidence}
    studies = {p.study: p.study.upper() for p in evidence.points}
    for measure in {p.measure for p in evidence.points}:
        charts.chart_for([p for p in evidence.points if p.measure == measure], studies, {}).to_dict()
