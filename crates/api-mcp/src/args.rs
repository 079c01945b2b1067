//! The tools' arguments and results. Their JSON schemas are what `tools/list` shows; a
//! result is sent as `structuredContent` and as the same JSON in a text block.

use rmcp::schemars::{self, JsonSchema};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::Validate;

/// `search`'s arguments (OpenAI's deep-research contract).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for, in natural language or keywords.
    pub query: String,
}

/// One file `search` found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResult {
    /// The handle `fetch` takes.
    pub id: String,
    /// The file's name.
    pub title: String,
    /// Where the file's text is served.
    pub url: String,
}

/// `search`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResults {
    /// The files found, most relevant first.
    pub results: Vec<SearchResult>,
}

/// `fetch`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// A handle `search` gave.
    pub id: String,
}

/// `fetch`'s result: one file's text.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FetchedDocument {
    pub id: String,
    pub title: String,
    /// The file's text (its first part, when it is long: `metadata.truncated`).
    pub text: String,
    pub url: String,
    /// The store and file ids, the file's attributes, and whether `text` is cut short.
    pub metadata: Map<String, Value>,
}

/// `list_vector_stores`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListStoresArgs {
    /// How many stores, 1 to 100 (20 by default).
    pub limit: Option<u32>,
    /// A store id: the page after it (the last id of the page before).
    pub after: Option<String>,
}

/// One vector store, as `list_vector_stores` shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StoreSummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub metadata: Map<String, Value>,
}

/// `list_vector_stores`'s result, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StoreList {
    pub data: Vec<StoreSummary>,
    /// Whether there are more: ask again with `after` set to `last_id`.
    pub has_more: bool,
    pub last_id: Option<String>,
}

/// One query or several.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum QueryArg {
    One(String),
    Many(Vec<String>),
}

/// `search_vector_store`'s arguments: those of `POST /v1/vector_stores/{id}/search`, and the
/// stores to search.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchStoreArgs {
    /// The vector stores to search (one or more).
    pub vector_store_ids: Vec<String>,
    /// The query, or several.
    pub query: QueryArg,
    /// The most hits to return, 1 to 50 (10 by default).
    pub max_num_results: Option<u32>,
    /// An attribute filter, as the Vector Stores API takes it (`{"type": "eq", "key": ...,
    /// "value": ...}`, or `{"type": "and"|"or", "filters": [...]}`).
    pub filters: Option<Map<String, Value>>,
    /// `{"ranker": "auto"|"none", "score_threshold": 0.0..1.0}`.
    pub ranking_options: Option<Map<String, Value>>,
    /// Rewrite the query with the configured chat model before searching.
    pub rewrite_query: Option<bool>,
    /// `"hybrid"` (keywords and meaning fused; the default), `"vector"` or `"keyword"`.
    pub search_mode: Option<String>,
}

/// One hit of `search_vector_store`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StoreHit {
    pub vector_store_id: String,
    pub file_id: String,
    pub filename: String,
    pub score: f32,
    pub attributes: Map<String, Value>,
    /// The chunk's text.
    pub text: String,
}

/// `search_vector_store`'s result: the hits, best first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StoreHits {
    /// The queries searched (rewritten, with `rewrite_query`).
    pub search_query: Vec<String>,
    pub data: Vec<StoreHit>,
}

/// `get_file_content`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileContentArgs {
    pub vector_store_id: String,
    pub file_id: String,
    /// The most characters to return (all that fit in one response by default).
    pub max_chars: Option<u32>,
}

/// `get_file_content`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileContent {
    pub vector_store_id: String,
    pub file_id: String,
    pub text: String,
    /// Whether the file's text goes on after `text`.
    pub truncated: bool,
}

/// `create_vector_store`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStoreArgs {
    pub name: String,
    /// Up to 16 string values.
    pub metadata: Option<Map<String, Value>>,
}

/// `create_vector_store`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedStore {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// `upload_text`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadTextArgs {
    pub vector_store_id: String,
    /// The file's name (`notes.md`, `faq.txt`): its extension says how it is read.
    pub filename: String,
    pub text: String,
    /// The file's attributes, for filters (up to 16).
    pub attributes: Option<Map<String, Value>>,
}

/// `upload_text`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UploadedText {
    pub vector_store_id: String,
    pub file_id: String,
    /// `in_progress` until the file is ingested (`get_file_content` reads it then).
    pub status: String,
}

/// `fields` read as the HTTP API's body `T` and validated as the API validates it.
pub(crate) fn body<T: DeserializeOwned + Validate>(
    fields: Map<String, Value>,
) -> Result<T, String> {
    let body: T = serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())?;
    body.validate().map_err(|e| e.to_string())?;
    Ok(body)
}

/// Where the first key or string of `fields` holding a NUL is (a dotted path), if one does: no
/// store keeps a NUL, so such an argument is refused, as the HTTP API refuses it in a body.
/// `fields` came from JSON, whose parser bounds how deep it nests.
pub(crate) fn nul_at(fields: &Map<String, Value>) -> Option<String> {
    fn object(fields: &Map<String, Value>, prefix: &str) -> Option<String> {
        fields.iter().find_map(|(key, value)| {
            let path = match prefix {
                "" => key.clone(),
                _ => format!("{prefix}.{key}"),
            };
            if key.contains('\0') {
                return Some(path);
            }
            walk(value, path)
        })
    }
    fn walk(value: &Value, path: String) -> Option<String> {
        match value {
            Value::String(s) => s.contains('\0').then_some(path),
            Value::Array(items) => {
                (items.iter().enumerate()).find_map(|(i, item)| walk(item, format!("{path}[{i}]")))
            }
            Value::Object(fields) => object(fields, &path),
            Value::Null | Value::Bool(_) | Value::Number(_) => None,
        }
    }
    object(fields, "")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_anywhere_in_the_arguments_is_found_with_its_path() {
        let at = |v: Value| nul_at(v.as_object().unwrap());
        assert_eq!(
            at(json!({"query": "fine", "n": 3, "f": [true, null]})),
            None
        );
        assert_eq!(at(json!({"query": "a\u{0}b"})).as_deref(), Some("query"));
        let deep = json!({"filters": {"filters": [{"value": "x"}, {"value": ["y", "\u{0}"]}]}});
        assert_eq!(at(deep).as_deref(), Some("filters.filters[1].value[1]"));
        assert_eq!(
            at(json!({"attributes": {"k\u{0}": 1}})).as_deref(),
            Some("attributes.k\u{0}")
        );
    }
}
