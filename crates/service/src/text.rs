//! Text extraction and chunking for ingestion.
//!
//! Formats by file extension: plain text, Markdown, CSV/TSV, JSON, source code and other text
//! formats as UTF-8; HTML as its text only; PDF through a pure-Rust extractor; Word, PowerPoint
//! and Excel files (Office Open XML) as their text in reading order. Anything else is
//! `unsupported_file`; unreadable content is `invalid_file`. Chunks are windows of OpenAI's
//! `cl100k_base` tokens.

use std::ops::Range;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
}

const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "ndjson", "xml", "yaml",
    "yml", "toml", "ini", "cfg", "log", "tex", "rs", "py", "js", "mjs", "ts", "tsx", "jsx", "java",
    "kt", "scala", "c", "h", "cc", "cpp", "hpp", "cs", "go", "rb", "php", "swift", "sh", "bash",
    "sql", "css", "scss", "lua", "pl", "r", "m", "dart", "vue", "svelte",
];

fn extension(filename: &str) -> Option<String> {
    let (_, ext) = filename.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// Whether `filename`'s format is read by a third-party parser (PDF, HTML, Office), which runs
/// in the extraction sandbox; the text formats are checked here, in process.
pub fn needs_parser(filename: &str) -> bool {
    matches!(
        extension(filename).as_deref(),
        Some("pdf" | "html" | "htm" | "xhtml" | "docx" | "pptx" | "xlsx")
    )
}

/// The text of a file. Blocking (PDF parsing can be slow): call from a blocking thread.
pub fn extract(filename: &str, bytes: &[u8]) -> Result<String, ExtractError> {
    let ext = extension(filename).ok_or_else(|| {
        ExtractError::Unsupported(format!(
            "'{filename}' has no extension to tell its format by"
        ))
    })?;
    let text = match ext.as_str() {
        "pdf" => pdf_extract::extract_text_from_mem(bytes).map_err(|e| {
            ExtractError::Invalid(format!("'{filename}' is not a readable PDF: {e}"))
        })?,
        "html" | "htm" | "xhtml" => {
            let html = utf8(filename, bytes)?;
            html2text::from_read(html.as_bytes(), usize::MAX / 4).map_err(|e| {
                ExtractError::Invalid(format!("'{filename}' is not readable HTML: {e}"))
            })?
        }
        "docx" | "pptx" | "xlsx" => {
            let kind = crate::office::Kind::from_extension(&ext).expect("an Office extension");
            crate::office::extract(kind, filename, bytes)?
        }
        "doc" | "ppt" | "xls" => {
            return Err(ExtractError::Unsupported(format!(
                "'.{ext}' files (the binary formats of Office 97–2003) are not supported: save \
                 '{filename}' as .{ext}x"
            )));
        }
        e if TEXT_EXTENSIONS.contains(&e) => {
            let text = utf8(filename, bytes)?;
            if e == "json" {
                check_json(&text).map_err(|err| {
                    ExtractError::Invalid(format!("'{filename}' is not valid JSON: {err}"))
                })?;
            }
            text
        }
        other => {
            return Err(ExtractError::Unsupported(format!(
                "files of type '.{other}' are not supported"
            )));
        }
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Invalid(format!(
            "no text could be extracted from '{filename}'"
        )));
    }
    Ok(text)
}

/// Whether `text` is one JSON document within the parser's depth limit, read through without
/// building a tree of it (memory stays flat whatever the document).
fn check_json(text: &str) -> Result<(), serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    models::walk::Walk(|_, _| Ok(())).deserialize(&mut de)?;
    de.end()
}

fn utf8(filename: &str, bytes: &[u8]) -> Result<String, ExtractError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ExtractError::Invalid(format!("'{filename}' is not valid UTF-8 text")))?;
    if text.contains('\0') {
        return Err(ExtractError::Invalid(format!(
            "'{filename}' holds binary data"
        )));
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string())
}

