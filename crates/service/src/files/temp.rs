//! [`TempBlob`]: bytes streamed into a temporary file, synced, then renamed into place; removed
//! when dropped before that.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use store_core::Field;
use tokio::io::AsyncWriteExt;

use super::io_error;
use crate::error::ServiceError;

/// Makes renames in `dir` durable.
pub(crate) async fn sync_dir(dir: &Path) {
    if let Ok(dir) = tokio::fs::File::open(dir).await {
        let _ = dir.sync_all().await;
    }
}

/// A blob being received; removed on drop unless [`TempBlob::commit`]ted.
#[derive(Debug)]
pub struct TempBlob {
    path: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    done: bool,
}

impl TempBlob {
    /// A temporary at `path` in `dir`, renamed to `target` when committed.
    pub(crate) fn new(path: PathBuf, target: PathBuf, dir: PathBuf) -> Self {
        Self {
            path,
            target,
            dir,
            done: false,
        }
    }

    /// Streams `body` in and syncs it; more than `max` bytes is 413.
    pub async fn write<S, B, E>(&mut self, mut body: S, max: u64) -> Result<u64, ServiceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::create(&self.path)
            .await
            .map_err(|e| io_error("could not create the file", e))?;
        let mut n: u64 = 0;
        while let Some(part) = body.next().await {
            let part = part.map_err(|e| {
                ServiceError::invalid(Field::File, format!("the upload broke off: {e}"))
            })?;
            let bytes = part.as_ref();
            n += bytes.len() as u64;
            if n > max {
                return Err(ServiceError::TooLarge(format!(
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

    /// Renames the temporary to its final name, durably. (Done already by a start-up sweep of
    /// another instance sharing the directory counts as done.)
    pub async fn commit(mut self) -> Result<(), ServiceError> {
        match tokio::fs::rename(&self.path, &self.target).await {
            Ok(()) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && tokio::fs::try_exists(&self.target).await.unwrap_or(false) => {}
            Err(e) => return Err(io_error("could not store the file", e)),
        }
        self.done = true;
        sync_dir(&self.dir).await;
        Ok(())
    }
}

impl TempBlob {
    /// Leaves the temporary where it is.
    pub(crate) fn keep(mut self) {
        self.done = true;
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
