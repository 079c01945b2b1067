//! Query rewriting with a chat model behind any OpenAI-compatible
//! `POST {base_url}/chat/completions` endpoint (OpenAI, vLLM, Ollama, llama.cpp). The prompt
//! is `prompts/rewrite_query.md`.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::remote::{RemoteError, client, post_json};

/// The instructions the chat model is given before the query.
pub const REWRITE_PROMPT: &str = include_str!("prompts/rewrite_query.md");

/// Rewrites a search query into one that finds more.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait QueryRewriter: Send + Sync + Debug + 'static {
    /// The configured name.
    fn name(&self) -> &str;
    /// The rewritten query: one line, not blank.
    async fn rewrite(&self, query: &str) -> Result<String, RemoteError>;
}

#[derive(Debug, Clone)]
pub struct ChatOptions {
    pub name: String,
    /// E.g. `http://host/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<SecretString>,
    pub timeout: Duration,
}

/// A chat model reached over HTTP that rewrites queries.
#[derive(Debug, Clone)]
pub struct ChatRewriter {
    options: ChatOptions,
    url: String,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

impl ChatRewriter {
    pub fn new(options: ChatOptions) -> Self {
        Self {
            url: format!(
                "{}/chat/completions",
                options.base_url.trim_end_matches('/')
            ),
            client: client(options.timeout),
            options,
        }
    }
}

#[async_trait]
impl QueryRewriter for ChatRewriter {
    fn name(&self) -> &str {
        &self.options.name
    }

    async fn rewrite(&self, query: &str) -> Result<String, RemoteError> {
        let o = &self.options;
        let body = json!({
            "model": o.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": REWRITE_PROMPT},
                {"role": "user", "content": query},
            ],
        });
        let answer: Completion = post_json(
            &self.client,
            &self.url,
            o.api_key.as_ref(),
            &body,
            o.timeout,
        )
        .await?;
        let content = answer
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .unwrap_or_default();
        one_line(&content).ok_or_else(|| RemoteError::unusable(&self.url, "an empty rewrite"))
    }
}

/// The first line of `content` that is not blank, trimmed, without surrounding quotes.
fn one_line(content: &str) -> Option<String> {
    let line = content.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or(line)
        .trim();
    (!line.is_empty()).then(|| line.to_string())
}

#[cfg(test)]
mod tests;
