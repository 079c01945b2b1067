//! store-pgvector against the real PostgreSQL + pgvector named by `DATABASE_URL`: the shared
//! back-end conformance suite, the catalog, bound parameters only, and error kinds. Without
//! `DATABASE_URL` every test fails with a message saying how to start a database.

mod catalog;
mod errors;
mod injection;
mod prepared;
mod queue;
mod uploads;

use std::sync::Arc;

use store_core::VectorStore;
use store_pgvector::{PgVectorOptions, PgVectorStore, Pool};
use tokio::sync::OnceCell;

static MIGRATED: OnceCell<()> = OnceCell::const_new();

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run `make test`, or `scripts/services.sh up pg` and `eval \
         \"$(scripts/services.sh env)\"`",
    )
}

/// A pool on the test's own runtime (pools must not outlive the runtime that made them).
pub async fn pool() -> Pool {
    let url = database_url();
    MIGRATED
        .get_or_init(|| async { store_pgvector::migrate(&url).await.expect("migrations") })
        .await;
    store_pgvector::connect(&url, 4, &PgVectorOptions::default())
        .await
        .expect("connect")
}

pub async fn store() -> Arc<dyn VectorStore> {
    Arc::new(PgVectorStore::new(pool().await))
}

store_core::conformance_suite!(async || -> Arc<dyn VectorStore> { store().await });
