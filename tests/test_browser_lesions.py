"""A case with several lesions in Debian's headless Chromium: entered level by level through the page, the spine
picture marks the levels (advice, fracture, compression, the level in focus) and the plan card stands above the
decision at each level. Skipped like tests/test_browser.py when Chromium or Playwright is missing (not under CI)."""
from __future__ import annotations

import re

from tests.browser_support import click_and_wait_for_run, open_app, pick, wait_for_app_run
from tests.test_browser_a11y import _report, _serious, axe
from tests.test_browser import (board_db, browser, no_exception, page, playwright_api,  # noqa: F401
                                screenshot, server, shots)


def _add_level(page, level: str) -> None:
    widget = page.locator("[data-testid='stSelectbox']").filter(has_text="Add a level").first
    wanted = page.get_by_role("option", name=level, exact=True)
    for _ in range(5):  # the list of 29 vertebrae scrolls: type to narrow it (and again if a rerun closed it)
        widget.locator("input").first.click()
        page.keyboard.type(level)
        try:
            wanted.wait_for(state="visible", timeout=3000)
            break
        except Exception:  # noqa: BLE001 - Playwright's timeout; retried
            page.keyboard.press("Escape")
    wanted.click()
    wait_for_app_run(page)
    click_and_wait_for_run(page, page.get_by_role("button", name="Add", exact=True))
    # the new level is the one in focus
    focus = page.get_by_role("radiogroup", name="Level in focus", exact=True)
    focus.get_by_role("radio", name=re.compile(f"^{level} ")).and_(
        page.locator("[aria-checked='true']")).wait_for()


def _findings(page, group: str) -> None:
    switch = page.get_by_role("radiogroup", name=re.compile("^Findings at "))
    button = switch.get_by_role("radio", name=re.compile(f"^{group}\\b"))
    for _ in range(5):
        if button.get_attribute("aria-checked") == "true":
            break
        button.click()
        page.wait_for_timeout(300)
        wait_for_app_run(page)


def _yes(page, field_title: str) -> None:
    pick(page, field_title, "yes")


def test_a_three_level_case_entered_level_by_level_shows_the_spine_and_the_plan(server, page, shots):
    from playwright.sync_api import expect

    open_app(page, server)
    click_and_wait_for_run(page, page.get_by_text("Describe the levels one by one"))
    expect(page.get_by_text("No level described yet")).to_be_visible()

    _add_level(page, "T11")
    _findings(page, "Mechanical")
    _yes(page, "Pathological fracture")
    _add_level(page, "T12")
    _yes(page, "Pathological fracture")
    _add_level(page, "L2")
    _findings(page, "Neurologic")
    _yes(page, "Cord compression (imaging)")
    no_exception(page)

    picture = page.locator("svg[data-spine]").first
    expect(picture).to_be_visible()
    involved = picture.locator("g[data-involved='true']")
    expect(involved).to_have_count(3)
    assert involved.evaluate_all("gs => gs.map(g => g.getAttribute('data-level'))") == ["T11", "T12", "L2"]
    # fracture and compression are drawn and said in words; the level in focus (the last added) is highlighted
    expect(picture.locator("g[data-level='T11'] [data-symbol='fracture']")).to_have_count(1)
    expect(picture.locator("g[data-level='L2'] [data-symbol='compression']")).to_have_count(1)
    expect(picture.locator("g[data-level='L2'] text").filter(has_text="compression")).to_have_count(1)
    expect(picture.locator("g[data-focus='true']")).to_have_attribute("data-level", "L2")
    # the picture has an accessible name that lists the levels
    expect(page.get_by_role("img", name=re.compile("Spine C1 to S5: 3 levels involved"))).to_be_visible()

    # the plan for the patient, above the decision at each level, each level with its advice
    plan = page.locator("[data-plan]")
    expect(plan).to_be_visible()
    expect(plan.locator("tr[data-level]")).to_have_count(3)
    for level in ("T11", "T12", "L2"):
        advice = plan.locator(f"tr[data-level='{level}']").get_attribute("data-option")
        expect(picture.locator(f"g[data-level='{level}']")).to_have_attribute("data-option", advice)
    level_switch = page.get_by_role("radiogroup", name="Decision at level", exact=True)
    assert plan.bounding_box()["y"] < level_switch.bounding_box()["y"]

    # opening T11's decision moves the focus: the picture and the form follow
    click_and_wait_for_run(page, level_switch.get_by_role("radio", name=re.compile("^T11 ")))
    expect(picture.locator("g[data-focus='true']")).to_have_attribute("data-level", "T11")
    expect(page.locator(".sm-top[data-level='T11']")).to_be_visible()
    expect(page.get_by_role("radiogroup", name="Level in focus", exact=True).get_by_role(
        "radio", name=re.compile("^T11 "))).to_have_attribute("aria-checked", "true")
    no_exception(page)
    # the picture, the plan and the level switchers keep the pages' accessibility (axe-core, WCAG 2.1 A and AA)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_timeout(500)
    violations = axe(page)
    _report("Case with lesions", violations)
    assert _serious(violations) == []
    picture.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -60)")
    screenshot(page, shots, "lesions", 1300)
