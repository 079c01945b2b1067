//! Uploaded files: bytes in a [`BlobStore`] on disk, records in the [`FileCatalog`].
//!
//! An upload streams into a temporary file ([`TempBlob`]), synced; the catalog row is committed;
//! only then is the temporary renamed to its final name. A refused, broken or abandoned upload
//! leaves nothing (the temporary is removed when its guard is dropped), and a crash between the
//! row and the rename is mended at start-up by [`FileService::sweep_temporaries`]. Each file's
//! extracted text is kept beside its bytes, computed once at ingestion.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::Stream;
use models::openai::FILE_PURPOSES;
use store_core::{
    Field, FileCatalog, FileExpiryPart, FilePage, FileRecord, StoreError, Tenant, now_unix,
};

use crate::error::ServiceError;

mod temp;

pub use temp::TempBlob;
pub(crate) use temp::sync_dir;

/// Files on local disk, one per id.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

pub(crate) fn io_error(what: &str, e: std::io::Error) -> ServiceError {
    StoreError::internal(what.to_string(), e).into()
}

/// Temporaries are `.{id}.part`.
const TEMP_SUFFIX: &str = ".part";
/// A file's extracted text is `{id}.text`.
const TEXT_SUFFIX: &str = ".text";

impl BlobStore {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The directory the files are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn temp_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}{TEMP_SUFFIX}"))
    }

    fn text_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{TEXT_SUFFIX}"))
    }

    /// A temporary for the blob `id`, removed when dropped unless committed.
    pub fn temp(&self, id: &str) -> TempBlob {
        self.temporary(id, self.path(id))
    }

    /// The temporary `.{name}.part`, renamed to `target` when committed.
    fn temporary(&self, name: &str, target: PathBuf) -> TempBlob {
        TempBlob::new(self.temp_path(name), target, self.dir.clone())
    }

    pub async fn open(&self, id: &str) -> Result<tokio::fs::File, ServiceError> {
        tokio::fs::File::open(self.path(id))
            .await
            .map_err(|e| io_error("the file's bytes are missing", e))
    }

    /// The file's extracted text, when it has been extracted.
    pub async fn read_text(&self, id: &str) -> Result<Option<String>, ServiceError> {
        match tokio::fs::read(self.text_path(id)).await {
            Ok(bytes) => Ok(String::from_utf8(bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("could not read the file's text", e)),
        }
    }

    /// Up to `max` bytes of the file's extracted text from byte `offset` (cut where a character
    /// ends), and whether more follows; `None` when it has not been extracted. Only that much
    /// is read.
    pub async fn read_text_range(
        &self,
        id: &str,
        offset: u64,
        max: usize,
    ) -> Result<Option<(String, bool)>, ServiceError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = match tokio::fs::File::open(self.text_path(id)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("could not read the file's text", e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|e| io_error("could not read the file's text", e))?
            .len();
        file.seek(std::io::SeekFrom::Start(offset.min(size)))
            .await
            .map_err(|e| io_error("could not read the file's text", e))?;
        let mut bytes = Vec::with_capacity(max.min(size.saturating_sub(offset) as usize));
        file.take(max as u64)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| io_error("could not read the file's text", e))?;
        // A page ends where a character does.
        let whole = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                return Err(ServiceError::invalid_body(
                    "the page does not start where a character does",
                ));
            }
        };
        bytes.truncate(whole);
        let more = offset + (bytes.len() as u64) < size;
        let text = String::from_utf8(bytes)
            .map_err(|_| ServiceError::internal_msg("a kept text is not UTF-8"))?;
        Ok(Some((text, more)))
    }

    /// Keeps the file's extracted text (durably, replacing any earlier one).
    pub async fn write_text(&self, id: &str, text: &str) -> Result<(), ServiceError> {
        // A temporary of its own: the same file may be ingested into two stores at once.
        let unique = uuid::Uuid::new_v4().simple();
        let mut temp = self.temporary(&format!("{id}{TEXT_SUFFIX}.{unique}"), self.text_path(id));
        temp.write(
            futures::stream::iter([Ok::<_, std::io::Error>(text.as_bytes())]),
            u64::MAX,
        )
        .await?;
        temp.commit().await
    }

    /// Removes the file's bytes and its text.
    pub async fn delete(&self, id: &str) {
        for path in [self.path(id), self.text_path(id)] {
            if let Err(e) = tokio::fs::remove_file(&path).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = id, error = %e, "could not remove a file's bytes");
            }
        }
    }

    /// The names of the temporaries on disk, with the time since each was written.
    async fn temporaries(&self) -> Result<Vec<(String, std::time::Duration)>, ServiceError> {
        self.entries(|n| {
            n.strip_prefix('.')
                .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
        })
        .await
    }

    /// The files' bytes and texts on disk: (file id, whether it is the text, time since it was
    /// written).
    async fn kept(&self) -> Result<Vec<(String, bool, std::time::Duration)>, ServiceError> {
        Ok(self
            .entries(|n| (!n.starts_with('.')).then_some(n))
            .await?
            .into_iter()
            .map(|(name, age)| match name.strip_suffix(TEXT_SUFFIX) {
                Some(id) => (id.to_string(), true, age),
                None => (name, false, age),
            })
            .collect())
    }

    /// The directory's entries whose names `pick` keeps (as it returns them), with the time
    /// since each was written.
    async fn entries(
        &self,
        pick: impl Fn(&str) -> Option<&str>,
    ) -> Result<Vec<(String, std::time::Duration)>, ServiceError> {
        let mut picked = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| io_error("could not list the files directory", e))?;
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| io_error("could not list the files directory", e))?
        {
            let name = entry.file_name();
            // Directories (the parts of uploads in progress) are not files' bytes.
            let is_file = entry.file_type().await.is_ok_and(|t| t.is_file());
            if is_file && let Some(name) = name.to_str().and_then(&pick) {
                let age = entry
                    .metadata()
                    .await
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                picked.push((name.to_string(), age));
            }
        }
        Ok(picked)
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
    min_free: u64,
}

