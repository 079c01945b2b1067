//! Office files made to hurt their parser: zip bombs that tell the truth about their size and
//! ones that lie about it, deep nesting, an entity bomb, an archive of 100,000 entries, a cut
//! archive and an encrypted document. Each fails alone, with its own message, quickly, and the
//! server's memory stays where it was.

use std::io::Write;
use std::time::Instant;

use zip::write::{SimpleFileOptions, ZipWriter};

use crate::support::{
    MIB, Rss, client, create_store, mib, same_process_under_a_gibibyte, server, upload_and_attach,
    wait_ended,
};

/// The package's relationships: its main part is `word/document.xml`.
const RELS: &str = concat!(
    r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    r#"<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas."#,
    r#"openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>"#
);

/// A `.docx` archive whose `word/document.xml` is `head`, `repeat` written `times`, and `tail`,
/// deflated as it is written (never whole in memory).
fn docx(head: &str, repeat: &[u8], times: usize, tail: &str) -> Vec<u8> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    zip.start_file("_rels/.rels", options).unwrap();
    zip.write_all(RELS.as_bytes()).unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(head.as_bytes()).unwrap();
    for _ in 0..times {
        zip.write_all(repeat).unwrap();
    }
    zip.write_all(tail.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Sets the size `name` declares, in its local header and in the central directory.
fn declare_size(bytes: &mut [u8], name: &str, size: u32) {
    let name = name.as_bytes();
    for at in 0..bytes.len() - 4 {
        let (size_at, name_at) = match &bytes[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => (22, 30),
            [0x50, 0x4b, 0x01, 0x02] => (24, 46),
            _ => continue,
        };
        if bytes.get(at + name_at..at + name_at + name.len()) == Some(name) {
            bytes[at + size_at..at + size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
}

/// Each crafted file, and a piece of the message it must fail with.
fn crafted() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    const BODY: &str = r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>"#;
    const END: &str = "</w:t></w:r></w:p></w:body></w:document>";
    let spaces = vec![b' '; MIB as usize];
    // 1 GiB of text in 10 MB, its size declared.
    let honest = docx(BODY, &spaces, 1024, END);
    // 256 MiB declared as 1 KB: it fails at the 1,001st byte.
    let mut lying = docx(BODY, &spaces, 256, END);
    declare_size(&mut lying, "word/document.xml", 1000);
    let deep = docx(BODY, b"<w:r>", 1_000_000, END);
    let laughs = {
        let mut dtd =
            String::from(r#"<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "lol">"#);
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .enumerate()
        {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h", "i"][i];
            dtd.push_str(&format!(
                "<!ENTITY {name} \"{}\">",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str("]>");
        docx(&format!("{dtd}{BODY}&j;"), b"", 0, END)
    };
    let entries = {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default();
        for i in 0..100_000 {
            zip.start_file(format!("word/media/{i}.png"), options)
                .unwrap();
        }
        zip.finish().unwrap().into_inner()
    };
    let whole = docx(BODY, b"words ", 10_000, END);
    let cut = whole[..whole.len() - 200].to_vec();
    let mut encrypted = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    encrypted.resize(4096, 0);
    encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    encrypted.resize(64 * 1024, 0);
    vec![
        ("honest-bomb.docx", honest, "zip bomb"),
        ("lying-bomb.docx", lying, "larger than its declared"),
        ("deep.docx", deep, "nest more than 256"),
        ("laughs.docx", laughs, "document type"),
        ("entries.docx", entries, "100000 entries"),
        ("cut.docx", cut, "cut short"),
        ("encrypted.docx", encrypted, "password-protected"),
    ]
}

#[tokio::test]
#[ignore = "make test-hostile: Office files made to hurt their parser"]
async fn office_files_made_to_hurt_fail_alone_and_quickly() {
    let (server, keys) = server("office", &[], &["a"]).await;
    let rss = Rss::watch(server.child.id().unwrap());
    let (c, key, base) = (client(), &keys[0], server.base.clone());
    let store = create_store(&c, &base, key, "office", "potion-base-8m").await;
    let started_at = rss.now();
    let mut ids = Vec::new();
    for (name, data, expected) in crafted() {
        println!("{name}: {} KB", data.len() / 1000);
        let id = upload_and_attach(&c, &base, key, &store, (name, data), None).await;
        ids.push((id, expected));
    }
    let began = Instant::now();
    for (id, expected) in &ids {
        let f = wait_ended(&c, &base, key, (&store, id), began).await;
        assert_eq!(f["status"], "failed", "{f}");
        assert_eq!(f["last_error"]["code"], "invalid_file", "{f}");
        let message = f["last_error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let grew = rss.peak().saturating_sub(started_at);
    println!("office files: RSS grew {:.0} MiB at most", mib(grew));
    assert!(grew < 64 * MIB, "the server grew {:.0} MiB", mib(grew));
    same_process_under_a_gibibyte("office files", server, &rss, started_at);
}
