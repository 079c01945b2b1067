//! Office files built part by part: their text, and the archives and XML made to hurt.

use std::io::Write;

use zip::write::{SimpleFileOptions, ZipWriter};

use super::*;

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;
const PACKAGE_RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A relationships part: (id, type's last segment, target) each.
fn rels(list: &[(&str, &str, &str)]) -> String {
    let items: String = list
        .iter()
        .map(|(id, kind, target)| {
            format!(r#"<Relationship Id="{id}" Type="{RELS}/{kind}" Target="{target}"/>"#)
        })
        .collect();
    format!(r#"<Relationships xmlns="{PACKAGE_RELS}">{items}</Relationships>"#)
}

/// The package's relationships, its main part at `main`.
fn root_rels(main: &str) -> String {
    rels(&[("rId1", "officeDocument", main)])
}

/// A zip archive of `parts`, deflated.
fn archive(parts: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A paragraph style: its id, its name and its paragraph properties.
fn style(id: &str, name: &str, props: &str) -> String {
    format!(
        r#"<w:style w:type="paragraph" w:styleId="{id}"><w:name w:val="{name}"/>{props}</w:style>"#
    )
}

/// A Word document whose body is `body`, with a styles part naming two headings (one by its
/// name, one by its outline level) and a list style.
fn docx(body: &str) -> Vec<u8> {
    let document =
        format!(r#"<?xml version="1.0"?><w:document {W}><w:body>{body}</w:body></w:document>"#);
    let styles = [
        style("Heading1", "heading 1", ""),
        style(
            "Kop2",
            "Kop 2",
            r#"<w:pPr><w:outlineLvl w:val="1"/></w:pPr>"#,
        ),
        style(
            "ListBullet",
            "List Bullet",
            r#"<w:pPr><w:numPr><w:numId w:val="3"/></w:numPr></w:pPr>"#,
        ),
    ]
    .concat();
    archive(&[
        ("_rels/.rels", &root_rels("word/document.xml")),
        (
            "word/_rels/document.xml.rels",
            &rels(&[("rId1", "styles", "styles.xml")]),
        ),
        ("word/document.xml", &document),
        (
            "word/styles.xml",
            &format!("<w:styles {W}>{styles}</w:styles>"),
        ),
    ])
}

fn para(style: &str, text: &str) -> String {
    let props = match style {
        "" => String::new(),
        s => format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#),
    };
    format!(r#"<w:p>{props}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

fn invalid(kind: Kind, bytes: &[u8]) -> String {
    match extract(kind, "f.docx", bytes) {
        Err(ExtractError::Invalid(m)) => m,
        other => panic!("expected invalid_file, got {other:?}"),
    }
}

/// A run of text (in a paragraph).
fn run(text: &str) -> String {
    format!("<w:r><w:t>{text}</w:t></w:r>")
}

#[test]
fn a_word_document_reads_in_order_with_headings_lists_and_tables() {
    let item = |level: u8, text: &str| {
        let numbering = format!(r#"<w:numPr><w:ilvl w:val="{level}"/></w:numPr>"#);
        format!("<w:p><w:pPr>{numbering}</w:pPr>{}</w:p>", run(text))
    };
    let cell = |text: &str| format!("<w:tc>{}</w:tc>", para("", text));
    let hidden = [
        "<w:del><w:r><w:delText>gone</w:delText></w:r></w:del>",
        "<w:r><w:tab/><w:t>text</w:t></w:r>",
        "<w:r><w:instrText>PAGE</w:instrText></w:r>",
    ]
    .concat();
    let (chosen, fallback) = (run("chosen"), run("fallback"));
    let alternate = format!(
        r#"<mc:AlternateContent xmlns:mc="m"><mc:Choice Requires="wps">{chosen}</mc:Choice>"#
    ) + &format!("<mc:Fallback>{fallback}</mc:Fallback></mc:AlternateContent>");
    let body = [
        para("Heading1", "Refunds &amp; returns"),
        para("", "Goods come back within 30 days."),
        format!("<w:p>{}{hidden}</w:p>", run("Kept")),
        item(0, "first"),
        item(1, "nested"),
        para("ListBullet", "styled"),
        para("Kop2", "Prices"),
        format!(
            "<w:tbl><w:tr>{}{}</w:tr><w:tr>{}{}</w:tr></w:tbl>",
            cell("Item"),
            cell("Price"),
            cell("Lamp"),
            cell("12 €")
        ),
        format!("<w:p>{alternate}</w:p>"),
    ]
    .concat();
    let text = extract(Kind::Word, "a.docx", &docx(&body)).unwrap();
    assert_eq!(
        text,
        "# Refunds & returns\n\nGoods come back within 30 days.\n\nKept\ttext\n\n- first\n  - \
         nested\n- styled\n\n## Prices\n\nItem | Price\nLamp | 12 €\n\nchosen"
    );
}

/// A shape of a slide or notes page: a placeholder of type `ph` holding `text`.
fn shape(ph: &str, text: &str) -> String {
    let props = format!(r#"<p:nvSpPr><p:nvPr><p:ph type="{ph}"/></p:nvPr></p:nvSpPr>"#);
    let body = format!("<p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody>");
    format!("<p:sp>{props}{body}</p:sp>")
}

/// A table of one row, as a slide holds it.
fn slide_table(cells: &[&str]) -> String {
    let cells: String = cells
        .iter()
        .map(|c| format!("<a:tc><a:txBody><a:p><a:r><a:t>{c}</a:t></a:r></a:p></a:txBody></a:tc>"))
        .collect();
    let table = format!("<a:tbl><a:tr>{cells}</a:tr></a:tbl>");
    format!(
        "<p:graphicFrame><a:graphic><a:graphicData>{table}</a:graphicData></a:graphic>\
         </p:graphicFrame>"
    )
}

/// A slide or notes page (`root`) of these shapes.
fn page(root: &str, shapes: &str) -> String {
    format!(
        concat!(
            r#"<p:{root} xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>{shapes}</p:spTree>"#,
            "</p:cSld></p:{root}>"
        ),
        root = root,
        shapes = shapes
    )
}

/// A presentation of `slides` (title, body, notes), listed in reverse of their part names.
fn pptx(slides: &[(&str, &str, &str)]) -> Vec<u8> {
    let n = slides.len();
    let mut parts: Vec<(String, String)> =
        vec![("_rels/.rels".into(), root_rels("ppt/presentation.xml"))];
    let mut ids = String::new();
    let mut slide_rels = Vec::new();
    for i in 0..n {
        let file = n - i;
        ids.push_str(&format!(r#"<p:sldId id="{}" r:id="rId{file}"/>"#, 256 + i));
        slide_rels.push((format!("rId{file}"), format!("slides/slide{file}.xml")));
    }
    let list: Vec<(&str, &str, &str)> = slide_rels
        .iter()
        .map(|(id, t)| (id.as_str(), "slide", t.as_str()))
        .collect();
    parts.push(("ppt/_rels/presentation.xml.rels".into(), rels(&list)));
    parts.push((
        "ppt/presentation.xml".into(),
        format!(
            concat!(
                r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst>{ids}"#,
                "</p:sldIdLst></p:presentation>"
            ),
            ids = ids
        ),
    ));
    for (i, (title, body, notes)) in slides.iter().enumerate() {
        let file = n - i;
        let shapes = [
            shape("title", title),
            shape("body", body),
            slide_table(&["Q1", "9"]),
        ];
        parts.push((
            format!("ppt/slides/slide{file}.xml"),
            page("sld", &shapes.concat()),
        ));
        let notes_target = format!("../notesSlides/notesSlide{file}.xml");
        parts.push((
            format!("ppt/slides/_rels/slide{file}.xml.rels"),
            rels(&[("rId9", "notesSlide", &notes_target)]),
        ));
        let notes = [shape("sldNum", "42"), shape("body", notes)].concat();
        parts.push((
            format!("ppt/notesSlides/notesSlide{file}.xml"),
            page("notes", &notes),
        ));
    }
    let parts: Vec<(&str, &str)> = parts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    archive(&parts)
}

#[test]
fn a_presentation_reads_slide_by_slide_with_tables_and_notes() {
    let bytes = pptx(&[
        ("Welcome", "Agenda for today", "Say hello"),
        ("Numbers", "Sales grew", "Mention the &lt;chart&gt;"),
    ]);
    let text = extract(Kind::PowerPoint, "a.pptx", &bytes).unwrap();
    assert_eq!(
        text,
        "## Slide 1: Welcome\n\nAgenda for today\n\nQ1 | 9\n\nNotes: Say hello\n\n## Slide 2: \
         Numbers\n\nSales grew\n\nQ1 | 9\n\nNotes: Mention the <chart>"
    );
}

/// A workbook with two sheets, shared and inline strings, a number and one cell far out.
fn xlsx() -> Vec<u8> {
    const SHEET: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let sheet = |rows: &str| {
        format!(r#"<worksheet xmlns="{SHEET}"><sheetData>{rows}</sheetData></worksheet>"#)
    };
    let cell = |at: &str, kind: &str, value: &str| match kind {
        "inlineStr" => format!(r#"<c r="{at}" t="inlineStr"><is><t>{value}</t></is></c>"#),
        "" => format!(r#"<c r="{at}"><v>{value}</v></c>"#),
        kind => format!(r#"<c r="{at}" t="{kind}"><v>{value}</v></c>"#),
    };
    let row = |n: u32, cells: &[String]| format!(r#"<row r="{n}">{}</row>"#, cells.concat());
    let sheets = [("Stock", "rId1"), ("Notes", "rId2")]
        .iter()
        .enumerate()
        .map(|(i, (name, id))| format!(r#"<sheet name="{name}" sheetId="{}" r:id="{id}"/>"#, i + 1))
        .collect::<String>();
    let strings: String = ["Part", "Count", "bolt"]
        .iter()
        .map(|s| format!("<si><t>{s}</t></si>"))
        .collect();
    let stock = [
        row(1, &[cell("A1", "s", "0"), cell("B1", "s", "1")]),
        row(2, &[cell("A2", "s", "2"), cell("B2", "", "40")]),
        row(1_048_576, &[cell("XFD1048576", "inlineStr", "far out")]),
    ]
    .concat();
    archive(&[
        ("_rels/.rels", &root_rels("xl/workbook.xml")),
        (
            "xl/workbook.xml",
            &format!(
                r#"<workbook xmlns="{SHEET}" xmlns:r="{RELS}"><sheets>{sheets}</sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            &rels(&[
                ("rId1", "worksheet", "worksheets/sheet1.xml"),
                ("rId2", "worksheet", "worksheets/sheet2.xml"),
                ("rId3", "sharedStrings", "sharedStrings.xml"),
            ]),
        ),
        (
            "xl/sharedStrings.xml",
            &format!(r#"<sst xmlns="{SHEET}">{strings}</sst>"#),
        ),
        ("xl/worksheets/sheet1.xml", &sheet(&stock)),
        (
            "xl/worksheets/sheet2.xml",
            &sheet(&row(1, &[cell("A1", "inlineStr", "Count weekly")])),
        ),
    ])
}

#[test]
fn a_workbook_reads_sheet_by_sheet_and_row_by_row() {
    let text = extract(Kind::Excel, "a.xlsx", &xlsx()).unwrap();
    assert_eq!(
        text,
        "## Sheet: Stock\n\nPart | Count\nbolt | 40\nfar out\n\n## Sheet: Notes\n\nCount weekly"
    );
}

#[test]
fn a_part_that_inflates_too_far_is_a_zip_bomb_before_it_is_read() {
    let spaces = " ".repeat(4 << 20);
    let bytes = docx(&para("", &spaces));
    let m = invalid(Kind::Word, &bytes);
    assert!(m.contains("zip bomb") && m.contains("times over"), "{m}");
}

#[test]
fn a_part_that_inflates_past_the_size_it_declares_fails() {
    let body = para("", &"x".repeat(200_000));
    let mut bytes = docx(&body);
    // Declare 1,000 bytes for word/document.xml in its local header and the central directory.
    let name = b"word/document.xml";
    let mut patched = 0;
    for at in 0..bytes.len() - 4 {
        // A local header's size is at 22, its name at 30; a central one's at 24 and 46.
        let (size_at, name_at) = match &bytes[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => (22, 30),
            [0x50, 0x4b, 0x01, 0x02] => (24, 46),
            _ => continue,
        };
        if bytes.get(at + name_at..at + name_at + name.len()) == Some(&name[..]) {
            bytes[at + size_at..at + size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
    let m = invalid(Kind::Word, &bytes);
    assert!(
        m.contains("word/document.xml") && m.contains("cannot be read"),
        "{m}"
    );
}

#[test]
fn an_archive_of_too_many_entries_is_refused() {
    let names: Vec<String> = (0..=MAX_ENTRIES)
        .map(|i| format!("media/{i}.bin"))
        .collect();
    let parts: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    let m = invalid(Kind::Word, &archive(&parts));
    assert!(m.contains("10001 entries"), "{m}");
}

#[test]
fn entities_doctypes_and_deep_nesting_are_refused() {
    let dtd = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>"#;
    let laughs = format!(
        "<?xml version=\"1.0\"?>{dtd}<w:document {W}>{}</w:document>",
        run("&lol2;")
    );
    let bytes = archive(&[
        ("_rels/.rels", &root_rels("word/document.xml")),
        ("word/document.xml", &laughs),
    ]);
    let m = invalid(Kind::Word, &bytes);
    assert!(m.contains("document type"), "{m}");
    let undeclared = docx(&para("", "&lol;"));
    assert!(invalid(Kind::Word, &undeclared).contains("'&lol;'"));
    let deep = format!("{}{}", "<w:sdt>".repeat(300), "</w:sdt>".repeat(300));
    assert!(invalid(Kind::Word, &docx(&deep)).contains("nest more than 256"));
}

#[test]
fn damaged_encrypted_and_legacy_files_get_their_own_messages() {
    let whole = docx(&para("", "hello"));
    let m = invalid(Kind::Word, &whole[..whole.len() / 2]);
    assert!(m.contains("damaged or cut short"), "{m}");
    let mut compound = COMPOUND_FILE.to_vec();
    compound.extend_from_slice(&[0; 100]);
    assert!(invalid(Kind::Word, &compound).contains("Office 97–2003"));
    compound.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    assert!(invalid(Kind::Word, &compound).contains("password-protected"));
    assert!(invalid(Kind::Word, b"plain text").contains("not a zip archive"));
    let no_body = archive(&[("_rels/.rels", &root_rels("word/document.xml"))]);
    assert!(invalid(Kind::Word, &no_body).contains("has no part 'word/document.xml'"));
}

#[test]
fn relationship_targets_resolve_against_their_part() {
    assert_eq!(
        resolve("ppt/slides", "../notesSlides/n1.xml"),
        "ppt/notesSlides/n1.xml"
    );
    assert_eq!(resolve("ppt", "/ppt/slides/s1.xml"), "ppt/slides/s1.xml");
    assert_eq!(resolve("", "word/./document.xml"), "word/document.xml");
}
