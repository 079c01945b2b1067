//! Uploaded files: bytes in a [`BlobStore`] on disk (written, synced and renamed before the
//! upload is acknowledged), records in the [`FileCatalog`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use models::openai::FILE_PURPOSES;
use store_core::{FileCatalog, FilePage, FileRecord, StoreError, Tenant, now_unix};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// Files on local disk, one per id.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::Store(StoreError::internal(what.to_string(), e))
}

impl BlobStore {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Streams `body` into the blob `id`; durable when it returns. More than `max` bytes is
    /// 413, and nothing is kept.
    pub async fn write<S, B, E>(&self, id: &str, body: S, max: u64) -> Result<u64, ApiError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let tmp = self.dir.join(format!(".{id}.part"));
        let result = Self::write_to(&tmp, body, max).await;
        match result {
            Ok(n) => {
                tokio::fs::rename(&tmp, self.path(id))
                    .await
                    .map_err(|e| io_error("could not store the file", e))?;
                if let Ok(dir) = tokio::fs::File::open(&self.dir).await {
                    let _ = dir.sync_all().await;
                }
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn write_to<S, B, E>(path: &Path, mut body: S, max: u64) -> Result<u64, ApiError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| io_error("could not create the file", e))?;
        let mut n: u64 = 0;
        while let Some(part) = body.next().await {
            let part =
                part.map_err(|e| ApiError::invalid("file", format!("the upload broke off: {e}")))?;
            let bytes = part.as_ref();
            n += bytes.len() as u64;
            if n > max {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the file is larger than the upload limit of {max} bytes"
                )));
            }
            file.write_all(bytes)
                .await
                .map_err(|e| io_error("could not write the file", e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| io_error("could not sync the file", e))?;
        Ok(n)
    }

    pub async fn open(&self, id: &str) -> Result<tokio::fs::File, ApiError> {
        tokio::fs::File::open(self.path(id))
            .await
            .map_err(|e| io_error("the file's bytes are missing", e))
    }

    pub async fn read(&self, id: &str) -> Result<Vec<u8>, ApiError> {
        tokio::fs::read(self.path(id))
            .await
            .map_err(|e| io_error("the file's bytes are missing", e))
    }

    pub async fn delete(&self, id: &str) {
        if let Err(e) = tokio::fs::remove_file(self.path(id)).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = id, error = %e, "could not remove a file's bytes");
        }
    }
}

/// What an upload says besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct UploadMeta {
    pub filename: Option<String>,
    pub purpose: Option<String>,
    pub expires_anchor: Option<String>,
    pub expires_seconds: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FileService {
    catalog: Arc<dyn FileCatalog>,
    blobs: BlobStore,
    max_upload: u64,
}

impl FileService {
    pub fn new(catalog: Arc<dyn FileCatalog>, blobs: BlobStore, max_upload: u64) -> Self {
        Self {
            catalog,
            blobs,
            max_upload,
        }
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn new_id() -> String {
        format!("file-{}", uuid::Uuid::now_v7().simple())
    }

    /// Streams the bytes to disk under `id`, returning their size.
    pub async fn receive<S, B, E>(&self, id: &str, body: S) -> Result<u64, ApiError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        self.blobs.write(id, body, self.max_upload).await
    }

    /// Records a received file; on any validation failure the bytes are removed.
    pub async fn register(
        &self,
        tenant: &Tenant,
        id: String,
        bytes: Option<u64>,
        meta: UploadMeta,
    ) -> Result<FileRecord, ApiError> {
        let result = self.validate_and_insert(tenant, &id, bytes, meta).await;
        if result.is_err() && bytes.is_some() {
            self.blobs.delete(&id).await;
        }
        result
    }

    async fn validate_and_insert(
        &self,
        tenant: &Tenant,
        id: &str,
        bytes: Option<u64>,
        meta: UploadMeta,
    ) -> Result<FileRecord, ApiError> {
        let bytes = bytes
            .ok_or_else(|| ApiError::invalid("file", "the multipart form has no 'file' part"))?;
        let purpose = meta
            .purpose
            .ok_or_else(|| ApiError::invalid("purpose", "'purpose' is required"))?;
        if !FILE_PURPOSES.contains(&purpose.as_str()) {
            return Err(ApiError::invalid(
                "purpose",
                format!(
                    "unknown purpose '{purpose}'; expected one of {}",
                    FILE_PURPOSES.join(", ")
                ),
            ));
        }
        let filename = meta
            .filename
            .map(|f| {
                f.rsplit(['/', '\\'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .filter(|f| !f.is_empty())
            .ok_or_else(|| ApiError::invalid("file", "the 'file' part needs a filename"))?;
        if filename.chars().count() > 255 {
            return Err(ApiError::invalid(
                "file",
                "filenames are at most 255 characters",
            ));
        }
        let created_at = now_unix();
        let expires_at = match (
            meta.expires_anchor.as_deref(),
            meta.expires_seconds.as_deref(),
        ) {
            (None, None) => None,
            (Some("created_at"), Some(s)) => {
                let secs: i64 = s.trim().parse().map_err(|_| {
                    ApiError::invalid(
                        "expires_after[seconds]",
                        "must be a whole number of seconds",
                    )
                })?;
                if !(3600..=2_592_000).contains(&secs) {
                    return Err(ApiError::invalid(
                        "expires_after[seconds]",
                        "must be between 3600 (1 hour) and 2592000 (30 days)",
                    ));
                }
                Some(created_at + secs)
            }
            (Some(other), Some(_)) if other != "created_at" => {
                return Err(ApiError::invalid(
                    "expires_after[anchor]",
                    "the only anchor is 'created_at'",
                ));
            }
            _ => {
                return Err(ApiError::invalid(
                    "expires_after",
                    "expires_after needs both [anchor] and [seconds]",
                ));
            }
        };
        Ok(self
            .catalog
            .insert_file(FileRecord {
                id: id.to_string(),
                tenant_id: tenant.id.clone(),
                filename,
                bytes,
                purpose,
                created_at,
                expires_at,
            })
            .await?)
    }

    pub async fn get(&self, tenant: &Tenant, id: &str) -> Result<FileRecord, ApiError> {
        Ok(self.catalog.get_file(&tenant.id, id).await?)
    }

    pub async fn page(
        &self,
        tenant: &Tenant,
        page: FilePage,
    ) -> Result<(Vec<FileRecord>, bool), ApiError> {
        Ok(self.catalog.page_files(&tenant.id, page).await?)
    }

    pub async fn delete(&self, tenant: &Tenant, id: &str) -> Result<(), ApiError> {
        self.catalog.delete_file(&tenant.id, id).await?;
        self.blobs.delete(id).await;
        Ok(())
    }

    /// Deletes files whose expiry has passed; returns how many went.
    pub async fn sweep_expired(&self) -> Result<usize, ApiError> {
        let expired = self.catalog.expired_files(now_unix(), 100).await?;
        for f in &expired {
            match self.catalog.delete_file(&f.tenant_id, &f.id).await {
                Ok(()) | Err(StoreError::NotFound { .. }) => self.blobs.delete(&f.id).await,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(expired.len())
    }
}
