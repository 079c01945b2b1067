//! Uploads in parts (OpenAI's Uploads API): a file larger than one request may carry, sent as
//! parts and then completed into an ordinary file.
//!
//! Each part streams into the blob `uploads/<upload_id>/<part_id>` of the files' [`BlobStore`]
//! (under `files.dir`, or in the bucket), is stored durably, and only then recorded in the
//! [`UploadCatalog`] (which checks the tenant's file-bytes quota, the upload's state and its
//! declared size in the same transaction; a refused part's blob is removed): a part answered
//! with 200 is stored and in the catalog, and survives a restart. Completing streams the parts,
//! in the order asked for, into the new file's blob (with its MD5 when one is to be checked),
//! then swaps the parts' records for the file's in one transaction and removes the parts. A
//! cancelled or expired upload's parts are removed; [`UploadService::sweep`] expires uploads
//! past their time and removes the parts of any upload that no longer wants them.
//!
//! [`BlobStore`]: crate::BlobStore

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use serde::Deserialize;
use store_core::{
    Field, FileExpiryPart, FileRecord, PartBounds, PartRecord, Tenant, UploadCatalog, UploadRecord,
    UploadStatus, now_unix,
};

use crate::blob::UPLOADS;
use crate::error::ServiceError;
use crate::files::{FileService, check_purpose, clean_filename};

/// The `[uploads]` settings: the bounds of uploads in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UploadLimits {
    /// The most bytes one upload declares (and its file has); OpenAI's 8 GiB.
    pub max_bytes: u64,
    /// The most bytes of one part; OpenAI's 64 MiB.
    pub max_part_bytes: u64,
    /// The most parts of one upload.
    pub max_parts: usize,
    /// Seconds an upload stays pending when its request sets no `expires_after`.
    pub expiry_secs: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 8 << 30,
            max_part_bytes: 64 << 20,
            max_parts: 10_000,
            expiry_secs: 3600,
        }
    }
}

/// How long a completion holds its upload (a second one meanwhile is refused): far longer than
/// joining the largest upload takes; after a crash, the upload can be completed again once it
/// has passed.
pub const COMPLETION_LEASE_SECS: i64 = 600;

/// The bounds OpenAI sets on `expires_after.seconds`: an hour to thirty days.
pub const EXPIRES_AFTER_SECS: std::ops::RangeInclusive<i64> = 3600..=2_592_000;

/// What a new upload declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub bytes: u64,
    pub filename: String,
    pub mime_type: String,
    pub purpose: String,
    /// `(anchor, seconds)`: the upload (and the file it makes) expire `seconds` after their
    /// creation; the anchor must be `created_at`.
    pub expires_after: Option<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct UploadService {
    catalog: Arc<dyn UploadCatalog>,
    files: FileService,
    limits: UploadLimits,
}

impl UploadService {
    pub fn new(catalog: Arc<dyn UploadCatalog>, files: FileService, limits: UploadLimits) -> Self {
        Self {
            catalog,
            files,
            limits,
        }
    }

    pub fn limits(&self) -> &UploadLimits {
        &self.limits
    }

    /// The key prefix of the parts of the (recorded, so well-formed) upload `id`.
    pub fn parts_dir(id: &str) -> String {
        format!("{UPLOADS}/{id}")
    }

    pub async fn create(
        &self,
        tenant: &Tenant,
        new: NewUpload,
    ) -> Result<UploadRecord, ServiceError> {
        let max = self.limits.max_bytes;
        if new.bytes > max {
            let message = format!("an upload is at most {max} bytes (uploads.max_bytes)");
            return Err(ServiceError::invalid(Field::UploadBytes, message));
        }
        let filename = clean_filename(&new.filename, Field::Filename)?;
        check_purpose(&new.purpose)?;
        check_mime_type(&new.mime_type)?;
        let file_expires_after = match new.expires_after {
            None => None,
            Some((anchor, _)) if anchor != "created_at" => {
                let field = Field::UploadExpiresAfter(FileExpiryPart::Anchor);
                return Err(ServiceError::invalid(
                    field,
                    "the only anchor is 'created_at'",
                ));
            }
            Some((_, secs)) if !EXPIRES_AFTER_SECS.contains(&secs) => {
                let field = Field::UploadExpiresAfter(FileExpiryPart::Seconds);
                let message = "must be between 3600 (1 hour) and 2592000 (30 days)";
                return Err(ServiceError::invalid(field, message));
            }
            Some((_, secs)) => Some(secs),
        };
        let created_at = now_unix();
        let default_secs = i64::try_from(self.limits.expiry_secs).unwrap_or(i64::MAX);
        let upload = UploadRecord {
            id: format!("upload_{}", uuid::Uuid::now_v7().simple()),
            tenant_id: tenant.id.clone(),
            filename,
            bytes: new.bytes,
            mime_type: new.mime_type.trim().to_string(),
            purpose: new.purpose,
            status: UploadStatus::Pending,
            created_at,
            expires_at: created_at.saturating_add(file_expires_after.unwrap_or(default_secs)),
            file_expires_after,
            file_id: None,
        };
        Ok(self.catalog.insert_upload(upload).await?)
    }

