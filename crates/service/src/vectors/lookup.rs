//! Finding a tenant's vector stores: by id, by name, in pages.

use store_core::{CollectionRecord, Field, PageRequest, Tenant};

use super::VectorService;
use crate::error::ServiceError;

impl VectorService {
    /// The tenant's collection by name. A named back-end must be the one it lives on.
    pub async fn collection(
        &self,
        tenant: &Tenant,
        name: &str,
        backend: Option<&str>,
    ) -> Result<CollectionRecord, ServiceError> {
        if let Some(b) = backend {
            self.stores.get(b)?;
        }
        let record = match self.records.by_name(&tenant.id, name) {
            Some(r) => r,
            None => {
                let r = self
                    .catalog
                    .get_collection_by_name(&tenant.id, name)
                    .await?;
                self.records.put(&r);
                r
            }
        };
        if let Some(b) = backend
            && b != record.backend
        {
            return Err(ServiceError::invalid(
                Field::Backend,
                format!(
                    "collection '{name}' lives on the '{}' back-end, not '{b}'",
                    record.backend
                ),
            ));
        }
        self.touch(&record).await;
        Ok(record)
    }

    /// Whether the tenant has a collection of this name.
    pub async fn find_collection(
        &self,
        tenant: &Tenant,
        name: &str,
        backend: Option<&str>,
    ) -> Result<Option<CollectionRecord>, ServiceError> {
        match self.collection(tenant, name, backend).await {
            Ok(r) => Ok(Some(r)),
            Err(ServiceError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tenant's collection by id.
    pub async fn collection_by_id(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<CollectionRecord, ServiceError> {
        let record = match self.records.by_id(&tenant.id, id) {
            Some(r) => r,
            None => {
                let r = self.catalog.get_collection(&tenant.id, id).await?;
                self.records.put(&r);
                r
            }
        };
        self.touch(&record).await;
        Ok(record)
    }

    pub async fn page_collections(
        &self,
        tenant: &Tenant,
        page: PageRequest,
    ) -> Result<(Vec<CollectionRecord>, bool), ServiceError> {
        Ok(self.catalog.page_collections(&tenant.id, page).await?)
    }

    pub async fn list_collections(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<CollectionRecord>, ServiceError> {
        Ok(self.catalog.list_collections(&tenant.id).await?)
    }
}
