//! Creating, updating and deleting vector stores; their expiry, activity and readiness.

use store_core::{CollectionRecord, CollectionUpdate, Field, Tenant, now_unix};

use super::{CreateCollectionInput, READY_TTL, TOUCH_INTERVAL_SECS, VectorService};
use crate::error::ServiceError;

impl VectorService {
    /// Succeeds when the catalog and every back-end answer.
    /// Whether the catalog and every back-end answer. A success is remembered for
    /// [`READY_TTL`], so that `/ready` polled by many callers costs the back-ends one ping each
    /// in that time.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        if self
            .ready_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < READY_TTL)
        {
            return Ok(());
        }
        self.catalog.ping().await?;
        for store in self.stores.all() {
            store.ping().await?;
        }
        if let Ok(mut at) = self.ready_at.lock() {
            *at = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// Frees the chunks of collections whose expiry has passed (at most `limit` of them) and
    /// returns how many were freed. The records stay, reporting `expired`; a collection whose
    /// back-end fails now is tried again by the next sweep.
    pub async fn sweep_expired(&self, limit: usize) -> Result<usize, ServiceError> {
        // Collections on a back-end this server lacks are another server's to sweep.
        let backends = self.stores.names().into_iter().map(String::from).collect();
        let expired = self
            .catalog
            .expired_collections(now_unix(), backends, limit)
            .await?;
        let mut freed = 0;
        for record in &expired {
            let store = self.store(record)?;
            let deleted = store.delete_all(&record.spec()?).await;
            match self.written(record, deleted).await {
                Ok(_) | Err(ServiceError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(collection = %record.id, error = %e,
                        "could not free the chunks of an expired collection");
                    continue;
                }
            }
            self.catalog
                .mark_chunks_freed(&record.id, now_unix())
                .await?;
            freed += 1;
        }
        Ok(freed)
    }

    pub async fn create_collection(
        &self,
        tenant: &Tenant,
        input: CreateCollectionInput,
    ) -> Result<CollectionRecord, ServiceError> {
        let backend = input
            .backend
            .as_deref()
            .unwrap_or(self.stores.default_name());
        let store = self.stores.get(backend)?;
        let dimension = match (&input.model, input.dimension) {
            (Some(model), dimension) => {
                let embedder = self.embedder(model)?;
                match dimension {
                    Some(d) if d != embedder.dimension() => {
                        return Err(ServiceError::invalid(
                            Field::Dimension,
                            format!(
                                "model '{model}' makes {}-dimensional vectors, not {d}",
                                embedder.dimension()
                            ),
                        ));
                    }
                    _ => embedder.dimension(),
                }
            }
            (None, Some(d)) => d,
            (None, None) => {
                return Err(ServiceError::invalid(
                    Field::Dimension,
                    "a collection without a model needs a dimension",
                ));
            }
        };
        // Time-ordered ids: cursor pages are id ranges.
        let id = format!("vs_{}", uuid::Uuid::now_v7().simple());
        let collection = if input.collection.is_empty() {
            id.clone()
        } else {
            input.collection
        };
        let now = now_unix();
        let record = self
            .catalog
            .create_collection(CollectionRecord {
                id,
                tenant_id: tenant.id.clone(),
                collection,
                name: input.name,
                backend: store.name().to_string(),
                model: input.model,
                dimension,
                metadata: input.metadata,
                expires_after_days: input.expires_after_days,
                created_at: now,
                last_active_at: now,
            })
            .await?;
        if let Err(e) = store.create_collection(&record.spec()?).await {
            if let Err(cleanup) = self.catalog.delete_collection(&tenant.id, &record.id).await {
                tracing::error!(
                    collection = %record.id,
                    error = %cleanup,
                    "could not remove the catalog record of a collection whose creation failed"
                );
            }
            return Err(e.into());
        }
        Ok(record)
    }

    pub async fn update_collection(
        &self,
        tenant: &Tenant,
        record: &CollectionRecord,
        update: CollectionUpdate,
    ) -> Result<CollectionRecord, ServiceError> {
        // As on OpenAI, an expired store stays expired.
        if update.expires_after_days.is_some() && Self::is_expired(record) {
            return Err(ServiceError::invalid(
                Field::ExpiresAfter,
                format!(
                    "vector store '{}' has expired; its expiry can no longer be changed",
                    record.id
                ),
            ));
        }
        self.records.forget(record);
        let updated = self
            .catalog
            .update_collection(&tenant.id, &record.id, update)
            .await?;
        self.records.forget(&updated);
        Ok(updated)
    }

    pub async fn delete_collection(
        &self,
        tenant: &Tenant,
        record: &CollectionRecord,
    ) -> Result<(), ServiceError> {
        self.records.forget(record);
        self.store(record)?.drop_collection(&record.spec()?).await?;
        self.catalog
            .delete_collection(&tenant.id, &record.id)
            .await?;
        self.records.forget(record);
        Ok(())
    }

    /// Bytes of text stored in the collection.
    pub async fn usage_bytes(&self, record: &CollectionRecord) -> Result<u64, ServiceError> {
        Ok(self.store(record)?.usage_bytes(&record.spec()?).await?)
    }

    /// Whether the collection went unused for longer than its `expires_after`.
    pub fn is_expired(record: &CollectionRecord) -> bool {
        record.expires_at().is_some_and(|at| now_unix() > at)
    }

    pub(super) fn check_expiry(&self, record: &CollectionRecord) -> Result<(), ServiceError> {
        if Self::is_expired(record) {
            return Err(ServiceError::invalid_body(format!(
                "collection '{}' expired after {} days without use",
                record.collection,
                record.expires_after_days.unwrap_or_default()
            )));
        }
        Ok(())
    }

    pub(super) async fn touch(&self, record: &CollectionRecord) {
        if now_unix() - record.last_active_at >= TOUCH_INTERVAL_SECS {
            match self
                .catalog
                .touch_collection(&record.tenant_id, &record.id)
                .await
            {
                // The catalog decides (an expired collection is not revived): read it again.
                Ok(()) => self.records.forget(record),
                Err(e) => {
                    tracing::warn!(
                        collection = %record.id,
                        error = %e,
                        "could not update last_active_at"
                    );
                }
            }
        }
    }
}
