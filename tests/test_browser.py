"""The app in a real browser: `streamlit run` on a free port, driven by Playwright in Debian's headless Chromium.

Skipped only when Chromium or Playwright is missing on a developer's machine; under CI=true it must run, so a
missing browser fails the suite instead of hiding it. Screenshots of the main views go to a temporary folder,
or to SPINEMETS_SCREENSHOTS (e.g. docs/screenshots) when set.
"""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from spinemets import get_engine
from spinemets.board_log import BoardLog
from tests.browser_support import (CHROMIUM, TAB_TOKEN_KEY, TIMEOUT_MS, choice, click_and_wait_for_run, enter_text,
                                   launch, open_app, open_group, pick, reload, streamlit_server, wait_for_app_run)
from tests.ui_apptest import ROOT, document, vignette_files
from spinemets.ui import citations

IN_CI = os.environ.get("CI", "").lower() == "true"
CLI = [str(Path(sys.executable).parent / "spinemets")]


def test_the_browser_tests_know_the_widget_that_hands_over_the_tabs_token():
    """tests/browser_support.py waits for the session's token run by this widget's key (no browser needed)."""
    from spinemets.ui.drafts import TOKEN_KEY

    assert TAB_TOKEN_KEY == TOKEN_KEY


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but the browser test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import expect
    expect.set_options(timeout=TIMEOUT_MS)  # a first evaluation compiles the rule base: allow for a slow machine
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="module")
def board_db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("board") / "board.sqlite"


@pytest.fixture(scope="module")
def server(tmp_path_factory, board_db):
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    try:
        with streamlit_server(log, env={"SPINEMETS_BOARD_DB": str(board_db)}) as url:
            yield url
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="module")
def browser(playwright_api):
    browser = launch(playwright_api)
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1150}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("SPINEMETS_SCREENSHOTS")
    folder = ROOT / target if target else tmp_path_factory.mktemp("shots")  # ROOT / an absolute path is that path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()


SCREENS = {"": (1366, 768), "-1920": (1920, 1080)}   # a board member's laptop, and the projector


def screenshot(page, folder: Path, name: str, height: int = 1150, width: int = 1500) -> None:
    """`name.png` at 1366x768 and `name-1920.png` at 1920x1080; the page is left at width x height."""
    for suffix, (w, h) in SCREENS.items():
        page.set_viewport_size({"width": w, "height": h})
        wait_for_app_run(page)
        page.wait_for_timeout(400)
        page.screenshot(path=str(folder / f"{name}{suffix}.png"))
    page.set_viewport_size({"width": width, "height": height})


# The pages' URL paths (ui/app.py: each page's file name); the default page has none.
PAGE_PATHS = {"Board session": "session", "What-if": "whatif", "Vignettes (trainees)": "trainee",
              "Rule base": "rule_base", "Concordance": "concordance", "Evidence": "evidence"}


def nav(page, title: str) -> None:
    link = page.get_by_test_id("stSidebarNav").get_by_text(re.compile(f"^{re.escape(title)}$"))
    path = PAGE_PATHS.get(title)
    where = re.compile(f"/{path}(\\?.*)?$") if path else None
    for _ in range(3):  # a rerun finishing just after the click can drop it: click until the page's URL shows,
        wait_for_app_run(page)  # and still shows once the runs are over
        link.click()
        if where is None:
            break
        try:
            page.wait_for_url(where, timeout=5000)
        except Exception:  # noqa: BLE001, S112 - Playwright's timeout; retried
            continue
        wait_for_app_run(page)
        if where.search(page.url):
            break
    wait_for_app_run(page)
    page.locator("[data-testid='stMainBlockContainer'] h1").first.wait_for()


def load_first_vignette(page) -> None:
    from playwright.sync_api import expect

    click_and_wait_for_run(page, page.get_by_role("button", name="Load into the form"))
    # the empty form has a .sm-top too ("Enter the case"): wait for the decision itself, which a loaded machine
    # may draw after the run indicator has come and gone
    expect(page.locator(".sm-top")).to_contain_text("Top suggestion")


