//! The tools that write, listed only with `mcp.allow_writes = true`: a new vector store, and a
//! text uploaded as a file and attached to a store (its ingestion runs in the background, as
//! with `POST /v1/vector_stores/{id}/files`).

use models::openai::{AttachFile, CreateVectorStore};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use service::{FileService, UploadMeta};
use validator::Validate;

use crate::args::{CreateStoreArgs, CreatedStore, UploadTextArgs, UploadedText};
use crate::tools::{VectorStoreMcp, caller, message};

/// `fields` read as `T` and validated as the HTTP API reads and validates its body.
fn body<T: DeserializeOwned + Validate>(fields: Map<String, Value>) -> Result<T, String> {
    let body: T = serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())?;
    body.validate().map_err(|e| e.to_string())?;
    Ok(body)
}

#[tool_router(router = write_router, vis = "pub(crate)")]
impl VectorStoreMcp {
    #[tool(
        description = "Create a vector store. Returns {id, name, created_at}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_vector_store(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(args): Parameters<CreateStoreArgs>,
    ) -> Result<Json<CreatedStore>, String> {
        let caller = caller(&parts)?;
        let mut fields = Map::new();
        fields.insert("name".into(), args.name.into());
        if let Some(m) = args.metadata {
            fields.insert("metadata".into(), Value::Object(m));
        }
        let create: CreateVectorStore = body(fields)?;
        let record = self
            .ingest
            .create_store(&caller.tenant, create.into())
            .await
            .map_err(message)?;
        Ok(Json(CreatedStore {
            name: record.name.unwrap_or_default(),
            created_at: record.created_at,
            id: record.id,
        }))
    }

    #[tool(
        description = "Upload a text as a file and attach it to a vector store, where it is \
                       chunked and embedded in the background. Returns {vector_store_id, \
                       file_id, status}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn upload_text(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(args): Parameters<UploadTextArgs>,
    ) -> Result<Json<UploadedText>, String> {
        let caller = caller(&parts)?;
        let store = self.store(&caller.tenant, &args.vector_store_id).await?;
        // Checked before anything is stored: a bad attachment leaves no file behind.
        let mut fields = Map::new();
        fields.insert("file_id".into(), "file-pending".into());
        if let Some(a) = args.attributes {
            fields.insert("attributes".into(), Value::Object(a));
        }
        let mut attach: AttachFile = body(fields)?;
        let files = self.ingest.files();
        let id = FileService::new_id();
        let bytes = args.text.into_bytes();
        let chunks = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        let received = files.receive(&id, chunks).await.map_err(message)?;
        let meta = UploadMeta {
            filename: Some(args.filename),
            purpose: Some("assistants".into()),
            ..UploadMeta::default()
        };
        let file = files
            .register(&caller.tenant, id, Some(received), meta)
            .await
            .map_err(message)?;
        attach.file_id = file.id;
        let attached = self
            .ingest
            .attach_file(&caller.tenant, &store, attach)
            .await
            .map_err(message)?;
        Ok(Json(UploadedText {
            vector_store_id: attached.vector_store_id,
            file_id: attached.file_id,
            status: serde_json::to_value(attached.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }))
    }
}
