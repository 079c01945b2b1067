//! What a user of the OpenAI surface finds: each corpus uploaded as files and ingested through
//! the file pipeline (`auto` chunking) into a store per built-in model, then searched through
//! `POST /v1/vector_stores/{id}/search` in every `search_mode`, and with none (the default). A
//! hit is the file that holds the query's answer, counted once, at its best chunk.

use anyhow::Result;
use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

use crate::client::Api;
use crate::data::Corpus;
use crate::qa::Qa;
use crate::quality::{ByMode, ModeQuality};
use crate::{bar, ingestion, load, ordered, step};

/// A corpus as files: their texts, and the queries with the index of the file answering each.
pub struct Set {
    pub name: String,
    pub files: Vec<String>,
    pub queries: Vec<(String, usize)>,
}

impl Set {
    /// WordNet passages joined into `documents` files of `per_document` passages each, and up
    /// to `queries` queries about them.
    pub fn wordnet(corpus: &Corpus, documents: usize, per_document: usize, queries: usize) -> Self {
        let (passages, qs) = corpus.subset(documents * per_document, queries);
        let files = passages
            .chunks(per_document)
            .map(|group| {
                group
                    .iter()
                    .map(|p| p.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .collect();
        Self {
            name: format!("WordNet, files of {per_document} passages"),
            files,
            queries: qs
                .into_iter()
                .map(|q| (q.text, q.passage / per_document))
                .collect(),
        }
    }

    /// The two WordNet sets every quality figure uses: `documents` files of `per_document`
    /// passages, and half as many long files of four times as many passages.
    pub fn wordnet_short_and_long(
        corpus: &Corpus,
        documents: usize,
        per_document: usize,
        queries: usize,
    ) -> [Self; 2] {
        [
            Self::wordnet(corpus, documents, per_document, queries),
            Self::wordnet(corpus, (documents / 2).max(2), per_document * 4, queries),
        ]
    }

    /// The first `passages` BoolQ paragraphs, a file each, and up to `queries` questions about
    /// them.
    pub fn boolq(qa: &Qa, passages: usize, queries: usize) -> Self {
        let (texts, questions) = qa.subset(passages, queries);
        Self {
            name: "BoolQ questions, a paragraph a file".to_string(),
            files: texts.to_vec(),
            queries: questions.into_iter().map(|q| (q.text, q.passage)).collect(),
        }
    }

    /// Uploads the files (`doc{i}.txt`); their ids, in order.
    pub async fn upload(&self, api: &Api) -> Result<Vec<String>> {
        let pb = bar(
            self.files.len() as u64,
            &format!("uploading, {}", self.name),
        );
        ordered(self.files.len(), 4, &pb, |i| {
            let text = &self.files[i];
            async move { api.upload(&format!("doc{i}.txt"), text).await }
        })
        .await
    }

    /// The id of the file answering each query, given the files' ids.
    pub fn relevant<'a>(&self, ids: &'a [String]) -> Vec<&'a str> {
        self.queries.iter().map(|(_, f)| ids[*f].as_str()).collect()
    }

    /// OpenAI search bodies of the queries: the 10 best chunks, in `mode` (`None`: the
    /// default).
    pub fn search_bodies(&self, mode: Option<&str>) -> Vec<Bytes> {
        self.queries
            .iter()
            .map(|(q, _)| {
                let mut body = json!({"query": q, "max_num_results": 10});
                if let Some(mode) = mode {
                    body["search_mode"] = json!(mode);
                }
                serde_json::to_vec(&body).expect("json").into()
            })
            .collect()
    }
}

/// The files each search found, best first, a file once (at its best chunk).
pub async fn found_files(
    api: &Api,
    store: &str,
    bodies: &[Bytes],
    label: &str,
) -> Result<Vec<Vec<String>>> {
    let pb = bar(bodies.len() as u64, &format!("searching, {label}"));
    ordered(bodies.len(), 4, &pb, |i| {
        let body = bodies[i].clone();
        async move {
            let mut files = api.openai_search(store, body).await?;
            let mut seen = std::collections::HashSet::new();
            files.retain(|f| seen.insert(f.clone()));
            Ok(files)
        }
    })
    .await
}

/// Every corpus, with every model.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieval {
    pub corpora: Vec<CorpusQuality>,
}

/// One corpus, ingested once per model.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusQuality {
    pub corpus: String,
    pub files: usize,
    pub queries: usize,
    pub models: Vec<ModelQuality>,
}

