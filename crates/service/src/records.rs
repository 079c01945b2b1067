//! A short-lived cache of collection records, so that a request on a collection does not read
//! its record from the catalog every time.
//!
//! Entries live [`RECORD_TTL`]. This process forgets a record when it updates or deletes the
//! collection; another process's change is seen within the TTL at most (a collection dropped
//! meanwhile answers not found from its back-end, as if it had been looked up a moment earlier).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store_core::CollectionRecord;

/// How long a cached record is used.
pub const RECORD_TTL: Duration = Duration::from_secs(2);

/// Entries kept at most; beyond it, stale ones go first, then all.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String, String),
    Id(String, String),
}

#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    entries: Mutex<HashMap<Key, (Instant, CollectionRecord)>>,
}

impl RecordCache {
    pub(crate) fn by_name(&self, tenant_id: &str, name: &str) -> Option<CollectionRecord> {
        self.get(&Key::Name(tenant_id.into(), name.into()))
    }

    pub(crate) fn by_id(&self, tenant_id: &str, id: &str) -> Option<CollectionRecord> {
        self.get(&Key::Id(tenant_id.into(), id.into()))
    }

    fn get(&self, key: &Key) -> Option<CollectionRecord> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < RECORD_TTL)
            .map(|(_, r)| r.clone())
    }

    /// Caches `record` under its name and its id.
    pub(crate) fn put(&self, record: &CollectionRecord) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < RECORD_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let now = Instant::now();
        for key in keys(record) {
            entries.insert(key, (now, record.clone()));
        }
    }

    pub(crate) fn forget(&self, record: &CollectionRecord) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys(record) {
            entries.remove(&key);
        }
    }
}

fn keys(r: &CollectionRecord) -> [Key; 2] {
    [
        Key::Name(r.tenant_id.clone(), r.collection.clone()),
        Key::Id(r.tenant_id.clone(), r.id.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn record(tenant: &str, name: &str, id: &str) -> CollectionRecord {
        CollectionRecord {
            id: id.into(),
            tenant_id: tenant.into(),
            collection: name.into(),
            name: None,
            backend: "pgvector".into(),
            model: None,
            dimension: 3,
            metadata: Map::new(),
            expires_after_days: None,
            created_at: 0,
            last_active_at: 0,
        }
    }

    #[test]
    fn a_record_is_found_by_name_and_id_within_its_tenant_until_forgotten() {
        let cache = RecordCache::default();
        let r = record("t1", "docs", "vs_1");
        cache.put(&r);
        assert_eq!(cache.by_name("t1", "docs"), Some(r.clone()));
        assert_eq!(cache.by_id("t1", "vs_1"), Some(r.clone()));
        assert_eq!(cache.by_name("t2", "docs"), None, "another tenant's");
        assert_eq!(cache.by_id("t2", "vs_1"), None, "another tenant's");
        cache.forget(&r);
        assert_eq!(cache.by_name("t1", "docs"), None);
        assert_eq!(cache.by_id("t1", "vs_1"), None);
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = RecordCache::default();
        let r = record("t", "old", "vs_old");
        cache.put(&r);
        cache
            .entries
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|(at, _)| *at -= RECORD_TTL);
        assert_eq!(cache.by_name("t", "old"), None, "past its TTL");
        for i in 0..MAX_ENTRIES {
            cache.put(&record("t", &format!("c{i}"), &format!("vs_{i}")));
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES + 1);
    }
}
