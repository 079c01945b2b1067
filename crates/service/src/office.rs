//! Office Open XML files — Word (`.docx`), PowerPoint (`.pptx`) and Excel (`.xlsx`) — as text
//! in reading order. Each is a zip archive of XML parts.
//!
//! Nothing is inflated before the archive's central directory has been checked: at most
//! [`MAX_ENTRIES`] entries, and every XML part at most [`MAX_PART_BYTES`] inflated, at most
//! [`MAX_RATIO`] times its compressed size, and all of them together at most
//! [`MAX_XML_BYTES`]. Each part is then read with a byte bound (an entry that inflates past the
//! size it declares fails), so a zip bomb fails its file at once whatever its headers say. XML
//! is read as a stream: a document type declaration (the way to entity bombs) is refused, no
//! entity but XML's five is known, and elements nest at most [`MAX_DEPTH`] deep.
//!
//! Runs in the extraction sandbox (see [`crate::sandbox`]), like the other third-party parsers.

mod docx;
mod pptx;
mod xlsx;
mod xml;

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::text::ExtractError;

/// Most entries an archive may list.
pub const MAX_ENTRIES: usize = 10_000;
/// Most bytes one XML part may inflate to.
pub const MAX_PART_BYTES: u64 = 128 << 20;
/// Most bytes the XML parts of one archive may inflate to together.
pub const MAX_XML_BYTES: u64 = 512 << 20;
/// The most a part larger than [`RATIO_FLOOR`] may inflate, as a multiple of its compressed size.
pub const MAX_RATIO: u64 = 100;
/// Parts up to this size may compress better than [`MAX_RATIO`] (a short, repetitive part).
const RATIO_FLOOR: u64 = 1 << 20;
/// Deepest nesting of XML elements.
pub const MAX_DEPTH: usize = 256;

/// The first bytes of an OLE compound file: a password-protected Office file, or one in the
/// binary formats of Office 97–2003.
const COMPOUND_FILE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The Office formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    PowerPoint,
    Excel,
}

impl Kind {
    /// The format a file's extension (lower case, without the dot) names.
    pub fn from_extension(ext: &str) -> Option<Kind> {
        match ext {
            "docx" => Some(Kind::Word),
            "pptx" => Some(Kind::PowerPoint),
            "xlsx" => Some(Kind::Excel),
            _ => None,
        }
    }
}

/// The text of an Office file. Blocking: call from a blocking thread (the sandbox's child).
pub fn extract(kind: Kind, filename: &str, bytes: &[u8]) -> Result<String, ExtractError> {
    let mut package = Package::open(filename, bytes)?;
    match kind {
        Kind::Word => docx::text(&mut package),
        Kind::PowerPoint => pptx::text(&mut package),
        Kind::Excel => xlsx::text(&package, bytes),
    }
}

/// An Office archive whose directory has been checked, read part by part within its bounds.
pub(crate) struct Package<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    filename: &'a str,
}

