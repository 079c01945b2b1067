//! [`LocalBackend`]: blobs as files under one directory, a key's segments its sub-directories.
//! A writer streams into the temporary `.{name}.{unique}.part` beside its target, syncs it,
//! renames it into place and syncs the directory.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobBackend, BlobEntry, BlobError, BlobWriter, ByteStream, Listing};

/// Temporaries end so.
const TEMP_SUFFIX: &str = ".part";

/// Blobs on local disk.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    dir: PathBuf,
}

impl LocalBackend {
    /// Blobs kept in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        let mut path = self.dir.clone();
        path.extend(key.split('/').filter(|s| !s.is_empty()));
        path
    }
}

/// Makes renames in `dir` durable.
pub(crate) async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

fn not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

#[async_trait::async_trait]
impl BlobBackend for LocalBackend {
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let target = self.path(key);
        let parent = target.parent().unwrap_or(&self.dir).to_path_buf();
        if parent != self.dir {
            tokio::fs::create_dir_all(&parent)
                .await
                .map_err(BlobError::io("could not make the blob's directory"))?;
            // The directories made are durable, each in the one above it, up to the root.
            let mut made = parent.parent();
            while let Some(dir) = made.filter(|d| d.starts_with(&self.dir)) {
                sync_dir(dir)
                    .await
                    .map_err(BlobError::io("could not sync the blob's directory"))?;
                made = dir.parent();
            }
        }
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("blob");
        let unique = uuid::Uuid::new_v4().simple();
        let temp = parent.join(format!(".{name}.{unique}{TEMP_SUFFIX}"));
        let file = tokio::fs::File::create(&temp)
            .await
            .map_err(BlobError::io("could not create the file"))?;
        Ok(Box::new(LocalWriter {
            file: Some(file),
            temp,
            target,
            dir: parent,
        }))
    }

    async fn open_read(&self, key: &str) -> Result<Option<(ByteStream, u64)>, BlobError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(BlobError::io("could not open the file")(e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(BlobError::io("could not read the file"))?
            .len();
        let stream = tokio_util::io::ReaderStream::new(file)
            .map_err(BlobError::io("could not read the file"))
            .boxed();
        Ok(Some((stream, size)))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(BlobError::io("could not read the file")(e)),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<(Bytes, u64)>, BlobError> {
        let read = BlobError::io("could not read the file");
        let mut file = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(read(e)),
        };
        let result = async {
            let size = file.metadata().await?.len();
            let start = range.start.min(size);
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let len = range.end.min(size).saturating_sub(start);
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(len).read_to_end(&mut bytes).await?;
            Ok::<_, std::io::Error>((Bytes::from(bytes), size))
        }
        .await;
        result.map(Some).map_err(read)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(BlobError::io("could not remove the file")(e)),
        }
    }

    async fn delete_dir(&self, dir: &str) -> Result<(), BlobError> {
        let path = self.path(dir);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => {
                // A removal that is not yet durable is swept again: no failure of the call.
                let _ = sync_dir(path.parent().unwrap_or(&self.dir)).await;
                Ok(())
            }
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(BlobError::io("could not remove the directory")(e)),
        }
    }

    async fn list(&self, dir: &str) -> Result<Listing, BlobError> {
        let mut listing = Listing::default();
        for (name, is_dir, age, size) in entries(&self.path(dir)).await? {
            if is_dir {
                listing.dirs.push(name);
            } else if !name.starts_with('.') {
                listing.blobs.push(BlobEntry { name, size, age });
            }
        }
        Ok(listing)
    }

    async fn sweep_temporaries(&self, idle: Duration) -> Result<usize, BlobError> {
        let mut removed = 0;
        for (name, is_dir, age, _) in entries(&self.dir).await? {
            if is_dir || !name.starts_with('.') || !name.ends_with(TEMP_SUFFIX) || age < idle {
                continue;
            }
            match tokio::fs::remove_file(self.dir.join(&name)).await {
                Ok(()) => removed += 1,
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(BlobError::io("could not remove a temporary")(e)),
            }
        }
        if removed > 0 {
            let _ = sync_dir(&self.dir).await;
        }
        Ok(removed)
    }

    fn local_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

/// The entries of `dir` (none when it is missing): name, whether a directory, time since
/// written, size.
async fn entries(dir: &Path) -> Result<Vec<(String, bool, Duration, u64)>, BlobError> {
    let listing = BlobError::io("could not list the files directory");
    let mut read = match tokio::fs::read_dir(dir).await {
        Ok(read) => read,
        Err(e) if not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(listing(e)),
    };
    let mut out = Vec::new();
    loop {
        let entry = match read.next_entry().await {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => return Err(BlobError::io("could not list the files directory")(e)),
        };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        out.push((name, meta.is_dir(), age, meta.len()));
    }
    Ok(out)
}

/// A blob being written to a temporary file; removed on drop unless finished.
#[derive(Debug)]
struct LocalWriter {
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let file = self
            .file
            .as_mut()
            .expect("a writer is written until it is finished");
        file.write_all(chunk)
            .await
            .map_err(BlobError::io("could not write the file"))
    }

    async fn finish(mut self: Box<Self>) -> Result<(), BlobError> {
        let file = self.file.take().expect("a writer is finished once");
        file.sync_all()
            .await
            .map_err(BlobError::io("could not sync the file"))?;
        drop(file);
        tokio::fs::rename(&self.temp, &self.target)
            .await
            .map_err(BlobError::io("could not store the file"))?;
        sync_dir(&self.dir)
            .await
            .map_err(BlobError::io("could not sync the file's directory"))?;
        // Renamed: nothing left to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
