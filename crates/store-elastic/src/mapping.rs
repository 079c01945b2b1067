//! The index of a collection: its name, its strict mapping, and the document of a chunk.
//!
//! Attributes are kept twice: as given under `attributes` (stored, not indexed, handed back
//! unchanged) and typed under `attr` for filters, one sub-object per JSON type so that a key may
//! hold a string in one chunk and a number in another without a mapping conflict:
//! `attr.s.<key>` (keyword), `attr.n.<key>` (double), `attr.b.<key>` (boolean). Lists spread
//! their elements over those fields (Elasticsearch fields are multi-valued). Nested objects and
//! nulls are kept but not indexed, so no filter matches them, as in the reference semantics.

use serde_json::{Map, Value, json};
use store_core::{Chunk, CollectionSpec, PhysicalName, StoredChunk};

use crate::options::ElasticOptions;

/// Longest string attribute that is indexed for filters (longer ones are kept, not filterable).
pub const MAX_KEYWORD_LENGTH: usize = 8191;

/// The index holding the collection stored as `name`.
pub fn index_name(options: &ElasticOptions, name: &PhysicalName) -> String {
    format!("{}{name}", options.index_prefix)
}

/// The typed field an attribute key is indexed under. Elasticsearch reads dots in field names as
/// paths and refuses empty or blank names, so `%`, `.` and whitespace are percent-escaped and the
/// empty key is `%` (which no escaped key can be).
pub fn field_key(key: &str) -> String {
    if key.is_empty() {
        return "%".into();
    }
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if c == '%' || c == '.' || c.is_whitespace() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The three typed attribute families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Number,
    Bool,
}

impl AttrType {
    fn family(self) -> &'static str {
        match self {
            AttrType::String => "s",
            AttrType::Number => "n",
            AttrType::Bool => "b",
        }
    }
}

/// The full path of an attribute key's typed field.
pub fn attr_field(kind: AttrType, key: &str) -> String {
    format!("attr.{}.{}", kind.family(), field_key(key))
}

/// The body of the index-creation request; `shard_settings` is false on clusters that manage
/// shards themselves (Serverless refuses `number_of_shards` and `number_of_replicas`).
pub fn index_body(options: &ElasticOptions, spec: &CollectionSpec, shard_settings: bool) -> Value {
    let template = |name: &str, family: &str, mapping: Value| {
        json!({
            name: { "path_match": format!("attr.{family}.*"), "mapping": mapping }
        })
    };
    let family = json!({ "type": "object", "dynamic": true });
    let mut index =
        json!({ "mapping": { "total_fields": { "limit": options.total_fields_limit } } });
    if shard_settings {
        index["number_of_shards"] = json!(options.shards);
        index["number_of_replicas"] = json!(options.replicas);
    }
    json!({
        "settings": { "index": index },
        "mappings": {
            "dynamic": "strict",
            "_meta": { "dimension": spec.dimension, "schema": 1 },
            "dynamic_templates": [
                template(
                    "attr_strings",
                    "s",
                    json!({ "type": "keyword", "ignore_above": MAX_KEYWORD_LENGTH })
                ),
                template("attr_numbers", "n", json!({ "type": "double" })),
                template("attr_booleans", "b", json!({ "type": "boolean" })),
            ],
            "properties": {
                "chunk_id": { "type": "keyword" },
                "file_id": { "type": "keyword" },
                "filename": { "type": "keyword", "index": false },
                "chunk_index": { "type": "integer" },
                "text": { "type": "text", "analyzer": options.analyzer },
                "text_bytes": { "type": "long" },
                "embedding": {
                    "type": "dense_vector",
                    "dims": spec.dimension,
                    "index": true,
                    "similarity": "cosine",
                    "index_options": {
                        "type": "hnsw",
                        "m": options.hnsw_m,
                        "ef_construction": options.hnsw_ef_construction
                    }
                },
                "attributes": { "type": "object", "enabled": false },
                "attr": {
                    "properties": { "s": family, "n": family, "b": family }
                }
            }
        }
    })
}

/// The dimension an existing index was made with, read from its mapping response
/// (`{ "<index>": { "mappings": { ... } } }`).
pub fn mapped_dimension(mapping_response: &Value) -> Option<usize> {
    let mappings = mapping_response
        .as_object()?
        .values()
        .next()?
        .get("mappings")?;
    mappings
        .pointer("/properties/embedding/dims")
        .or_else(|| mappings.pointer("/_meta/dimension"))
        .and_then(Value::as_u64)
        .map(|d| d as usize)
}

/// The typed copy of `attributes` that filters read, `{"s": …, "n": …, "b": …}`.
pub fn typed_attributes(attributes: &Map<String, Value>) -> Value {
    let mut typed = [Map::new(), Map::new(), Map::new()];
    for (key, value) in attributes {
        let elements: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            v @ (Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_)
            | Value::Object(_)) => vec![v],
        };
        for v in elements {
            let (slot, indexed) = match v {
                Value::String(_) => (0, v.clone()),
                Value::Number(n) => match n.as_f64() {
                    Some(f) => (1, json!(f)),
                    None => continue,
                },
                Value::Bool(_) => (2, v.clone()),
                Value::Null | Value::Array(_) | Value::Object(_) => continue,
            };
            let field = field_key(key);
            match typed[slot].get_mut(&field) {
                Some(Value::Array(list)) => list.push(indexed),
                Some(single) => *single = json!([single.take(), indexed]),
                None => {
                    typed[slot].insert(field, indexed);
                }
            }
        }
    }
    let [s, n, b] = typed;
    json!({ "s": s, "n": n, "b": b })
}

