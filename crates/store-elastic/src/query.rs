//! Request bodies: the filter grammar compiled to a `bool` query, the `knn` and `match` searches,
//! and `_bulk` lines. Pure functions, unit-tested against the JSON they must produce.
//!
//! Filters follow `store_core::filter`'s reference rules: a comparison looks at the attribute's
//! typed field for the value's type (a number never equals a string), lists match when any element
//! does, and a missing key satisfies only `ne` and `nin` (they are `must_not`).
//!
//! Numbers are compared with `range` even for equality: real Elasticsearch compares a `term` on a
//! `double` field by value, but the Elasticsearch-API server the tests run against compares the
//! JSON spelling (`5` ≠ `5.0`). `range` with equal bounds is exact on both.

use serde_json::{Value, json};
use store_core::{Chunk, Comparison, Filter, FilterValue, Op, Scalar};

use crate::mapping::{AttrType, SOURCE_FIELDS, attr_field, document};

/// The query a filter compiles to.
pub fn filter_query(filter: &Filter) -> Value {
    match filter {
        Filter::And(all) => {
            json!({ "bool": { "filter": all.iter().map(filter_query).collect::<Vec<_>>() } })
        }
        Filter::Or(any) => any_of(any.iter().map(filter_query).collect()),
        Filter::Comparison(c) => comparison(c),
    }
}

fn comparison(c: &Comparison) -> Value {
    match (&c.op, &c.value) {
        (Op::Eq, FilterValue::Scalar(s)) => equals(&c.key, s),
        (Op::Ne, FilterValue::Scalar(s)) => none_of(vec![equals(&c.key, s)]),
        (Op::In, FilterValue::List(list)) => any_of(one_of(&c.key, list)),
        (Op::Nin, FilterValue::List(list)) => none_of(one_of(&c.key, list)),
        (op @ (Op::Gt | Op::Gte | Op::Lt | Op::Lte), FilterValue::Scalar(s)) => {
            let bound = match op {
                Op::Gt => "gt",
                Op::Gte => "gte",
                Op::Lt => "lt",
                Op::Eq | Op::Ne | Op::Lte | Op::In | Op::Nin => "lte",
            };
            match s {
                Scalar::String(v) => {
                    json!({ "range": { attr_field(AttrType::String, &c.key): { bound: v } } })
                }
                Scalar::Number(v) => {
                    json!({ "range": { attr_field(AttrType::Number, &c.key): { bound: v } } })
                }
                // The parser gives ranges only numbers and strings.
                Scalar::Bool(_) => match_none(),
            }
        }
        // The parser never builds these pairs.
        _ => match_none(),
    }
}

fn equals(key: &str, s: &Scalar) -> Value {
    match s {
        Scalar::String(v) => json!({ "term": { attr_field(AttrType::String, key): v } }),
        Scalar::Number(v) => {
            json!({ "range": { attr_field(AttrType::Number, key): { "gte": v, "lte": v } } })
        }
        Scalar::Bool(v) => json!({ "term": { attr_field(AttrType::Bool, key): v } }),
    }
}

/// A value list as one `terms` query per type present: one clause, where a `term` per value
/// would count each value against the cluster's clause limit.
fn one_of(key: &str, list: &[Scalar]) -> Vec<Value> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    let mut bools = Vec::new();
    for s in list {
        match s {
            Scalar::String(v) => strings.push(json!(v)),
            Scalar::Number(v) => numbers.push(json!(v)),
            Scalar::Bool(v) => bools.push(json!(v)),
        }
    }
    [
        (AttrType::String, strings),
        (AttrType::Number, numbers),
        (AttrType::Bool, bools),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(kind, values)| json!({ "terms": { attr_field(kind, key): values } }))
    .collect()
}

fn any_of(queries: Vec<Value>) -> Value {
    json!({ "bool": { "should": queries, "minimum_should_match": 1 } })
}

fn none_of(queries: Vec<Value>) -> Value {
    json!({ "bool": { "must_not": queries } })
}

fn match_none() -> Value {
    json!({ "match_none": {} })
}

/// Candidates a `knn` search considers for `k` hits: the configured number, never fewer than
/// 1.5 × k, never more than Elasticsearch's 10 000.
pub fn num_candidates(k: usize, configured: usize) -> usize {
    configured.max(k + k.div_ceil(2)).clamp(1, 10_000)
}

/// A vector search: the top-level `knn` option, the filter applied inside the graph search so
/// that `k` hits come back when that many match.
pub fn knn_body(vector: &[f32], k: usize, candidates: usize, filter: Option<&Filter>) -> Value {
    let mut knn = json!({
        "field": "embedding",
        "query_vector": vector,
        "k": k,
        "num_candidates": candidates,
    });
    if let Some(f) = filter {
        knn["filter"] = filter_query(f);
    }
    json!({ "knn": knn, "size": k, "_source": SOURCE_FIELDS })
}

