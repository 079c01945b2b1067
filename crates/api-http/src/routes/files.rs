//! The OpenAI Files API under `/v1/files`: multipart uploads streamed to the file store.

use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use models::openai::{Deleted, FileListQuery, FileObject, ListPage};
use models::wire::object;
use service::{FilePage, FileRecord};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::{ValidQuery, field_bytes, multipart_form, next_part};
use crate::openapi::{Authed, BadInput, DiskFull, Endpoint, NotFound, Quota, tags};
use crate::routes::{Caller, page_order};
use crate::startup::AppState;
use service::{FileService, TempBlob, UploadMeta};

type State = web::Data<AppState>;

pub fn file_object(f: FileRecord) -> FileObject {
    FileObject {
        id: f.id,
        object: object::FILE.into(),
        bytes: f.bytes,
        created_at: f.created_at,
        filename: f.filename,
        purpose: f.purpose,
        status: "processed".into(),
        expires_at: f.expires_at,
        status_details: None,
    }
}

/// The parts of an upload form (its documentation; the form is read by [`read_upload`]).
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "it documents the form; the form itself is read part by part"
)]
pub struct UploadForm {
    /// The file's bytes; its name is the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What the file is for (`assistants`, `user_data`, …).
    purpose: String,
    /// `created_at`: the file expires `expires_after[seconds]` after its upload.
    #[schema(rename = "expires_after[anchor]")]
    expires_after_anchor: Option<String>,
    /// Seconds after the anchor, from 3600 to 2592000.
    #[schema(rename = "expires_after[seconds]")]
    expires_after_seconds: Option<u64>,
}

#[utoipa::path(
    post,
    path = "",
    tag = tags::FILES,
    operation_id = "createFile",
    summary = "Upload a file",
    description = "A `multipart/form-data` body with the file and its `purpose`; the file is \
                   streamed to the file store, and refused past `files.max_upload_bytes`.",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The stored file.", body = FileObject),
        BadInput,
        Quota,
        DiskFull,
        Authed
    ),
)]
async fn upload(
    state: State,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = FileService::new_id();
    // A temporary received and then refused (or a form that breaks off) goes when dropped.
    let (received, meta) = read_upload(state.files(), &id, &req, payload).await?;
    let record = state
        .files()
        .register(&caller.tenant, id, received, meta)
        .await?;
    Ok(HttpResponse::Ok().json(file_object(record)))
}

/// Reads a `multipart/form-data` upload: its `file` part streams into a temporary for `id`,
/// its other parts (each at most [`crate::extract::MAX_FORM_FIELD`] bytes of UTF-8,
/// [`crate::extract::MAX_FORM_PARTS`] parts in all) fill the upload's metadata.
async fn read_upload(
    files: &FileService,
    id: &str,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Option<(TempBlob, u64)>, UploadMeta), ApiError> {
    let mut form = multipart_form(req, payload, "'file' and 'purpose' parts")?;
    let mut meta = UploadMeta::default();
    let (mut received, mut read) = (None, 0);
    while let Some(mut field) = next_part(&mut form, &mut read).await? {
        let (name, filename) = match field.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_string(),
                cd.get_filename().map(str::to_string),
            ),
            None => (String::new(), None),
        };
        if name == "file" {
            if received.is_some() {
                return Err(ApiError::invalid("file", "send one 'file' part"));
            }
            meta.filename = filename;
            received = Some(files.receive(id, &mut field).await?);
            continue;
        }
        let value = String::from_utf8(field_bytes(&mut field, &name).await?)
            .map_err(|_| ApiError::invalid(name.clone(), "must be UTF-8 text"))?;
        match name.as_str() {
            "purpose" => meta.purpose = Some(value),
            "expires_after[anchor]" => meta.expires_anchor = Some(value),
            "expires_after[seconds]" => meta.expires_seconds = Some(value),
            _ => {}
        }
    }
    Ok((received, meta))
}

#[utoipa::path(
    get,
    path = "",
    tag = tags::FILES,
    operation_id = "listFiles",
    summary = "List files",
    params(FileListQuery),
    responses(
        (status = 200, description = "A page of the caller's files.", body = ListPage<FileObject>),
        BadInput,
        Authed
    ),
)]
async fn list(
    state: State,
    caller: Caller,
    ValidQuery(q): ValidQuery<FileListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = FilePage {
        limit: q.page_size() as usize,
        purpose: q.purpose,
        order: page_order(q.order),
        after: q.after,
    };
    let (files, has_more) = state.files().page(&caller.tenant, page).await?;
    let data: Vec<FileObject> = files.into_iter().map(file_object).collect();
    Ok(HttpResponse::Ok().json(ListPage::new(data, has_more, |x| &x.id)))
}

#[utoipa::path(
    get,
    path = "/{id}",
    tag = tags::FILES,
    operation_id = "retrieveFile",
    summary = "Retrieve a file",
    params(("id" = String, Path, description = "The file's id.")),
    responses((status = 200, description = "The file.", body = FileObject), NotFound, Authed),
)]
async fn retrieve(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(file_object(state.files().get(&caller.tenant, &id).await?)))
}

#[utoipa::path(
    delete,
    path = "/{id}",
    tag = tags::FILES,
    operation_id = "deleteFile",
    summary = "Delete a file",
    params(("id" = String, Path, description = "The file's id.")),
    responses(
        (
            status = 200,
            description = "The file is gone. Vector stores it is attached to keep its chunks \
                           until it is detached from them.",
            body = Deleted
        ),
        NotFound,
        Authed
    ),
)]
async fn delete(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.files().delete(&caller.tenant, &id).await?;
    Ok(HttpResponse::Ok().json(Deleted::new(id.into_inner(), object::FILE)))
}

#[utoipa::path(
    get,
    path = "/{id}/content",
    tag = tags::FILES,
    operation_id = "downloadFile",
    summary = "Retrieve a file's content",
    params(("id" = String, Path, description = "The file's id.")),
    responses(
        (
            status = 200,
            description = "The file as uploaded.",
            content_type = "application/octet-stream",
            body = Vec<u8>
        ),
        NotFound,
        Authed
    ),
)]
async fn content(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = state.files().get(&caller.tenant, &id).await?;
    let (stream, _) = state.files().blobs().open(&record.id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(attachment(&record.filename))
        .no_chunking(record.bytes)
        .streaming(stream))
}

/// `Content-Disposition: attachment` naming `filename`: as printable ASCII (anything else,
/// quotes and backslashes as `_`) for every client, and whole in UTF-8 (`filename*`) for those
/// that read it. A name may hold any character; the header is always valid.
fn attachment(filename: &str) -> ContentDisposition {
    let ascii = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: filename.as_bytes().to_vec(),
            }),
        ],
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/v1/files")
            .guard(super::no_nul_in_path())
            .service(Endpoint::new(__path_list, list).and(__path_upload, upload))
            .service(Endpoint::new(__path_retrieve, retrieve).and(__path_delete, delete))
            .service(Endpoint::new(__path_content, content)),
    );
}
