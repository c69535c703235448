"""Production sign-in, end to end on real processes: the console sends people to the city's
OpenID Connect provider, and the gateway accepts the provider's tokens by the keys it publishes
(no shared secret anywhere). The provider is a real HTTP one on this machine
(tests/support/identity_provider.py); the browser is Debian's chromium."""
import os
import subprocess
import sys

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ROOT, free_port
from tests.support.console import headless_chromium, wait_until_answering
from tests.support.hierarchy import build_hierarchy
from tests.support.identity_provider import IdentityProvider

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def city(platform):
    tenant = "oidc-city"
    ids = build_hierarchy(platform.client(tenant=tenant, subject="seeder"), "oidc")
    people = {
        "wang": {"tenant": tenant, "role": "grid_worker", "scope": [ids["GRID"]], "name": "王芳"},
        "zhao": {"tenant": tenant, "role": "city_operator", "scope": ["*"], "name": "赵敏"},
    }
    return {"ids": ids, "people": people}


@pytest.fixture(scope="module")
def signed_by_provider(platform, city):
    """A gateway that trusts only the provider's keys, and a console that signs people in there."""
    with IdentityProvider(city["people"]) as provider:
        gateway_port, console_port = free_port(), free_port()
        common = {**os.environ, "AMQP_URI": platform.amqp_uri, "PYTHONUNBUFFERED": "1"}
        common.pop("CIVICGRID_JWT_SECRET", None)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={**common, "GATEWAY_PORT": str(gateway_port), "GATEWAY_METRICS_PORT": str(free_port()),
                 "CIVICGRID_JWT_JWKS_URL": provider.jwks_url, "CIVICGRID_JWT_ISSUER": provider.issuer,
                 "CIVICGRID_JWT_AUDIENCE": provider.client_id})
        console = subprocess.Popen(
            [sys.executable, "-m", "console"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={**common, "CONSOLE_PORT": str(console_port), "CONSOLE_GATEWAY": f"127.0.0.1:{gateway_port}",
                 "CONSOLE_SESSION_SECRET": "oidc-test-session-secret", "CONSOLE_OIDC_ISSUER": provider.issuer,
                 "CONSOLE_OIDC_CLIENT_SECRET": provider.client_secret})
        url = f"http://127.0.0.1:{console_port}"
        try:
            wait_until_answering(url, "/ready")
            yield url
        finally:
            for process in (console, gateway):
                process.terminate()
                process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


def sign_in_at_the_provider(browser, console, login):
    page = browser.new_page()
    page.goto(f"{console}/")
    page.click(f"[data-test=login-{login}]")  # on the provider's own page
    expect(page.locator("[data-test=who]")).to_be_visible()
    return page


def test_a_grid_worker_signs_in_at_the_provider_and_sees_their_grid_only(browser, signed_by_provider, city):
    page = sign_in_at_the_provider(browser, signed_by_provider, "wang")
    assert page.locator("[data-test=who]").inner_text() == "王芳"
    expect(page.locator("[data-test=card]")).to_have_count(1)
    assert "Grid oidc" in page.locator("[data-test=card]").inner_text()
    answer = page.goto(f"{signed_by_provider}/nodes/{city['ids']['COMMUNITY']}")
    assert answer.status in (403, 404)


def test_an_operator_signed_in_at_the_provider_walks_the_city(browser, signed_by_provider, city):
    page = sign_in_at_the_provider(browser, signed_by_provider, "zhao")
    card = page.locator("[data-test=card]")
    expect(card).to_have_count(1)
    assert "Community oidc" in card.inner_text()


def test_without_a_session_the_console_sends_people_to_the_provider(signed_by_provider):
    answer = requests.get(f"{signed_by_provider}/signin", allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and "/authorize?" in answer.headers["Location"]
    assert "client_id=civicgrid-console" in answer.headers["Location"]
