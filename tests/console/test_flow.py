"""The console's main path in a real browser: create a store, upload three files and watch them
complete, search and see the right file first, filter by an attribute, delete a file."""

import uuid

from playwright.sync_api import expect

from conftest import open_console, shot

FILES = {
    "lighthouses.txt": b"Lighthouses guide ships past rocky coasts at night with a rotating lamp.",
    "bread.txt": b"Sourdough bread rises slowly because wild yeast ferments the dough.",
    "orbits.txt": b"Satellites stay in orbit because their speed balances the pull of gravity.",
}


def upload(page, names, attributes):
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_role("heading", name="Upload").wait_for()
    page.locator("#upload-attributes").fill(attributes)
    page.locator("#upload-files").set_input_files([
        {"name": n, "mimeType": "text/plain", "buffer": FILES[n]} for n in names
    ])
    page.get_by_role("button", name="Upload and ingest").click()
    for n in names:
        page.locator(f'.upload-row[data-file="{n}"] .pill.completed').wait_for(timeout=60_000)
    assert page.locator("#overall").evaluate("e => e.value") == 1


def test_create_upload_search_filter_and_delete(browser, server):
    page = open_console(browser, server)
    name = f"flow-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name).wait_for()
    page.get_by_role("link", name="Upload files").click()
    page.get_by_role("heading", name="Upload").wait_for()
    assert page.locator("#upload-store option:checked").inner_text() == name

    upload(page, ["lighthouses.txt", "bread.txt"], '{"lang": "en"}')
    shot(page, "upload-1280")
    upload(page, ["orbits.txt"], '{"lang": "de", "year": 2024}')

    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_role("heading", name="Search").wait_for()
    page.locator("#search-store").select_option(label=name)
    page.get_by_label("Query").fill("why does bread rise")
    page.get_by_role("button", name="Search", exact=True).click()
    first = page.locator('.hit[data-rank="1"]')
    first.wait_for()
    assert first.locator(".filename").inner_text() == "bread.txt"
    assert first.locator("mark").count() >= 1
    assert "why does bread rise" in page.locator("#snippet-curl").inner_text()
    assert "client.vector_stores.search(" in page.locator("#snippet-python").inner_text()
    shot(page, "search-1280")

    # Only German files: the orbit one, whatever the query.
    page.get_by_label("Key 1").fill("lang")
    page.get_by_label("Value 1").fill("de")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".hit")).to_have_count(1)
    assert page.locator(".hit .filename").all_inner_texts() == ["orbits.txt"]
    assert '"key": "lang", "value": "de"' in page.locator("#snippet-python").inner_text()

    # The store's page lists the three files and their chunks; deleting one leaves two.
    page.goto(f"{server['base']}/console/#/stores")
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name="Files").wait_for()
    expect(page.locator("tbody tr .pill.completed")).to_have_count(3)
    page.get_by_role("heading", name="Chunks (3)").wait_for()
    shot(page, "store-1280")
    row = page.locator("tr", has=page.get_by_text("bread.txt", exact=True))
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    page.get_by_text("bread.txt", exact=True).wait_for(state="detached")
    page.get_by_role("heading", name="Chunks (2)").wait_for()
    offsite = [u for u in page.requested if not u.startswith(server["base"])]
    assert not offsite, offsite
    page.close()
