//! [`PgVectorOptions`] (`storage.pgvector` in the settings) and the HNSW search settings a
//! search runs with.

use std::sync::LazyLock;

use serde::Deserialize;
use store_core::{Field, StoreError, StoreResult};

/// Options of the back-end (`storage.pgvector` in the settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgVectorOptions {
    /// HNSW search breadth (`hnsw.ef_search`); a query for k results uses at least 2 × k.
    pub ef_search: usize,
    /// HNSW graph degree of new collections (`m`).
    pub hnsw_m: usize,
    /// HNSW build breadth of new collections (`ef_construction`).
    pub hnsw_ef_construction: usize,
    /// PostgreSQL text-search configuration of keyword search (of new collections' `tsv`).
    pub text_search_config: String,
    /// How many tuples a filtered (iterative) HNSW scan visits at most
    /// (`hnsw.max_scan_tuples`): the bound on the work a very selective filter can cause.
    pub max_scan_tuples: usize,
    /// Rows per INSERT statement when upserting.
    pub upsert_batch: usize,
    /// The longest any one statement may run (`statement_timeout`), so that no request can hold
    /// a pooled connection for long; 0 turns it off.
    pub statement_timeout_ms: u64,
}

impl PgVectorOptions {
    /// Options a server can run with: the text-search configuration is formatted into SQL, so
    /// it must be a plain identifier.
    pub fn check(&self) -> StoreResult<()> {
        let cfg = &self.text_search_config;
        if IDENT.is_match(cfg) {
            Ok(())
        } else {
            Err(StoreError::invalid_field(
                Field::Setting("storage.pgvector.text_search_config".into()),
                format!("'{cfg}' is not a text-search configuration name"),
            ))
        }
    }
}

impl Default for PgVectorOptions {
    fn default() -> Self {
        Self {
            ef_search: 100,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
            text_search_config: "english".into(),
            max_scan_tuples: 20_000,
            upsert_batch: 500,
            statement_timeout_ms: 30_000,
        }
    }
}

static IDENT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z][a-z0-9_]{0,62}$").expect("static regex"));

/// The HNSW settings a vector search runs with: iterative scans so that a selective filter still
/// fills k, a search breadth of at least 2 × k, and a bound on the tuples visited. Numbers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SearchSettings {
    ef_search: usize,
    max_scan_tuples: usize,
}

impl SearchSettings {
    /// What a search for `k` results needs: `ef_search`, at least 2 × k.
    pub(crate) fn for_k(options: &PgVectorOptions, k: usize) -> Self {
        Self {
            ef_search: options.ef_search.max(2 * k).clamp(1, 1000),
            max_scan_tuples: options.max_scan_tuples.clamp(1, i32::MAX as usize),
        }
    }

    /// The session defaults `connect` gives every connection.
    pub(crate) fn session(options: &PgVectorOptions) -> Self {
        Self::for_k(options, 0)
    }

    /// Statements that apply these settings, `SET LOCAL` (in a transaction) or session-wide.
    pub(crate) fn sql(&self, local: bool) -> String {
        let scope = if local { "SET LOCAL" } else { "SET" };
        format!(
            "{scope} hnsw.iterative_scan = relaxed_order; {scope} hnsw.ef_search = {}; {scope} \
             hnsw.max_scan_tuples = {}",
            self.ef_search, self.max_scan_tuples
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_options_deserialize_from_nothing_and_from_a_partial_object() {
        let d: PgVectorOptions = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(d.ef_search, 100);
        assert_eq!(d.hnsw_m, 16);
        assert_eq!(d.hnsw_ef_construction, 64);
        assert_eq!(d.text_search_config, "english");
        assert_eq!(d.max_scan_tuples, 20_000);
        let p: PgVectorOptions = serde_json::from_value(
            serde_json::json!({"ef_search": 40, "text_search_config": "simple"}),
        )
        .unwrap();
        assert_eq!((p.ef_search, p.text_search_config.as_str()), (40, "simple"));
        assert!(serde_json::from_value::<PgVectorOptions>(serde_json::json!({"ef": 1})).is_err());
    }

    #[test]
    fn the_search_breadth_is_at_least_twice_k_and_bounded() {
        let o = PgVectorOptions::default();
        let sql = |k| SearchSettings::for_k(&o, k).sql(true);
        assert!(sql(10).contains("SET LOCAL hnsw.ef_search = 100;"));
        assert!(sql(80).contains("hnsw.ef_search = 160;"));
        assert!(sql(900).contains("hnsw.ef_search = 1000;"));
        assert!(sql(1).contains("hnsw.iterative_scan = relaxed_order"));
        assert!(sql(1).contains("hnsw.max_scan_tuples = 20000"));
        let session = SearchSettings::session(&o);
        assert!(session.sql(false).starts_with("SET hnsw.iterative_scan"));
        // The session serves every k up to ef_search / 2, and no larger one.
        assert_eq!(SearchSettings::for_k(&o, 50), session);
        assert_ne!(SearchSettings::for_k(&o, 51), session);
    }
}