/// A keyword search: BM25 over `text`, any word may match.
pub fn match_body(text: &str, k: usize, filter: Option<&Filter>) -> Value {
    let mut query = json!({ "bool": { "must": [ { "match": { "text": { "query": text } } } ] } });
    if let Some(f) = filter {
        query["bool"]["filter"] = json!([filter_query(f)]);
    }
    json!({ "query": query, "size": k, "_source": SOURCE_FIELDS })
}

/// The order chunks are listed in.
pub fn list_sort() -> Value {
    json!([{ "file_id": "asc" }, { "chunk_index": "asc" }, { "chunk_id": "asc" }])
}

/// The `_bulk` lines that write `chunks`; the chunk id is the document id, so a write replaces.
/// With a `generation`, each write is versioned by it: Elasticsearch refuses it where the
/// stored document has that or a later one.
pub fn bulk_lines(chunks: &[Chunk], generation: Option<u64>) -> Vec<Value> {
    chunks
        .iter()
        .flat_map(|c| {
            let action = match generation {
                Some(g) => {
                    json!({ "index": { "_id": c.id, "version": g, "version_type": "external" } })
                }
                None => json!({ "index": { "_id": c.id } }),
            };
            [action, document(c)]
        })
        .collect()
}

/// The chunks of each `(file_id, keep)` file from `chunk_index` `keep` on.
pub fn trim_query(files: &[(String, u32)]) -> Value {
    let each: Vec<Value> = files
        .iter()
        .map(|(file, keep)| {
            json!({ "bool": { "filter": [
                { "term": { "file_id": file } },
                { "range": { "chunk_index": { "gte": keep } } }
            ] } })
        })
        .collect();
    json!({ "bool": { "should": each, "minimum_should_match": 1 } })
}

/// A cosine `knn` score is already `(1 + cos) / 2`; BM25 is mapped by `s / (s + 1)`.
pub fn vector_score(score: f64) -> f32 {
    (score as f32).clamp(0.0, 1.0)
}

