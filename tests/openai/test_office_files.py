"""Word, PowerPoint and Excel files as those libraries write them, uploaded with their MIME types
through the official client, ingested and searched; encrypted and legacy Office files fail
with their own messages."""

import io

import docx
import msoffcrypto.format.ooxml
import openpyxl
import pptx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def word_document() -> bytes:
    d = docx.Document()
    d.add_heading("Returns policy", level=1)
    d.add_paragraph("Customers may return unworn shoes within thirty days for a full refund.")
    d.add_paragraph("Keep the receipt", style="List Bullet")
    d.add_heading("Shipping fees", level=2)
    table = d.add_table(rows=2, cols=2)
    for r, (a, b) in enumerate([("Region", "Fee"), ("Iceland", "45 krona per parcel")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def presentation() -> bytes:
    p = pptx.Presentation()
    for title, body, notes in [
        ("Quarterly review", "Revenue rose in every region.", "Thank the sales team first."),
        ("Roadmap", "A lighthouse keeper app ships in spring.", "Mention the beta waiting list."),
    ]:
        slide = p.slides.add_slide(p.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    p.save(out)
    return out.getvalue()


def workbook() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Inventory"
    ws.append(["Part", "Count", "Warehouse"])
    ws.append(["titanium sprocket", 1200, "Rotterdam"])
    other = wb.create_sheet("Suppliers")
    other.append(["Name", "Country"])
    other.append(["Nordic Gears", "Norway"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def attach_all(client, store, files):
    ids = [client.files.create(file=f, purpose="assistants").id for f in files]
    batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=ids)
    return ids, batch


def text_of(client, store, file_id) -> str:
    parts = client.vector_stores.files.content(file_id=file_id, vector_store_id=store.id)
    return "".join(p.text for p in parts)


def test_office_files_are_read_in_order_and_found_by_search(client, store):
    files = [
        ("policy.docx", word_document(), DOCX),
        ("review.pptx", presentation(), PPTX),
        ("stock.xlsx", workbook(), XLSX),
        ("other.txt", b"Penguins cannot fly but swim very well.\n", "text/plain"),
    ]
    (doc, deck, sheet, _), batch = attach_all(client, store, files)
    assert batch.file_counts.completed == 4, batch

    word = text_of(client, store, doc)
    assert word.index("# Returns policy") < word.index("thirty days") < word.index("## Shipping fees")
    assert "- Keep the receipt" in word and "Iceland | 45 krona per parcel" in word
    slides = text_of(client, store, deck)
    assert slides.index("## Slide 1: Quarterly review") < slides.index("Notes: Thank the sales team first.")
    assert slides.index("Notes: Thank the sales team first.") < slides.index("## Slide 2: Roadmap")
    cells = text_of(client, store, sheet)
    assert "## Sheet: Inventory" in cells and "titanium sprocket | 1200 | Rotterdam" in cells
    assert cells.index("## Sheet: Inventory") < cells.index("## Sheet: Suppliers")

    for query, file_id, passage in [
        ("how many days do customers have to return shoes", doc, "thirty days"),
        ("shipping fee for a parcel to Iceland", doc, "45 krona"),
        ("what should the presenter say about the beta waiting list", deck, "beta waiting list"),
        ("lighthouse keeper app release", deck, "lighthouse keeper"),
        ("which warehouse stocks titanium sprockets", sheet, "Rotterdam"),
        ("suppliers from Norway", sheet, "Nordic Gears"),
    ]:
        hits = client.vector_stores.search(store.id, query=query).data
        assert hits, query
        assert hits[0].file_id == file_id, (query, hits[0].filename)
        assert passage in hits[0].content[0].text, (query, hits[0].content[0].text)


def test_encrypted_and_legacy_office_files_fail_with_their_own_messages(client, store):
    plain = io.BytesIO(word_document())
    encrypted = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(plain).encrypt("s3cret", encrypted)
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
    files = [
        ("locked.docx", encrypted.getvalue(), DOCX),
        ("old.doc", legacy, "application/msword"),
        ("renamed.docx", legacy, DOCX),
        ("cut.pptx", presentation()[:2000], PPTX),
    ]
    (locked, old, renamed, cut), batch = attach_all(client, store, files)
    assert batch.file_counts.failed == 4, batch

    def error(file_id):
        f = client.vector_stores.files.retrieve(vector_store_id=store.id, file_id=file_id)
        assert f.status == "failed"
        return f.last_error.code, f.last_error.message

    code, message = error(locked)
    assert code == "invalid_file" and "password-protected" in message, message
    code, message = error(old)
    assert code == "unsupported_file" and ".docx" in message, message
    code, message = error(renamed)
    assert code == "invalid_file" and "Office 97" in message, message
    code, message = error(cut)
    assert code == "invalid_file" and "cut short" in message, message