impl FileService {
    pub fn new(catalog: Arc<dyn FileCatalog>, blobs: BlobStore, max_upload: u64) -> Self {
        Self {
            catalog,
            blobs,
            max_upload,
            min_free: 0,
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
        if self.min_free == 0 {
            return Ok(());
        }
        let dir = self.blobs.dir.clone();
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
        let mut temp = self.blobs.temp(id);
        let n = temp.write(body, self.max_upload).await?;
        // Written, the upload is on the disk already: what is left must stay above the mark.
        self.check_free_space().await?;
        Ok((temp, n))
    }

    /// Records a received file, then moves its bytes into place. On any failure the bytes are
    /// removed and no record stays.
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
        let record = self.validate_and_insert(tenant, &id, bytes, meta).await?;
        let temp = temp.expect("validation requires the bytes");
        if let Err(e) = temp.commit().await {
            if let Err(undo) = self.catalog.delete_file(&tenant.id, &id).await {
                tracing::error!(
                    file = %id,
                    error = %undo,
                    "could not remove the record of a file whose bytes were not stored"
                );
            }
            return Err(e);
        }
        Ok(record)
    }

    /// Mends what a crash left in the files directory: a temporary whose record was committed
    /// is moved into place (its bytes were synced before the record); any other not written for
    /// `idle` is removed (younger ones may be uploads of another instance sharing the
    /// directory). Returns how many were moved and removed.
    pub async fn sweep_temporaries(
        &self,
        idle: std::time::Duration,
    ) -> Result<(usize, usize), ServiceError> {
        let (mut moved, mut removed) = (0, 0);
        for (name, age) in self.blobs.temporaries().await? {
            let temp = self.blobs.temp(&name);
            // Text temporaries (`{id}.text.{n}`) are written again by the next ingestion.
            if !name.contains(TEXT_SUFFIX) && self.catalog.file_exists(&name).await? {
                temp.commit().await?;
                moved += 1;
            } else if age >= idle {
                drop(temp);
                removed += 1;
            } else {
                temp.keep();
            }
        }
        if moved + removed > 0 {
            sync_dir(&self.blobs.dir).await;
        }
        Ok((moved, removed))
    }

    /// Removes what no file record owns and nothing has written for `idle`: bytes and texts of
    /// files deleted meanwhile (a text written by an extraction that ran while its file was
    /// deleted), and temporaries of uploads and extractions that stopped. Run periodically;
    /// unlike [`FileService::sweep_temporaries`] at start-up, it moves nothing into place (an
    /// upload may be about to). Returns how many went.
    pub async fn sweep_orphans(&self, idle: std::time::Duration) -> Result<usize, ServiceError> {
        let mut removed = 0;
        for (name, age) in self.blobs.temporaries().await? {
            if age >= idle && !self.catalog.file_exists(&name).await? {
                drop(self.blobs.temp(&name));
                removed += 1;
            } else {
                self.blobs.temp(&name).keep();
            }
        }
        for (id, text, age) in self.blobs.kept().await? {
            if age < idle || self.catalog.file_exists(&id).await? {
                continue;
            }
            let path = if text {
                self.blobs.text_path(&id)
            } else {
                self.blobs.path(&id)
            };
            match tokio::fs::remove_file(&path).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %id, error = %e, "could not remove an orphaned file");
                }
            }
        }
        Ok(removed)
    }

    async fn validate_and_insert(
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
