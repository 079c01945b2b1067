"""Each page at 390 px (a phone), driven by keyboard where it matters, and the pages' own
edges: a failed file's error and retry, detaching, chunk paging, keys made and revoked."""

import io
import os
import uuid

import docx

from playwright.sync_api import expect

from conftest import open_console, shot

PHONE = 390


def make_store(page, name):
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name).wait_for()


def upload(page, files, attributes=""):
    if page.get_by_role("heading", name="Upload").count() == 0:
        page.get_by_role("link", name="Upload files").click()
        page.get_by_role("heading", name="Upload").wait_for()
    if attributes:
        page.locator("#upload-attributes").fill(attributes)
    page.locator("#upload-files").set_input_files(files)
    page.get_by_role("button", name="Upload and ingest").click()
    for f in files:
        page.locator(f'.upload-row[data-file="{f["name"]}"] .pill:not(.in_progress)').wait_for(timeout=60_000)


def no_horizontal_scroll(page):
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_store_page_shows_a_failed_file_retries_and_detaches(browser, server):
    page = open_console(browser, server, PHONE)
    name = f"one-{uuid.uuid4().hex[:6]}"
    make_store(page, name)
    upload(page, [
        {"name": "good.txt", "mimeType": "text/plain", "buffer": b"Tides follow the moon."},
        {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""},
    ], '{"kind": "note"}')
    assert page.locator('.upload-row[data-file="empty.txt"] .pill').inner_text() == "failed"
    page.get_by_role("link", name="See the vector store").click()
    page.get_by_role("heading", name="Files").wait_for()
    failed = page.locator("tr", has=page.get_by_text("empty.txt", exact=True))
    assert "invalid_file" in failed.inner_text()
    assert '{"kind":"note"}' in failed.inner_text()
    good = page.locator("tr", has=page.get_by_text("good.txt", exact=True))
    assert "tokens" in good.locator('[data-label="Chunking"]').inner_text()
    no_horizontal_scroll(page)
    shot(page, "store-390")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/files")) as retried:
        failed.get_by_role("button", name="Retry").click()
    assert retried.value.status == 200
    assert retried.value.json()["status"] == "in_progress"
    # Retried: ingested again (the page follows it live), and failing again for the same reason.
    expect(page.locator("tr", has=page.get_by_text("empty.txt", exact=True)).locator(".pill")).to_have_text("failed", timeout=30_000)
    page.once("dialog", lambda d: d.accept())
    page.locator("tr", has=page.get_by_text("empty.txt", exact=True)).get_by_role("button", name="Detach").click()
    page.get_by_text("empty.txt", exact=True).wait_for(state="detached")
    page.get_by_role("heading", name="Chunks (1)").wait_for()
    assert "Tides follow the moon." in page.locator("main").inner_text()
    page.close()


def test_upload_page_at_390_shows_progress_for_each_file_and_all(browser, server):
    page = open_console(browser, server, PHONE)
    make_store(page, f"up-{uuid.uuid4().hex[:6]}")
    page.get_by_role("link", name="Upload files").click()
    page.get_by_role("heading", name="Upload").wait_for()
    # The drop zone opens the file chooser from the keyboard.
    with page.expect_file_chooser() as chooser:
        page.locator("#drop-zone").focus()
        page.keyboard.press("Enter")
    chooser.value.set_files([
        {"name": f"n{i}.txt", "mimeType": "text/plain", "buffer": f"note number {i}".encode()} for i in range(3)
    ])
    assert page.get_by_role("list", name="Files to upload").locator("li").count() == 3
    page.get_by_label("Chunking").select_option("static")
    page.get_by_role("button", name="Upload and ingest").click()
    for i in range(3):
        page.locator(f'.upload-row[data-file="n{i}.txt"] .pill.completed').wait_for(timeout=60_000)
    assert page.locator("#overall").evaluate("e => e.value") == 1
    no_horizontal_scroll(page)
    shot(page, "upload-390")
    page.close()


