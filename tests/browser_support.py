"""The running app in Debian's headless Chromium: one way to start `streamlit run` and the browser, shared by
tests/test_browser.py and benchmarks/browser.py."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("SPINEMETS_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries to reach Google's services, and on a closed
# network those refused connections slow it down or stall it.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
            return response.read() == b"ok"
    except OSError:
        return False


@contextmanager
def streamlit_server(log: Path, env: dict[str, str] | None = None, script: Path | None = None) -> Iterator[str]:
    """`streamlit run ui/app.py` (or another `script`) on a free local port; yields its URL once healthy. Raises
    RuntimeError with the server's log when it does not start."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "ui" / "app.py"),
               "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def launch(api: Any) -> Any:
    """Debian's Chromium, headless, with the flags that keep it off the network."""
    return api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def wait_for_app_run(page: Any) -> None:
    """The app is connected and its script has finished (Streamlit publishes both on the root element)."""
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(state="attached")
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")


def open_app(page: Any, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.locator("[data-testid='stAppViewContainer']").wait_for(state="attached")
    wait_for_app_run(page)
    page.locator("[data-testid='stMainBlockContainer'] h1").first.wait_for()


def choice(page: Any, field_title: str) -> Any:
    """The one-click choice widget (a radio group or segmented buttons) of a form field, by its title; its
    choices are `choice(...).get_by_role("radio", name=...)`."""
    return page.get_by_role("radiogroup", name=field_title, exact=True).first


_WATCH_RUNS = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    window.__spinemetsRuns = 0;
    if (window.__spinemetsRunWatch) window.__spinemetsRunWatch.disconnect();
    window.__spinemetsRunWatch = new MutationObserver((records) => { window.__spinemetsRuns += records.length; });
    window.__spinemetsRunWatch.observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


def click_and_wait_for_run(page: Any, target: Any, tries: int = 5, start_ms: int = 5000) -> None:
    """Click `target` and wait for the app run that click starts to finish.

    Waiting for "not running" straight after a click can return before the run has even begun (the change is
    still on its way to the server: a reload then loses it), and a rerun finishing just as the click lands can
    drop the click. So the script-state attribute is watched from before the click: a run has begun when it
    changes; when none begins within `start_ms`, the click went nowhere and is made again."""
    for _ in range(tries):
        wait_for_app_run(page)
        page.evaluate(_WATCH_RUNS)
        target.click()
        try:
            page.wait_for_function("() => window.__spinemetsRuns > 0", timeout=start_ms)
        except Exception:  # noqa: BLE001, S112 - Playwright's timeout: no run began, the click is made again
            continue
        wait_for_app_run(page)
        return
    raise AssertionError(f"no app run began after {tries} clicks on {target}")


def pick(page: Any, field_title: str, answer: str) -> None:
    """Choose `answer` of a form field's one-click choice, and see it shown chosen once its run has finished."""
    radio = choice(page, field_title).get_by_role("radio", name=answer, exact=True)
    for _ in range(3):
        wait_for_app_run(page)
        if radio.get_attribute("aria-checked") == "true":
            return
        click_and_wait_for_run(page, radio)
    raise AssertionError(f"{field_title}: the choice {answer!r} is not shown chosen")


def open_group(page: Any, group_title: str) -> None:
    """Show a group of the case form (its switcher button reads 'Systemic 3/9')."""
    import re

    tab = page.get_by_role("tab", name=group_title, exact=True)
    if tab.count():  # the form of earlier versions, in tabs (the benchmark measures those too)
        tab.first.click()
        wait_for_app_run(page)
        return
    switch = page.get_by_role("radiogroup", name="Findings", exact=True)
    button = switch.get_by_role("radio", name=re.compile(f"^{re.escape(group_title)}\\b"))
    for _ in range(5):  # a click landing while the page is being redrawn can go nowhere: click again
        if button.get_attribute("aria-checked") == "true":
            break
        button.click()
        page.wait_for_timeout(300)
        wait_for_app_run(page)
    wait_for_app_run(page)
