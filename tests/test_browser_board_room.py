"""Issue 23 in Chromium: the installed command renders, trainees can neither crash the page nor game or be given
the answer, and no entry of the board's decision is lost (refusal, reload, double click, correction).

Same Debian Chromium and rules as tests/test_browser.py (skipped without it unless CI=true).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spinemets import get_engine
from spinemets.commands import app as app_command
from spinemets.ui import labels
from tests.browser_support import (TIMEOUT_MS, click_and_wait_for_run, enter_text, free_port, healthy, open_app, reload,
                                   wait_for_app_run)
from tests.test_browser import (_choose, board_db, browser, load_first_vignette, nav, no_exception,  # noqa: F401
                                option_title, page, playwright_api, server, shots)
from tests.ui_apptest import document, vignette_files

CLI = str(Path(sys.executable).parent / "spinemets")
TEACHING = [p for p in vignette_files() if document(p).board is not None]


def _started(argv: list[str], cwd: Path, log: Path, port: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process, url


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# 1. `spinemets app` ----------------------------------------------------------------------------------------

def test_spinemets_app_started_far_from_the_checkout_renders_a_decision(playwright_api, browser, tmp_path):
    """The command passes the settings file as flags; a list passed as one string refused every websocket."""
    from playwright.sync_api import expect

    port = free_port()
    process, url = _started([CLI, "app", "--port", str(port)], tmp_path, tmp_path / "app.log", port)
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(TIMEOUT_MS)
        open_app(page, url)
        load_first_vignette(page)
        # waits for the decision: under load the page may still show the empty form when the vignette is chosen
        expect(page.locator(".sm-top")).to_contain_text("Top suggestion")
        page.close()
    finally:
        _stop(process)


def test_an_error_shows_no_link_out_and_no_traceback(playwright_api, browser, tmp_path):
    """Streamlit's error box links to Google and ChatGPT with the error's text (which may hold case values) unless
    showErrorLinks is off; showErrorDetails=none hides the traceback."""
    script = tmp_path / "failing.py"
    script.write_text("raise ValueError('karnofsky 170 for patient X')\n")
    port = free_port()
    argv = [sys.executable, "-m", "streamlit", "run", str(script),
            *app_command.settings_flags(app_command.settings_file()), f"--server.port={port}"]
    process, url = _started(argv, tmp_path, tmp_path / "app.log", port)
    try:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        wait_for_app_run(page)
        page.locator("[data-testid='stException']").wait_for()
        body = page.locator("[data-testid='stMain']").inner_text()
        assert "patient X" not in body and "Traceback" not in body and "failing.py" not in body, body
        links = page.locator("a").evaluate_all("els => els.map(e => e.href + ' ' + e.textContent)")
        assert not [link for link in links if re.search(r"google|chatgpt|openai", link, re.IGNORECASE)], links
        page.close()
    finally:
        _stop(process)


# 2. Trainee mode -------------------------------------------------------------------------------------------

def _commit(page, option_code: str) -> None:
    page.get_by_role("radiogroup").filter(has_text="Conservative care").get_by_text(
        re.compile(f"^{re.escape(option_title(option_code))} \\(")).first.click()
    click_and_wait_for_run(page, page.get_by_role("button", name="Commit and reveal"))


def test_a_trainee_answers_tries_again_on_the_same_vignette_keeps_the_score_and_moves_on(server, page):
    from playwright.sync_api import expect

    engine = get_engine()
    open_app(page, server)
    nav(page, "Vignettes (trainees)")
    first = document(TEACHING[0])
    decision = engine.evaluate(first.case)
    wrong = next(o for o in engine.rulebook.option_order if o != first.board.top
                 and decision.option(o).status not in ("recommended", "appropriate"))
    heading = page.locator("[data-testid='stMainBlockContainer'] h3").first
    expect(heading).to_have_text(re.compile("^Vignette 1"))
    _commit(page, wrong)
    expect(page.get_by_text("Score this session:")).to_contain_text("0 of 1")
    click_and_wait_for_run(page, page.get_by_role("button", name="Try this vignette again"))
    expect(heading).to_have_text(re.compile("^Vignette 1"))   # the same vignette, still named neutrally
    expect(page.get_by_text("Score this session:")).to_contain_text("0 of 1")
    expect(page.get_by_text(first.board.management[:40])).to_have_count(0)
    _commit(page, first.board.top)
    expect(page.get_by_text("practice attempt would have earned full credit").first).to_be_visible()
    expect(page.get_by_text("Score this session:")).to_contain_text("0 of 1")
    click_and_wait_for_run(page, page.get_by_role("button", name="Next vignette").first)
    no_exception(page)
    expect(heading).to_have_text(re.compile("^Vignette 2"))
    expect(page.get_by_role("button", name="Commit and reveal")).to_be_visible()
    no_exception(page)


def test_nothing_gives_the_answer_away_before_the_trainee_commits(server, page):
    from playwright.sync_api import expect

    open_app(page, server)
    titles = [document(p).case.title for p in vignette_files() if document(p).case.title]
    # the case page's list of vignettes
    page.locator("[data-testid='stSelectbox']").filter(has_text="Vignette").first.locator("input").click()
    listed = page.get_by_role("option").all_inner_texts()
    assert listed and not [t for t in titles if any(t in o for o in listed)], listed[:5]
    page.keyboard.press("Escape")
    # the trainee's list, and a vignette whose presentation used to end with the patient's choice
    nav(page, "Vignettes (trainees)")
    widget = page.locator("[data-testid='stSelectbox']").filter(has_text="Vignette").first
    widget.locator("input").click()
    listed = page.get_by_role("option").all_inner_texts()
    assert listed and not [t for t in titles if any(t in o for o in listed)], listed[:5]
    target = next((p for p in TEACHING if p.stem == "gu-fig3-lung-l2-cement-alone"), TEACHING[-1])
    name = labels.neutral_title(get_engine().rulebook, TEACHING.index(target) + 1, document(target).case)
    page.keyboard.type(name)
    page.get_by_role("option", name=name, exact=True).click()
    wait_for_app_run(page)
    main = page.locator("[data-testid='stMainBlockContainer']")
    expect(main).to_contain_text(document(target).case.presentation.split(".")[0][:30])
    text = main.inner_text()
    assert not re.search(r"\bchose\b|\bopted\b|vignette review|issue \d+", text, re.IGNORECASE), text[-400:]
    assert document(target).case.title not in text
    _commit(page, document(target).board.top)
    text = main.inner_text()
    assert not re.search(r"vignette review|issue \d+", text, re.IGNORECASE), text[-600:]


# 3. Recording ----------------------------------------------------------------------------------------------

def _panel(page):
    button = page.get_by_role("button", name="The board's decision")
    panel = page.locator("[data-testid='stPopoverBody']")
    if not panel.is_visible():
        button.click()
    panel.wait_for()
    return panel


def test_no_entry_of_the_boards_decision_is_lost_and_a_record_can_be_corrected(server, page, shots):
    from playwright.sync_api import expect

    engine = get_engine()
    page.set_viewport_size({"width": 1366, "height": 768})
    open_app(page, server)
    load_first_vignette(page)
    case = document(vignette_files()[0]).case
    decision = engine.evaluate(case)
    other = next(o for o in engine.rulebook.option_order if o != decision.top)
    panel = _panel(page)
    # the popover restates the top suggestion it may cover
    expect(panel).to_contain_text(f"top suggestion: {option_title(decision.top)}")
    _choose(page, "Chosen option(s), the main one first", f"{option_title(other)} ({other})")
    page.keyboard.press("Escape")
    panel = _panel(page)
    comment = panel.get_by_role("textbox", name="Comment for the minutes (no patient names)")
    enter_text(page, comment, "prefers to wait")  # the reload must come after the run the text starts
    # a reload keeps the unsaved choice and comment
    reload(page)
    page.locator(".sm-top").wait_for()
    panel = _panel(page)
    expect(panel.get_by_role("textbox", name="Comment for the minutes (no patient names)")).to_have_value(
        "prefers to wait")
    expect(panel).to_contain_text(option_title(other))
    # an override without a reason: refused in words, in sight at 1366x768, and nothing entered is lost
    click_and_wait_for_run(page, panel.get_by_role("button", name="Record the board's decision"))
    panel = _panel(page)
    alert = panel.get_by_role("alert").filter(has_text="is not the top suggestion")
    expect(alert).to_be_in_viewport()
    expect(alert).to_contain_text(option_title(decision.top))
    assert "patient_preference" not in alert.inner_text() and "override_reason" not in alert.inner_text()
    expect(panel.get_by_role("textbox", name="Comment for the minutes (no patient names)")).to_have_value(
        "prefers to wait")
    expect(panel).to_contain_text(option_title(other))
    screenshot_path = shots / ".record-refused-1366.png"
    page.screenshot(path=str(screenshot_path))
    screenshot_path.unlink()
    # with a reason, a double click records once and shows no error
    _choose(page, "If the main choice is not the top suggestion, why", "Patient preference")
    panel = _panel(page)
    panel.get_by_role("button", name="Record the board's decision").dblclick()
    wait_for_app_run(page)
    panel = _panel(page)
    expect(panel.locator("[data-testid='stAlert']").filter(has_text="Recorded:")).to_be_visible()
    expect(panel.locator("[data-testid='stAlert']").filter(has_text="Not recorded")).to_have_count(0)
    expect(panel).to_contain_text("minutes entry 1")
    # the board corrects it: the new record names the first, and the minutes count one decision with its history
    _choose(page, "Chosen option(s), the main one first", f"{option_title(decision.top)} ({decision.top})")
    page.keyboard.press("Escape")
    panel = _panel(page)
    expect(panel.get_by_role("checkbox", name=re.compile("^Correct the decision recorded above"))).to_be_checked()
    click_and_wait_for_run(page, panel.get_by_role("button", name="Record the board's decision"))
    panel = _panel(page)
    expect(panel.locator("[data-testid='stAlert']").filter(has_text="it corrects minutes entry 1")).to_be_visible()
    page.keyboard.press("Escape")
    nav(page, "Board session")
    with page.expect_download() as pending:
        page.get_by_role("button", name="Minutes (Markdown)").click()
    text = Path(pending.value.path()).read_text()
    assert "Patients: 1; the board followed the top suggestion for 1" in text, text[:600]
    assert f"History: this record corrects minutes entry 1 ({option_title(other)} ({other}))" in text, text
    no_exception(page)


# 4. Legible across the room --------------------------------------------------------------------------------

def _rgb(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"[\d.]+", text)[:3])


def test_the_presentation_view_fills_the_upper_half_of_a_projected_screen_in_large_type(server, page, shots):
    from playwright.sync_api import expect

    engine = get_engine()
    page.set_viewport_size({"width": 1920, "height": 1080})
    open_app(page, server)
    load_first_vignette(page)
    # an ordinary selected choice is not drawn in an alarm colour (Streamlit's default accent is red)
    selected = page.locator("[data-testid='stMainBlockContainer'] [role='radio'][aria-checked='true']").first
    r, g, b = _rgb(selected.evaluate("e => getComputedStyle(e).color"))
    assert not (r > 150 and r > g + 60 and r > b + 60), (r, g, b)
    decision = engine.evaluate(document(vignette_files()[0]).case)
    click_and_wait_for_run(page, page.get_by_text("Presentation view (projector)"))
    card = page.locator(".sm-present")
    expect(card).to_contain_text(option_title(decision.top))
    expect(page.get_by_role("radiogroup", name="Findings", exact=True)).to_have_count(0)  # the form is away
    box = None
    while box != card.bounding_box():  # the folding "Open or save a case" animates: measure once it has settled
        box = card.bounding_box()
        page.wait_for_timeout(400)
    assert box["y"] < 1080 / 4 and box["y"] + box["height"] <= 1080 * 0.62 and box["height"] >= 1080 * 0.4, box
    sizes = card.evaluate("e => ['.sm-h', '.sm-st', 'li'].map(s => parseFloat(getComputedStyle("
                          "e.querySelector(s) || e).fontSize))")
    assert sizes[0] >= 64 and sizes[1] >= 40 and sizes[2] >= 32, sizes
    first_reason = decision.option(decision.top).reasons[0]
    expect(card).to_contain_text(labels.rule_title(engine.rulebook, first_reason.rule))
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "presentation-1920.png"))  # the projector only: the view is made for it
    click_and_wait_for_run(page, page.get_by_text("Presentation view (projector)"))
    no_exception(page)


# 7. The rule base page -------------------------------------------------------------------------------------

def test_the_rule_base_reads_in_words_folds_by_group_and_finds_a_rule_by_field_or_option(server, page):
    from playwright.sync_api import expect

    rulebook = get_engine().rulebook
    page.set_viewport_size({"width": 1366, "height": 768})
    open_app(page, server)
    nav(page, "Rule base")
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    assert height < 4000, height
    main = page.locator("[data-testid='stMainBlockContainer']")
    expect(main.get_by_text(re.compile(r"^Indications \(\d+\)$"))).to_be_visible()
    # a field's title finds the rules that test it, shown open, their conditions in words
    search = page.get_by_role("textbox", name="Search")
    enter_text(page, search, "histology confirmed")
    expect(main.get_by_text("is not known (unknown)").first).to_be_visible()
    text = main.inner_text()
    assert "unknown(" not in text and "histology_confirmed" not in text.replace("`", ""), text[:400]
    # an option's name finds the rules about it, with the option's name rather than its code
    tae = next(o.title for o in rulebook.manifest.options if o.code == "TAE_PVP")
    enter_text(page, search, tae.lower())
    expect(main.get_by_text(re.compile(r"\d+ of \d+ rules"))).not_to_have_text(re.compile(r"^0 of"))
    assert "with TAE_PVP" not in main.inner_text()
    no_exception(page)
