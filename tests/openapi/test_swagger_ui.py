"""Swagger UI at /docs renders every operation in headless Chromium with nothing off the machine
reachable, and asks for nothing but this server."""

import os

from playwright.sync_api import sync_playwright

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Any host but this one fails to resolve: the page must need no CDN.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def test_docs_render_offline(http, document, root, tmp_path):
    operations = sum(1 for item in document["paths"].values() for m in item if m in ("get", "post", "put", "patch", "delete"))
    requested = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{http.base}/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=30_000)
            rendered = page.locator(".opblock").count()
            assert rendered == operations, f"{rendered} operations rendered of {operations}"
            assert page.locator(".info .title").inner_text().startswith("vector-store")
            # An operation opens and shows its error responses.
            page.locator("#operations-Vector_stores-searchVectorStore .opblock-summary").click()
            page.wait_for_selector("#operations-Vector_stores-searchVectorStore .responses-table")
            codes = page.locator("#operations-Vector_stores-searchVectorStore .response-col_status").all_inner_texts()
            assert {"200", "400", "404", "401"} <= {c.strip() for c in codes}
            shots = os.path.join(root, "target", "docs-shots")
            os.makedirs(shots, exist_ok=True)
            page.screenshot(path=os.path.join(shots, "swagger-ui.png"), full_page=False)
        finally:
            browser.close()
    assert requested
    offsite = [u for u in requested if not u.startswith(http.base) and not u.startswith("data:")]
    assert not offsite, offsite
