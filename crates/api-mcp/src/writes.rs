//! The tools that write, listed only with `mcp.allow_writes = true`: a new vector store, and a
//! text uploaded as a file and attached to a store (its ingestion runs in the background, as
//! with `POST /v1/vector_stores/{id}/files`).

use models::openai::{AttachFile, CreateVectorStore};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use serde_json::{Map, Value};

use crate::args::{CreateStoreArgs, CreatedStore, UploadTextArgs, UploadedText, body};
use crate::tools::{VectorStoreMcp, caller, message};

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
        let attach: AttachFile = body(fields)?;
        let attached = self
            .ingest
            .attach_text(&caller.tenant, &store, args.filename, args.text, attach)
            .await
            .map_err(message)?;
        Ok(Json(UploadedText {
            vector_store_id: attached.vector_store_id,
            file_id: attached.file_id,
            status: attached.status.as_str().to_string(),
        }))
    }
}
