"""Accessibility in Chromium: axe-core (WCAG 2.1 A and AA rules) on the case, board session, trainee and evidence
pages finds nothing serious or critical; the keyboard reaches the decision popover and the form's group switcher.

axe-core comes from npm (package.json, `npm ci`; .ci/run does it). Without node_modules/axe-core the axe tests are
skipped, unless CI=true, where they fail. Counts per page are printed (pytest -s) for the record.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest

from tests.browser_support import ROOT, open_app, open_group, wait_for_app_run
from tests.test_browser import (board_db, browser, load_first_vignette, nav, page, playwright_api,  # noqa: F401
                                server)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe(page) -> list[dict]:
    if not AXE.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {AXE} is missing: run npm ci")
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: "
                           "['violations']})", TAGS)
    return result["violations"]


def _report(name: str, violations: list[dict]) -> Counter:
    counts = Counter()
    for v in violations:
        counts[v["impact"]] += len(v["nodes"])
    print(f"axe {name}: " + json.dumps(dict(counts)) + " " + "; ".join(
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}: {v['nodes'][0]['target']})" for v in violations))
    return counts


def _serious(violations: list[dict]) -> list[str]:
    return [f"{v['id']} {v['impact']}: {v['help']} at {[n['target'] for n in v['nodes'][:4]]} "
            f"{v['nodes'][0].get('failureSummary', '')[:300]} {v['nodes'][0].get('html', '')[:300]}"
            for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("view", ["Case and decision", "Board session", "Vignettes (trainees)", "Evidence"])
def test_axe_finds_nothing_serious_or_critical(server, page, view):
    page.set_viewport_size({"width": 1366, "height": 768})
    open_app(page, server)
    load_first_vignette(page)
    if view != "Case and decision":
        nav(page, view)
    if view == "Evidence":
        page.locator("[data-testid='stVegaLiteChart'] svg text").first.wait_for()
    page.wait_for_timeout(500)
    violations = axe(page)
    _report(view, violations)
    assert _serious(violations) == []


def test_the_decision_popover_takes_the_focus_and_the_group_switcher_is_one_stop(server, page):
    from playwright.sync_api import expect

    open_app(page, server)
    load_first_vignette(page)
    page.get_by_role("button", name="The board's decision").focus()
    page.keyboard.press("Enter")
    page.locator("[data-testid='stPopoverBody']").wait_for()
    # the focus moves into the popover, on its first field
    expect(page.locator("[data-testid='stPopoverBody'] :focus")).to_have_count(1)
    page.keyboard.press("Escape")
    # help marks are not each a tab stop
    marks = page.locator("[data-testid='stTooltipIcon'] button")
    assert marks.count() > 5 and marks.evaluate_all("els => els.filter(e => e.tabIndex >= 0).length") == 0
    # Shift+Tab back into the group switcher lands on the selected group
    open_group(page, "Mechanical")
    switch = page.get_by_role("radiogroup", name="Findings", exact=True)
    # from the first tab stop after the switcher, back with Shift+Tab
    page.evaluate("""() => {
        const group = document.querySelector("[role='radiogroup'][aria-label='Findings']");
        const stops = Array.from(document.querySelectorAll("input, button, select, textarea, [tabindex]"))
            .filter(e => e.tabIndex >= 0 && !e.disabled && e.offsetParent !== null && !group.contains(e)
                    && (group.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING));
        stops[0].focus(); }""")
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert re.match(r"^Mechanical\b", focused.strip()), focused
    expect(switch.get_by_role("radio", name=re.compile("^Mechanical"))).to_be_focused()
    wait_for_app_run(page)
