"""The installed app, opened in Debian's headless Chromium: the page must connect and show a decision.

Run by .ci/wheel-test with the repository's .venv (which has Playwright) against `spinemets app` started from the
wheel's own venv: a health check alone answers while every websocket is refused, and the page then stays on
Streamlit's grey skeleton for ever.

    python .ci/wheel_browser.py http://127.0.0.1:PORT SCREENSHOT.png
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_support import TIMEOUT_MS, launch, open_app, wait_for_app_run


def main(url: str, shot: str) -> int:
    from playwright.sync_api import Error, expect, sync_playwright

    with sync_playwright() as api:
        browser = launch(api)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(TIMEOUT_MS)
        refused: list[str] = []
        page.on("websocket", lambda ws: ws.on("socketerror", lambda error: refused.append(str(error))))
        try:
            open_app(page, url)
            page.get_by_role("button", name="Load into the form").click()
            wait_for_app_run(page)
            top = page.locator(".sm-top").first
            # the run indicator may not have turned yet when it is read after the click: wait for the decision
            # (the empty form has a .sm-top too), up to the timeout, before judging the page
            with contextlib.suppress(AssertionError):  # judged below, with the words the page shows
                expect(top).to_contain_text("Top suggestion")
            words = " ".join(top.inner_text().split())
        except Error as err:
            page.screenshot(path=shot)
            print(f"wheel-test: the installed app did not render a decision ({err}); websocket errors: {refused}; "
                  f"screenshot {shot}", file=sys.stderr)
            return 1
        finally:
            browser.close()
    if "Top suggestion" not in words:
        print(f"wheel-test: no top suggestion on the page: {words[:200]}", file=sys.stderr)
        return 1
    print(f"wheel-test: the installed app renders a decision in Chromium ({words[:80]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