fn cl100k() -> &'static tiktoken_rs::CoreBPE {
    static BPE: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| {
        tiktoken_rs::cl100k_base().expect("the cl100k_base encoding ships with tiktoken-rs")
    })
}

/// Most bytes tokenised in one call: a segment of the text, cut at a word's end.
const SEGMENT_BYTES: usize = 4096;
/// Most bytes between two places a segment may be cut (a word's end). Byte-pair merging is
/// quadratic in the length of one pre-token, so a longer stretch without white space (one
/// crafted "word", or a paragraph of CJK) is cut every this many bytes, at a character boundary.
const MAX_STRETCH: usize = 128;

/// The segments `text` is tokenised in: at most about [`SEGMENT_BYTES`] each, cut before the
/// white space that ends a word, and no stretch between two such cuts longer than
/// [`MAX_STRETCH`]. Tokens are the same as the whole text's but at the rare forced cuts.
fn segments(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut cut, mut after_word) = (0, 0, false);
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && after_word {
            cut = i;
        }
        after_word = !space;
        let end = i + c.len_utf8();
        if end - cut > MAX_STRETCH {
            if i > start {
                out.push(start..i);
            }
            (start, cut) = (i, i);
        } else if end - start > SEGMENT_BYTES && cut > start {
            out.push(start..cut);
            start = cut;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// The tokens of `text`, each with the byte offset where it starts (and `text.len()` last).
fn tokens_with_offsets(text: &str) -> (Vec<u32>, Vec<usize>) {
    let bpe = cl100k();
    let mut tokens = Vec::new();
    let mut offsets = Vec::new();
    for segment in segments(text) {
        let mut at = segment.start;
        for t in bpe.encode_ordinary(&text[segment]) {
            offsets.push(at);
            at += bpe
                .decode_bytes(std::slice::from_ref(&t))
                .map_or(0, |b| b.len());
            tokens.push(t);
        }
    }
    offsets.push(text.len());
    (tokens, offsets)
}

/// Windows of at most `max_tokens` tokens, each starting `max_tokens - overlap` after the last,
/// as slices of `text` (trimmed of surrounding white space). A token may end inside a
/// character (byte-level tokens split CJK and emoji): a window's edges move forward to the next
/// character boundary, so no character is cut and consecutive windows still meet or overlap.
///
/// Time and memory are linear in the text, whatever it holds (see [`segments`]). Blocking for
/// a long text: call it from a blocking thread.
pub fn chunk(text: &str, max_tokens: usize, overlap: usize) -> Vec<&str> {
    chunk_spans(text, max_tokens, overlap)
        .into_iter()
        .map(|r| &text[r])
        .collect()
}

/// The windows of [`chunk`], as byte ranges of `text`.
pub fn chunk_spans(text: &str, max_tokens: usize, overlap: usize) -> Vec<Range<usize>> {
    let (tokens, offsets) = tokens_with_offsets(text);
    let boundary = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let max = max_tokens.max(1);
    let step = max.saturating_sub(overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < tokens.len() {
        let end = (start + max).min(tokens.len());
        let (from, to) = (boundary(offsets[start]), boundary(offsets[end]));
        let piece = &text[from..to];
        let trimmed = piece.trim_start();
        let first = from + (piece.len() - trimmed.len());
        let last = first + trimmed.trim_end().len();
        if first < last {
            out.push(first..last);
        }
        if end == tokens.len() {
            break;
        }
        start += step;
    }
    out
}

/// Tokens of `text` in `cl100k_base` (as [`chunk`] counts them).
pub fn count_tokens(text: &str) -> usize {
    segments(text)
        .into_iter()
        .map(|s| cl100k().encode_ordinary(&text[s]).len())
        .sum()
}

/// Files made to hurt a parser, for tests.
#[doc(hidden)]
pub mod fixtures {
    /// A PDF of the given objects (numbered from 1, the first the catalog), xref offsets computed.
    pub fn pdf(objects: &[String]) -> Vec<u8> {
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    fn stream(dict: &str, content: &str) -> String {
        format!(
            "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
    }

    /// A one-page PDF with the standard Helvetica font showing `text`.
    pub fn tiny_pdf(text: &str) -> Vec<u8> {
        pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << \
             /Font << /F1 5 0 R >> >> >>"
                .into(),
            stream("", &format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET")),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
        ])
    }

    /// A page that draws a Form XObject that draws itself: a parser that follows `Do` without
    /// a depth limit recurses until its stack runs out.
    pub fn self_drawing_pdf() -> Vec<u8> {
        pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << \
             /XObject << /X1 5 0 R >> >> >>"
                .into(),
            stream("", "/X1 Do"),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X1 5 \
                 0 R >> >>",
                "/X1 Do",
            ),
        ])
    }

    /// `depth` nested elements around one word.
    pub fn nested_html(depth: usize) -> Vec<u8> {
        let mut html = String::with_capacity(depth * 11 + 64);
        html.push_str("<html><body>");
        for _ in 0..depth {
            html.push_str("<div>");
        }
        html.push_str("deep");
        for _ in 0..depth {
            html.push_str("</div>");
        }
        html.push_str("</body></html>");
        html.into_bytes()
    }

    /// `depth` nested JSON arrays.
    pub fn nested_json(depth: usize) -> Vec<u8> {
        let mut json = "[".repeat(depth);
        json.push_str(&"]".repeat(depth));
        json.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::tiny_pdf;
    use super::*;

    #[test]
    fn text_formats_are_read_as_utf8() {
        assert_eq!(
            extract("a.md", "# Title\nbody".as_bytes()).unwrap(),
            "# Title\nbody"
        );
        assert_eq!(extract("A.CSV", b"a,b\n1,2").unwrap(), "a,b\n1,2");
        assert_eq!(
            extract("x.rs", "fn main() {}".as_bytes()).unwrap(),
            "fn main() {}"
        );
        assert_eq!(extract("bom.txt", "\u{feff}hi".as_bytes()).unwrap(), "hi");
    }

    #[test]
    fn html_keeps_only_the_text() {
        let t = extract(
            "p.html",
            b"<html><head><style>p{color:red}</style></head>\
              <body><h1>Hello</h1><p>World &amp; more</p></body></html>",
        )
        .unwrap();
        assert!(t.contains("Hello") && t.contains("World & more"), "{t}");
        assert!(!t.contains("<p>") && !t.contains("color:red"), "{t}");
    }

    #[test]
    fn pdf_text_is_extracted() {
        let t = extract("doc.pdf", &tiny_pdf("Hello from a PDF about volcanoes")).unwrap();
        assert!(t.contains("Hello from a PDF about volcanoes"), "{t:?}");
    }

    #[test]
    fn bad_and_unknown_content_is_named() {
        assert!(matches!(
            extract("a.png", b"\x89PNG"),
            Err(ExtractError::Unsupported(_))
        ));
        assert!(matches!(
            extract("noext", b"text"),
            Err(ExtractError::Unsupported(_))
        ));
        assert!(matches!(
            extract("a.txt", b"\xff\xfe\x00"),
            Err(ExtractError::Invalid(_))
        ));
        assert!(matches!(
            extract("a.json", b"{not json"),
            Err(ExtractError::Invalid(_))
        ));
        assert!(matches!(
            extract("a.pdf", b"%PDF-1.4 garbage"),
            Err(ExtractError::Invalid(_))
        ));
        assert!(matches!(
            extract("a.txt", b"   \n"),
            Err(ExtractError::Invalid(_))
        ));
    }

    #[test]
    fn chunks_are_overlapping_token_windows() {
        let text = (0..300)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let total = count_tokens(&text);
        let chunks = chunk(&text, 100, 50);
        assert!(chunks.iter().all(|c| count_tokens(c) <= 101));
        assert_eq!(chunks.len(), (total - 100).div_ceil(50) + 1);
        assert!(chunks[0].starts_with("w0 ") && chunks.last().unwrap().ends_with("w299"));
        assert!(chunks[1].contains(&chunks[0][chunks[0].len() / 2 + 5..chunks[0].len() / 2 + 15]));
        assert_eq!(chunk("short text", 100, 50), vec!["short text"]);
        assert!(chunk("", 100, 50).is_empty());
    }

    #[test]
    fn segments_tile_the_text_and_bound_every_stretch() {
        let texts = [
            "a".repeat(10_000),
            "word ".repeat(3000),
            format!("{} tail", "鱻".repeat(2000)),
            " ".repeat(5000),
            format!("x {} y\n\n{}", "b".repeat(4000), "c d ".repeat(900)),
            String::new(),
        ];
        for text in &texts {
            let segs = segments(text);
            let mut at = 0;
            for s in &segs {
                assert_eq!(s.start, at);
                assert!(s.end > s.start);
                assert!(s.len() <= SEGMENT_BYTES + 4, "{}", s.len());
                assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
                at = s.end;
            }
            assert_eq!(at, text.len());
        }
        // Ordinary prose is cut only before white space, so its tokens are the whole text's.
        let prose = "The quick brown fox jumps over the lazy dog. ".repeat(400);
        assert!(segments(&prose).len() > 1);
        assert_eq!(count_tokens(&prose), cl100k().encode_ordinary(&prose).len());
    }

    #[test]
    fn one_long_word_is_chunked_in_linear_time() {
        // 4 MB of one letter: a single pre-token, quadratic for the merge if given whole.
        let word = "a".repeat(4 << 20);
        let chunks = chunk(&word, 800, 400);
        assert!(!chunks.is_empty());
        let (first, last) = (chunks[0], chunks[chunks.len() - 1]);
        assert_eq!(first.as_ptr(), word.as_ptr());
        assert_eq!(
            last.as_ptr() as usize + last.len(),
            word.as_ptr() as usize + word.len()
        );
    }

    #[test]
    fn json_is_checked_without_a_tree() {
        let zeros = format!("[{}0]", "0,".repeat(1 << 20));
        assert!(extract("z.json", zeros.as_bytes()).is_ok());
        assert!(matches!(
            extract("z.json", format!("[{}0", "0,".repeat(1000)).as_bytes()),
            Err(ExtractError::Invalid(_))
        ));
        // Nested past the parser's depth limit: refused, as a tree's parse would be.
        assert!(matches!(
            extract("deep.json", &fixtures::nested_json(100_000)),
            Err(ExtractError::Invalid(_))
        ));
        assert!(extract("ok.json", br#"{"a": [1, {"b": null}], "c": "d"}"#).is_ok());
    }

    #[test]
    fn unicode_survives_chunking() {
        let text = "東京タワー ".repeat(200);
        let joined: String = chunk(&text, 50, 0).concat();
        assert!(joined.contains("東京タワー"));
    }

    #[test]
    fn characters_split_across_token_windows_are_kept_whole() {
        // Emoji and rare CJK are several byte-level tokens each: small windows end inside them.
        let text = "🦀🦀🦀 鱻鱻鱻 🇯🇵🇯🇵 ".repeat(40);
        for (max, overlap) in [(3, 0), (4, 1), (7, 3), (16, 0)] {
            let chunks = chunk(&text, max, overlap);
            assert!(!chunks.is_empty());
            for c in &chunks {
                assert!(!c.contains('\u{fffd}'), "{c:?}");
                assert!(text.contains(c));
            }
            // Without overlap the windows tile the text: nothing is lost at their edges.
            if overlap == 0 {
                let joined: String = chunks.concat();
                let squeezed: String = text.split_whitespace().collect();
                assert_eq!(joined.split_whitespace().collect::<String>(), squeezed);
            }
        }
    }
}