    /// The tenant's upload `id`, refused unless it still takes parts.
    async fn open_upload(&self, tenant: &Tenant, id: &str) -> Result<UploadRecord, ServiceError> {
        let upload = self.catalog.get_upload(&tenant.id, id).await?;
        let state = match upload.status {
            UploadStatus::Pending if upload.expires_at > now_unix() => return Ok(upload),
            UploadStatus::Pending | UploadStatus::Expired => "has expired",
            UploadStatus::Completed => "is already completed",
            UploadStatus::Cancelled => "was cancelled",
        };
        Err(ServiceError::invalid_body(format!(
            "upload {id} {state}: only a pending upload takes parts, completion or cancellation"
        )))
    }

    /// Streams one part of the tenant's upload `id` to disk and records it. At most
    /// `uploads.max_part_bytes` (413 past it) and no more than the upload has yet to receive.
    pub async fn add_part<S, B, E>(
        &self,
        tenant: &Tenant,
        id: &str,
        body: S,
    ) -> Result<PartRecord, ServiceError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let upload = self.open_upload(tenant, id).await?;
        let parts = self.catalog.parts(&upload.id).await?;
        if parts.len() >= self.limits.max_parts {
            let max = self.limits.max_parts;
            let message = format!("an upload has at most {max} parts (uploads.max_parts)");
            return Err(ServiceError::invalid(Field::PartData, message));
        }
        let received: u64 = parts.iter().map(|p| p.bytes).sum();
        let left = upload.bytes.saturating_sub(received);
        self.files.check_free_space().await?;
        let part_id = format!("part_{}", uuid::Uuid::now_v7().simple());
        let key = format!("{}/{part_id}", Self::parts_dir(&upload.id));
        let mut temp = self.files.blobs().temp(&key).await?;
        let bound = self.limits.max_part_bytes.min(left);
        let bytes = match self.files.write_watched(&mut temp, body, bound).await {
            Ok(bytes) => bytes,
            Err(e) => {
                let e = self.part_refusal(e, left, upload.bytes);
                return Err(self.ended_meanwhile(tenant, id, e).await);
            }
        };
        // An empty part adds nothing but a file and a row (only an empty file is made of one).
        if bytes == 0 && upload.bytes > 0 {
            let message = "a part must hold at least one byte";
            return Err(ServiceError::invalid(Field::PartData, message));
        }
        // Written, the part is on the disk already: what is left must stay above the mark.
        self.files.check_free_space().await?;
        if let Err(e) = temp.commit().await {
            return Err(self.ended_meanwhile(tenant, id, e).await);
        }
        let part = PartRecord {
            id: part_id,
            upload_id: upload.id,
            bytes,
            created_at: now_unix(),
        };
        let bounds = PartBounds {
            max_parts: self.limits.max_parts,
            now: now_unix(),
        };
        match self.catalog.insert_part(&tenant.id, part, bounds).await {
            Ok(part) => Ok(part),
            Err(e) => {
                self.files.blobs().delete_key(&key).await;
                Err(e.into())
            }
        }
    }

    /// `e`, a failure of the server to write a part, or why the upload `id` ended meanwhile
    /// (its parts' directory went with it): a cancellation or completion at the same time is
    /// the caller's 400, not the server's fault.
    async fn ended_meanwhile(&self, tenant: &Tenant, id: &str, e: ServiceError) -> ServiceError {
        if !e.is_server_fault() {
            return e;
        }
        self.open_upload(tenant, id).await.err().unwrap_or(e)
    }

    /// A failure to write a part, in the terms of parts: too large for a part (413) or for what
    /// the upload has yet to receive, or broken off.
    fn part_refusal(&self, e: ServiceError, left: u64, declared: u64) -> ServiceError {
        if let ServiceError::Invalid { message, .. } = e {
            return ServiceError::invalid(Field::PartData, message);
        }
        if !matches!(e, ServiceError::TooLarge(_)) {
            return e;
        }
        let max = self.limits.max_part_bytes;
        if left < max {
            let message = format!(
                "the part is larger than the {left} bytes the upload has yet to receive of the \
                 {declared} it declared"
            );
            return ServiceError::invalid(Field::PartData, message);
        }
        ServiceError::TooLarge(format!(
            "a part is at most {max} bytes (uploads.max_part_bytes)"
        ))
    }

    /// Completes the tenant's upload `id` with its parts `part_ids`, in that order: their bytes
    /// become a new file's (whose MD5 must be `md5` when it is given). The upload and the file.
    pub async fn complete(
        &self,
        tenant: &Tenant,
        id: &str,
        part_ids: &[String],
        md5: Option<&str>,
    ) -> Result<(UploadRecord, FileRecord), ServiceError> {
        let upload = self.open_upload(tenant, id).await?;
        let expected = md5.map(check_md5).transpose()?;
        let parts: HashMap<String, u64> = self
            .catalog
            .parts(&upload.id)
            .await?
            .into_iter()
            .map(|p| (p.id, p.bytes))
            .collect();
        let mut total: u64 = 0;
        let mut listed = HashSet::with_capacity(part_ids.len());
        for (i, part) in part_ids.iter().enumerate() {
            if !listed.insert(part) {
                let message = format!("part {part} is listed twice");
                return Err(ServiceError::invalid(Field::PartIds(Some(i)), message));
            }
            let Some(bytes) = parts.get(part) else {
                let message = format!("upload {id} has no part '{part}'");
                return Err(ServiceError::invalid(Field::PartIds(Some(i)), message));
            };
            total += bytes;
        }
        if total != upload.bytes {
            let message = format!(
                "the parts listed hold {total} bytes, but the upload declared {}",
                upload.bytes
            );
            return Err(ServiceError::invalid(Field::PartIds(None), message));
        }
        let claim = (self.catalog)
            .claim_completion(&tenant.id, id, COMPLETION_LEASE_SECS)
            .await?;
        let done = self
            .join_into_file(tenant, upload, part_ids, expected)
            .await;
        if done.is_err()
            && let Err(e) = self.catalog.release_completion(id, claim).await
        {
            tracing::warn!(upload = id, error = %e, "could not release a completion's claim");
        }
        done
    }

    /// Joins the claimed upload's parts into a new file, checks its MD5 and records it.
    async fn join_into_file(
        &self,
        tenant: &Tenant,
        upload: UploadRecord,
        part_ids: &[String],
        expected: Option<[u8; 16]>,
    ) -> Result<(UploadRecord, FileRecord), ServiceError> {
        let id = upload.id.as_str();
        let file_id = FileService::new_id();
        let (temp, digest) = match self.concatenate(&upload, part_ids, &file_id).await {
            Ok(joined) => joined,
            Err(e) => {
                // A completion or cancellation at the same time removed the parts: say so.
                self.open_upload(tenant, id).await?;
                return Err(e);
            }
        };
        if let Some(expected) = expected
            && expected != digest
        {
            let message = format!(
                "the parts' MD5 is {}, not the {} given",
                hex::encode(digest),
                hex::encode(expected)
            );
            return Err(ServiceError::invalid(Field::Md5, message));
        }
        temp.commit().await?;
        let created_at = now_unix();
        let file = FileRecord {
            id: file_id,
            tenant_id: tenant.id.clone(),
            filename: upload.filename.clone(),
            bytes: upload.bytes,
            purpose: upload.purpose.clone(),
            created_at,
            expires_at: upload.file_expires_after.map(|s| created_at + s),
        };
        let upload = match self
            .catalog
            .complete_upload(&tenant.id, id, file.clone())
            .await
        {
            Ok(upload) => upload,
            Err(e) => {
                self.files.blobs().delete(&file.id).await;
                return Err(e.into());
            }
        };
        self.remove_parts(&upload.id).await;
        Ok((upload, file))
    }

    /// Streams the parts, in order, into a temporary of the file `file_id`; it and its MD5.
    async fn concatenate(
        &self,
        upload: &UploadRecord,
        part_ids: &[String],
        file_id: &str,
    ) -> Result<(crate::TempBlob, [u8; 16]), ServiceError> {
        self.files.check_free_space().await?;
        let dir = Self::parts_dir(&upload.id);
        let keys: Vec<String> = part_ids.iter().map(|p| format!("{dir}/{p}")).collect();
        let mut hasher = Md5::new();
        let blobs = self.files.blobs().clone();
        // One part open at a time, read as the file is written.
        let body = futures::stream::iter(keys)
            .then(move |key| {
                let blobs = blobs.clone();
                async move { blobs.open_key(&key).await }
            })
            .map_ok(|(stream, _)| stream.map_err(ServiceError::from))
            .try_flatten()
            .inspect_ok(|chunk| hasher.update(chunk));
        let mut temp = self.files.blobs().temp(file_id).await?;
        let written = (self.files)
            .write_watched(&mut temp, Box::pin(body), upload.bytes)
            .await
            .map_err(|e| unreadable(e, &upload.id))?;
        if written != upload.bytes {
            return Err(ServiceError::internal_msg(format!(
                "the parts of upload {} on disk hold {written} bytes, not {}",
                upload.id, upload.bytes
            )));
        }
        self.files.check_free_space().await?;
        Ok((temp, hasher.finalize().into()))
    }

    /// Cancels the tenant's pending upload `id` and removes its parts.
    pub async fn cancel(&self, tenant: &Tenant, id: &str) -> Result<UploadRecord, ServiceError> {
        let upload = self.open_upload(tenant, id).await?;
        let upload = self.catalog.cancel_upload(&tenant.id, &upload.id).await?;
        self.remove_parts(&upload.id).await;
        Ok(upload)
    }

    /// Marks the uploads past their expiry as expired and removes their parts, then removes
    /// every parts' directory whose upload is no longer pending (left by a crash between an
    /// upload's end and the removal). Returns how many uploads expired.
    pub async fn sweep(&self) -> Result<usize, ServiceError> {
        let mut expired = 0;
        loop {
            let batch = self.catalog.expire_uploads(now_unix(), 100).await?;
            for upload in &batch {
                self.remove_parts(&upload.id).await;
            }
            expired += batch.len();
            if batch.len() < 100 {
                break;
            }
        }
        for upload in self.files.blobs().list(UPLOADS).await?.dirs {
            if !self.catalog.upload_pending(&upload).await? {
                self.remove_parts(&upload).await;
            }
        }
        Ok(expired)
    }

    /// Removes the parts of the upload `id`.
    async fn remove_parts(&self, id: &str) {
        self.files.blobs().delete_dir(&Self::parts_dir(id)).await;
    }
}

