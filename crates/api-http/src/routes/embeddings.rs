//! `POST /v1/embeddings`: OpenAI's embeddings endpoint over the store's own models.

use actix_web::HttpResponse;
use base64::Engine;
use models::openai::{
    CreateEmbedding, Embedding, EmbeddingUsage, EmbeddingVector, EmbeddingsPage, EncodingFormat,
};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::openapi::{Authed, BadInput, Endpoint, NotFound, tags};
use crate::routes::Caller;
use crate::startup::AppState;

type State = actix_web::web::Data<AppState>;

#[utoipa::path(
    post,
    path = "",
    tag = tags::EMBEDDINGS,
    operation_id = "createEmbedding",
    summary = "Create embeddings",
    description = "A vector per input, in order, made by `model` (one of the models vector \
                   stores embed with), as numbers or base64. Token arrays are read as \
                   `cl100k_base` tokens; `usage` counts `cl100k_base` tokens.",
    request_body = CreateEmbedding,
    responses(
        (status = 200, description = "The vectors.", body = EmbeddingsPage),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn create(
    state: State,
    _caller: Caller,
    ValidJson(body): ValidJson<CreateEmbedding>,
) -> Result<HttpResponse, ApiError> {
    let format = body.encoding_format.unwrap_or_default();
    let embedded = state.vectors().embed(body.into()).await?;
    let data = embedded
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| Embedding {
            object: models::wire::object::EMBEDDING.into(),
            index: index as u32,
            embedding: match format {
                EncodingFormat::Float => EmbeddingVector::Float(v),
                EncodingFormat::Base64 => EmbeddingVector::Base64(base64_of(&v)),
            },
        })
        .collect();
    let tokens = embedded.tokens as u64;
    Ok(HttpResponse::Ok().json(EmbeddingsPage {
        object: models::wire::object::LIST.into(),
        data,
        model: embedded.model,
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// Base64 of the vector's little-endian 32-bit floats, as OpenAI writes it.
fn base64_of(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/v1/embeddings").service(Endpoint::new(__path_create, create)),
    );
}
