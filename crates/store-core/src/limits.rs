//! One set of limits on what is stored, the same on every back-end, checked before any back-end
//! is called (and again by each back-end, so that nothing it cannot hold reaches it).
//!
//! - ids (of chunks and files) are at most [`MAX_ID_BYTES`] bytes of UTF-8: Elasticsearch's
//!   `_id` limit, so an id of 200 emoji is refused on every back-end alike;
//! - a chunk's text is at most the configured number of bytes, never more than
//!   [`MAX_TEXT_BYTES`] (PostgreSQL's `tsvector` of a text must stay under 1 MB);
//! - no text, id, filename, attribute key or string holds NUL (U+0000), which PostgreSQL cannot
//!   store;
//! - attribute numbers are of magnitude at most [`MAX_NUMBER`] (1e308), which PostgreSQL's
//!   `jsonb` hands back as a decimal that still reads as a 64-bit float;
//! - attribute string values are at most [`MAX_ATTRIBUTE_STRING_UNITS`] UTF-16 code units: the
//!   longest keyword Elasticsearch indexes (`ignore_above` counts UTF-16 units, so a character
//!   outside the Basic Multilingual Plane, like most emoji, counts two), so a filter finds them
//!   on every back-end;
//! - one collection's chunks use at most [`MAX_ATTRIBUTE_KEYS`] distinct attribute keys (the
//!   catalog counts them before a write reaches the back-end);
//! - a keyword search reads the first [`MAX_KEYWORD_TERMS`] words of its query
//!   ([`keyword_terms`]): Elasticsearch makes a clause of each word and refuses a query past
//!   1,024 clauses, filters included.

use serde_json::{Map, Value};

pub use models::validation::MAX_NUMBER;
use models::validation::number_in_range;

use crate::field::{DocumentPart, Field};
use crate::store::Chunk;

/// The longest id, in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 512;
/// The most text one chunk may hold, whatever is configured.
pub const MAX_TEXT_BYTES: usize = 524_288;
/// The default limit on one chunk's (or document's) text.
pub const DEFAULT_TEXT_BYTES: usize = 262_144;
/// The longest attribute string value, in UTF-16 code units.
pub const MAX_ATTRIBUTE_STRING_UNITS: usize = 8191;
/// The most distinct attribute keys one collection's chunks may use, on every back-end
/// (Elasticsearch maps each key to up to three fields of the index, under its 10,000-field
/// limit).
pub const MAX_ATTRIBUTE_KEYS: usize = 1000;

/// The most words a keyword search reads from its query.
pub const MAX_KEYWORD_TERMS: usize = 256;

/// `text` up to the end of its [`MAX_KEYWORD_TERMS`]th word (a word being a run of letters and
/// digits, as the analyzers of both back-ends split them), unchanged when it has no more.
pub fn keyword_terms(text: &str) -> &str {
    let mut words = 0;
    let mut in_word = false;
    for (at, c) in text.char_indices() {
        let letter = c.is_alphanumeric();
        if in_word && !letter {
            words += 1;
            if words == MAX_KEYWORD_TERMS {
                return &text[..at];
            }
        }
        in_word = letter;
    }
    text
}

/// Which limit a chunk broke, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field_name} {message}", field_name = field.as_str())]
pub struct LimitExceeded {
    pub field: DocumentPart,
    pub message: String,
}

fn exceeded(field: DocumentPart, message: impl Into<String>) -> LimitExceeded {
    LimitExceeded {
        field,
        message: message.into(),
    }
}

fn no_nul(field: DocumentPart, s: &str) -> Result<(), LimitExceeded> {
    if s.contains('\0') {
        return Err(exceeded(
            field,
            "contains a NUL character (U+0000), which cannot be stored",
        ));
    }
    Ok(())
}

fn id(field: DocumentPart, s: &str) -> Result<(), LimitExceeded> {
    no_nul(field, s)?;
    if s.len() > MAX_ID_BYTES {
        return Err(exceeded(
            field,
            format!(
                "is {} bytes long; ids are at most {MAX_ID_BYTES} bytes of UTF-8",
                s.len()
            ),
        ));
    }
    Ok(())
}

