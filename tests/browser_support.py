"""The running app in Debian's headless Chromium: one way to start `streamlit run` and the browser, shared by
tests/test_browser.py and benchmarks/browser.py."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterator
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
TAB_TOKEN_KEY = "drafts.tab"  # ui/drafts.py TOKEN_KEY: the widget that hands the tab's token to the server


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
    """The app is connected and its script has finished (Streamlit publishes both on the root element); on a page
    opened with open_app, also the latest run the socket has asked for (see AppRuns)."""
    runs = _RUNS.get(page)
    if runs is not None:  # a run that never reports success (a compile error) is left to the page's own state
        _until(page, lambda: runs.finished > runs.requested, TIMEOUT_MS)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(state="attached")
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")


def open_app(page: Any, url: str, path: str = "") -> None:
    watch_runs(page)
    page.goto(f"{url}/{path}")
    page.locator("[data-testid='stAppViewContainer']").wait_for(state="attached")
    wait_for_session(page)
    page.locator("[data-testid='stMainBlockContainer'] h1").first.wait_for()


def choice(page: Any, field_title: str) -> Any:
    """The one-click choice widget (a radio group or segmented buttons) of a form field, by its title; its
    choices are `choice(...).get_by_role("radio", name=...)`."""
    return page.get_by_role("radiogroup", name=field_title, exact=True).first


class AppRuns:
    """The app's runs as its websocket carries them, so that a test waits for the run its own action started.

    The page's `data-test-script-state` is not enough: a wait read straight after a click can end before the
    click's run has begun (a reload then loses the change), and a quick run can come and go between two of
    React's renders without the attribute ever changing. The socket says it exactly: the browser sends a
    `rerun_script` BackMsg for each widget change, and the server answers each run with a `script_finished`
    ForwardMsg (a run cut short by a newer request finishes "early for rerun" and does not count)."""

    def __init__(self) -> None:
        self._clock = 0
        self.requested = -1  # the clock when the latest run was asked for
        self.finished = -1   # the clock when the latest run finished
        self.has_tab = False  # this session's runs carry the tab's token (ui/drafts.py)

    def watch(self, socket: Any) -> None:
        self.has_tab = False  # a new socket is a new session: its token is still to come
        socket.on("framesent", self._sent)
        socket.on("framereceived", self._received)

    def _sent(self, payload: bytes | str) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        if isinstance(payload, bytes) and _parses(message, payload) and message.WhichOneof("type") == "rerun_script":
            self._clock += 1
            self.requested = self._clock
            widgets = message.rerun_script.widget_states.widgets
            self.has_tab = self.has_tab or any(w.id.endswith(f"-{TAB_TOKEN_KEY}") for w in widgets)

    def _received(self, payload: bytes | str) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = ForwardMsg()
        if (isinstance(payload, bytes) and _parses(message, payload)
                and message.WhichOneof("type") == "script_finished"
                and message.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY,
                                                ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)):
            self._clock += 1
            self.finished = self._clock

    def mark(self) -> int:
        return self._clock

    def asked_since(self, mark: int) -> bool:
        return self.requested > mark

    def settled_since(self, mark: int) -> bool:
        """A run was asked for after `mark`, and the latest run asked for has finished."""
        return self.requested > mark and self.finished > self.requested


def _parses(message: Any, payload: bytes) -> bool:
    from google.protobuf.message import DecodeError

    try:
        message.ParseFromString(payload)
    except DecodeError:
        return False
    return True


_RUNS: weakref.WeakKeyDictionary[Any, AppRuns] = weakref.WeakKeyDictionary()


def watch_runs(page: Any) -> None:
    """Follow the app's runs on this page, its reloads included (before the page opens the app)."""
    if page not in _RUNS:
        runs = _RUNS[page] = AppRuns()
        page.on("websocket", runs.watch)


def wait_for_session(page: Any) -> None:
    """A session's first runs are over: the page's first run, then the one the tab's token asks for as soon as
    the browser has it (ui/drafts.py). A click landing between the two is lost: the token's run, asked for
    from the page as it was, takes the app back there (a page link clicked then ends on the first page)."""
    runs = _RUNS.get(page)
    if runs is not None:  # an app without the token (a benchmark's older version) goes on after 10 s
        _until(page, lambda: runs.has_tab, 10_000)
    wait_for_app_run(page)


def reload(page: Any) -> None:
    """Reload the page and wait for the new session's first runs (see wait_for_session)."""
    page.reload()
    wait_for_session(page)


def _until(page: Any, ready: Callable[[], bool], ms: int) -> bool:
    deadline = time.monotonic() + ms / 1000
    while not ready():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)  # Playwright delivers the socket's frames while it waits
    return True


def act_and_wait_for_run(page: Any, act: Callable[[], None], what: str, tries: int = 5,
                         start_ms: int = 5000) -> None:
    """Do `act` (a click, a committed text) and wait until the run it asks for has finished. When no run is
    asked for within `start_ms`, the action went nowhere (a rerun redrawing the widget under the click) and is
    done again."""
    runs = _RUNS.get(page)
    if runs is None:
        raise AssertionError("open the app with open_app(), which follows its runs, before acting on it")
    for _ in range(tries):
        wait_for_app_run(page)
        mark = runs.mark()
        act()
        if not _until(page, lambda: runs.asked_since(mark), start_ms):
            continue
        if not _until(page, lambda: runs.settled_since(mark), TIMEOUT_MS):
            raise AssertionError(f"{what}: the app's run did not finish within {TIMEOUT_MS} ms")
        wait_for_app_run(page)
        return
    raise AssertionError(f"{what}: no app run was asked for after {tries} tries")


def click_and_wait_for_run(page: Any, target: Any) -> None:
    """Click `target` and wait for the run the click starts (see act_and_wait_for_run)."""
    act_and_wait_for_run(page, target.click, f"click on {target}")


def enter_text(page: Any, box: Any, text: str) -> None:
    """Type `text` into a text box, commit it with Enter and wait for the run it starts; `text` must differ from
    the box's committed value, or no run would be asked for."""
    def commit() -> None:
        box.fill(text)
        box.press("Enter")
    act_and_wait_for_run(page, commit, f"committing {text!r}", tries=3)


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
