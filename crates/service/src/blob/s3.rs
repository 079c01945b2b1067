//! [`S3Backend`]: blobs as objects of one bucket, under a key prefix, over the S3 API (AWS or
//! any S3-compatible server), through the `object_store` crate.
//!
//! A writer buffers up to [`PART_BYTES`]; a blob no larger is stored with one PUT when
//! finished. A larger one becomes a multipart upload: each full part is sent as it fills
//! (at most [`PARTS_IN_FLIGHT`] at once, so an upload holds a bounded amount of memory), and the
//! upload is completed when finished, or aborted when the writer is dropped before that. An
//! upload a crash interrupted stays invisible (its parts are not an object) until the bucket's
//! lifecycle rule for incomplete multipart uploads removes it.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{BlobBackend, BlobEntry, BlobError, BlobWriter, ByteStream, Listing};

/// The size of each part of a multipart upload (S3's smallest but for the last).
pub const PART_BYTES: usize = 5 << 20;
/// Parts of one upload sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;

/// The `[files.s3]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    pub bucket: String,
    /// A key prefix inside the bucket ("" for none).
    pub prefix: String,
    /// Empty: AWS; else an S3-compatible server's URL.
    pub endpoint: String,
    pub region: String,
    /// Empty (with the secret): the environment's usual credential chain.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Whether an `http://` endpoint is allowed.
    pub allow_http: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            prefix: String::new(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: SecretString::from(""),
            allow_http: false,
        }
    }
}

/// Blobs in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Backend {
    store: Arc<AmazonS3>,
    prefix: String,
}