pub fn keyword_score(score: f64) -> f32 {
    let s = score.max(0.0);
    ((s / (s + 1.0)) as f32).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: Value) -> Filter {
        Filter::from_json(&v).expect("valid filter")
    }

    #[test]
    fn each_comparison_compiles_to_its_typed_field() {
        let cases = [
            (
                json!({"type": "eq", "key": "lang", "value": "en"}),
                json!({"term": {"attr.s.lang": "en"}}),
            ),
            (
                json!({"type": "eq", "key": "n", "value": 5}),
                json!({"range": {"attr.n.n": {"gte": 5.0, "lte": 5.0}}}),
            ),
            (
                json!({"type": "eq", "key": "ok", "value": true}),
                json!({"term": {"attr.b.ok": true}}),
            ),
            (
                json!({"type": "ne", "key": "lang", "value": "en"}),
                json!({"bool": {"must_not": [{"term": {"attr.s.lang": "en"}}]}}),
            ),
            (
                json!({"type": "gt", "key": "n", "value": 1.5}),
                json!({"range": {"attr.n.n": {"gt": 1.5}}}),
            ),
            (
                json!({"type": "lte", "key": "name", "value": "m"}),
                json!({"range": {"attr.s.name": {"lte": "m"}}}),
            ),
            (
                json!({"type": "in", "key": "k", "value": ["a", 2, "b"]}),
                json!({"bool": {"should": [
                    {"terms": {"attr.s.k": ["a", "b"]}},
                    {"terms": {"attr.n.k": [2.0]}}
                ], "minimum_should_match": 1}}),
            ),
            (
                json!({"type": "nin", "key": "k", "value": ["a"]}),
                json!({"bool": {"must_not": [{"terms": {"attr.s.k": ["a"]}}]}}),
            ),
            (
                json!({"type": "eq", "key": "a.b", "value": "x"}),
                json!({"term": {"attr.s.a%2Eb": "x"}}),
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter_query(&f(filter.clone())), expected, "{filter}");
        }
    }

    /// The leaf queries of a query: what Elasticsearch counts against its clause limit.
    fn leaves(q: &Value) -> usize {
        match q.get("bool") {
            Some(b) => ["must", "should", "filter", "must_not"]
                .iter()
                .filter_map(|k| b.get(*k).and_then(Value::as_array))
                .flatten()
                .map(leaves)
                .sum(),
            None => 1,
        }
    }

    #[test]
    fn the_largest_filter_and_keyword_query_stay_under_the_clause_limit() {
        use models::filter::{MAX_COMPARISONS, MAX_LIST, MAX_VALUES};
        use store_core::limits::{MAX_KEYWORD_TERMS, keyword_terms};
        // Every comparison a list of strings and numbers, within the values allowed in all.
        let per = (MAX_VALUES / MAX_COMPARISONS).min(MAX_LIST);
        let list: Vec<Value> = (0..per)
            .map(|i| {
                if i % 2 == 0 {
                    json!(format!("v{i}"))
                } else {
                    json!(i)
                }
            })
            .collect();
        let each: Vec<Value> = (0..MAX_COMPARISONS)
            .map(|i| {
                let op = if i % 2 == 0 { "in" } else { "nin" };
                json!({"type": op, "key": format!("k{i}"), "value": list})
            })
            .collect();
        let filter = f(json!({"type": "or", "filters": each}));
        assert!(leaves(&filter_query(&filter)) <= 2 * MAX_COMPARISONS);
        let words: Vec<String> = (0..5_000).map(|i| format!("w{i}")).collect();
        let words = words.join(" ");
        let text = keyword_terms(&words);
        let body = match_body(text, 10, Some(&filter));
        let query = &body["query"]["bool"];
        let total = leaves(&query["filter"][0]) + text.split(' ').count();
        assert!(text.split(' ').count() == MAX_KEYWORD_TERMS, "{text}");
        assert!(total <= 1024, "{total} clauses");
    }

    #[test]
    fn compounds_nest_as_bool_queries() {
        let q = filter_query(&f(json!({"type": "and", "filters": [
            {"type": "eq", "key": "a", "value": "x"},
            {"type": "or", "filters": [
                {"type": "gte", "key": "y", "value": 2020},
                {"type": "eq", "key": "d", "value": false}
            ]}
        ]})));
        assert_eq!(
            q,
            json!({"bool": {"filter": [
                {"term": {"attr.s.a": "x"}},
                {"bool": {"should": [
                    {"range": {"attr.n.y": {"gte": 2020.0}}},
                    {"term": {"attr.b.d": false}}
                ], "minimum_should_match": 1}}
            ]}})
        );
    }

    #[test]
    fn the_knn_body_filters_inside_the_graph_search_and_never_reads_the_vector() {
        let filter = f(json!({"type": "eq", "key": "lang", "value": "en"}));
        let body = knn_body(&[0.5, 1.0], 10, num_candidates(10, 100), Some(&filter));
        assert_eq!(
            body,
            json!({
                "knn": {"field": "embedding", "query_vector": [0.5, 1.0], "k": 10,
                        "num_candidates": 100, "filter": {"term": {"attr.s.lang": "en"}}},
                "size": 10,
                "_source": ["chunk_id", "file_id", "filename", "chunk_index", "text", "attributes"]
            })
        );
        assert!(
            knn_body(&[1.0], 3, 100, None)["knn"]
                .get("filter")
                .is_none()
        );
    }

    #[test]
    fn candidates_cover_k_and_stay_within_the_limit() {
        assert_eq!(num_candidates(10, 100), 100);
        assert_eq!(num_candidates(100, 100), 150);
        assert_eq!(num_candidates(9_000, 100), 10_000);
        assert_eq!(num_candidates(1, 0), 2);
    }

    #[test]
    fn the_match_body_puts_the_filter_beside_the_words() {
        let filter = f(json!({"type": "ne", "key": "d", "value": true}));
        assert_eq!(
            match_body("fox cat", 5, Some(&filter))["query"],
            json!({"bool": {
                "must": [{"match": {"text": {"query": "fox cat"}}}],
                "filter": [{"bool": {"must_not": [{"term": {"attr.b.d": true}}]}}]
            }})
        );
    }

    #[test]
    fn bulk_lines_pair_an_index_action_keyed_by_chunk_id_with_each_document() {
        let chunk = Chunk {
            id: "vs:f:0".into(),
            file_id: "f".into(),
            filename: None,
            chunk_index: 0,
            text: "t".into(),
            vector: vec![1.0],
            attributes: Default::default(),
        };
        let lines = bulk_lines(&[chunk.clone(), chunk], None);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], json!({"index": {"_id": "vs:f:0"}}));
        assert_eq!(lines[1]["chunk_id"], "vs:f:0");
        assert_eq!(lines[1]["filename"], Value::Null);
    }

    #[test]
    fn scores_map_into_zero_to_one() {
        assert_eq!(vector_score(1.0000001), 1.0);
        assert_eq!(vector_score(0.25), 0.25);
        assert_eq!(keyword_score(0.0), 0.0);
        assert!((keyword_score(1.0) - 0.5).abs() < 1e-6);
        assert!(keyword_score(1e9) <= 1.0);
    }
}
