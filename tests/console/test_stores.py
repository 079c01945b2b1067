"""The vector stores page: sign in, create, see, delete; at 1280 and 390 px."""

import uuid

import pytest

from conftest import open_console, shot


@pytest.mark.parametrize("width", [1280, 390])
def test_create_list_and_delete_a_store(browser, server, width):
    page = open_console(browser, server, width)
    name = f"handbook-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Expires after (days idle)").fill("30")
    page.get_by_role("button", name="Create").click()
    link = page.get_by_role("link", name=name)
    link.wait_for()
    row = page.locator("tr", has=link)
    assert "completed" in row.inner_text()
    assert "never" not in row.locator('[data-label="Expires"]').inner_text()
    shot(page, f"stores-{width}")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name=f"Delete {name}").click()
    link.wait_for(state="detached")
    offsite = [u for u in page.requested if not u.startswith(server["base"])]
    assert not offsite, offsite
    page.close()


def test_a_wrong_key_shows_the_envelopes_message(browser, server):
    page = browser.new_page()
    page.goto(f"{server['base']}/console")
    page.get_by_label("API key").fill("vsk_not_a_key")
    page.get_by_role("button", name="Use this key").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Incorrect API key provided." in alert.inner_text()
    page.close()


def test_a_bad_request_shows_the_envelopes_message_and_param(browser, server):
    page = open_console(browser, server)
    page.get_by_label("Expires after (days idle)").evaluate("e => e.removeAttribute('max')")
    page.get_by_label("Expires after (days idle)").fill("400")
    page.get_by_role("button", name="Create").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "expires_after.days" in alert.inner_text()
    page.close()


def test_other_tenants_stores_are_not_shown(browser, server):
    mine = open_console(browser, server, key_index=0)
    name = f"private-{uuid.uuid4().hex[:6]}"
    mine.get_by_label("Name").fill(name)
    mine.get_by_role("button", name="Create").click()
    mine.get_by_role("link", name=name).wait_for()
    theirs = open_console(browser, server, key_index=1)
    assert name not in theirs.locator("main").inner_text()
    mine.close()
    theirs.close()


def test_an_unknown_store_or_page_says_so(browser, server):
    page = open_console(browser, server)
    page.goto(f"{server['base']}/console/#/stores/vs_%ZZ-not-there")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "vs_%25ZZ-not-there" in alert.inner_text()
    page.goto(f"{server['base']}/console/#/nowhere")
    page.get_by_role("heading", name="Not found").wait_for()
    page.close()
