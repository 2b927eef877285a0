"""The board page in real Chromium: click-to-update time of the decision panel, and websocket traffic per rerun.

    python benchmarks/browser.py [--changes 20]

A vignette is loaded, then one yes/no field that moves the top suggestion is flipped by a click, `--changes`
times. Each click is a real mouse click; its time is measured inside the browser, from the button going down to the
moment the top card names the new top suggestion (a MutationObserver), so Playwright's own round trips are not
counted; beside it, the time until the
server's "script finished" message arrives (seen from Python, so a few ms of Playwright included), and the
websocket frames and bytes the server sends for that rerun. Prints figures; asserts nothing. Needs Playwright and
Debian's Chromium (/usr/bin/chromium).

The floor: in the same browser, a bare Streamlit app that only toggles one value (_FLOOR_APP) is clicked the same
way, timed the same way; the app's times are reported as a ratio to it (issue 23's target: at most 3x, median
and p90). The floor is what Streamlit itself costs on this machine at this load, so the ratio travels between
machines better than the milliseconds do.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinemets import get_engine, read_case_file  # noqa: E402
from spinemets.whatif import with_value  # noqa: E402
from tests.browser_support import (TIMEOUT_MS, choice, launch, open_app, open_group,  # noqa: E402
                                   streamlit_server, wait_for_app_run)

# t0: the mouse button goes down on the choice (a real click, by Playwright's mouse); t1: the top card names the
# new top suggestion. Both on the browser's clock.
_OBSERVER = """() => {
  window.__sm = {t0: 0, t1: 0, want: ''};
  window.addEventListener('pointerdown', () => { if (!window.__sm.t0) window.__sm.t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const s = window.__sm;
    if (!s.t0 || s.t1) return;
    const top = document.querySelector('.sm-top');
    if (top && top.innerText.includes(s.want)) s.t1 = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
_EXPECT = """(want) => { window.__sm = {t0: 0, t1: 0, want: want}; }"""


def finished(payload: bytes | str) -> bool:
    """Whether a websocket frame is the server's 'script run finished' message."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    data = payload if isinstance(payload, bytes) else payload.encode("latin-1")
    try:
        return ForwardMsg.FromString(data).WhichOneof("type") == "script_finished"
    except Exception:  # noqa: BLE001 - a frame that is not a ForwardMsg is not the end of a run
        return False


_FLOOR_APP = """import streamlit as st

value = st.radio("Value", ["no", "yes"], horizontal=True, key="value")
st.markdown(f"<div class='sm-top'>Value {value}</div>", unsafe_allow_html=True)
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def flipping_field(engine, case) -> tuple[str, bool, str, str]:
    """A yes/no field whose flip moves the top suggestion: (field, value that moves it, top before, after)."""
    before = engine.evaluate(case).top
    for name, spec in engine.rulebook.catalog.specs.items():
        if spec.origin != "input" or spec.kind != "bool":
            continue
        for value in (True, False):
            if getattr(case, name, None) == value:
                continue
            after = engine.evaluate(with_value(case, name, value)).top
            if after != before:
                return name, value, before, after
    raise SystemExit("no yes/no field of the vignette moves its top suggestion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20, help="clicks to time (default 20)")
    parser.add_argument("--vignette", default="barbanti-fig1-breast-l3.yaml", help="file in cases/")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from spinemets.ui import labels

    engine = get_engine()
    case = read_case_file(ROOT / "cases" / args.vignette).case
    name, value, top_before, top_after = flipping_field(engine, case)
    spec = engine.rulebook.catalog.get(name)
    titles = {o.code: o.title for o in engine.rulebook.manifest.options}
    print(f"browser benchmark: {args.changes} clicks on '{spec.title}' ({name}) of {case.id}, "
          f"top {titles[top_before]} <-> {titles[top_after]}; {os.cpu_count()} cores, load average {load()}")

    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp) / "streamlit.log") as url, \
            sync_playwright() as api:
        browser = launch(api)
        page = browser.new_context(viewport={"width": 1500, "height": 1150}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        frames: list[tuple[float, bytes | str]] = []
        page.on("websocket", lambda ws: ws.on("framereceived",
                                              lambda payload: frames.append((time.perf_counter(), payload))))
        open_app(page, url)
        page.get_by_role("button", name="Load into the form").click()
        wait_for_app_run(page)
        page.locator(".sm-top").wait_for()
        open_group(page, labels.GROUP_TITLES[spec.group])
        page.evaluate(_OBSERVER)
        widget = choice(page, spec.title)
        words = {True: labels.code_label(True), False: labels.code_label(False)}
        timings, ends, counts, sizes = [], [], [], []
        for i in range(args.changes):
            target, want = (value, top_after) if i % 2 == 0 else (not value, top_before)
            # The choice's words, as a person clicks them (a radio's input sits under its label).
            option = widget.get_by_text(words[target], exact=True).first
            time.sleep(0.3)  # let the previous rerun's last frames arrive before counting this one's
            frames.clear()
            clicked = time.perf_counter()
            page.evaluate(_EXPECT, titles[want])
            option.click()
            page.wait_for_function("() => window.__sm.t1 > 0", timeout=TIMEOUT_MS)
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while not any(finished(p) for _, p in frames) and time.monotonic() < deadline:
                page.wait_for_timeout(10)
            end = next(t for t, p in frames if finished(p))
            wait_for_app_run(page)
            time.sleep(0.3)
            top = page.evaluate("() => window.__sm.t1 - window.__sm.t0")
            done = (end - clicked) * 1000
            timings.append(top)
            ends.append(done)
            counts.append(len(frames))
            sizes.append(sum(len(p) for _, p in frames))
        floor = _floor(browser, Path(tmp), args.changes)
        browser.close()

    print(f"  click to updated top card: median {statistics.median(timings):.0f} ms, "
          f"p90 {pct(timings, 0.9):.0f} ms, min {min(timings):.0f} ms, max {max(timings):.0f} ms (target <= 500 ms)")
    print(f"  click to the server's end of run: median {statistics.median(ends):.0f} ms, "
          f"p90 {pct(ends, 0.9):.0f} ms")
    print(f"  websocket messages per rerun: median {statistics.median(counts):.0f} "
          f"(min {min(counts)}, max {max(counts)}), {statistics.median(sizes) / 1024:.1f} KB")
    print(f"  floor (a bare Streamlit app toggling one value, same browser): median {statistics.median(floor):.0f} ms, "
          f"p90 {pct(floor, 0.9):.0f} ms")
    print(f"  ratio to the floor: median {statistics.median(timings) / statistics.median(floor):.1f}x, "
          f"p90 {pct(timings, 0.9) / pct(floor, 0.9):.1f}x (target <= 3x)")
    print(f"  load average at the end: {load()}")


def _floor(browser: Any, tmp: Path, changes: int) -> list[float]:
    """Click to updated text in the bare app, timed as the board page is."""
    script = tmp / "floor.py"
    script.write_text(_FLOOR_APP)
    with streamlit_server(tmp / "floor.log", script=script) as url:
        page = browser.new_context(viewport={"width": 1500, "height": 1150}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        wait_for_app_run(page)
        page.locator(".sm-top").wait_for()
        page.evaluate(_OBSERVER)
        group = page.get_by_role("radiogroup").first
        found = []
        for i in range(changes):
            want = "yes" if i % 2 == 0 else "no"
            time.sleep(0.3)
            page.evaluate(_EXPECT, f"Value {want}")
            group.get_by_text(want, exact=True).click()
            page.wait_for_function("() => window.__sm.t1 > 0", timeout=TIMEOUT_MS)
            wait_for_app_run(page)
            found.append(page.evaluate("() => window.__sm.t1 - window.__sm.t0"))
        page.close()
    return found


if __name__ == "__main__":
    main()