fn attribute_value(v: &Value) -> Result<(), LimitExceeded> {
    match v {
        Value::String(s) => {
            no_nul(DocumentPart::Attributes, s)?;
            if s.encode_utf16().count() > MAX_ATTRIBUTE_STRING_UNITS {
                return Err(exceeded(
                    DocumentPart::Attributes,
                    format!(
                        "strings are at most {MAX_ATTRIBUTE_STRING_UNITS} UTF-16 code units (a \
                         character outside the Basic Multilingual Plane, like most emoji, \
                         counts two)"
                    ),
                ));
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(attribute_value),
        Value::Object(m) => attributes(m),
        Value::Number(n) if n.as_f64().is_some_and(number_in_range) => Ok(()),
        Value::Number(_) => Err(exceeded(
            DocumentPart::Attributes,
            format!("numbers are of magnitude at most {MAX_NUMBER:e}"),
        )),
        Value::Null | Value::Bool(_) => Ok(()),
    }
}

/// The limits on a chunk's attributes.
pub fn attributes(map: &Map<String, Value>) -> Result<(), LimitExceeded> {
    map.iter().try_for_each(|(k, v)| {
        no_nul(DocumentPart::Attributes, k)?;
        attribute_value(v)
    })
}

/// The limits on one document before it is embedded: its text at most `max_text_bytes`
/// (capped at [`MAX_TEXT_BYTES`]).
pub fn document(
    doc_id: &str,
    file_id: &str,
    filename: Option<&str>,
    text: &str,
    attrs: &Map<String, Value>,
    max_text_bytes: usize,
) -> Result<(), LimitExceeded> {
    id(DocumentPart::Id, doc_id)?;
    id(DocumentPart::FileId, file_id)?;
    if let Some(f) = filename {
        no_nul(DocumentPart::Filename, f)?;
    }
    no_nul(DocumentPart::Text, text)?;
    let max = max_text_bytes.min(MAX_TEXT_BYTES);
    if text.len() > max {
        return Err(exceeded(
            DocumentPart::Text,
            format!(
                "is {} bytes long; a document's text is at most {max} bytes",
                text.len()
            ),
        ));
    }
    attributes(attrs)
}

impl From<LimitExceeded> for crate::StoreError {
    fn from(e: LimitExceeded) -> Self {
        crate::StoreError::invalid_field(Field::Chunk(e.field), e.to_string())
    }
}

impl Chunk {
    /// The limits every back-end holds it to.
    pub fn check_limits(&self) -> Result<(), LimitExceeded> {
        document(
            &self.id,
            &self.file_id,
            self.filename.as_deref(),
            &self.text,
            &self.attributes,
            MAX_TEXT_BYTES,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(id_: &str, text: &str, attrs: Value) -> Result<(), LimitExceeded> {
        document(
            id_,
            "f",
            None,
            text,
            attrs.as_object().unwrap(),
            DEFAULT_TEXT_BYTES,
        )
    }

    #[test]
    fn ids_are_bounded_in_bytes_not_characters() {
        assert!(check(&"é".repeat(256), "t", json!({})).is_ok());
        let e = check(&"😀".repeat(200), "t", json!({})).unwrap_err();
        assert_eq!(e.field, DocumentPart::Id);
        assert!(e.message.contains("800 bytes"), "{e}");
    }

    #[test]
    fn nul_is_refused_everywhere() {
        assert_eq!(
            check("a\0b", "t", json!({})).unwrap_err().field,
            DocumentPart::Id
        );
        assert_eq!(
            check("a", "t\0", json!({})).unwrap_err().field,
            DocumentPart::Text
        );
        assert_eq!(
            check("a", "t", json!({"k": [1, 1.7976931348623157e308]}))
                .unwrap_err()
                .field,
            DocumentPart::Attributes
        );
        assert!(check("a", "t", json!({"k": [1e308, -1e308]})).is_ok());
        assert_eq!(
            check("a", "t", json!({"k\u{0}": 1})).unwrap_err().field,
            DocumentPart::Attributes
        );
        assert_eq!(
            check("a", "t", json!({"k": ["x", "y\u{0}"]}))
                .unwrap_err()
                .field,
            DocumentPart::Attributes
        );
    }

    #[test]
    fn text_over_the_limit_is_refused_and_the_cap_holds() {
        assert!(check("a", &"x".repeat(DEFAULT_TEXT_BYTES), json!({})).is_ok());
        let e = check("a", &"x".repeat(DEFAULT_TEXT_BYTES + 1), json!({})).unwrap_err();
        assert_eq!(e.field, DocumentPart::Text);
        let big = "x".repeat(MAX_TEXT_BYTES + 1);
        assert!(document("a", "f", None, &big, &Map::new(), usize::MAX).is_err());
    }

    #[test]
    fn a_keyword_query_keeps_its_first_words_cut_between_characters() {
        assert_eq!(keyword_terms(""), "");
        assert_eq!(keyword_terms("a fox, a cat!"), "a fox, a cat!");
        let many: Vec<String> = (0..MAX_KEYWORD_TERMS + 10)
            .map(|i| format!("é{i}"))
            .collect();
        let joined = many.join("—");
        assert_eq!(keyword_terms(&joined), many[..MAX_KEYWORD_TERMS].join("—"));
        let exact = many[..MAX_KEYWORD_TERMS].join(" ");
        assert_eq!(keyword_terms(&exact), exact);
        let emoji = "😀 ".repeat(1000);
        assert_eq!(keyword_terms(&emoji), emoji, "no letters, no words");
    }

    #[test]
    fn attribute_strings_are_bounded_like_a_keyword() {
        let ok = "é".repeat(MAX_ATTRIBUTE_STRING_UNITS);
        assert!(check("a", "t", json!({ "k": ok })).is_ok());
        let long = "e".repeat(MAX_ATTRIBUTE_STRING_UNITS + 1);
        assert!(check("a", "t", json!({ "k": long })).is_err());
        // Elasticsearch's `ignore_above` counts UTF-16 units: an emoji is two.
        let emoji = |n: usize| json!({ "k": format!("{}v", "😀".repeat(n)) });
        assert!(check("a", "t", emoji(MAX_ATTRIBUTE_STRING_UNITS / 2)).is_ok());
        let e = check("a", "t", emoji(MAX_ATTRIBUTE_STRING_UNITS / 2 + 1)).unwrap_err();
        assert!(e.message.contains("UTF-16"), "{e}");
    }
}
