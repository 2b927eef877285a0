"""The installed app in Debian's headless Chromium: the page opens, its script runs, no error shows.

    python .ci/app_in_browser.py http://127.0.0.1:PORT

Run by .ci/wheel-test with the repository's .venv (which has Playwright) against `spinemets app` served from the
[all] venv. Exit 0 when the page opened cleanly, 1 otherwise (with what the page showed).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_support import CHROMIUM, TIMEOUT_MS, launch, open_app


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        print(f"app_in_browser: no Chromium at {CHROMIUM}", file=sys.stderr)
        return 1
    with sync_playwright() as api:
        browser = launch(api)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            open_app(page, argv[0])
            title = page.locator("[data-testid='stMainBlockContainer'] h1").first.inner_text()
            errors = page.locator("[data-testid='stException']").all_inner_texts()
        finally:
            browser.close()
    if errors:
        print(f"app_in_browser: the page shows an error: {errors[0][:500]}", file=sys.stderr)
        return 1
    print(f"app_in_browser: {argv[0]} opened in Chromium, page '{title}'")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
