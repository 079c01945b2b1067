//! Collections' file counts and usage (the bytes of text of their chunks), as the catalog keeps
//! them: a page of collections is read in one look-up, whatever they hold. Counts follow the
//! files as they change; the usage is counted again after writes that may have changed it —
//! at once when one collection is read, and in the background for pages: once its writes pause
//! for [`QUIET_SECS`], or every [`RECOUNT_INTERVAL_SECS`] while they go on.

use store_core::{CollectionRecord, CollectionStats, StaleUsage, StatusCounts, StoreResult};

use crate::VectorService;
use crate::error::ServiceError;

/// A collection whose usage keeps changing is counted again in the background at most this
/// often.
pub const RECOUNT_INTERVAL_SECS: i64 = 30;

/// A collection whose writes paused this long is counted again in the background.
pub const QUIET_SECS: i64 = 2;

impl VectorService {
    /// `record`'s file counts and usage, the usage counted again first when a write may have
    /// changed it.
    pub async fn stats(&self, record: &CollectionRecord) -> Result<StatusCounts, ServiceError> {
        let stats = self
            .catalog()
            .collection_stats(vec![record.id.clone()])
            .await?
            .pop();
        match stats {
            Some(s) if !s.usage_is_stale() => Ok(s.counts),
            Some(s) => Ok(StatusCounts {
                usage_bytes: self.recount(record, &s).await?,
                ..s.counts
            }),
            None => Ok(StatusCounts::default()),
        }
    }

    /// The file counts and usage of each of `records`, in one look-up, never counted here: a
    /// usage that writes changed shows its last count until the background count (or a read of
    /// that one collection) catches up.
    pub async fn page_stats(
        &self,
        records: &[CollectionRecord],
    ) -> Result<Vec<StatusCounts>, ServiceError> {
        let stats = self
            .catalog()
            .collection_stats(records.iter().map(|r| r.id.clone()).collect())
            .await?;
        Ok(records
            .iter()
            .map(|r| {
                stats
                    .iter()
                    .find(|s| s.id == r.id)
                    .map_or_else(StatusCounts::default, |s| s.counts)
            })
            .collect())
    }

    /// Counts again the usage of up to `limit` collections (of this server's back-ends) that
    /// writes changed, whose writes paused for [`QUIET_SECS`] or that were not counted in the
    /// last [`RECOUNT_INTERVAL_SECS`], one after another; how many were taken.
    pub async fn recount_stale_usage(&self, limit: usize) -> Result<usize, ServiceError> {
        let stale = self
            .catalog()
            .take_stale_usage(StaleUsage {
                backends: self.runnable().backends,
                quiet_secs: QUIET_SECS,
                recount_secs: RECOUNT_INTERVAL_SECS,
                limit,
            })
            .await?;
        let taken = stale.len();
        for record in &stale {
            // One collection's failure (its back-end unreachable) does not hold up the others;
            // it is tried again after `RECOUNT_INTERVAL_SECS`.
            let counted = async {
                match self
                    .catalog()
                    .collection_stats(vec![record.id.clone()])
                    .await?
                    .pop()
                {
                    Some(stats) => self.recount(record, &stats).await.map(drop),
                    None => Ok(()),
                }
            };
            if let Err(e) = counted.await {
                tracing::warn!(
                    collection = %record.id,
                    error = %crate::error::error_chain(&e),
                    "could not count a collection's usage"
                );
            }
        }
        Ok(taken)
    }

    /// Counts the usage of `record` and records it as of the changes `stats` saw.
    async fn recount(
        &self,
        record: &CollectionRecord,
        stats: &CollectionStats,
    ) -> Result<u64, ServiceError> {
        let bytes = self.usage_bytes(record).await?;
        self.catalog()
            .record_usage(&record.id, stats.changes, bytes)
            .await?;
        Ok(bytes)
    }

    /// The result of a write of `record`'s chunks, once the catalog knows its usage may have
    /// changed (whether or not the write succeeded: a failed one may have landed in part).
    pub(crate) async fn written<T>(
        &self,
        record: &CollectionRecord,
        result: StoreResult<T>,
    ) -> Result<T, ServiceError> {
        if let Err(e) = self.catalog().chunks_changed(&record.id).await {
            tracing::warn!(
                collection = %record.id,
                error = %e,
                "could not record a change of the collection's chunks; its usage may show an old \
                 count"
            );
        }
        Ok(result?)
    }
}