def option_title(code: str) -> str:
    return next(o.title for o in get_engine().rulebook.manifest.options if o.code == code)


def test_a_board_loads_a_vignette_reads_the_advice_and_a_citation_and_downloads_the_report(server, page, shots):
    from playwright.sync_api import expect

    path = vignette_files()[0]
    case = document(path).case
    engine = get_engine()
    decision = engine.evaluate(case)
    open_app(page, server)
    expect(page.get_by_text("Decision support, not a medical device").first).to_be_visible()
    expect(page.locator(".sm-empty")).to_contain_text("Enter the case")

    load_first_vignette(page)
    expect(page.get_by_role("textbox", name="Case id", exact=True)).to_have_value(case.id)
    top = page.locator(".sm-top")
    expect(top).to_contain_text(option_title(decision.top))
    expect(top).to_contain_text("Top suggestion")
    expect(page.get_by_text(f"sha256 {decision.rulebook.sha256}", exact=False).first).to_be_attached()
    screenshot(page, shots, "case-and-decision", 1500)

    citation = decision.options[0].reasons[0].citations[0]
    label = f"{citations.short_name(engine.rulebook, citation.source)} - {citation.section}"
    summary = page.locator("details.sm-cite summary").filter(has_text=label).first
    summary.click()
    expect(page.locator("details.sm-cite[open]").first).to_contain_text(citation.locator[:40])

    with page.expect_download() as pending:
        page.get_by_role("button", name="Tumor board summary (PDF)").click()
    download = pending.value
    assert download.suggested_filename == f"spinemets-{case.id}.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-32:]

    if decision.missing:
        show = page.get_by_role("radiogroup", name="Show")
        click_and_wait_for_run(page, show.get_by_role("radio", name=re.compile("^Still to find out")))
        expect(page.get_by_text("could move the top suggestion").first).to_be_visible()
        open_group(page, "Mechanical")
        screenshot(page, shots, "still-to-find-out", 1300)
    no_exception(page)


def test_a_bad_value_is_explained_kept_and_the_rest_of_the_decision_stays(server, page):
    from playwright.sync_api import expect

    open_app(page, server)
    load_first_vignette(page)
    open_group(page, "Systemic")
    field = page.get_by_role("textbox", name="Karnofsky performance status", exact=True)
    enter_text(page, field, "170")
    # Streamlit's Markdown prints "<=" as "≤"
    expect(page.get_by_role("alert").filter(has_text=re.compile("must be (<=|≤) 100, got 170"))).to_have_count(2)
    wait_for_app_run(page)
    expect(field).to_have_value("170")
    expect(page.locator(".sm-top")).to_have_count(1)
    expect(page.get_by_text("Shown without Karnofsky performance status").first).to_be_visible()
    expect(page.get_by_role("button", name="Tumor board summary (PDF)")).to_be_visible()


def test_values_survive_switching_groups_of_the_form_and_arrow_keys_do_not_commit(server, page):
    from playwright.sync_api import expect

    open_app(page, server)
    open_group(page, "Systemic")
    pick(page, "Uncorrectable coagulopathy", "no")
    open_group(page, "Neurologic")
    pick(page, "Neurological deficit", "yes")
    open_group(page, "Systemic")
    expect(choice(page, "Uncorrectable coagulopathy").get_by_role("radio", name="no", exact=True)).to_have_attribute(
        "aria-checked", "true")
    # A board member walking the options with the arrow keys must not re-evaluate the case at each one.
    infection = choice(page, "Active infection")
    infection.get_by_role("radio", name="unknown", exact=True).focus()
    runs = page.evaluate("""() => { window.__runs = 0; new MutationObserver(() => {
        if (document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state') === 'running')
            window.__runs += 1; }).observe(document.querySelector("[data-testid='stApp']"), {attributes: true});
        return 0; }""")
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft"):
        page.keyboard.press(key)
    page.wait_for_timeout(1200)
    assert page.evaluate("() => window.__runs") == runs
    expect(infection.get_by_role("radio", name="unknown", exact=True)).to_have_attribute("aria-checked", "true")


