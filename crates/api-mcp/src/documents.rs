//! Documents indexed without a file (through `/v1/api` or `/v2`): `search` finds them by their
//! chunks as it finds a file's, and `fetch` and `get_file_content` give their chunks' text,
//! joined in order.

use serde_json::{Map, Value};
use service::CollectionRecord;

use crate::tools::{VectorStoreMcp, message};

/// A document's text, and what `fetch` tells of it.
pub(crate) struct Document {
    /// The name its chunks carry, or else its id.
    pub title: String,
    /// Its first chunk's attributes.
    pub attributes: Map<String, Value>,
    pub text: String,
    /// Whether `text` stops short of the whole.
    pub truncated: bool,
}

/// Cuts `text` after `max_chars` characters; whether it was longer.
pub(crate) fn cut_chars(text: &mut String, max_chars: Option<u32>) -> bool {
    if let Some(c) = max_chars
        && let Some((end, _)) = text.char_indices().nth(c as usize)
    {
        text.truncate(end);
        return true;
    }
    false
}

impl VectorStoreMcp {
    /// Document `id` of `store`: its text, at most `max_bytes` bytes and `max_chars`
    /// characters. `None` when the store holds no chunk of it.
    pub(crate) async fn document(
        &self,
        store: &CollectionRecord,
        id: &str,
        max_bytes: usize,
        max_chars: Option<u32>,
    ) -> Result<Option<Document>, String> {
        let chunks = self
            .ingest
            .vectors()
            .file_chunks(store, id)
            .await
            .map_err(message)?;
        let Some(first) = chunks.first() else {
            return Ok(None);
        };
        let mut text = String::new();
        let mut truncated = false;
        for chunk in &chunks {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&chunk.text);
            if text.len() > max_bytes {
                let mut end = max_bytes;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                truncated = true;
                break;
            }
        }
        truncated |= cut_chars(&mut text, max_chars);
        Ok(Some(Document {
            title: first.filename.clone().unwrap_or_else(|| id.into()),
            attributes: first.attributes.clone(),
            text,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_cut_on_characters() {
        let mut text = "héllo 🐋 sea".to_string();
        assert!(!cut_chars(&mut text, None));
        assert!(!cut_chars(&mut text, Some(11)));
        assert!(cut_chars(&mut text, Some(7)));
        assert_eq!(text, "héllo 🐋");
    }
}