def test_search_page_at_390_builds_an_or_filter(browser, server):
    page = open_console(browser, server, PHONE)
    name = f"find-{uuid.uuid4().hex[:6]}"
    make_store(page, name)
    upload(page, [{"name": "a.txt", "mimeType": "text/plain", "buffer": b"Owls hunt at night."}], '{"n": 1}')
    upload(page, [{"name": "b.txt", "mimeType": "text/plain", "buffer": b"Larks sing at dawn."}], '{"n": 2}')
    upload(page, [{"name": "c.txt", "mimeType": "text/plain", "buffer": b"Gulls follow boats."}], '{"n": 3}')
    page.get_by_role("link", name="Search", exact=True).click()
    page.locator("#search-store").select_option(label=name)
    page.get_by_label("Query").fill("birds")
    page.get_by_label("Mode").select_option("hybrid")
    page.get_by_label("Key 1").fill("n")
    page.get_by_label("Value 1").fill("1")
    page.get_by_role("button", name="Add condition").click()
    page.get_by_label("Key 2").fill("n")
    page.get_by_label("Operator 2").select_option("gte")
    page.get_by_label("Value 2").fill("3")
    page.get_by_label("Combine").select_option("or")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".hit")).to_have_count(2)
    assert sorted(page.locator(".hit .filename").all_inner_texts()) == ["a.txt", "c.txt"]
    assert '"search_mode": "hybrid"' in page.locator("#snippet-python").inner_text()
    no_horizontal_scroll(page)
    shot(page, "search-390")
    # A filter pasted as JSON that the service refuses: its message, not a blank page.
    page.get_by_label("Or the filter as JSON (used when given)").fill('{"type": "eq", "key": "n"}')
    page.get_by_role("button", name="Search", exact=True).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "filters" in alert.inner_text()
    page.close()


def test_keys_page_at_390_creates_shows_once_and_revokes(browser, server):
    page = open_console(browser, server, PHONE)
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("heading", name="API keys").wait_for()
    before = page.locator("tbody tr").count()
    page.get_by_role("button", name="Create a key").click()
    new_key = page.locator("#new-key")
    new_key.wait_for()
    key = new_key.inner_text().strip()
    assert key.startswith("vsk_")
    expect(page.locator("tbody tr")).to_have_count(before + 1)
    no_horizontal_scroll(page)
    shot(page, "keys-390")
    prefix = next(p for p in page.locator('[data-label="Prefix"]').all_inner_texts() if key.startswith(p.strip()))
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Revoke {prefix.strip()}").click()
    expect(page.locator("tr", has=page.get_by_text(prefix.strip(), exact=True))).to_contain_text("revoked")
    # Shown once: the page no longer holds it.
    assert key not in page.content()
    page.close()


def test_stores_page_at_390_pages_past_a_hundred(browser, server):
    import requests
    key = server["keys"][1]
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    have = s.get(f"{server['base']}/v1/vector_stores?limit=100").json()["data"]
    for i in range(101 - len(have)):
        assert s.post(f"{server['base']}/v1/vector_stores", json={"name": f"many-{i:03}"}).status_code == 200
    page = open_console(browser, server, PHONE, key_index=1)
    expect(page.locator("tbody tr")).to_have_count(100)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="First page").wait_for()
    no_horizontal_scroll(page)
    page.close()


def test_open_mode_asks_for_no_key(browser):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "openai"))
    from vsserver import start_server
    gen = start_server({"VECTOR_STORE__AUTH__MODE": "open"})
    srv = next(gen)
    try:
        page = browser.new_page(viewport={"width": PHONE, "height": 800})
        page.goto(f"{srv['base']}/console")
        page.get_by_role("heading", name="Vector stores").wait_for()
        assert page.get_by_label("API key").count() == 0
        assert page.get_by_role("link", name="Keys").is_hidden()
        page.close()
    finally:
        for _ in gen:
            pass


