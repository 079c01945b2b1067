//! Where file bytes live: one [`BlobBackend`] interface, two implementations chosen by
//! configuration (`files.backend`): [`LocalBackend`], a directory on local disk, and
//! [`S3Backend`], a bucket (and key prefix) of any S3-speaking object store.
//!
//! A blob is named by a key of `/`-separated segments: a file's bytes are `{file_id}`, its
//! extracted text `{file_id}.text`, an upload's parts `uploads/{upload_id}/{part_id}`. Both
//! back-ends keep the same promise: a [`BlobWriter`] is durable once
//! [`BlobWriter::finish`] returns (local: synced and renamed into place; S3: the PUT or the
//! multipart completion answered), and one dropped or failed before that leaves nothing at its
//! key (local: its temporary is removed; S3: its multipart upload is aborted). Bytes stream
//! through; a whole file is never held in memory.

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::ServiceError;

mod local;
mod s3;
mod store;

pub use local::LocalBackend;
pub(crate) use local::sync_dir;
pub use s3::{PART_BYTES, S3Backend, S3Settings};
pub use store::{BlobStore, TempBlob};
pub(crate) use store::{TEXT_SUFFIX, UPLOADS};

/// A blob's bytes as they are read.
pub type ByteStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// What went wrong with a blob; mapped once to [`ServiceError`].
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// More bytes than the writer was allowed.
    #[error("more than {max} bytes")]
    TooLarge { max: u64 },
    /// The stream being stored broke off (the caller's side).
    #[error("the upload broke off: {0}")]
    BrokenOff(String),
    /// The local disk failed.
    #[error("{what}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The object store failed or did not answer.
    #[error("{what}")]
    Remote {
        what: &'static str,
        #[source]
        source: object_store::Error,
    },
    /// The object store's configuration is not usable.
    #[error("{0}")]
    Config(String),
}

impl BlobError {
    pub(crate) fn io(what: &'static str) -> impl Fn(std::io::Error) -> Self + Copy {
        move |source| BlobError::Io { what, source }
    }

    /// What went wrong, on one line: for a remote failure, the store's own answer (an S3
    /// error's body is XML over several lines).
    pub fn one_line(&self) -> String {
        let text = match self {
            BlobError::Remote { source, .. } => source.to_string(),
            BlobError::TooLarge { .. }
            | BlobError::BrokenOff(_)
            | BlobError::Io { .. }
            | BlobError::Config(_) => crate::error_chain(self),
        };
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    pub(crate) fn remote(what: &'static str) -> impl Fn(object_store::Error) -> Self + Copy {
        move |source| BlobError::Remote { what, source }
    }
}

impl From<BlobError> for ServiceError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge { max } => ServiceError::TooLarge(format!(
                "the file is larger than the upload limit of {max} bytes"
            )),
            e @ BlobError::BrokenOff(_) => {
                ServiceError::invalid(store_core::Field::File, e.to_string())
            }
            BlobError::Io { what, source } => ServiceError::Internal {
                message: what.to_string(),
                source: Some(Box::new(source)),
            },
            BlobError::Remote { what, source } => ServiceError::Unavailable {
                message: format!("the object store failed: {what}"),
                source: Some(Box::new(source)),
            },
            BlobError::Config(message) => ServiceError::internal_msg(message),
        }
    }
}

/// A blob found by [`BlobBackend::list`]: its last key segment, size and time since written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    pub name: String,
    pub size: u64,
    pub age: Duration,
}

/// What is directly under a key prefix: blobs, and the next segments of longer keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub blobs: Vec<BlobEntry>,
    pub dirs: Vec<String>,
}

/// Bytes being stored at one key; see the module's doc for what each end promises.
#[async_trait::async_trait]
pub trait BlobWriter: Send + Debug {
    /// Appends `chunk` (the back-end bounds what it buffers: it waits while it is full).
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError>;
    /// Stores what was written, durably, at the key.
    async fn finish(self: Box<Self>) -> Result<(), BlobError>;
}

/// A place for blobs. Missing keys are `None` (or nothing to do), never an error.
#[async_trait::async_trait]
pub trait BlobBackend: Send + Sync + Debug + 'static {
    /// A writer of the blob `key` (replacing any blob there once finished).
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;
    /// The blob's bytes, streamed, and its size.
    async fn open_read(&self, key: &str) -> Result<Option<(ByteStream, u64)>, BlobError>;
    /// The blob's size.
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError>;
    /// The bytes `range` of the blob (cut at its end) and the blob's size, read at once.
    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<(Bytes, u64)>, BlobError>;
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Removes every blob whose key starts with `dir/`.
    async fn delete_dir(&self, dir: &str) -> Result<(), BlobError>;
    /// The blobs and sub-prefixes directly under `dir` (`""`: the top).
    async fn list(&self, dir: &str) -> Result<Listing, BlobError>;
    /// Removes the back-end's own temporaries not written for `idle` (writers that a crash
    /// stopped); how many went.
    async fn sweep_temporaries(&self, idle: Duration) -> Result<usize, BlobError>;
    /// The local directory the blobs are kept in, when they are (its free space is checked).
    fn local_dir(&self) -> Option<&Path>;
}

#[cfg(test)]
pub(crate) mod tests;
