//! The API's fixed vocabulary, named once for the server, the SDK and the OpenAPI document: the
//! `object` tag of each object, the headers the API defines, and each list's page sizes.

/// The `object` tag of each object the API answers with.
pub mod object {
    pub const LIST: &str = "list";
    pub const TEXT: &str = "text";
    pub const FILE: &str = "file";
    pub const UPLOAD: &str = "upload";
    pub const UPLOAD_PART: &str = "upload.part";
    pub const VECTOR_STORE: &str = "vector_store";
    pub const VECTOR_STORE_DELETED: &str = "vector_store.deleted";
    pub const VECTOR_STORE_FILE: &str = "vector_store.file";
    pub const VECTOR_STORE_FILE_DELETED: &str = "vector_store.file.deleted";
    pub const FILES_BATCH: &str = "vector_store.files_batch";
    pub const FILE_CONTENT_PAGE: &str = "vector_store.file_content.page";
    pub const SEARCH_RESULTS_PAGE: &str = "vector_store.search_results.page";
    pub const COLLECTION: &str = "collection";
    pub const COLLECTION_DELETED: &str = "collection.deleted";
    pub const UPSERT_RESULT: &str = "upsert.result";
    pub const DELETE_RESULT: &str = "delete.result";
    pub const API_KEY: &str = "api_key";
    pub const EMBEDDING: &str = "embedding";
}

/// The header with which an answer about work in progress says how long to wait before asking
/// again, in milliseconds (as OpenAI's API sends it).
pub const POLL_AFTER_HEADER: &str = "openai-poll-after-ms";

/// How many items a list answers with when the request names no `limit`.
pub mod page {
    /// OpenAI's cursor lists (vector stores, a store's files, a batch's files).
    pub const CURSOR_DEFAULT: u32 = 20;
    /// The most a cursor list answers with at once.
    pub const CURSOR_MAX: u32 = 100;
    /// `GET /v1/files`, whose `limit` OpenAI takes up to 10,000.
    pub const FILES_DEFAULT: u32 = 10_000;
    /// The platform's and the raw API's lists of documents.
    pub const DOCUMENTS_DEFAULT: u32 = 100;
    /// The tenant's keys.
    pub const KEYS_DEFAULT: u32 = 100;
}

/// How many hits a search answers with when the request names no `max_num_results` (`k` on
/// the raw API).
pub const SEARCH_RESULTS_DEFAULT: u32 = 10;

/// The most inputs one `POST /v1/embeddings` embeds (OpenAI's limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// [`SEARCH_RESULTS_DEFAULT`], as serde's default of the field.
pub(crate) fn search_results_default() -> u32 {
    SEARCH_RESULTS_DEFAULT
}
