//! The ingestion queue: claims with tokens of their own, fenced chunk writes, and jobs whose
//! tries are used up. It runs on a database of its own, since `claim` takes the oldest job of
//! the whole queue.

use serde_json::{Map, json};
use store_core::{
    AttachedFile, Catalog, CollectionRecord, FileCatalog, FileRecord, FileStatus, IngestCatalog,
    now_unix,
};
use store_pgvector::{PgCatalog, PgVectorOptions};

use crate::database_url;

mod fences;
mod scheduling;

/// A catalog on a database of the test's own, `pgvector_queue_{name}`, made afresh (tests may
/// run in processes of their own, side by side).
async fn catalog(name: &str) -> PgCatalog {
    PgCatalog::new(pool(name).await)
}

/// A pool of 4 connections to `pgvector_queue_{name}`, made afresh and migrated.
async fn pool(name: &str) -> store_pgvector::Pool {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let url = database_url();
    let db = format!("pgvector_queue_{name}");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .expect(&sql);
    }
    let (server, _) = url
        .rsplit_once('/')
        .expect("DATABASE_URL ends in a database name");
    let own = format!("{server}/{db}");
    store_pgvector::migrate(&own).await.expect("migrations");
    store_pgvector::connect(&own, 4, &PgVectorOptions::default())
        .await
        .expect("connect")
}

async fn attached(catalog: &PgCatalog, name: &str) -> AttachedFile {
    attached_on(catalog, name, name, "pgvector", None).await
}

/// The file `file-{name}` attached to a new vector store `vs_{name}` of the tenant `tenant`, on
/// `backend` with `model`.
async fn attached_on(
    catalog: &PgCatalog,
    tenant: &str,
    name: &str,
    backend: &str,
    model: Option<&str>,
) -> AttachedFile {
    let tenant = catalog.ensure_tenant(tenant).await.unwrap();
    let store = catalog
        .create_collection(CollectionRecord {
            id: format!("vs_{name}"),
            tenant_id: tenant.id.clone(),
            collection: name.into(),
            name: None,
            backend: backend.into(),
            model: model.map(String::from),
            dimension: 3,
            metadata: Map::new(),
            expires_after_days: None,
            created_at: now_unix(),
            last_active_at: now_unix(),
        })
        .await
        .unwrap();
    catalog
        .attach(AttachedFile {
            vector_store_id: store.id,
            file_id: format!("file-{name}"),
            tenant_id: tenant.id,
            batch_id: None,
            status: FileStatus::InProgress,
            last_error: None,
            attributes: json!({"v": 1}).as_object().cloned().unwrap(),
            max_chunk_tokens: 100,
            overlap_tokens: 10,
            usage_bytes: 0,
            created_at: now_unix(),
            attempts: 0,
            retries: 0,
        })
        .await
        .unwrap()
}

/// The file record of an attachment (the crash counts are kept on it).
async fn insert_file_of(catalog: &PgCatalog, attached: &AttachedFile) {
    catalog
        .insert_file(FileRecord {
            id: attached.file_id.clone(),
            tenant_id: attached.tenant_id.clone(),
            filename: format!("{}.txt", attached.file_id),
            bytes: 1,
            purpose: "assistants".into(),
            created_at: now_unix(),
            expires_at: None,
        })
        .await
        .unwrap();
}
