//! The back-ends compiled into a binary, keyed by name, built once at start-up.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{StoreError, StoreResult};
use crate::metrics::Instrumented;
use crate::store::VectorStore;

/// An immutable map from back-end name to back-end, with a default. Every back-end is held
/// [`Instrumented`]: its calls through the registry are counted and timed.
#[derive(Debug, Clone)]
pub struct StoreRegistry {
    stores: BTreeMap<&'static str, Arc<dyn VectorStore>>,
    default: &'static str,
}

impl StoreRegistry {
    /// Builds the registry; the default must be one of the stores. Each store is put in an
    /// [`Instrumented`] (so hand it the bare back-end, not one taken from another registry).
    pub fn new(stores: Vec<Arc<dyn VectorStore>>, default: &str) -> StoreResult<Self> {
        let stores: BTreeMap<_, _> = stores
            .into_iter()
            .map(|s| {
                let s: Arc<dyn VectorStore> = Arc::new(Instrumented::new(s));
                (s.name(), s)
            })
            .collect();
        let default = stores
            .keys()
            .copied()
            .find(|name| *name == default)
            .ok_or_else(|| unknown(default, &stores))?;
        Ok(Self { stores, default })
    }

    pub fn get(&self, name: &str) -> StoreResult<Arc<dyn VectorStore>> {
        self.stores
            .get(name)
            .cloned()
            .ok_or_else(|| unknown(name, &self.stores))
    }

    pub fn default_name(&self) -> &'static str {
        self.default
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.stores.keys().copied().collect()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn VectorStore>> {
        self.stores.values()
    }
}

fn unknown(name: &str, stores: &BTreeMap<&'static str, Arc<dyn VectorStore>>) -> StoreError {
    let known: Vec<&str> = stores.keys().copied().collect();
    StoreError::invalid_field(
        crate::Field::Backend,
        format!(
            "unknown storage_backend '{name}'; this server has: {}",
            known.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MockVectorStore;

    fn mock(name: &'static str) -> Arc<dyn VectorStore> {
        let mut m = MockVectorStore::new();
        m.expect_name().return_const(name);
        Arc::new(m)
    }

    #[test]
    fn an_unknown_backend_is_an_error_listing_the_known_ones() {
        let reg = StoreRegistry::new(vec![mock("pgvector")], "pgvector").unwrap();
        let err = reg.get("elasticsearch").unwrap_err();
        assert!(err.to_string().contains("pgvector"), "{err}");
        assert_eq!(reg.get("pgvector").unwrap().name(), "pgvector");
    }

    #[test]
    fn the_default_must_be_registered() {
        assert!(StoreRegistry::new(vec![mock("pgvector")], "elasticsearch").is_err());
    }
}
