//! Files: the file object, the purposes an upload takes, and the list query.

use serde::{Deserialize, Serialize};
use validator::Validate;

use super::Order;

#[cfg(feature = "openapi")]
use crate::openapi::object;

/// The purposes `POST /v1/files` accepts.
pub const FILE_PURPOSES: [&str; 6] = [
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];

/// `openai.types.FileObject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileObject {
    /// The file's id.
    #[cfg_attr(feature = "openapi", schema(example = "file-abc123"))]
    pub id: String,
    /// Always `file`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::file))]
    pub object: String,
    /// The file's size in bytes.
    pub bytes: u64,
    /// When the file was uploaded (Unix seconds).
    pub created_at: i64,
    /// The file's name.
    pub filename: String,
    /// The purpose the file was uploaded for.
    #[cfg_attr(feature = "openapi", schema(schema_with = file_purpose))]
    pub purpose: String,
    /// Deprecated by OpenAI; always `processed` here.
    #[cfg_attr(feature = "openapi", schema(schema_with = file_status))]
    pub status: String,
    /// When the file expires (Unix seconds); `null` when it never does.
    pub expires_at: Option<i64>,
    /// Deprecated by OpenAI; always `null` here.
    pub status_details: Option<String>,
}

#[cfg(feature = "openapi")]
fn file_purpose() -> utoipa::openapi::schema::Object {
    crate::openapi::one_of_strings(&FILE_PURPOSES)
}

#[cfg(feature = "openapi")]
fn file_status() -> utoipa::openapi::schema::Object {
    crate::openapi::one_of_strings(&["uploaded", "processed", "error"])
}

/// `GET /v1/files` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct FileListQuery {
    /// Only the files of this purpose.
    pub purpose: Option<String>,
    /// How many objects a page holds, 1 to 10000.
    #[validate(range(min = 1, max = 10000))]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10000, default = crate::openapi::files_page_default)
    )]
    #[cfg_attr(
        feature = "openapi",
        param(minimum = 1, maximum = 10000, default = crate::openapi::files_page_default)
    )]
    pub limit: Option<u32>,
    /// The order by `created_at`.
    #[cfg_attr(feature = "openapi", schema(default = "desc"))]
    #[cfg_attr(feature = "openapi", param(schema_with = crate::openapi::order))]
    pub order: Option<Order>,
    /// The cursor: the id of the object the page starts after.
    pub after: Option<String>,
}

impl FileListQuery {
    /// The page size asked for, or the default.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(crate::wire::page::FILES_DEFAULT)
    }
}
