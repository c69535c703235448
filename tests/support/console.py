"""What the console's browser tests share: Debian's headless chromium, and waiting for a console
to answer."""
from contextlib import contextmanager
import os
import time

import requests
from playwright.sync_api import sync_playwright


@contextmanager
def headless_chromium():
    """The chromium scripts/browser.sh installed (CONSOLE_TEST_CHROMIUM), driven by Playwright."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=os.environ.get("CONSOLE_TEST_CHROMIUM", "/usr/bin/chromium"),
                                              args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def wait_until_answering(url, path="/healthz", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}{path}", timeout=3).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the console at {url} did not answer {path} in {timeout}s")