def test_files_dropped_or_picked_as_a_folder_are_listed(browser, server, tmp_path):
    page = open_console(browser, server, PHONE)
    make_store(page, f"drop-{uuid.uuid4().hex[:6]}")
    page.get_by_role("link", name="Upload files").click()
    page.get_by_role("heading", name="Upload").wait_for()
    transfer = page.evaluate_handle("""() => {
        const t = new DataTransfer();
        t.items.add(new File(["first dropped"], "d1.txt", {type: "text/plain"}));
        t.items.add(new File(["second dropped"], "d2.txt", {type: "text/plain"}));
        return t;
    }""")
    page.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": transfer})
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "f1.txt").write_text("in a folder")
    (folder / "f2.txt").write_text("also in it")
    page.locator("#upload-folder").set_input_files(folder)
    listed = page.get_by_role("list", name="Files to upload").locator("li").all_inner_texts()
    names = sorted(t.split(" ")[0] for t in listed)
    assert names == ["d1.txt", "d2.txt", "notes/f1.txt", "notes/f2.txt"], listed
    page.get_by_role("button", name="Upload and ingest").click()
    for n in ["d1.txt", "d2.txt", "notes/f1.txt", "notes/f2.txt"]:
        page.locator(f'.upload-row[data-file="{n}"] .pill.completed').wait_for(timeout=60_000)
    page.close()


def test_office_files_upload_with_their_mime_types_and_are_read(browser, server):
    page = open_console(browser, server, PHONE)
    make_store(page, f"office-{uuid.uuid4().hex[:6]}")
    d = docx.Document()
    d.add_heading("Harbour rules", level=1)
    d.add_paragraph("Boats moor on the east pier after sunset.")
    memo = io.BytesIO()
    d.save(memo)
    kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    upload(page, [{"name": "memo.docx", "mimeType": kind, "buffer": memo.getvalue()}])
    assert page.locator('.upload-row[data-file="memo.docx"] .pill').inner_text() == "completed"
    assert "Word (.docx)" in page.locator("#upload-formats").inner_text()
    page.get_by_role("link", name="See the vector store").click()
    page.get_by_role("heading", name="Chunks (1)").wait_for()
    assert "# Harbour rules" in page.locator("main").inner_text()
    page.close()


def test_a_stores_chunks_are_paged_by_twenty(browser, server):
    page = open_console(browser, server, PHONE)
    make_store(page, f"pages-{uuid.uuid4().hex[:6]}")
    page.get_by_role("link", name="Upload files").click()
    page.get_by_role("heading", name="Upload").wait_for()
    page.get_by_label("Chunking").select_option("static")
    page.get_by_label("Max chunk tokens (static)").fill("100")
    page.get_by_label("Overlap tokens (static)").fill("0")
    text = " ".join(f"Line {i} of a long logbook kept aboard." for i in range(400))
    page.locator("#upload-files").set_input_files([{"name": "log.txt", "mimeType": "text/plain", "buffer": text.encode()}])
    page.get_by_role("button", name="Upload and ingest").click()
    page.locator('.upload-row[data-file="log.txt"] .pill.completed').wait_for(timeout=60_000)
    page.get_by_role("link", name="See the vector store").click()
    heading = page.get_by_role("heading", name="Chunks (", exact=False)
    heading.wait_for()
    total = int(heading.inner_text().split("(")[1].rstrip(")"))
    assert total > 20
    chunk_rows = page.locator("table").nth(1).locator("tbody tr")
    expect(chunk_rows).to_have_count(20)
    page.get_by_role("link", name="Next chunks").click()
    expect(chunk_rows).to_have_count(min(20, total - 20))
    page.get_by_role("link", name="Previous chunks").wait_for()
    page.close()


def test_many_files_under_a_tight_rate_limit_all_complete(browser):
    """The upload page keeps within the tenant's rate limit (a few files at a time, waiting out
    429s), so a dozen files complete under 5 requests a second."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "openai"))
    from vsserver import start_server
    gen = start_server({
        "VECTOR_STORE__SERVER__RATE_LIMIT_PER_SECOND": "5",
        "VECTOR_STORE__SERVER__RATE_LIMIT_BURST": "5",
    })
    srv = next(gen)
    try:
        page = open_console(browser, srv, PHONE)
        make_store(page, "limited")
        upload(page, [
            {"name": f"r{i:02}.txt", "mimeType": "text/plain", "buffer": f"rate limited note {i}".encode()}
            for i in range(12)
        ])
        expect(page.locator(".upload-row .pill.completed")).to_have_count(12)
        page.close()
    finally:
        for _ in gen:
            pass
