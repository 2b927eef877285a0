"""The app in a real browser: `streamlit run` on a free port, driven by Playwright in Debian's headless Chromium.

Skipped only when Chromium or Playwright is missing on a developer's machine; under CI=true it must run, so a
missing browser fails the suite instead of hiding it. Screenshots of the main views go to a temporary folder,
or to SPINEMETS_SCREENSHOTS (e.g. docs/screenshots) when set.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spinemets import get_engine
from tests.ui_apptest import ROOT, document, vignette_files
from spinemets.ui import citations

CHROMIUM = Path(os.environ.get("SPINEMETS_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries to reach Google's services, and on a closed
# network those refused connections slow it down or stall it.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() == "true"
TIMEOUT_MS = 30_000


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
            return response.read() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser(playwright_api):
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
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


def wait_for_app_run(page) -> None:
    """The app is connected and its script has finished (Streamlit publishes both on the root element)."""
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(state="attached")
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")


def open_app(page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.locator("[data-testid='stAppViewContainer']").wait_for(state="attached")
    wait_for_app_run(page)
    page.locator("[data-testid='stMainBlockContainer'] h1").first.wait_for()
    no_exception(page)


def no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()


def screenshot(page, folder: Path, name: str, height: int = 1150) -> None:
    page.set_viewport_size({"width": 1500, "height": height})
    wait_for_app_run(page)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_a_board_loads_a_vignette_reads_the_advice_and_a_citation_and_downloads_the_report(server, page, shots):
    from playwright.sync_api import expect

    path = vignette_files()[0]
    case = document(path).case
    engine = get_engine()
    decision = engine.evaluate(case)
    open_app(page, server)
    expect(page.get_by_text("Decision support, not a medical device").first).to_be_visible()

    page.get_by_role("button", name="Load into the form").click()
    expect(page.get_by_role("textbox", name="Case id", exact=True)).to_have_value(case.id)
    wait_for_app_run(page)
    top = page.locator(".sm-top")
    expect(top).to_contain_text(f"{decision.top} - ")
    expect(top).to_contain_text("Top suggestion")
    expect(page.get_by_text(f"sha256 {decision.rulebook.sha256}", exact=False).first).to_be_attached()
    screenshot(page, shots, "case-and-decision", 1500)

    citation = decision.options[0].reasons[0].citations[0]
    label = f"{citations.short_name(engine.rulebook, citation.source)} - {citation.section}"
    expander = page.get_by_test_id("stExpander").filter(has_text=label).first
    expander.get_by_text(label).first.click()
    passage = expander.get_by_text(citation.locator[:40], exact=False)
    expect(passage).to_be_visible()
    expander.scroll_into_view_if_needed()

    with page.expect_download() as pending:
        page.get_by_role("button", name="Tumor board summary (PDF)").click()
    download = pending.value
    assert download.suggested_filename == f"spinemets-{case.id}.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-32:]

    if decision.missing:
        page.get_by_role("tab", name="Still to find out").click()
        first = engine.rulebook.catalog.get(decision.missing[0].field).title
        expect(page.get_by_text(f"{first}?", exact=True)).to_be_visible()
        page.get_by_role("tab", name="Mechanical").click()
        screenshot(page, shots, "still-to-find-out", 1300)
    no_exception(page)


def test_an_out_of_range_value_is_explained_in_the_browser_and_kept(server, page):
    from playwright.sync_api import expect

    open_app(page, server)
    page.get_by_role("tab", name="Systemic").click()
    field = page.get_by_role("textbox", name="Karnofsky performance status", exact=True)
    field.fill("170")
    field.press("Enter")
    # Streamlit's Markdown prints "<=" as "≤"
    expect(page.get_by_role("alert").filter(has_text=re.compile("must be (<=|≤) 100, got 170"))).to_have_count(2)
    wait_for_app_run(page)
    expect(field).to_have_value("170")
    expect(page.locator(".sm-top")).to_have_count(0)


@pytest.mark.parametrize("view, title, name", [
    ("whatif", "What-if", "what-if"),
    ("trainee", "Vignettes for trainees", "trainee"),
    ("rule_base", "Rule base", "rule-base"),
    ("evidence", "Evidence", "evidence"),
])
def test_every_view_renders_in_the_browser(server, page, shots, view, title, name):
    from playwright.sync_api import expect

    open_app(page, server)
    page.get_by_role("button", name="Load into the form").click()
    wait_for_app_run(page)
    expect(page.locator(".sm-top")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text(re.compile(f"^{re.escape(_nav_label(view))}$")).click()
    expect(page.locator("[data-testid='stMainBlockContainer'] h1").first).to_have_text(title)
    wait_for_app_run(page)
    if view == "evidence" and engine_has_evidence():
        expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    if view == "trainee":
        page.get_by_text(re.compile(r"^CONSERVATIVE - ")).first.click()
        page.get_by_role("button", name="Commit and reveal").click()
        expect(page.get_by_text("Score this session:")).to_contain_text("of 1")
    no_exception(page)
    screenshot(page, shots, name, 1300)


def _nav_label(view: str) -> str:
    return {"whatif": "What-if", "trainee": "Vignettes (trainees)", "rule_base": "Rule base",
            "evidence": "Evidence"}[view]


def engine_has_evidence() -> bool:
    return bool(get_engine().rulebook.evidence)
