"""What the tests of web fronts share: Debian's headless chromium, waiting for a front to answer,
and a front run as its own process."""
from contextlib import contextmanager
import os
import subprocess
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


def signed_in(browser, console_url, persona):
    """A page of the console signed in as the first demo person of `persona`'s kind."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{console_url}/")
    page.click(f"[data-test=persona-{persona}] >> nth=0")
    return page


@contextmanager
def web_process(command, env, port, ready_path, cwd=None):
    """A web front started as its own process on `port`: its URL once `ready_path` answers; it is
    stopped afterwards."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, ready_path)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
