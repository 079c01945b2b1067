//! Uploaded files: bytes in a [`BlobStore`] (a local directory or an S3 bucket), records in the
//! [`FileCatalog`].
//!
//! An upload streams into a [`TempBlob`] (a temporary file, or a multipart upload); once its
//! form is valid the blob is stored durably, then the catalog row is committed, and the blob is
//! removed again if the row is refused (a quota). A refused, broken or abandoned upload leaves
//! nothing (the temporary is removed, the multipart upload aborted, when dropped); a crash
//! between the blob and its row leaves bytes no record owns, which
//! [`FileService::sweep_orphans`] removes. Each file's extracted text is kept beside its bytes
//! (`{id}.text`), computed once at ingestion.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use futures::Stream;
use models::openai::FILE_PURPOSES;
use store_core::{
    Field, FileCatalog, FileExpiryPart, FilePage, FileRecord, StoreError, Tenant, now_unix,
};

pub use crate::blob::{BlobStore, TempBlob};
use crate::blob::{TEXT_SUFFIX, UPLOADS};
use crate::error::ServiceError;

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
    min_free: u64,
    /// The blobs the last sweep found owned by no record: removed only if the next finds
    /// them so again.
    suspects: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl FileService {
    pub fn new(catalog: Arc<dyn FileCatalog>, blobs: BlobStore, max_upload: u64) -> Self {
        Self {
            catalog,
            blobs,
            max_upload,
            min_free: 0,
            suspects: Arc::default(),
        }
    }

    /// Refuses uploads (507) while the files directory's disk has less than `bytes` free, and
    /// an upload that would leave less: the disk never fills half-way through one, and
    /// extraction keeps room to write its texts.
    pub fn with_min_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free = bytes;
        self
    }

    /// Refuses when the files disk has less than the watermark free.
    pub(crate) async fn check_free_space(&self) -> Result<(), ServiceError> {
        let Some(dir) = self.blobs.local_dir().filter(|_| self.min_free > 0) else {
            return Ok(());
        };
        let dir = dir.to_path_buf();
        let free = tokio::task::spawn_blocking(move || free_bytes(&dir))
            .await
            .map_err(|e| {
                ServiceError::internal_msg(format!("reading the free space stopped: {e}"))
            })?
            .map_err(|e| {
                ServiceError::internal_msg(format!(
                    "could not read the files disk's free space: {e}"
                ))
            })?;
        if free < self.min_free {
            return Err(ServiceError::InsufficientStorage(
                "the server's file storage is full; try again later".into(),
            ));
        }
        Ok(())
    }

    /// Streams `body` into `temp` (at most `max` bytes), refused with 507 as soon as the files
    /// disk is below its mark: each write checks it as it goes, so writes at once go past the
    /// mark by at most [`TempBlob::CHECK_EVERY`] bytes each, never to a full disk.
    pub(crate) async fn write_watched<B: AsRef<[u8]>, E: std::fmt::Display>(
        &self,
        temp: &mut TempBlob,
        body: impl Stream<Item = Result<B, E>> + Unpin,
        max: u64,
    ) -> Result<u64, ServiceError> {
        temp.write_checked(body, max, || self.check_free_space())
            .await
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn new_id() -> String {
        format!("file-{}", uuid::Uuid::now_v7().simple())
    }

    /// Streams the bytes of a new file into a temporary, returning it and the size.
    pub async fn receive<S, B, E>(&self, id: &str, body: S) -> Result<(TempBlob, u64), ServiceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        self.check_free_space().await?;
        let mut temp = self.blobs.temp(id).await?;
        let n = self.write_watched(&mut temp, body, self.max_upload).await?;
        // Written, the upload is on the disk already: what is left must stay above the mark.
        self.check_free_space().await?;
        Ok((temp, n))
    }

    /// Stores a received file's bytes once its form is valid, then records it. On any failure
    /// the bytes are removed and no record stays.
    pub async fn register(
        &self,
        tenant: &Tenant,
        id: String,
        received: Option<(TempBlob, u64)>,
        meta: UploadMeta,
    ) -> Result<FileRecord, ServiceError> {
        let (temp, bytes) = match received {
            Some((temp, bytes)) => (Some(temp), Some(bytes)),
            None => (None, None),
        };
        let record = self.validate(tenant, &id, bytes, meta)?;
        let temp = temp.expect("validation requires the bytes");
        temp.commit().await?;
        match self.catalog.insert_file(record).await {
            Ok(record) => Ok(record),
            Err(e) => {
                self.blobs.delete(&id).await;
                Err(e.into())
            }
        }
    }

    /// Removes the blob back-end's temporaries (of writes a crash stopped) not written for
    /// `idle` (younger ones may be another instance's uploads); how many went.
    pub async fn sweep_temporaries(
        &self,
        idle: std::time::Duration,
    ) -> Result<usize, ServiceError> {
        if let Some(dir) = self.blobs.local_dir() {
            self.mend_recorded_temporaries(dir).await?;
        }
        self.blobs.sweep_temporaries(idle).await
    }

    /// Moves into place the temporaries `.{id}.part` whose record exists: what a crash left
    /// of an upload stored by an earlier release, which recorded a file before renaming its
    /// bytes into place.
    async fn mend_recorded_temporaries(&self, dir: &Path) -> Result<(), ServiceError> {
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
            return Ok(());
        };
        let mut moved = false;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix('.'))
                .and_then(|n| n.strip_suffix(".part"))
                .filter(|id| id.starts_with("file-") && !id.contains('.'))
            else {
                continue;
            };
            if self.catalog.file_exists(id).await? {
                tokio::fs::rename(entry.path(), dir.join(id))
                    .await
                    .map_err(|e| StoreError::internal("could not move a file into place", e))?;
                moved = true;
            }
        }
        if moved {
            crate::blob::sync_dir(dir)
                .await
                .map_err(|e| StoreError::internal("could not sync the files directory", e))?;
        }
        Ok(())
    }

    /// Removes what no file record owns and nothing has written for `idle`: bytes and texts of
    /// files deleted meanwhile (a text written by an extraction that ran while its file was
    /// deleted, bytes stored by an upload that stopped before its record), and temporaries of
    /// uploads and extractions that stopped. Run periodically. Returns how many went.
    ///
    /// A blob is removed once two sweeps in a row found it owned by no record. A blob's age
    /// can mislead (an object made by a multipart upload is as old as the upload's start), and
    /// a file's record is written just after its bytes: one sweep could see the bytes between
    /// the two.
    pub async fn sweep_orphans(&self, idle: std::time::Duration) -> Result<usize, ServiceError> {
        let mut removed = self.blobs.sweep_temporaries(idle).await?;
        let mut orphans = HashSet::new();
        for blob in self.blobs.list("").await?.blobs {
            let id = blob.name.strip_suffix(TEXT_SUFFIX).unwrap_or(&blob.name);
            if blob.age < idle || blob.name == UPLOADS || self.catalog.file_exists(id).await? {
                continue;
            }
            orphans.insert(blob.name);
        }
        let earlier = std::mem::take(
            &mut *self
                .suspects
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for name in orphans.intersection(&earlier) {
            self.blobs.delete_key(name).await;
            removed += 1;
        }
        orphans.retain(|name| !earlier.contains(name));
        *self
            .suspects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = orphans;
        Ok(removed)
    }

    /// The record of a new file, refused when its form is not valid.
    fn validate(
        &self,
        tenant: &Tenant,
        id: &str,
        bytes: Option<u64>,
        meta: UploadMeta,
    ) -> Result<FileRecord, ServiceError> {
        let bytes = bytes.ok_or_else(|| {
            ServiceError::invalid(Field::File, "the multipart form has no 'file' part")
        })?;
        let purpose = meta
            .purpose
            .ok_or_else(|| ServiceError::invalid(Field::Purpose, "'purpose' is required"))?;
        check_purpose(&purpose)?;
        let filename = clean_filename(meta.filename.as_deref().unwrap_or_default(), Field::File)?;
        let created_at = now_unix();
        let expires_at = match (
            meta.expires_anchor.as_deref(),
            meta.expires_seconds.as_deref(),
        ) {
            (None, None) => None,
            (Some("created_at"), Some(s)) => {
                let secs: i64 = s.trim().parse().map_err(|_| {
                    ServiceError::invalid(
                        Field::FileExpiresAfter(FileExpiryPart::Seconds),
                        "must be a whole number of seconds",
                    )
                })?;
                if !(3600..=2_592_000).contains(&secs) {
                    return Err(ServiceError::invalid(
                        Field::FileExpiresAfter(FileExpiryPart::Seconds),
                        "must be between 3600 (1 hour) and 2592000 (30 days)",
                    ));
                }
                Some(created_at + secs)
            }
            (Some(other), Some(_)) if other != "created_at" => {
                return Err(ServiceError::invalid(
                    Field::FileExpiresAfter(FileExpiryPart::Anchor),
                    "the only anchor is 'created_at'",
                ));
            }
            _ => {
                return Err(ServiceError::invalid(
                    Field::FileExpiresAfter(FileExpiryPart::Both),
                    "expires_after needs both [anchor] and [seconds]",
                ));
            }
        };
        Ok(FileRecord {
            id: id.to_string(),
            tenant_id: tenant.id.clone(),
            filename,
            bytes,
            purpose,
            created_at,
            expires_at,
        })
    }

    pub async fn get(&self, tenant: &Tenant, id: &str) -> Result<FileRecord, ServiceError> {
        Ok(self.catalog.get_file(&tenant.id, id).await?)
    }

    pub async fn page(
        &self,
        tenant: &Tenant,
        page: FilePage,
    ) -> Result<(Vec<FileRecord>, bool), ServiceError> {
        Ok(self.catalog.page_files(&tenant.id, page).await?)
    }

    pub async fn delete(&self, tenant: &Tenant, id: &str) -> Result<(), ServiceError> {
        self.catalog.delete_file(&tenant.id, id).await?;
        self.blobs.delete(id).await;
        Ok(())
    }

    /// Deletes files whose expiry has passed; returns how many went.
    pub async fn sweep_expired(&self) -> Result<usize, ServiceError> {
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

/// Refuses a purpose the Files API does not take.
pub(crate) fn check_purpose(purpose: &str) -> Result<(), ServiceError> {
    if FILE_PURPOSES.contains(&purpose) {
        return Ok(());
    }
    let expected = FILE_PURPOSES.join(", ");
    let message = format!("unknown purpose '{purpose}'; expected one of {expected}");
    Err(ServiceError::invalid(Field::Purpose, message))
}

/// A filename without the path it may come with; refused (as `field`) when empty or longer
/// than 255 characters.
pub(crate) fn clean_filename(name: &str, field: Field) -> Result<String, ServiceError> {
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(ServiceError::invalid(field, "a filename is required"));
    }
    if name.chars().count() > 255 {
        let message = "filenames are at most 255 characters";
        return Err(ServiceError::invalid(field, message));
    }
    Ok(name.to_string())
}

/// The bytes free to this process on the disk of `dir`.
#[cfg(unix)]
#[allow(
    clippy::unnecessary_cast,
    reason = "the statvfs field types differ between platforms"
)]
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok((s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> std::io::Result<u64> {
    Ok(u64::MAX)
}

#[cfg(test)]
mod tests;