impl S3Backend {
    /// A client of the bucket `settings` name; nothing is sent yet.
    pub fn new(settings: &S3Settings) -> Result<Self, BlobError> {
        if settings.bucket.trim().is_empty() {
            return Err(BlobError::Config(
                "files.backend is \"s3\" but files.s3.bucket is empty".into(),
            ));
        }
        // Credentials, region and the like from the environment, then the settings given.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(settings.bucket.trim())
            .with_region(settings.region.trim())
            .with_allow_http(settings.allow_http);
        if !settings.endpoint.trim().is_empty() {
            builder = builder.with_endpoint(settings.endpoint.trim());
        }
        if !settings.access_key_id.trim().is_empty() {
            builder = builder
                .with_access_key_id(settings.access_key_id.trim())
                .with_secret_access_key(settings.secret_access_key.expose_secret());
        }
        let store = builder
            .build()
            .map_err(|e| BlobError::Config(format!("files.s3 is not usable: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: settings.prefix.trim_matches('/').to_string(),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The prefix of the keys under `dir`, `None` for the whole bucket.
    fn dir_path(&self, dir: &str) -> Option<Path> {
        let dir = dir.trim_matches('/');
        match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (false, true) => Some(Path::from(self.prefix.as_str())),
            (true, false) => Some(Path::from(dir)),
            (false, false) => Some(Path::from(format!("{}/{dir}", self.prefix))),
        }
    }
}

fn missing(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait::async_trait]
impl BlobBackend for S3Backend {
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        Ok(Box::new(S3Writer {
            store: self.store.clone(),
            path: self.path(key),
            buffer: Vec::new(),
            upload: None,
        }))
    }

    async fn open_read(&self, key: &str) -> Result<Option<(ByteStream, u64)>, BlobError> {
        match self.store.get(&self.path(key)).await {
            Ok(got) => {
                let size = got.meta.size;
                let stream = got
                    .into_stream()
                    .map_err(BlobError::remote("could not read the object"))
                    .boxed();
                Ok(Some((stream, size)))
            }
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(BlobError::remote("could not read the object")(e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(BlobError::remote("could not look the object up")(e)),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<(Bytes, u64)>, BlobError> {
        let read = BlobError::remote("could not read the object");
        if range.start < range.end {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                ..GetOptions::default()
            };
            match self.store.get_opts(&self.path(key), options).await {
                Ok(got) => {
                    let size = got.meta.size;
                    return Ok(Some((got.bytes().await.map_err(read)?, size)));
                }
                Err(e) if missing(&e) => return Ok(None),
                // A range that starts at or past the end is refused (416): nothing is there.
                Err(e) => match self.head(key).await? {
                    Some(size) if range.start < size => return Err(read(e)),
                    Some(_) => {}
                    None => return Ok(None),
                },
            }
        }
        Ok(self.head(key).await?.map(|size| (Bytes::new(), size)))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if missing(&e) => Ok(()),
            Err(e) => Err(BlobError::remote("could not remove the object")(e)),
        }
    }

    async fn delete_dir(&self, dir: &str) -> Result<(), BlobError> {
        let prefix = self.dir_path(dir);
        let keys = self
            .store
            .list(prefix.as_ref())
            .map_ok(|m| m.location)
            .boxed();
        self.store
            .delete_stream(keys)
            .try_for_each(|_| async { Ok(()) })
            .await
            .or_else(|e| if missing(&e) { Ok(()) } else { Err(e) })
            .map_err(BlobError::remote("could not remove the objects"))
    }

    async fn list(&self, dir: &str) -> Result<Listing, BlobError> {
        let listed = self
            .store
            .list_with_delimiter(self.dir_path(dir).as_ref())
            .await
            .map_err(BlobError::remote("could not list the bucket"))?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let last = |p: &Path| p.filename().map(str::to_string);
        let blobs = listed
            .objects
            .iter()
            .filter_map(|meta| {
                let written = u64::try_from(meta.last_modified.timestamp_millis()).unwrap_or(0);
                Some(BlobEntry {
                    name: last(&meta.location)?,
                    size: meta.size,
                    age: now.saturating_sub(Duration::from_millis(written)),
                })
            })
            .collect();
        let dirs = listed.common_prefixes.iter().filter_map(last).collect();
        Ok(Listing { blobs, dirs })
    }

    /// Nothing to do: an interrupted multipart upload is no object, and the bucket's lifecycle
    /// rule removes its parts.
    async fn sweep_temporaries(&self, _idle: Duration) -> Result<usize, BlobError> {
        Ok(0)
    }

    fn local_dir(&self) -> Option<&FsPath> {
        None
    }
}

/// A blob being written: buffered, then a PUT or a multipart upload.
struct S3Writer {
    store: Arc<AmazonS3>,
    path: Path,
    buffer: Vec<u8>,
    upload: Option<WriteMultipart>,
}

impl std::fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Writer")
            .field("path", &self.path)
            .field("buffered", &self.buffer.len())
            .field("multipart", &self.upload.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        if let Some(upload) = self.upload.as_mut() {
            upload
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(BlobError::remote("could not send a part of the object"))?;
            upload.write(chunk);
            return Ok(());
        }
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() >= PART_BYTES {
            let started = self
                .store
                .put_multipart(&self.path)
                .await
                .map_err(BlobError::remote("could not start a multipart upload"))?;
            let mut upload = WriteMultipart::new_with_chunk_size(started, PART_BYTES);
            upload.write(&std::mem::take(&mut self.buffer));
            self.upload = Some(upload);
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(), BlobError> {
        // The parts sent so far answered while the upload is still aborted if they failed.
        if let Some(upload) = self.upload.as_mut() {
            upload
                .wait_for_capacity(0)
                .await
                .map_err(BlobError::remote("could not send a part of the object"))?;
        }
        match self.upload.take() {
            Some(upload) => upload
                .finish()
                .await
                .map(drop)
                .map_err(BlobError::remote("could not complete the multipart upload")),
            None => {
                let payload = PutPayload::from(std::mem::take(&mut self.buffer));
                self.store
                    .put(&self.path, payload)
                    .await
                    .map(drop)
                    .map_err(BlobError::remote("could not store the object"))
            }
        }
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // Dropped before it finished: its parts are removed.
        if let Some(upload) = self.upload.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let path = self.path.clone();
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(key = %path, error = %e, "could not abort a multipart upload");
                }
            });
        }
    }
}
