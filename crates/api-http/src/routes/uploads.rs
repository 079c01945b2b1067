//! The OpenAI Uploads API under `/v1/uploads`: a file sent in parts (each streamed to the file
//! store), then completed into an ordinary file.

use actix_web::{HttpRequest, HttpResponse, web};
use models::openai::{CompleteUpload, CreateUpload, Upload, UploadPart};
use service::{FileRecord, NewUpload, PartRecord, Tenant, UploadRecord, UploadService};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::{ValidJson, field_bytes, multipart_form, next_part};
use crate::openapi::{Authed, BadInput, Conflict, DiskFull, Endpoint, NotFound, Quota, tags};
use crate::routes::Caller;
use crate::routes::files::file_object;
use crate::startup::AppState;

type State = web::Data<AppState>;

fn upload_object(u: UploadRecord, file: Option<FileRecord>) -> Upload {
    Upload {
        id: u.id,
        object: models::wire::object::UPLOAD.into(),
        bytes: u.bytes,
        created_at: u.created_at,
        expires_at: u.expires_at,
        filename: u.filename,
        purpose: u.purpose,
        status: u.status,
        file: file.map(file_object),
    }
}

/// The form of a part (its documentation; the form is read by [`read_part`]).
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "it documents the form; the form itself is read part by part"
)]
pub struct UploadPartForm {
    /// The part's bytes, at most `uploads.max_part_bytes` (64 MiB by default).
    #[schema(value_type = String, format = Binary)]
    data: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "",
    tag = tags::UPLOADS,
    operation_id = "createUpload",
    summary = "Create an upload",
    description = "An upload of a file in parts: `bytes` (at most `uploads.max_bytes`), \
                   `filename`, `mime_type`, `purpose`; it expires after `uploads.expiry_secs` \
                   (an hour) unless `expires_after` says otherwise.",
    request_body = CreateUpload,
    responses(
        (status = 200, description = "The pending upload.", body = Upload),
        BadInput,
        Quota,
        Authed
    ),
)]
async fn create(
    state: State,
    caller: Caller,
    ValidJson(body): ValidJson<CreateUpload>,
) -> Result<HttpResponse, ApiError> {
    let new = NewUpload {
        bytes: body.bytes,
        filename: body.filename,
        mime_type: body.mime_type,
        purpose: body.purpose,
        expires_after: body.expires_after.map(|e| (e.anchor, e.seconds)),
    };
    let upload = state.uploads().create(&caller.tenant, new).await?;
    Ok(HttpResponse::Ok().json(upload_object(upload, None)))
}

#[utoipa::path(
    post,
    path = "/{upload_id}/parts",
    tag = tags::UPLOADS,
    operation_id = "addUploadPart",
    summary = "Add a part to an upload",
    description = "A `multipart/form-data` body with one `data` part, streamed to the file \
                   store: at most \
                   `uploads.max_part_bytes`, and no more than the upload has yet to receive. \
                   Parts count against the tenant's `quotas.max_file_bytes`.",
    params(("upload_id" = String, Path, description = "The upload's id.")),
    request_body(content = UploadPartForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The part, stored.", body = UploadPart),
        BadInput,
        NotFound,
        Quota,
        DiskFull,
        Authed
    ),
)]
async fn add_part(
    state: State,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let part = read_part(state.uploads(), &caller.tenant, &id, &req, payload).await?;
    Ok(HttpResponse::Ok().json(UploadPart {
        id: part.id,
        object: models::wire::object::UPLOAD_PART.into(),
        created_at: part.created_at,
        upload_id: part.upload_id,
    }))
}

/// Reads the `multipart/form-data` body of a part: its `data` part streams into the upload,
/// other parts are skipped; the form is not read past `data`.
async fn read_part(
    uploads: &UploadService,
    tenant: &Tenant,
    id: &str,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<PartRecord, ApiError> {
    let mut form = multipart_form(req, payload, "a 'data' part")?;
    let mut read = 0;
    while let Some(mut field) = next_part(&mut form, &mut read).await? {
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_name())
            .unwrap_or_default()
            .to_string();
        if name == "data" {
            return Ok(uploads.add_part(tenant, id, &mut field).await?);
        }
        // Another field is read (bounded) and left unused.
        field_bytes(&mut field, &name).await?;
    }
    Err(ApiError::invalid(
        "data",
        "the multipart form has no 'data' part",
    ))
}

#[utoipa::path(
    post,
    path = "/{upload_id}/complete",
    tag = tags::UPLOADS,
    operation_id = "completeUpload",
    summary = "Complete an upload",
    description = "Joins the parts named, in that order, into a new file. Their bytes must add up \
                   to the upload's `bytes`, and their MD5 must be `md5` when it is given; the file \
                   may be larger than `files.max_upload_bytes`. The parts are removed. While one \
                   completion of the upload runs, another is refused (409).",
    params(("upload_id" = String, Path, description = "The upload's id.")),
    request_body = CompleteUpload,
    responses(
        (
            status = 200,
            description = "The completed upload, with its `file`.",
            body = Upload
        ),
        BadInput,
        NotFound,
        Conflict,
        Quota,
        DiskFull,
        Authed
    ),
)]
async fn complete(
    state: State,
    caller: Caller,
    id: web::Path<String>,
    ValidJson(body): ValidJson<CompleteUpload>,
) -> Result<HttpResponse, ApiError> {
    let (upload, file) = state
        .uploads()
        .complete(&caller.tenant, &id, &body.part_ids, body.md5.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(upload_object(upload, Some(file))))
}

#[utoipa::path(
    post,
    path = "/{upload_id}/cancel",
    tag = tags::UPLOADS,
    operation_id = "cancelUpload",
    summary = "Cancel an upload",
    description = "Cancels a pending upload; its parts are removed.",
    params(("upload_id" = String, Path, description = "The upload's id.")),
    responses(
        (status = 200, description = "The cancelled upload.", body = Upload),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn cancel(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let upload = state.uploads().cancel(&caller.tenant, &id).await?;
    Ok(HttpResponse::Ok().json(upload_object(upload, None)))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/v1/uploads")
            .guard(super::no_nul_in_path())
            .service(Endpoint::new(__path_create, create))
            .service(Endpoint::new(__path_add_part, add_part))
            .service(Endpoint::new(__path_complete, complete))
            .service(Endpoint::new(__path_cancel, cancel)),
    );
}
