//! The service used as a library, without HTTP: the code of `crates/service/examples/library.rs`
//! itself, against a database of its own (no other test's ingestion workers take its jobs).

#[allow(
    dead_code,
    reason = "its `main` and command-line handling are the example's"
)]
#[path = "../../crates/service/examples/library.rs"]
mod example;

use std::path::Path;

#[tokio::test]
async fn a_folder_is_ingested_and_searched_without_http() {
    let url = e2e_tests::own_database("library").await;
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("nested")).unwrap();
    std::fs::write(
        docs.join("tides.txt"),
        "The tides rise and fall twice a day, pulled by the gravity of the moon and the sun.",
    )
    .unwrap();
    std::fs::write(
        docs.join("nested/bread.md"),
        "# Baking\n\nKnead the dough, let it rise overnight, then bake the loaf in a hot oven.",
    )
    .unwrap();
    std::fs::write(
        docs.join("chess.txt"),
        "In chess the bishop moves diagonally and the rook moves along ranks and files.",
    )
    .unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let library = example::Library::open(&url, &models, &dir.path().join("blobs"))
        .await
        .expect("the service opens on its own database");
    std::fs::write(docs.join("logo.svg"), "<svg/>").unwrap();
    let (store, failed) = library.index("folder", &docs).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("logo.svg: "), "{failed:?}");

    let hits = library
        .search(&store, "how does the moon move the sea?", 3)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3, "one chunk per file: {hits:?}");
    assert_eq!(hits[0].chunk.filename.as_deref(), Some("tides.txt"));
    let line = example::hit_line(&hits[0]);
    assert!(
        line.contains("tides.txt  The tides rise and fall"),
        "score, filename, first words: {line}"
    );
    let hits = library.search(&store, "baking a loaf", 1).await.unwrap();
    assert_eq!(hits[0].chunk.filename.as_deref(), Some("bread.md"));
}