impl<'a> Package<'a> {
    fn open(filename: &'a str, bytes: &'a [u8]) -> Result<Self, ExtractError> {
        let invalid = |m: String| ExtractError::Invalid(format!("'{filename}' {m}"));
        if bytes.starts_with(COMPOUND_FILE) {
            return Err(invalid(if is_encrypted(bytes) {
                "is password-protected: save it without a password and upload it again".into()
            } else {
                "is in a binary Office 97–2003 format (.doc, .ppt or .xls), which is not \
                 supported: save it as .docx, .pptx or .xlsx"
                    .into()
            }));
        }
        if !bytes.starts_with(b"PK") {
            return Err(invalid(
                "is not an Office Open XML file (it is not a zip archive)".into(),
            ));
        }
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            invalid(format!(
                "is not a readable Office file: its archive is damaged or cut short ({e})"
            ))
        })?;
        let package = Package { zip, filename };
        package.check()?;
        Ok(package)
    }

    /// The checks made on the central directory before any part is inflated.
    fn check(&self) -> Result<(), ExtractError> {
        let n = self.zip.len();
        if n > MAX_ENTRIES {
            return Err(self.invalid(format!(
                "is an archive of {n} entries, more than the {MAX_ENTRIES} an Office file may hold"
            )));
        }
        let mut total = 0u64;
        for i in 0..n {
            let Ok(entry) = self.zip.by_index_data(i) else {
                return Err(self.invalid("has an unreadable archive entry".into()));
            };
            if entry.encrypted() {
                return Err(self.invalid(
                    "is password-protected: save it without a password and upload it again".into(),
                ));
            }
            let raw = entry.name_raw();
            if !(raw.ends_with(b".xml") || raw.ends_with(b".rels")) {
                continue;
            }
            let name = String::from_utf8_lossy(raw);
            let (size, packed) = (entry.size(), entry.compressed_size());
            if size > MAX_PART_BYTES {
                return Err(self.bomb(format!(
                    "its part '{name}' inflates to {size} bytes, more than {MAX_PART_BYTES}"
                )));
            }
            if size > RATIO_FLOOR && size / packed.max(1) > MAX_RATIO {
                return Err(self.bomb(format!(
                    "its part '{name}' inflates {} times over, more than {MAX_RATIO}",
                    size / packed.max(1)
                )));
            }
            total += size;
            if total > MAX_XML_BYTES {
                return Err(self.bomb(format!(
                    "its parts inflate to more than {MAX_XML_BYTES} bytes"
                )));
            }
        }
        Ok(())
    }

    fn invalid(&self, message: String) -> ExtractError {
        ExtractError::Invalid(format!("'{}' {message}", self.filename))
    }

    fn bomb(&self, why: String) -> ExtractError {
        self.invalid(format!("is refused as a zip bomb: {why}"))
    }

    /// The text of the part at `path` (no leading '/'), or `None` when the archive lacks it.
    pub(crate) fn part(&mut self, path: &str) -> Result<Option<String>, ExtractError> {
        let filename = self.filename;
        let unreadable = |why: String| {
            ExtractError::Invalid(format!(
                "'{filename}' has a part '{path}' that cannot be read: {why}"
            ))
        };
        let mut bytes = Vec::new();
        match self.zip.by_name(path) {
            Ok(mut entry) => {
                // The declared size was checked; zip fails an entry that inflates past it, and
                // this bound holds whatever it does.
                (&mut entry)
                    .take(MAX_PART_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| unreadable(e.to_string()))?;
            }
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(unreadable(e.to_string())),
        }
        if bytes.len() as u64 > MAX_PART_BYTES {
            return Err(self.bomb(format!("its part '{path}' inflates past its bound")));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| self.invalid(format!("has a part '{path}' that is not UTF-8 XML")))?;
        Ok(Some(match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        }))
    }

    /// The relationships of the part at `path` (`""`: the package's own), as (id, type's last
    /// segment, target resolved to a part path), in document order, internal targets only.
    pub(crate) fn relationships(
        &mut self,
        path: &str,
    ) -> Result<Vec<(String, String, String)>, ExtractError> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let rels_path = if dir.is_empty() {
            format!("_rels/{name}.rels")
        } else {
            format!("{dir}/_rels/{name}.rels")
        };
        let Some(xml) = self.part(&rels_path)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut reader = xml::Xml::new(self.filename, &rels_path, &xml);
        while let Some(node) = reader.next()? {
            let xml::Node::Open(e) = node else { continue };
            if xml::local(&e) != "Relationship"
                || xml::attr(&e, "TargetMode").as_deref() == Some("External")
            {
                continue;
            }
            let (Some(id), Some(kind), Some(target)) = (
                xml::attr(&e, "Id"),
                xml::attr(&e, "Type"),
                xml::attr(&e, "Target"),
            ) else {
                continue;
            };
            let kind = kind.rsplit('/').next().unwrap_or_default().to_string();
            out.push((id, kind, resolve(dir, &target)));
        }
        Ok(out)
    }

    /// The package's main part (its `officeDocument` relationship), or `fallback`.
    pub(crate) fn main_part(&mut self, fallback: &str) -> Result<String, ExtractError> {
        Ok(self
            .relationships("")?
            .into_iter()
            .find(|(_, kind, _)| kind == "officeDocument")
            .map_or_else(|| fallback.to_string(), |(_, _, target)| target))
    }

    pub(crate) fn filename(&self) -> &'a str {
        self.filename
    }
}

/// Text in the making: blocks (headings, paragraphs) apart by a blank line, and runs of lines
/// of one kind (list items, table rows) line by line.
#[derive(Default)]
pub(crate) struct Text {
    out: String,
    last: Option<Block>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Paragraph,
    Item,
    Row,
}

impl Text {
    fn add(&mut self, block: Block, text: &str) {
        if !self.out.is_empty() {
            let together = block != Block::Paragraph && self.last == Some(block);
            self.out.push_str(if together { "\n" } else { "\n\n" });
        }
        self.out.push_str(text);
        self.last = Some(block);
    }

    pub(crate) fn heading(&mut self, level: usize, text: &str) {
        let marks = "#".repeat(level.clamp(1, 6));
        self.add(
            Block::Paragraph,
            &format!("{marks} {}", text.replace('\n', " ")),
        );
    }

    pub(crate) fn paragraph(&mut self, text: &str) {
        self.add(Block::Paragraph, text);
    }

    pub(crate) fn item(&mut self, level: usize, text: &str) {
        self.add(Block::Item, &format!("{}- {text}", "  ".repeat(level)));
    }

    pub(crate) fn row(&mut self, line: &str) {
        self.add(Block::Row, line);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Whether an OLE compound file holds an `EncryptedPackage` stream (its directory names are
/// UTF-16).
fn is_encrypted(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.windows(name.len()).any(|w| w == name.as_slice())
}

/// A relationship's target as a part path: absolute ones from the package's root, relative ones
/// from `dir`, with `.` and `..` segments resolved.
fn resolve(dir: &str, target: &str) -> String {
    let mut segments: Vec<&str> = match target.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => dir.split('/').filter(|s| !s.is_empty()).collect(),
    };
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

#[cfg(test)]
mod tests;