/// A part that could not be read back (or is larger on disk than recorded) is the server's
/// fault, not the caller's.
fn unreadable(e: ServiceError, upload: &str) -> ServiceError {
    if let ServiceError::Invalid { message, .. } | ServiceError::TooLarge(message) = e {
        let message = format!("the parts of upload {upload} could not be read: {message}");
        return ServiceError::internal_msg(message);
    }
    e
}

/// Refuses what is not a MIME type (`type/subtype`, optionally with parameters). The Files API
/// takes a file of any type, so uploads do too.
fn check_mime_type(mime: &str) -> Result<(), ServiceError> {
    let essence = mime.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    let well_formed = mime.len() <= 255
        && essence
            .split_once('/')
            .is_some_and(|(kind, sub)| token(kind) && token(sub));
    if well_formed {
        return Ok(());
    }
    let message = format!("'{mime}' is not a MIME type (such as text/plain)");
    Err(ServiceError::invalid(Field::MimeType, message))
}

/// The 16 bytes of an MD5 written in hex.
fn check_md5(md5: &str) -> Result<[u8; 16], ServiceError> {
    let mut digest = [0u8; 16];
    hex::decode_to_slice(md5.trim(), &mut digest)
        .map_err(|_| ServiceError::invalid(Field::Md5, "an MD5 is 32 hexadecimal digits"))?;
    Ok(digest)
}

#[cfg(test)]
mod tests;