/// The document of a chunk.
pub fn document(chunk: &Chunk) -> Value {
    json!({
        "chunk_id": chunk.id,
        "file_id": chunk.file_id,
        "filename": chunk.filename,
        "chunk_index": chunk.chunk_index,
        "text": chunk.text,
        "text_bytes": chunk.text.len(),
        "embedding": chunk.vector,
        "attributes": chunk.attributes,
        "attr": typed_attributes(&chunk.attributes)
    })
}

/// The fields a search reads back (never the vector).
pub const SOURCE_FIELDS: [&str; 6] = [
    "chunk_id",
    "file_id",
    "filename",
    "chunk_index",
    "text",
    "attributes",
];

/// A chunk from a hit's `_source` (with [`SOURCE_FIELDS`]); `None` when the document is not one
/// this back-end wrote.
pub fn stored_chunk(source: &Value) -> Option<StoredChunk> {
    Some(StoredChunk {
        id: source.get("chunk_id")?.as_str()?.to_string(),
        file_id: source.get("file_id")?.as_str()?.to_string(),
        filename: source
            .get("filename")
            .and_then(Value::as_str)
            .map(str::to_string),
        chunk_index: u32::try_from(source.get("chunk_index")?.as_u64()?).ok()?,
        text: source.get("text")?.as_str()?.to_string(),
        attributes: source
            .get("attributes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(attributes: Value) -> Chunk {
        Chunk {
            id: "c1".into(),
            file_id: "f1".into(),
            filename: Some("a.txt".into()),
            chunk_index: 3,
            text: "héllo".into(),
            vector: vec![0.5, -1.0],
            attributes: attributes.as_object().cloned().unwrap(),
        }
    }

    #[test]
    fn keys_that_elasticsearch_would_misread_are_escaped_unambiguously() {
        assert_eq!(field_key("lang"), "lang");
        assert_eq!(field_key("città"), "città");
        assert_eq!(field_key("a.b"), "a%2Eb");
        assert_eq!(field_key("50%"), "50%25");
        assert_eq!(field_key(" "), "%20");
        assert_eq!(field_key(""), "%");
        assert_ne!(field_key("a.b"), field_key("a%2Eb"));
        assert_eq!(attr_field(AttrType::Number, "a.b"), "attr.n.a%2Eb");
    }

    #[test]
    fn the_index_body_is_strict_with_a_cosine_hnsw_vector_of_the_collection_dimension() {
        let options = ElasticOptions::default();
        let spec = CollectionSpec::new("vs_x", 384).unwrap();
        assert_eq!(index_name(&options, &spec.name), "vectorstore_vs_x");
        let body = index_body(&options, &spec, true);
        let m = &body["mappings"];
        assert_eq!(m["dynamic"], "strict");
        assert_eq!(
            m["properties"]["embedding"],
            json!({"type": "dense_vector", "dims": 384, "index": true, "similarity": "cosine",
                   "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100}})
        );
        assert_eq!(
            m["properties"]["text"],
            json!({"type": "text", "analyzer": "english"})
        );
        assert_eq!(
            m["dynamic_templates"][1],
            json!({"attr_numbers": {"path_match": "attr.n.*", "mapping": {"type": "double"}}})
        );
        assert_eq!(m["properties"]["attributes"]["enabled"], false);
        assert_eq!(
            body["settings"]["index"]["mapping"]["total_fields"]["limit"],
            10_000
        );
        assert_eq!(body["settings"]["index"]["number_of_shards"], 1);
        assert_eq!(body["settings"]["index"]["number_of_replicas"], 1);
        let response = json!({"vectorstore_vs_x": body});
        assert_eq!(mapped_dimension(&response), Some(384));
    }

    #[test]
    fn a_cluster_that_manages_shards_gets_no_shard_settings() {
        let spec = CollectionSpec::new("vs_x", 3).unwrap();
        let body = index_body(&ElasticOptions::default(), &spec, false);
        assert_eq!(
            body["settings"],
            json!({"index": {"mapping": {"total_fields": {"limit": 10_000}}}})
        );
    }

    #[test]
    fn a_document_types_each_attribute_and_keeps_the_original() {
        let attrs = json!({"lang": "en", "n": 5, "ok": true, "tags": ["a", 2, false, "b"],
                           "a.b": 1.5, "nested": {"x": 1}, "gone": null});
        let doc = document(&chunk(attrs.clone()));
        assert_eq!(doc["attributes"], attrs);
        assert_eq!(
            doc["attr"],
            json!({
                "s": {"lang": "en", "tags": ["a", "b"]},
                "n": {"n": 5.0, "tags": 2.0, "a%2Eb": 1.5},
                "b": {"ok": true, "tags": false}
            })
        );
        assert_eq!(doc["text_bytes"], 6, "UTF-8 bytes, not characters");
        assert_eq!(doc["chunk_index"], 3);
        assert_eq!(doc["embedding"], json!([0.5, -1.0]));
    }

    #[test]
    fn a_stored_chunk_reads_back_from_the_source() {
        let c = chunk(json!({"k": "v"}));
        let doc = document(&c);
        let back = stored_chunk(&doc).unwrap();
        assert_eq!(back.id, c.id);
        assert_eq!(back.filename.as_deref(), Some("a.txt"));
        assert_eq!(back.chunk_index, 3);
        assert_eq!(back.attributes, c.attributes);
        assert!(stored_chunk(&json!({"text": "x"})).is_none());
    }
}
