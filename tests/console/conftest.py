"""The console in headless Chromium against the real server binary (keys mode)."""

import os
import sys

import pytest
from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "openai"))
from vsserver import ROOT, start_server  # noqa: E402

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Any host but this one fails to resolve: the console must need nothing from elsewhere.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SHOTS = os.path.join(ROOT, "target", "console-shots")


@pytest.fixture(scope="session")
def server():
    yield from start_server({
        "VECTOR_STORE__SERVER__RATE_LIMIT_PER_SECOND": "0",
        "VECTOR_STORE__SERVER__MAX_IN_FLIGHT_PER_TENANT": "0",
    })


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        yield b
        b.close()


def open_console(browser, server, width=1280, key_index=0):
    """A page at `width` px, signed in with the tenant's key; every request it makes is kept."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    page.goto(f"{server['base']}/console")
    page.get_by_label("API key").fill(server["keys"][key_index])
    page.get_by_role("button", name="Use this key").click()
    page.get_by_role("heading", name="Vector stores").wait_for()
    return page


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
