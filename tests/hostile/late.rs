//! Files made for the late-chunking path of the built-in transformer model, which reads up to
//! 64 chunks' stretch of a file's text at once.

use std::time::Instant;

use serde_json::json;

use crate::support::{
    Rss, call, client, create_store, same_process_under_a_gibibyte, server, upload_and_attach,
    wait_ended,
};

/// A text of `bytes` bytes or a little more, cycling through `chars`.
fn cycling(chars: &str, bytes: usize) -> Vec<u8> {
    chars
        .chars()
        .cycle()
        .take_while({
            let mut len = 0;
            move |c| {
                len += c.len_utf8();
                len <= bytes
            }
        })
        .collect::<String>()
        .into_bytes()
}

/// Three files for the model that reads chunks in their file's context: one 4 MB word (a single
/// unknown token under every chunk), 300 KB in which every character is a word piece, cut in
/// the largest chunks a strategy allows, and stretches of combining accents the tokenizer
/// drops (chunks of no token at all). Each is `completed`, the server stays one process under
/// 1 GiB, and the store answers searches.
#[tokio::test]
#[ignore = "make test-hostile: files made for the late-chunking path of the built-in model"]
async fn late_chunking_reads_crafted_files_within_bounds() {
    let (server, keys) = server("late", &[], &["a"]).await;
    let rss = Rss::watch(server.child.id().unwrap());
    let (c, key, base) = (client(), &keys[0], server.base.clone());
    let store = create_store(&c, &base, key, "late", "all-minilm-l6-v2").await;
    let started_at = rss.now();
    let largest = json!({"type": "static", "static": {
        "max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048}});
    let mut accents = b"start ".to_vec();
    for _ in 0..20 {
        accents.extend(cycling("\u{301}", 20_000));
        accents.extend(b" plain words between the accents ");
    }
    let files = [
        ("word.txt", vec![b'a'; 4_000_000], None),
        (
            "pieces.txt",
            cycling("的一是不了人我在有他这为之大来以个中上们", 300_000),
            Some(largest),
        ),
        ("accents.txt", accents, None),
    ];
    let mut ids = Vec::new();
    for (name, data, chunking) in files {
        let size = data.len();
        let id = upload_and_attach(&c, &base, key, &store, (name, data), chunking).await;
        println!("{name}: {} KB uploaded and attached as {id}", size / 1000);
        ids.push(id);
    }
    let began = Instant::now();
    for id in &ids {
        let f = wait_ended(&c, &base, key, (&store, id), began).await;
        assert_eq!(f["status"], "completed", "{f}");
    }
    let path = format!("/v1/vector_stores/{store}/search");
    for query in ["plain words", "大来以个"] {
        let (s, page) = call(&c, &base, key, "POST", &path, Some(json!({"query": query}))).await;
        assert_eq!(s, 200, "{page}");
        assert!(!page["data"].as_array().unwrap().is_empty(), "{page}");
    }
    same_process_under_a_gibibyte("late chunking", server, &rss, started_at);
}
