//! The path parameters of the routes, as the OpenAPI document shows them: each route names one
//! of these in its `params(…)` instead of describing its path segments again.

// Read by the OpenAPI derive only: the routes take their paths with their own extractors.
#![allow(
    dead_code,
    reason = "the fields document the path; the handlers read it themselves"
)]

use utoipa::IntoParams;

/// `/{id}`: a vector store.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StorePath {
    /// The vector store's id.
    id: String,
}

/// `/{id}/files/{file_id}`: a vector store's file.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StoreFilePath {
    /// The vector store's id.
    id: String,
    /// The file's id.
    file_id: String,
}

/// `/{id}/file_batches/{batch_id}`: a vector store's file batch.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StoreBatchPath {
    /// The vector store's id.
    id: String,
    /// The batch's id.
    batch_id: String,
}

/// `/{id}`: an uploaded file.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FilePath {
    /// The file's id.
    id: String,
}

/// `/{collection}`: a raw collection, by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CollectionPath {
    /// The collection's name.
    collection: String,
}