/// One corpus in a store of one model: what the ingestion made, and what each mode finds.
#[derive(Debug, Clone, Serialize)]
pub struct ModelQuality {
    pub model: String,
    pub chunks: u64,
    pub ingest_secs: f64,
    /// A search that names no `search_mode`.
    pub default_mode: ModeQuality,
    pub modes: ByMode<ModeQuality>,
}

/// Each query's `RANKED_DEPTH` best chunks by vector and by keyword search, as JSON lines:
/// `{corpus, model, query, relevant, vector: [[file_id, chunk, score]…], keyword: […]}`, with
/// `chunk` the chunk's text (which, with the file, tells chunks apart).
async fn write_ranked_lists(
    api: &Api,
    store: &str,
    set: &Set,
    model: &str,
    relevant: &[&str],
    out: &mut impl std::io::Write,
) -> Result<()> {
    const RANKED_DEPTH: usize = 50;
    let pb = bar(
        set.queries.len() as u64,
        &format!("ranked lists, {}, {model}", set.name),
    );
    let lists = ordered(set.queries.len(), 4, &pb, |i| {
        let query = set.queries[i].0.clone();
        async move {
            let mut by_mode = serde_json::Map::new();
            for mode in ["vector", "keyword"] {
                let body =
                    json!({"query": query, "max_num_results": RANKED_DEPTH, "search_mode": mode});
                let page = api
                    .post_json(&format!("/v1/vector_stores/{store}/search"), &body)
                    .await?;
                let hits: Vec<serde_json::Value> = page["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| json!([h["file_id"], h["content"][0]["text"], h["score"]]))
                    .collect();
                by_mode.insert(mode.to_string(), hits.into());
            }
            Ok(by_mode)
        }
    })
    .await?;
    for (i, by_mode) in lists.into_iter().enumerate() {
        let mut line = json!({
            "corpus": set.name, "model": model, "query": set.queries[i].0, "relevant": relevant[i],
        });
        for (mode, hits) in by_mode {
            line[mode] = hits;
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Measures every set with every model; with `ranked_lists`, also writes each query's ranked
/// lists there.
pub async fn measure(
    api: &Api,
    sets: &[Set],
    models: &[&str],
    ranked_lists: Option<&std::path::Path>,
) -> Result<Retrieval> {
    let mut lists = ranked_lists
        .map(|p| std::fs::File::create(p).map(std::io::BufWriter::new))
        .transpose()?;
    let mut corpora = Vec::new();
    for set in sets {
        let ids = set.upload(api).await?;
        let relevant = set.relevant(&ids);
        let mut by_model = Vec::new();
        for &model in models {
            let label = format!("{}, {model}", set.name);
            let run = ingestion::ingest(api, &label, &ids, Some(model), None).await?;
            let mode = async |mode: Option<&str>| -> Result<ModeQuality> {
                let bodies = set.search_bodies(mode);
                let name = mode.unwrap_or("default");
                let found =
                    found_files(api, &run.store, &bodies, &format!("{label}, {name}")).await?;
                let (mrr, recall) = load::mrr_recall(&found, &relevant, 10);
                step(&format!(
                    "{label}, {name}: MRR@10 {mrr:.4}, recall@10 {recall:.4} ({} queries)",
                    found.len()
                ));
                Ok(ModeQuality {
                    mrr_at_10: mrr,
                    recall_at_10: recall,
                    queries: found.len(),
                })
            };
            let quality = ModelQuality {
                model: model.to_string(),
                chunks: run.chunks,
                ingest_secs: run.secs,
                default_mode: mode(None).await?,
                modes: ByMode {
                    vector: mode(Some("vector")).await?,
                    keyword: mode(Some("keyword")).await?,
                    hybrid: mode(Some("hybrid")).await?,
                },
            };
            by_model.push(quality);
            if let Some(out) = lists.as_mut() {
                write_ranked_lists(api, &run.store, set, model, &relevant, out).await?;
            }
            api.delete(&format!("/v1/vector_stores/{}", run.store))
                .await?;
        }
        for f in &ids {
            api.delete(&format!("/v1/files/{f}")).await?;
        }
        corpora.push(CorpusQuality {
            corpus: set.name.clone(),
            files: ids.len(),
            queries: set.queries.len(),
            models: by_model,
        });
    }
    if let Some(mut out) = lists {
        std::io::Write::flush(&mut out)?;
    }
    Ok(Retrieval { corpora })
}
