//! [`BlobStore`]: the one facade over the configured [`BlobBackend`] that files, uploads and
//! ingestion use, in their terms (a file's bytes, its text, an upload's parts); and
//! [`TempBlob`], a blob being received.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use super::{BlobBackend, BlobError, BlobWriter, ByteStream, Listing, LocalBackend};
use super::{S3Backend, S3Settings};
use crate::error::ServiceError;

/// A file's extracted text is `{id}.text`.
pub(crate) const TEXT_SUFFIX: &str = ".text";
/// The prefix of uploads' parts: `uploads/{upload_id}/{part_id}`.
pub(crate) const UPLOADS: &str = "uploads";

/// File bytes, texts and upload parts, in the configured back-end.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Arc<dyn BlobBackend>,
}

impl BlobStore {
    /// Blobs in the local directory `dir` (created if missing).
    pub fn new(dir: impl Into<std::path::PathBuf>) -> std::io::Result<Self> {
        Ok(Self::with_backend(Arc::new(LocalBackend::new(dir)?)))
    }

    /// Blobs in the S3 bucket `settings` name.
    pub fn s3(settings: &S3Settings) -> Result<Self, BlobError> {
        Ok(Self::with_backend(Arc::new(S3Backend::new(settings)?)))
    }

    pub fn with_backend(backend: Arc<dyn BlobBackend>) -> Self {
        Self { backend }
    }

    pub fn backend(&self) -> &Arc<dyn BlobBackend> {
        &self.backend
    }

    /// Fails when the store cannot be reached (a missing bucket, refused credentials): one
    /// listing of a prefix that holds nothing.
    pub async fn check(&self) -> Result<(), BlobError> {
        self.backend.list(".reachable").await.map(drop)
    }

    /// The local directory blobs are kept in, when they are.
    pub fn local_dir(&self) -> Option<&Path> {
        self.backend.local_dir()
    }

    /// A temporary for the blob `key`, stored there once committed, gone if dropped before.
    pub async fn temp(&self, key: &str) -> Result<TempBlob, ServiceError> {
        Ok(TempBlob {
            writer: self.backend.writer(key).await?,
        })
    }

    /// The file's bytes, streamed, and their size.
    pub async fn open(&self, id: &str) -> Result<(ByteStream, u64), ServiceError> {
        self.open_key(id).await
    }

    /// The blob `key`, streamed, and its size.
    pub(crate) async fn open_key(&self, key: &str) -> Result<(ByteStream, u64), ServiceError> {
        self.backend
            .open_read(key)
            .await?
            .ok_or_else(|| ServiceError::internal_msg(format!("the bytes of {key} are missing")))
    }

    /// The file's extracted text, when it has been extracted.
    pub async fn read_text(&self, id: &str) -> Result<Option<String>, ServiceError> {
        let key = format!("{id}{TEXT_SUFFIX}");
        let Some((stream, _)) = self.backend.open_read(&key).await? else {
            return Ok(None);
        };
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        Ok(String::from_utf8(chunks.concat()).ok())
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
        let key = format!("{id}{TEXT_SUFFIX}");
        let end = offset.saturating_add(max as u64);
        let Some((bytes, size)) = self.backend.get_range(&key, offset..end).await? else {
            return Ok(None);
        };
        let mut bytes = bytes.to_vec();
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
        let more = offset.min(size) + (bytes.len() as u64) < size;
        let text = String::from_utf8(bytes)
            .map_err(|_| ServiceError::internal_msg("a kept text is not UTF-8"))?;
        Ok(Some((text, more)))
    }

    /// Keeps the file's extracted text (durably, replacing any earlier one).
    pub async fn write_text(&self, id: &str, text: &str) -> Result<(), ServiceError> {
        let mut temp = self.temp(&format!("{id}{TEXT_SUFFIX}")).await?;
        temp.write(
            futures::stream::iter([Ok::<_, std::io::Error>(text.as_bytes())]),
            u64::MAX,
        )
        .await?;
        temp.commit().await
    }

    /// Removes the file's bytes and its text.
    pub async fn delete(&self, id: &str) {
        for key in [id.to_string(), format!("{id}{TEXT_SUFFIX}")] {
            self.delete_key(&key).await;
        }
    }

    /// Removes the blob `key`; a failure is logged (the orphan sweep tries again).
    pub(crate) async fn delete_key(&self, key: &str) {
        if let Err(e) = self.backend.delete(key).await {
            tracing::warn!(key, error = %crate::error_chain(&e), "could not remove a blob");
        }
    }

    /// Removes every blob under `dir/`; a failure is logged.
    pub(crate) async fn delete_dir(&self, dir: &str) {
        if let Err(e) = self.backend.delete_dir(dir).await {
            tracing::warn!(dir, error = %crate::error_chain(&e), "could not remove blobs");
        }
    }

    pub(crate) async fn list(&self, dir: &str) -> Result<Listing, ServiceError> {
        Ok(self.backend.list(dir).await?)
    }

    /// Removes the back-end's temporaries not written for `idle`; how many went.
    pub async fn sweep_temporaries(&self, idle: Duration) -> Result<usize, ServiceError> {
        Ok(self.backend.sweep_temporaries(idle).await?)
    }
}

/// A blob being received: stored at its key when [`TempBlob::commit`]ted, gone (its temporary
/// removed, its multipart upload aborted) when dropped before.
#[derive(Debug)]
pub struct TempBlob {
    writer: Box<dyn BlobWriter>,
}

impl TempBlob {
    /// How many bytes [`TempBlob::write_checked`] writes between two checks.
    pub const CHECK_EVERY: u64 = 8 << 20;

    /// Streams `body` in; more than `max` bytes is 413 (refused as soon as it is seen).
    pub async fn write<S, B, E>(&mut self, body: S, max: u64) -> Result<u64, ServiceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        self.write_checked(body, max, || std::future::ready(Ok(())))
            .await
    }

    /// [`TempBlob::write`], calling `check` each time another [`TempBlob::CHECK_EVERY`] bytes
    /// are written; its error stops the write (e.g. a disk fallen below its mark while
    /// several writes went on at once).
    pub async fn write_checked<S, B, E, F, C>(
        &mut self,
        mut body: S,
        max: u64,
        mut check: F,
    ) -> Result<u64, ServiceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
        F: FnMut() -> C,
        C: Future<Output = Result<(), ServiceError>>,
    {
        let (mut n, mut next_check) = (0u64, Self::CHECK_EVERY);
        while let Some(part) = body.next().await {
            let part = part.map_err(|e| BlobError::BrokenOff(e.to_string()))?;
            let bytes = part.as_ref();
            n += bytes.len() as u64;
            if n > max {
                return Err(BlobError::TooLarge { max }.into());
            }
            self.writer.write(bytes).await?;
            if n >= next_check {
                check().await?;
                next_check = n.saturating_add(Self::CHECK_EVERY);
            }
        }
        Ok(n)
    }

    /// Stores what was written, durably.
    pub async fn commit(self) -> Result<(), ServiceError> {
        Ok(self.writer.finish().await?)
    }
}
