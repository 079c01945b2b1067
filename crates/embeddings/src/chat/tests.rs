//! The chat rewriter against a local fake chat server: what it sends, the line it keeps.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn rewriter(server: &MockServer) -> ChatRewriter {
    ChatRewriter::new(ChatOptions {
        name: "fake".into(),
        base_url: format!("{}/v1/", server.uri()),
        model: "small-chat".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
    })
}

fn answer(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
    }))
}

#[tokio::test]
async fn sends_the_prompt_and_the_query_and_reads_one_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({
            "model": "small-chat",
            "messages": [
                {"role": "system", "content": REWRITE_PROMPT},
                {"role": "user", "content": "hey, how do I run the tests?"},
            ],
        })))
        .respond_with(answer("\n  \"run tests command\"  \nsecond line"))
        .expect(1)
        .mount(&server)
        .await;
    let q = rewriter(&server)
        .rewrite("hey, how do I run the tests?")
        .await
        .unwrap();
    assert_eq!(q, "run tests command");
}

#[tokio::test]
async fn a_blank_answer_is_unusable() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/chat/completions"))
        .respond_with(answer("  \n \"\" "))
        .mount(&server)
        .await;
    let e = rewriter(&server).rewrite("q").await.unwrap_err();
    assert_eq!(e.reason(), "answer", "{e}");
}

#[test]
fn one_line_unquotes_and_trims() {
    assert_eq!(one_line("  a b \n c").as_deref(), Some("a b"));
    assert_eq!(one_line("\"x\"").as_deref(), Some("x"));
    assert_eq!(one_line(" \n\t"), None);
}
