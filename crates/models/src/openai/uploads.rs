//! Uploads in parts (`POST /v1/uploads`, `…/parts`, `…/complete`, `…/cancel`): the upload and
//! part objects and the requests that make and complete an upload.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use validator::Validate;

use super::FileObject;

#[cfg(feature = "openapi")]
use crate::openapi::object;

/// `openai.types.Upload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Upload {
    /// The upload's id.
    #[cfg_attr(feature = "openapi", schema(example = "upload_abc123"))]
    pub id: String,
    /// Always `upload`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::upload))]
    pub object: String,
    /// The size the file will have, in bytes.
    pub bytes: u64,
    /// When the upload was made (Unix seconds).
    pub created_at: i64,
    /// When the upload expires unless completed (Unix seconds).
    pub expires_at: i64,
    /// The name of the file the upload makes.
    pub filename: String,
    /// The purpose of the file the upload makes.
    pub purpose: String,
    pub status: UploadStatus,
    /// The file made, once the upload is completed; `null` before.
    pub file: Option<FileObject>,
}

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Taking parts.
    Pending,
    /// Its parts became `file`.
    Completed,
    /// Cancelled; its parts are gone.
    Cancelled,
    /// Not completed before `expires_at`; its parts are gone.
    Expired,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Pending => "pending",
            UploadStatus::Completed => "completed",
            UploadStatus::Cancelled => "cancelled",
            UploadStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UploadStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [
            UploadStatus::Pending,
            UploadStatus::Completed,
            UploadStatus::Cancelled,
            UploadStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown upload status '{s}'"))
    }
}

/// `openai.types.uploads.UploadPart`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadPart {
    /// The part's id, for `part_ids` of the completion.
    #[cfg_attr(feature = "openapi", schema(example = "part_def456"))]
    pub id: String,
    /// Always `upload.part`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::upload_part))]
    pub object: String,
    /// When the part was received (Unix seconds).
    pub created_at: i64,
    /// The upload the part belongs to.
    pub upload_id: String,
}

/// `POST /v1/uploads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    /// The size of the whole file, in bytes; at most `uploads.max_bytes` (8 GiB by default).
    pub bytes: u64,
    /// The file's name.
    #[cfg_attr(feature = "openapi", schema(example = "handbook.pdf"))]
    pub filename: String,
    /// The file's MIME type (any well-formed one: the Files API takes files of any type).
    #[cfg_attr(feature = "openapi", schema(example = "application/pdf"))]
    pub mime_type: String,
    /// What the file is for (`assistants`, `user_data`, …), as for `POST /v1/files`.
    pub purpose: String,
    /// When the upload (and the file it makes) expire; an upload expires after
    /// `uploads.expiry_secs` (an hour) without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<UploadExpiresAfter>,
}

/// An upload's `expires_after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadExpiresAfter {
    /// Always `created_at`.
    #[cfg_attr(feature = "openapi", schema(example = "created_at"))]
    pub anchor: String,
    /// Seconds after the anchor, from 3600 (an hour) to 2592000 (30 days).
    #[cfg_attr(feature = "openapi", schema(minimum = 3600, maximum = 2592000))]
    pub seconds: i64,
}

/// `POST /v1/uploads/{upload_id}/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    /// The parts, in the order their bytes make the file.
    #[validate(length(max = 100000))]
    pub part_ids: Vec<String>,
    /// The MD5 of the whole file, in hex; checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "9e107d9d372bb6826bd81d3542a419d6")
    )]
    pub md5: Option<String>,
}