def _upload(page, label: str, files: list[Path]) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label).first
    uploader.locator("input[type='file']").set_input_files([str(f) for f in files])
    wait_for_app_run(page)


def _open_board_decision(page) -> None:
    """Open the board's decision popover; a rerun finishing just after the click can swallow it: click again."""
    body = page.locator("[data-testid='stPopoverBody']")
    for _ in range(3):
        wait_for_app_run(page)
        page.get_by_role("button", name="The board's decision").click()
        try:
            body.wait_for(state="visible", timeout=5000)
            return
        except Exception:  # noqa: BLE001 - Playwright's timeout; retried
            continue
    body.wait_for(state="visible")


def _choose(page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox or multiselect by its label."""
    widget = page.locator("[data-testid='stMultiSelect'], [data-testid='stSelectbox']").filter(has_text=label).first
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):  # a rerun finishing just after the click closes the list: open it again
        widget.locator("input").first.click()
        try:
            wanted.wait_for(state="visible", timeout=3000)
            break
        except Exception:  # noqa: BLE001 - Playwright's timeout; retried
            page.keyboard.press("Escape")
    wanted.click()
    wait_for_app_run(page)


def test_a_board_session_imports_an_agenda_records_survives_a_reload_and_the_log_detects_an_edit(
        server, page, board_db, shots):
    from playwright.sync_api import expect

    engine = get_engine()
    paths = vignette_files()[:3]
    cases = [document(p).case for p in paths]
    open_app(page, server)
    nav(page, "Board session")
    _upload(page, "Case files", paths)
    expect(page.get_by_text("3 patients added to the agenda")).to_be_visible()
    click_and_wait_for_run(page, page.get_by_text("Record the board's decisions in the board log"))
    expect(page.get_by_text(f"decisions go to {board_db}")).to_be_visible()
    click_and_wait_for_run(page, page.get_by_role("button", name="Open").first)
    page.locator("[data-testid='stMainBlockContainer'] h1").filter(has_text="Case and decision").wait_for()
    expect(page.get_by_role("textbox", name="Case id", exact=True)).to_have_value(cases[0].id)

    # Mid-entry: a value typed and a choice clicked, then the page is reloaded.
    open_group(page, "Systemic")
    karnofsky = page.get_by_role("textbox", name="Karnofsky performance status", exact=True)
    enter_text(page, karnofsky, "60")
    pick(page, "Severe cardio-respiratory disease", "no")
    reload(page)
    expect(page.get_by_role("textbox", name="Case id", exact=True)).to_have_value(cases[0].id)
    open_group(page, "Systemic")
    expect(page.get_by_role("textbox", name="Karnofsky performance status", exact=True)).to_have_value("60")
    expect(choice(page, "Severe cardio-respiratory disease").get_by_role("radio", name="no", exact=True)
           ).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text("patient 1 of 3")).to_be_visible()

    # The board overrides the top suggestion for the first patient, with a reason.
    decision = engine.evaluate(cases[0].model_copy(update={"karnofsky": 60, "severe_cardiopulmonary_disease": False}))
    other = next(o for o in engine.rulebook.option_order if o != decision.top)
    _open_board_decision(page)
    _choose(page, "Chosen option(s), the main one first", f"{option_title(other)} ({other})")
    page.keyboard.press("Escape")
    _choose(page, "If the main choice is not the top suggestion, why", "Patient preference")
    page.get_by_role("textbox", name="Comment for the minutes (no patient names)").fill("prefers to wait")
    click_and_wait_for_run(page, page.get_by_role("button", name="Record the board's decision"))
    expect(page.get_by_text("record 1 of the board log")).to_be_visible()
    screenshot(page, shots, "board-decision", 1300)

    # The second patient: the board follows the top suggestion.
    click_and_wait_for_run(page, page.get_by_role("button", name="Next"))
    expect(page.get_by_role("textbox", name="Case id", exact=True)).to_have_value(cases[1].id)
    top = engine.evaluate(cases[1]).top
    _open_board_decision(page)
    _choose(page, "Chosen option(s), the main one first", f"{option_title(top)} ({top})")
    page.keyboard.press("Escape")
    click_and_wait_for_run(page, page.get_by_role("button", name="Record the board's decision"))
    expect(page.get_by_text("record 2 of the board log")).to_be_visible()

    nav(page, "Board session")
    screenshot(page, shots, "board-session", 1300)
    with page.expect_download() as pending:
        page.get_by_role("button", name="Minutes (Markdown)").click()
    minutes = Path(pending.value.path()).read_text()
    assert f"Board's decision: {option_title(other)}" in minutes and "Why not: Patient preference" in minutes
    assert f"Board's decision: {option_title(top)}" in minutes and "prefers to wait" in minutes
    assert BoardLog(board_db).verify().head in minutes
    nav(page, "Concordance")
    expect(page.get_by_text("Why boards did not follow it")).to_be_visible()
    screenshot(page, shots, "concordance", 1300)

    ok = subprocess.run([*CLI, "board", "verify-log", "--db", str(board_db)], capture_output=True, text=True)
    assert ok.returncode == 0 and "holds over 2 records" in ok.stdout, ok.stdout + ok.stderr
    with sqlite3.connect(board_db) as db:
        db.execute("UPDATE records SET payload = replace(payload, 'patient_preference', 'technical') WHERE seq = 1")
    bad = subprocess.run([*CLI, "board", "verify-log", "--db", str(board_db)], capture_output=True, text=True)
    assert bad.returncode == 3 and "record 1 does not hold" in bad.stderr, bad.stdout + bad.stderr
    no_exception(page)


@pytest.mark.parametrize("view, title, name", [
    ("What-if", "What-if", "what-if"),
    ("Vignettes (trainees)", "Vignettes for trainees", "trainee"),
    ("Rule base", "Rule base", "rule-base"),
])
def test_every_view_renders_in_the_browser(server, page, shots, view, title, name):
    from playwright.sync_api import expect

    open_app(page, server)
    load_first_vignette(page)
    nav(page, view)
    expect(page.locator("[data-testid='stMainBlockContainer'] h1").first).to_have_text(title)
    if view == "Vignettes (trainees)":
        page.get_by_text(re.compile(r"^Conservative care \(")).first.click()
        click_and_wait_for_run(page, page.get_by_role("button", name="Commit and reveal"))
        expect(page.get_by_text("Score this session:")).to_contain_text("of 1")
    no_exception(page)
    screenshot(page, shots, name, 1300)


@pytest.mark.parametrize("width", [1366, 1920])
def test_evidence_charts_are_readable(server, page, shots, width):
    """Each chart: tall enough, axes titled, studies by their reader's names, no two labels on top of each other;
    no legend entry or axis title cut, axis text of 12 px or more in a dark grey, and each option in its own colour
    on every chart."""
    from spinemets.ui import labels as ui_labels
    rulebook = get_engine().rulebook
    if not rulebook.evidence:
        pytest.skip("the rule base holds no outcome figures")
    page.set_viewport_size({"width": width, "height": 1100})
    open_app(page, server)
    nav(page, "Evidence")
    charts = page.locator("[data-testid='stVegaLiteChart']")
    # Vega draws the chart after the element appears; the first text node may be an empty one, so wait for the
    # chart in view and its text in the page, then judge what is drawn
    charts.first.wait_for()
    charts.first.scroll_into_view_if_needed()
    charts.first.locator("svg text").first.wait_for(state="attached", timeout=60_000)
    readers = {citations.short_name(rulebook, str(item["study"])) for item in rulebook.evidence}
    titles = {o.title: o.code for o in rulebook.manifest.options}
    ids = {str(item["study"]) for item in rulebook.evidence}
    seen_readers = set()
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        chart.locator("svg text").first.wait_for(state="attached", timeout=60_000)
        page.wait_for_function("el => [...el.querySelectorAll('svg text')].some(t => t.textContent.trim())",
                               arg=chart.element_handle(), timeout=60_000)
        box = chart.bounding_box()
        assert box and box["height"] >= 120 and box["width"] >= width * 0.45, (i, box)
        texts = chart.locator("svg text").evaluate_all(
            "els => els.filter(e => e.textContent.trim()).map(e => { const r = e.getBoundingClientRect(); "
            "return {t: e.textContent.trim(), x: r.x, y: r.y, w: r.width, h: r.height,"
            " role: (e.closest('[aria-roledescription]') || {getAttribute: () => ''})"
            ".getAttribute('aria-roledescription')}; })")
        words = " ".join(t["t"] for t in texts)
        assert not any(study in words for study in ids), (i, words)
        seen_readers |= {r for r in readers if r[:20] in words}
        labels = [t for t in texts if t["role"] in ("axis", "legend")]
        assert any(t["role"] == "axis" for t in labels), (i, words)
        for a_index, a in enumerate(labels):
            for b in labels[a_index + 1:]:
                overlap_x = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
                overlap_y = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
                assert overlap_x <= 1 or overlap_y <= 1, f"chart {i}: '{a['t']}' overlaps '{b['t']}'"
        for t in labels:
            assert not t["t"].endswith("…"), f"chart {i}: '{t['t']}' is cut"
            # a legend wider than its chart drops its last entries past the edge
            if t["role"] == "legend":
                assert box["x"] - 1 <= t["x"] and t["x"] + t["w"] <= box["x"] + box["width"] + 1, (i, t, box)
        style = chart.locator("svg .role-axis-label text").evaluate_all(
            "els => els.map(e => [parseFloat(getComputedStyle(e).fontSize), getComputedStyle(e).fill])")
        for size, fill in style:
            rgb = [int(v) for v in re.findall(r"\d+", fill)[:3]]
            assert size >= 12 and max(rgb) <= 0x60, (i, size, fill)
        entries = chart.locator("svg .role-legend-entry .role-scope").evaluate_all(
            "els => els.map(e => { const s = e.querySelector('.role-legend-symbol path'); "
            "const t = e.querySelector('.role-legend-label text'); "
            "return [t ? t.textContent : '', s ? (s.getAttribute('stroke') || s.getAttribute('fill')) : '']; })")
        for text, colour in entries:
            code = titles.get(text)
            if code is not None:
                assert colour.lower() == ui_labels.option_colour(rulebook, code).lower(), (i, text, colour)
        tmp_shot = shots / f".chart-{width}-{i}.png"
        chart.screenshot(path=str(tmp_shot))  # the chart draws as an image of its own size
        tmp_shot.unlink()
    assert seen_readers, "no chart names a study by its reader's name"
    page.locator("[data-testid='stMainBlockContainer'] h1").first.scroll_into_view_if_needed()
    if width == 1366:
        screenshot(page, shots, "evidence", 1100, width)


def test_the_page_makes_no_request_outside_the_app(server, page):
    """Every request of every page goes to the app's own host: no icon, font or analytics server."""
    host = urlparse(server).netloc
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if urlparse(request.url).netloc not in (host, "") and not request.url.startswith(("data:", "blob:"))
            else None)
    open_app(page, server)
    load_first_vignette(page)
    for view in ("Board session", "What-if", "Vignettes (trainees)", "Rule base", "Concordance", "Evidence",
                 "Case and decision"):
        nav(page, view)
        time.sleep(0.5)
    reload(page)
    time.sleep(1)
    assert outside == [], outside
