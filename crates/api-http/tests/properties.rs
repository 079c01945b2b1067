//! Property tests of what tenants send and what ingestion makes of it: the payload decoders,
//! the filter grammar and the chunker never panic, every rejection is an OpenAI envelope, and
//! chunks are character-boundary slices of the text that cover it.

use api_http::error::ApiError;
use api_http::extract::parse_json;
use models::filter::Filter;
use proptest::prelude::*;
use serde_json::Value;
use service::text::chunk;

/// Any JSON value, a few levels deep, with unicode strings and keys that payloads use.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("type".to_string()),
        Just("key".to_string()),
        Just("value".to_string()),
        Just("filters".to_string()),
        Just("query".to_string()),
        Just("documents".to_string()),
        Just("collection".to_string()),
        Just("text".to_string()),
        Just("content".to_string()),
        Just("id".to_string()),
        Just("vector".to_string()),
        Just("k".to_string()),
        Just("file_ids".to_string()),
        Just("metadata".to_string()),
        Just("attributes".to_string()),
        "\\PC{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("eq".to_string()),
            Just("and".to_string()),
            Just("in".to_string()),
            Just("gte".to_string()),
            "\\PC{0,12}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_envelope(e: ApiError) {
    let env = e.envelope();
    assert!(!env.error.message.is_empty());
    assert!(!env.error.kind.is_empty());
    let status = actix_web::ResponseError::status_code(&e).as_u16();
    assert!(
        (400..500).contains(&status),
        "{status}: {}",
        env.error.message
    );
}

macro_rules! decodes_or_refuses {
    ($name:ident, $ty:ty) => {
        proptest! {
            #[test]
            fn $name(v in json(), junk in prop::collection::vec(any::<u8>(), 0..64)) {
                if let Err(e) = parse_json::<$ty>(v.to_string().as_bytes()) {
                    assert_envelope(e);
                }
                if let Err(e) = parse_json::<$ty>(&junk) {
                    assert_envelope(e);
                }
            }
        }
    };
}

decodes_or_refuses!(platform_index_payloads, models::platform::IndexingPayload);
decodes_or_refuses!(platform_searches, models::platform::SearchRequest);
decodes_or_refuses!(platform_creates, models::platform::CreateCollection);
decodes_or_refuses!(raw_upserts, models::raw::UpsertDocuments);
decodes_or_refuses!(raw_searches, models::raw::RawSearch);
decodes_or_refuses!(openai_searches, models::openai::SearchVectorStore);
decodes_or_refuses!(openai_creates, models::openai::CreateVectorStore);
decodes_or_refuses!(openai_attaches, models::openai::AttachFile);

proptest! {
    #[test]
    fn filters_parse_or_are_refused_and_round_trip(v in json()) {
        if let Ok(f) = Filter::from_json(&v) {
            prop_assert_eq!(Filter::from_json(&f.to_json()).unwrap(), f);
        }
    }

    #[test]
    fn chunks_are_char_boundary_slices_that_cover_the_text(
        text in "(\\PC|[ \\n\\t]|🦀|鱻|🇯🇵){0,400}",
        max in 1usize..40,
        overlap_frac in 0usize..50,
    ) {
        let overlap = max * overlap_frac / 100;
        let chunks = chunk(&text, max, overlap);
        let base = text.as_ptr() as usize;
        let mut covered_to = 0usize;
        for c in &chunks {
            prop_assert!(!c.is_empty());
            let start = c.as_ptr() as usize - base;
            prop_assert!(start + c.len() <= text.len());
            prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(start + c.len()));
            // Nothing but white space is skipped between one chunk and the next.
            prop_assert!(text[covered_to.min(start)..start].trim().is_empty(),
                "a gap before {:?}", c);
            covered_to = covered_to.max(start + c.len());
        }
        prop_assert!(text[covered_to..].trim().is_empty());
    }
}
