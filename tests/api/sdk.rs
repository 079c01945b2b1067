//! The Rust SDK against the real server: stores, uploads, ingestion through the polling
//! helpers, search, paging, batches, deletes and errors.

use std::time::Duration;

use e2e_tests::{TestApp, spawn_app};
use futures::TryStreamExt;
use openai_vectorstore_sdk::types::{
    AttachFile, AttachedListQuery, BatchStatus, CreateBatch, CreateVectorStore, FileListQuery,
    FileStatus, Filter, ListQuery, Order, SearchMode, SearchVectorStore, UpdateAttachedFile,
    UpdateVectorStore,
};
use openai_vectorstore_sdk::{
    BatchUploadOptions, Client, CreateFile, Error, FileExpiresAfter, FileInput, UploadOptions,
};
use serde_json::{Map, Value, json};

const HOLIDAYS: &str = "Every employee gets twenty-five days of paid vacation each year. Unused \
                        holiday days carry over to the first quarter of the next year.";
const WHALES: &str = "The blue whale is the largest animal that has ever lived, feeding almost \
                      only on krill in cold oceans.";
const VOLCANOES: &str = "Volcanoes erupt when molten rock, called magma, rises through cracks in \
                         the crust of the earth.";

fn client(app: &TestApp, key: &str) -> Client {
    Client::builder()
        .base_url(format!("{}/v1", app.address))
        .api_key(key)
        .poll_timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

fn attrs(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

fn status_of(e: &Error) -> Option<u16> {
    match e {
        Error::Api { status, .. } => Some(*status),
        Error::Transport(_)
        | Error::Decode { .. }
        | Error::Io { .. }
        | Error::InvalidArgument(_)
        | Error::PollTimeout { .. } => None,
    }
}

#[tokio::test]
async fn a_store_goes_from_upload_through_search_to_delete() {
    let app = spawn_app().await;
    let client = client(&app, &app.key_a);
    let stores = client.vector_stores();

    let vs = stores
        .create(CreateVectorStore {
            name: Some("sdk handbook".into()),
            metadata: attrs(json!({"team": "people"})),
            ..CreateVectorStore::default()
        })
        .await
        .unwrap();
    assert_eq!(vs.name, "sdk handbook");
    assert_eq!(vs.object, "vector_store");

    // An upload from bytes, with an expiry; its content comes back exactly.
    let holidays = client
        .files()
        .create(CreateFile {
            expires_after: Some(FileExpiresAfter { seconds: 3600 }),
            ..CreateFile::new(FileInput::bytes("holidays.md", HOLIDAYS), "assistants")
        })
        .await
        .unwrap();
    assert_eq!(holidays.filename, "holidays.md");
    assert_eq!(holidays.bytes, HOLIDAYS.len() as u64);
    assert_eq!(holidays.expires_at, Some(holidays.created_at + 3600));
    assert_eq!(
        client.files().content(&holidays.id).await.unwrap(),
        HOLIDAYS.as_bytes()
    );
    assert_eq!(
        client.files().retrieve(&holidays.id).await.unwrap().id,
        holidays.id
    );
    let listed = client
        .files()
        .list(FileListQuery {
            purpose: Some("assistants".into()),
            ..FileListQuery::default()
        })
        .await
        .unwrap();
    assert!(listed.iter().any(|f| f.id == holidays.id));

    // create_and_poll attaches an uploaded file and waits for its ingestion.
    let files = stores.files(&vs.id);
    let attached = files
        .create_and_poll(
            AttachFile {
                attributes: attrs(json!({"topic": "leave", "year": 2025})),
                ..AttachFile::new(&holidays.id)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(attached.status, FileStatus::Completed, "{attached:?}");
    assert_eq!(attached.vector_store_id, vs.id);

    // upload_and_poll streams a file from disk, attaches it and waits.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whales.txt");
    std::fs::write(&path, WHALES).unwrap();
    let whales = files
        .upload_and_poll(
            FileInput::path(&path),
            UploadOptions {
                attributes: attrs(json!({"topic": "nature", "year": 2024})),
                ..UploadOptions::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(whales.status, FileStatus::Completed, "{whales:?}");
    assert_eq!(
        client.files().retrieve(&whales.id).await.unwrap().filename,
        "whales.txt"
    );

    // Search finds each text, by meaning and by keyword, and filters by attribute.
    let page = stores
        .search(
            &vs.id,
            SearchVectorStore::new("how much paid time off do I get"),
        )
        .await
        .unwrap();
    assert_eq!(page.data[0].file_id, holidays.id, "{page:?}");
    assert_eq!(page.data[0].filename, "holidays.md");
    assert!(page.data[0].content[0].text.contains("twenty-five days"));
    assert_eq!(page.data[0].attributes["topic"], "leave");

    let page = stores
        .search(
            &vs.id,
            SearchVectorStore {
                search_mode: Some(SearchMode::Keyword),
                max_num_results: 1,
                ..SearchVectorStore::new("krill")
            },
        )
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].file_id, whales.id);

    let filter =
        Filter::from_json(&json!({"type": "eq", "key": "topic", "value": "nature"})).unwrap();
    let page = stores
        .search(
            &vs.id,
            SearchVectorStore {
                filters: Some(filter),
                ..SearchVectorStore::new(vec!["vacation days", "largest animal"])
            },
        )
        .await
        .unwrap();
    assert_eq!(page.search_query, ["vacation days", "largest animal"]);
    assert!(!page.data.is_empty());
    assert!(page.data.iter().all(|h| h.file_id == whales.id), "{page:?}");

    // The store counts its files; the files list, filter and show their parsed content.
    let got = stores.retrieve(&vs.id).await.unwrap();
    assert_eq!(got.file_counts.completed, 2);
    assert_eq!(got.file_counts.total, 2);
    let completed = files
        .list(AttachedListQuery {
            filter: Some(FileStatus::Completed),
            ..AttachedListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(completed.data.len(), 2);
    let failed = files
        .list(AttachedListQuery {
            filter: Some(FileStatus::Failed),
            ..AttachedListQuery::default()
        })
        .await
        .unwrap();
    assert!(failed.data.is_empty());
    let content = files.content(&whales.id).await.unwrap();
    assert_eq!(content.data[0].text.trim(), WHALES);

    // New attributes are set in place: the file stays completed.
    let updated = files
        .update(
            &holidays.id,
            UpdateAttachedFile {
                attributes: attrs(json!({"topic": "policy"})),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.status, FileStatus::Completed);
    assert_eq!(updated.attributes, attrs(json!({"topic": "policy"})));

    // Rename, clear the metadata.
    let renamed = stores
        .update(
            &vs.id,
            UpdateVectorStore {
                name: Some(Some("renamed".into())),
                metadata: Some(None),
                ..UpdateVectorStore::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "renamed");
    assert_eq!(renamed.metadata, Some(Map::new()));

    // Detaching removes the file's chunks, not the file; deleting the store keeps the files.
    let detached = files.delete(&whales.id).await.unwrap();
    assert!(detached.deleted);
    let page = stores
        .search(
            &vs.id,
            SearchVectorStore {
                search_mode: Some(SearchMode::Keyword),
                ..SearchVectorStore::new("krill")
            },
        )
        .await
        .unwrap();
    assert!(page.data.is_empty(), "{page:?}");
    assert_eq!(
        client.files().content(&whales.id).await.unwrap(),
        WHALES.as_bytes()
    );

    let deleted = stores.delete(&vs.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.object, "vector_store.deleted");
    let e = stores.retrieve(&vs.id).await.unwrap_err();
    assert_eq!(status_of(&e), Some(404), "{e:?}");
    client.files().retrieve(&holidays.id).await.unwrap();

    for id in [&holidays.id, &whales.id] {
        assert!(client.files().delete(id).await.unwrap().deleted);
    }
    let e = client.files().content(&holidays.id).await.unwrap_err();
    assert_eq!(status_of(&e), Some(404), "{e:?}");
}

#[tokio::test]
async fn file_batches_upload_poll_list_and_cancel() {
    let app = spawn_app().await;
    let client = client(&app, &app.key_a);
    let vs = client
        .vector_stores()
        .create(CreateVectorStore::default())
        .await
        .unwrap();
    let batches = client.vector_stores().file_batches(&vs.id);

    let earlier = client
        .files()
        .create(CreateFile::new(
            FileInput::bytes("volcanoes.txt", VOLCANOES),
            "assistants",
        ))
        .await
        .unwrap();
    let batch = batches
        .upload_and_poll(
            vec![
                FileInput::bytes("holidays.txt", HOLIDAYS),
                FileInput::bytes("whales.txt", WHALES),
                FileInput::bytes("notes.txt", "Meeting notes: ship the SDK on Friday."),
            ],
            BatchUploadOptions {
                file_ids: vec![earlier.id.clone()],
                attributes: attrs(json!({"source": "batch"})),
                max_concurrency: 2,
                ..BatchUploadOptions::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(batch.status, BatchStatus::Completed, "{batch:?}");
    assert_eq!(batch.file_counts.completed, 4);
    assert_eq!(batch.file_counts.total, 4);
    assert_eq!(
        batches.retrieve(&batch.id).await.unwrap().status,
        BatchStatus::Completed
    );

    // The batch's files, two at a time, in both orders.
    let asc = AttachedListQuery {
        limit: Some(2),
        order: Some(Order::Asc),
        ..AttachedListQuery::default()
    };
    let first = batches.list_files(&batch.id, asc.clone()).await.unwrap();
    assert_eq!(first.data.len(), 2);
    assert!(first.has_more);
    let up: Vec<String> = first
        .into_stream()
        .map_ok(|f| f.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(up.len(), 4);
    assert!(up.contains(&earlier.id));
    let down: Vec<String> = batches
        .list_files(
            &batch.id,
            AttachedListQuery {
                order: Some(Order::Desc),
                ..asc
            },
        )
        .await
        .unwrap()
        .into_stream()
        .map_ok(|f| f.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(down, up.iter().rev().cloned().collect::<Vec<_>>());

    let page = client
        .vector_stores()
        .search(
            &vs.id,
            SearchVectorStore::new("magma rising through the crust"),
        )
        .await
        .unwrap();
    assert_eq!(page.data[0].file_id, earlier.id, "{page:?}");
    assert_eq!(page.data[0].attributes["source"], "batch");

    // A cancelled batch is done for the polling helper.
    let other = client
        .files()
        .create(CreateFile::new(
            FileInput::bytes("late.txt", "Something arriving late."),
            "assistants",
        ))
        .await
        .unwrap();
    let created = batches
        .create(CreateBatch::from_file_ids([&other.id]))
        .await
        .unwrap();
    let cancelled = batches.cancel(&created.id).await.unwrap();
    assert_eq!(cancelled.status, BatchStatus::Cancelled);
    let polled = batches.poll(&created.id, None).await.unwrap();
    assert_eq!(polled.status, BatchStatus::Cancelled);

    let e = batches.retrieve("vsfb_nope").await.unwrap_err();
    assert_eq!(status_of(&e), Some(404), "{e:?}");
}

#[tokio::test]
async fn vector_stores_page_both_ways() {
    let app = spawn_app().await;
    let client = client(&app, &app.key_a);
    let stores = client.vector_stores();
    let mut ids = Vec::new();
    for i in 0..5 {
        let vs = stores
            .create(CreateVectorStore {
                name: Some(format!("page {i}")),
                ..CreateVectorStore::default()
            })
            .await
            .unwrap();
        ids.push(vs.id);
    }

    let asc = ListQuery {
        limit: Some(2),
        order: Some(Order::Asc),
        ..ListQuery::default()
    };
    let first = stores.list(asc.clone()).await.unwrap();
    assert_eq!(first.data.len(), 2);
    assert!(first.has_next_page());
    assert_eq!(first.first_id.as_deref(), Some(ids[0].as_str()));
    let second = first.next_page().await.unwrap().expect("a second page");
    assert_eq!(
        second.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        ids[2..4]
    );
    let third = second.next_page().await.unwrap().expect("a third page");
    assert_eq!(third.data.len(), 1);
    assert!(!third.has_next_page());
    assert!(third.next_page().await.unwrap().is_none());

    let all_up: Vec<String> = stores
        .list(asc)
        .await
        .unwrap()
        .into_stream()
        .map_ok(|v| v.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all_up, ids);

    let all_down: Vec<String> = stores
        .list(ListQuery {
            limit: Some(3),
            ..ListQuery::default()
        })
        .await
        .unwrap()
        .into_stream()
        .map_ok(|v| v.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all_down, ids.iter().rev().cloned().collect::<Vec<_>>());

    let between = stores
        .list(ListQuery {
            order: Some(Order::Asc),
            after: Some(ids[0].clone()),
            before: Some(ids[3].clone()),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        between.into_iter().map(|v| v.id).collect::<Vec<_>>(),
        ids[1..3]
    );
}

#[tokio::test]
async fn unknown_ids_wrong_keys_and_bad_requests_are_api_errors() {
    let app = spawn_app().await;
    let client = client(&app, &app.key_a);

    match client.vector_stores().retrieve("vs_doesnotexist").await {
        Err(Error::Api {
            status,
            message,
            kind,
            ..
        }) => {
            assert_eq!(status, 404);
            assert!(!message.is_empty());
            assert!(kind.is_some());
        }
        other => panic!("{other:?}"),
    }
    let e = client
        .vector_stores()
        .files("vs_doesnotexist")
        .retrieve("file-nope")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    let e = client.files().retrieve("file-nope").await.unwrap_err();
    assert_eq!(e.status(), Some(404));

    // Another tenant's store answers 404 too.
    let vs = client
        .vector_stores()
        .create(CreateVectorStore::default())
        .await
        .unwrap();
    let other = self::client(&app, &app.key_b);
    let e = other.vector_stores().retrieve(&vs.id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));

    // A wrong key is a 401 in the envelope.
    let wrong = self::client(&app, "vsk_not_a_real_key");
    match wrong.vector_stores().list(ListQuery::default()).await {
        Err(Error::Api { status, kind, .. }) => {
            assert_eq!(status, 401);
            assert!(kind.is_some());
        }
        other => panic!("{other:?}"),
    }

    // A bad request names its parameter.
    match client
        .vector_stores()
        .search(&vs.id, SearchVectorStore::new(" "))
        .await
    {
        Err(Error::Api {
            status,
            param,
            kind,
            ..
        }) => {
            assert_eq!(status, 400);
            assert_eq!(param.as_deref(), Some("query"));
            assert_eq!(kind.as_deref(), Some("invalid_request_error"));
        }
        other => panic!("{other:?}"),
    }
    match client
        .vector_stores()
        .files(&vs.id)
        .create_and_poll(AttachFile::new("file-nope"), None)
        .await
    {
        Err(Error::Api { status, param, .. }) => {
            assert_eq!(status, 400);
            assert_eq!(param.as_deref(), Some("file_id"));
        }
        other => panic!("{other:?}"),
    }
}
