//! Attaching over mocks: a text refused leaves nothing behind, and content pages.

use std::sync::Mutex;

use embeddings::{EmbedderRegistry, MockEmbedder};
use store_core::{
    HybridOptions, MockCatalog, MockFileCatalog, MockIngestCatalog, MockVectorStore, StoreError,
    StoreRegistry,
};

use super::*;

/// An ingestion service whose catalog refuses every attachment, over a files catalog
/// that keeps its files in `kept` and their bytes in `dir`.
fn refusing(kept: Arc<Mutex<Vec<FileRecord>>>, dir: &std::path::Path) -> IngestService {
    let mut files = MockFileCatalog::new();
    let (inserted, got, deleted) = (kept.clone(), kept.clone(), kept);
    files.expect_insert_file().returning(move |f| {
        inserted.lock().unwrap().push(f.clone());
        Ok(f)
    });
    files.expect_get_file().returning(move |_, id| {
        let found = got.lock().unwrap().iter().find(|f| f.id == id).cloned();
        found.ok_or_else(|| StoreError::not_found("file", id))
    });
    files.expect_delete_file().returning(move |_, id| {
        deleted.lock().unwrap().retain(|f| f.id != id);
        Ok(())
    });
    let mut queue = MockIngestCatalog::new();
    queue
        .expect_attach()
        .times(1)
        .returning(|f| Err(StoreError::not_found("vector store", f.vector_store_id)));
    let mut store = MockVectorStore::new();
    store.expect_name().return_const("pgvector");
    let mut model = MockEmbedder::new();
    model.expect_model().return_const("m".to_string());
    model.expect_dimension().return_const(2usize);
    model.expect_max_input_tokens().return_const(256usize);
    let vectors = VectorService::new(
        Arc::new(MockCatalog::new()),
        StoreRegistry::new(vec![Arc::new(store)], "pgvector").unwrap(),
        EmbedderRegistry::new(vec![Arc::new(model)], "m").unwrap(),
        HybridOptions::default(),
    );
    let files = FileService::new(
        Arc::new(files),
        crate::BlobStore::new(dir).unwrap(),
        1 << 20,
    );
    let limits = crate::sandbox::SandboxLimits {
        timeout_secs: 1,
        memory_limit_mib: 64,
        max_text_bytes: 1 << 20,
    };
    let sandbox = Sandbox::with_program("/nonexistent".into(), limits);
    IngestService::new(vectors, files, Arc::new(queue), sandbox)
}

#[tokio::test]
async fn a_text_whose_attachment_is_refused_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let kept = Arc::new(Mutex::new(Vec::new()));
    let service = refusing(kept.clone(), dir.path());
    let store = crate::testing::store_record(Some("m"), 2);
    let req = AttachFile {
        file_id: "file-pending".into(),
        attributes: None,
        chunking_strategy: None,
    };
    let tenant = Tenant::new("t1", "one");
    let text = "The kiwi is a flightless bird.".to_string();
    let err = service
        .attach_text(&tenant, &store, "kiwi.md".into(), text, req)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        kept.lock().unwrap().is_empty(),
        "the file's record was deleted"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "the file's bytes were deleted: {left:?}");
}

#[test]
fn content_pages_tile_the_text_and_fit_their_limit_as_json() {
    let text: String = "aé€😀\"\n\u{1}".repeat(50);
    for max in [64, 100, 333] {
        let (mut offset, mut got) = (0u64, String::new());
        loop {
            let rest = &text[offset as usize..];
            let (page, next) = page_of(rest, offset, false, max);
            assert!(!page.is_empty());
            assert!(serde_json::to_string(&page).unwrap().len() <= max, "{max}");
            got.push_str(&page);
            match next {
                Some(n) => offset = n,
                None => break,
            }
        }
        assert_eq!(got, text);
    }
    // More on disk after what was read: the next page starts after it.
    assert_eq!(page_of("abc", 10, true, 64), ("abc".to_string(), Some(13)));
}
