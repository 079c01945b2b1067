//! What the crate's unit tests build alike.

use serde_json::Map;
use store_core::{CollectionRecord, now_unix};

/// The store `vs_1` ("docs") of tenant `t1` on pgvector, embedding with `model` into
/// `dimension`, active now.
pub(crate) fn store_record(model: Option<&str>, dimension: usize) -> CollectionRecord {
    CollectionRecord {
        id: "vs_1".into(),
        tenant_id: "t1".into(),
        collection: "docs".into(),
        name: None,
        backend: "pgvector".into(),
        model: model.map(Into::into),
        dimension,
        metadata: Map::new(),
        expires_after_days: None,
        created_at: 0,
        last_active_at: now_unix(),
    }
}
