//! Per-tenant quotas on what a tenant keeps: vector stores, files, their bytes, API keys and
//! uploads in parts still pending.
//! The catalog checks them where the object is made, under a lock of the tenant's row, so that
//! requests made at once cannot pass a quota together.

use std::fmt;

use serde::Deserialize;

/// The most each tenant may keep; 0 is no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Quotas {
    pub max_vector_stores: u64,
    pub max_files: u64,
    /// Bytes of all the tenant's stored files together.
    pub max_file_bytes: u64,
    /// Active (not revoked) keys.
    pub max_api_keys: u64,
    /// Uploads in parts still pending (neither completed, cancelled nor expired).
    pub max_pending_uploads: u64,
}

impl Default for Quotas {
    /// Generous bounds: they stop a runaway client, not real use.
    fn default() -> Self {
        Self {
            max_vector_stores: 10_000,
            max_files: 1_000_000,
            max_file_bytes: 1 << 40,
            max_api_keys: 100,
            max_pending_uploads: 1_000,
        }
    }
}

impl Quotas {
    /// No bound at all.
    pub fn none() -> Self {
        Self {
            max_vector_stores: 0,
            max_files: 0,
            max_file_bytes: 0,
            max_api_keys: 0,
            max_pending_uploads: 0,
        }
    }

    /// The bound on `quota`, if any.
    pub fn limit(&self, quota: Quota) -> Option<u64> {
        let max = match quota {
            Quota::VectorStores => self.max_vector_stores,
            Quota::Files => self.max_files,
            Quota::FileBytes => self.max_file_bytes,
            Quota::ApiKeys => self.max_api_keys,
            Quota::PendingUploads => self.max_pending_uploads,
        };
        (max > 0).then_some(max)
    }

    /// Whether having `have` (after the change) stays within `quota`.
    pub fn allows(&self, quota: Quota, have: u64) -> bool {
        self.limit(quota).is_none_or(|max| have <= max)
    }
}

/// One of the [`Quotas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    VectorStores,
    Files,
    FileBytes,
    ApiKeys,
    PendingUploads,
}

impl Quota {
    /// Its setting.
    pub fn setting(self) -> &'static str {
        match self {
            Quota::VectorStores => "quotas.max_vector_stores",
            Quota::Files => "quotas.max_files",
            Quota::FileBytes => "quotas.max_file_bytes",
            Quota::ApiKeys => "quotas.max_api_keys",
            Quota::PendingUploads => "quotas.max_pending_uploads",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Quota::VectorStores => "vector stores",
            Quota::Files => "files",
            Quota::FileBytes => "bytes of files",
            Quota::ApiKeys => "active API keys",
            Quota::PendingUploads => "pending uploads",
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setting())
    }
}

/// The message of a refusal by `quota`, whose bound is `limit`.
pub fn exceeded(quota: Quota, limit: u64) -> String {
    format!(
        "this would take the API key's tenant over its quota of {limit} {} ({}); delete some first",
        quota.what(),
        quota.setting()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_no_bound_and_a_bound_allows_up_to_itself() {
        let q = Quotas {
            max_files: 2,
            ..Quotas::none()
        };
        assert!(q.allows(Quota::Files, 2));
        assert!(!q.allows(Quota::Files, 3));
        assert!(q.allows(Quota::VectorStores, u64::MAX));
        assert_eq!(q.limit(Quota::ApiKeys), None);
        let m = exceeded(Quota::Files, 2);
        assert!(m.contains("quotas.max_files") && m.contains('2'), "{m}");
    }
}
