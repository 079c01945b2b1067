//! Tests of the summary: medians, ratios, the tables and the charts.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;
use crate::chunking::{DocumentSet, StaticChunking, StrategyResult};
use crate::ingestion::{ModelAlone, OneFile, Rates, SetResult};
use crate::retrieval::{CorpusQuality, ModelQuality};

fn level(concurrency: usize, qps: f64) -> Latencies {
    Latencies {
        concurrency,
        requests: 100,
        errors: 0,
        qps,
        p50_ms: 1.5,
        p95_ms: 2.25,
        p99_ms: 3.0,
        mean_ms: 1.75,
    }
}

fn modes(mrr: f64) -> ByMode<ModeQuality> {
    let q = |mrr_at_10| ModeQuality {
        mrr_at_10,
        recall_at_10: 0.5,
        queries: 300,
    };
    ByMode {
        vector: q(mrr),
        keyword: q(mrr / 2.0),
        hybrid: q(mrr / 4.0),
    }
}

fn rates(chunks_per_s: f64) -> Rates {
    Rates {
        secs: 2.0,
        chunks: 40,
        files_per_s: 10.0,
        chunks_per_s,
        kb_per_s: 5.0,
    }
}

fn strategy(name: &'static str, sent: Option<(u32, u32)>) -> StrategyResult {
    StrategyResult {
        strategy: name,
        model: "all-minilm-l6-v2",
        max_chunk_size_tokens: sent.map(|s| s.0),
        chunk_overlap_tokens: sent.map(|s| s.1),
        resolved: Some(StaticChunking {
            max_chunk_size_tokens: sent.map_or(800, |s| s.0),
            chunk_overlap_tokens: sent.map_or(400, |s| s.1),
        }),
        chunks: 123,
        ingest_secs: 4.5,
        mrr_at_10: 0.25,
        recall_at_10: 0.5,
    }
}

/// A run with every part present, as with Elasticsearch, the instant embedder and a
/// static model.
fn measured() -> Measured {
    let http = vec![level(1, 800.0), level(4, 2000.0), level(16, 3400.0)];
    let sql = vec![level(1, 1000.0), level(4, 2500.0), level(16, 4000.0)];
    let set = |name: &str, static_rate: Option<f64>| SetResult {
        set: name.to_string(),
        files: 20,
        bytes: 10_000,
        upload_secs: 0.5,
        built_in: rates(20.0),
        model_alone: ModelAlone {
            chunks: 40,
            chunks_per_s: 25.0,
            gflops: 30.0,
            share_of_matmul: 0.4,
            mean_word_pieces: 120.0,
        },
        ratio_to_model_alone: 0.8,
        static_model_alone_chunks_per_s: static_rate,
        others: BTreeMap::from([
            (
                "instant embedder (the pipeline alone)".to_string(),
                rates(400.0),
            ),
            ("potion-base-8m".to_string(), rates(300.0)),
        ]),
    };
    Measured {
        scale: 5000,
        passages: 5000,
        queries: 300,
        machine: Machine {
            cpus: 2,
            cpu_model: "AMD EPYC".to_string(),
            memory_gib: 23.5,
        },
        model: ModelRates {
            batch_32: 440.0,
            batch_1: 74.0,
        },
        indexing: Indexing {
            http_chunks_per_s: 1500.0,
            copy_chunks_per_s: 3000.0,
            concurrency: 4,
            batch: 500,
            elasticsearch: None,
        },
        database: Database::of(2 * 1024 * 1024, 1024 * 1024, 500_000),
        recall: Recall {
            k10_recall_at_10: 0.979,
            k50_recall_at_10: 0.99,
            k50_recall_at_50: 0.95,
            ef_search_sweep: vec![
                EfSearchPoint {
                    ef_search: 10,
                    recall_at_10: 0.8,
                    sql_qps_1_client: 1078.0,
                },
                EfSearchPoint {
                    ef_search: 100,
                    recall_at_10: 0.98,
                    sql_qps_1_client: 567.0,
                },
            ],
        },
        search: Search {
            qps_ratio_by_concurrency: http
                .iter()
                .zip(&sql)
                .map(|(h, s)| LevelRatio {
                    concurrency: h.concurrency,
                    ratio: ratio(h.qps, s.qps),
                })
                .collect(),
            http,
            sql,
            rounds: 3,
            http_health_round_trip: level(1, 5000.0),
            qps_ratio_by_round: vec![RoundRatios {
                concurrency: 1,
                ratios: vec![0.8, 0.81, 0.79],
            }],
            pool_size: 16,
        },
        quality: Quality {
            full: FullSetQuality {
                pgvector: modes(0.6),
            },
            same_set: SameSetQuality {
                passages: 2000,
                queries: 120,
                backends: BTreeMap::from([
                    ("elasticsearch".to_string(), modes(0.5)),
                    ("pgvector".to_string(), modes(0.4)),
                ]),
            },
            elasticsearch: Some(EsIndexing {
                chunks: 2000,
                chunks_per_s: 700.0,
            }),
        },
        chunk_sizes: ChunkSizes {
            sets: vec![DocumentSet {
                documents: 40,
                passages_per_document: 25,
                queries: 300,
                strategies: vec![
                    strategy("auto", None),
                    strategy("static 128/64", Some((128, 64))),
                ],
            }],
        },
        retrieval: Retrieval {
            corpora: vec![CorpusQuality {
                corpus: "BoolQ questions, a paragraph a file".to_string(),
                files: 600,
                queries: 300,
                models: vec![ModelQuality {
                    model: "all-minilm-l6-v2".to_string(),
                    chunks: 600,
                    ingest_secs: 12.0,
                    default_mode: modes(0.7).vector,
                    modes: modes(0.7),
                }],
            }],
        },
        ingestion: Ingestion {
            matmul_gflops: 75.0,
            model_batch: 32,
            sets: vec![
                set("300 small files", Some(9000.0)),
                set("2 large files", None),
            ],
            one_file: OneFile {
                name: "library-unittest.txt".to_string(),
                bytes: 104_806,
                built_in_secs: 15.0,
                chunks_alone_secs: None,
                instant_secs: Some(0.53),
            },
        },
        openai_search: vec![level(1, 56.2), level(4, 90.0)],
        memory: Memory {
            idle: Some(Rss {
                rss_mb: 100.0,
                hwm_mb: 120.0,
            }),
            end: Some(Rss {
                rss_mb: 300.0,
                hwm_mb: 900.0,
            }),
        },
        elapsed_s: 321.0,
    }
}

/// Every key path of `v` (`.a.b`, `.list[].c`), array elements merged.
fn key_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                key_paths(x, &p, out);
                out.insert(p);
            }
        }
        Value::Array(items) => {
            for x in items {
                key_paths(x, &format!("{path}[]"), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

fn paths(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    key_paths(v, "", &mut out);
    out
}

#[test]
fn summary_json_has_the_keys_of_the_published_summary() {
    let mut published: Value = serde_json::from_str(include_str!(
        "../../../../docs/benchmarks/summary-ingestion.json"
    ))
    .expect("docs/benchmarks/summary-ingestion.json");
    // The OpenAI search figures were published from a run of that part alone.
    published["quality_openai"] =
        serde_json::from_str(include_str!("../../../../docs/benchmarks/retrieval.json"))
            .expect("docs/benchmarks/retrieval.json");
    let ours = serde_json::to_value(Summary::new(measured())).expect("serialises");
    let (want, got) = (paths(&published), paths(&ours));
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}, extra {extra:#?}"
    );
}

#[test]
fn headline_figures_are_derived_from_the_phases() {
    let s = serde_json::to_value(Summary::new(measured())).expect("serialises");
    assert_eq!(s["search_concurrency_of_ratio"], 16);
    assert_eq!(s["search_qps_ratio_vs_sql"], 0.85);
    assert_eq!(
        s["search_qps_ratio_vs_sql_by_concurrency"],
        serde_json::json!({"1": 0.8, "4": 0.8, "16": 0.85})
    );
    assert_eq!(s["index_rate_ratio_vs_sql"], 0.5);
    assert_eq!(s["search_p99_ms"], 3.0);
    assert_eq!(s["recall_at_10"], 0.979);
    assert_eq!(
        s["mrr_at_10"],
        serde_json::json!({"vector": 0.6, "keyword": 0.3, "hybrid": 0.15})
    );
    assert_eq!(
        (&s["idle_rss_mb"], &s["peak_rss_mb"], &s["final_rss_mb"]),
        (&100.0.into(), &900.0.into(), &300.0.into())
    );
    assert_eq!(s["indexing"]["elasticsearch"]["chunks"], 2000);
    assert_eq!(s["end_to_end"]["vector_search_http"], s["search"]["http"]);
    assert_eq!(s["end_to_end"]["model_sentences_per_s_batch_1"], 74.0);
    assert_eq!(s["database"]["service_mib_per_million_chunks"], 4.0);
    assert_eq!(
        s["quality_chunk_sizes"]["sets"][0]["strategies"][0]["max_chunk_size_tokens"],
        Value::Null
    );
}

#[test]
fn absent_parts_are_null_or_left_out_as_before() {
    let mut m = measured();
    m.quality.elasticsearch = None;
    m.ingestion.one_file.instant_secs = None;
    m.memory = Memory {
        idle: None,
        end: None,
    };
    m.search.http[2].p99_ms = f64::NAN;
    m.search.sql.clear();
    let summary = Summary::new(m);
    let s = serde_json::to_value(&summary).expect("serialises");
    assert_eq!(s["indexing"]["elasticsearch"], Value::Null);
    assert!(
        s["indexing"]
            .as_object()
            .unwrap()
            .contains_key("elasticsearch")
    );
    assert_eq!(s["ingestion"]["one_file"]["instant_secs"], Value::Null);
    assert_eq!(s["idle_rss_mb"], Value::Null);
    assert_eq!(s["search"]["http"][2]["p99_ms"], Value::Null);
    assert_eq!(s["search_qps_ratio_vs_sql"], Value::Null);
    let sets = s["ingestion"]["sets"].as_array().unwrap();
    assert_eq!(sets[0]["static_model_alone_chunks_per_s"], 9000.0);
    assert!(
        !sets[1]
            .as_object()
            .unwrap()
            .contains_key("static_model_alone_chunks_per_s")
    );

    let md = markdown(&summary);
    assert!(md.contains("| service RSS idle (MiB) | – |\n"), "{md}");
    assert!(
        md.contains("| the same, instant embedder | | | | – |\n"),
        "{md}"
    );
    assert!(
        md.contains("| /v2 HTTP | 16 | 3400 | 1.50 | 2.25 | – |\n"),
        "{md}"
    );
    assert!(!md.contains("upsert on elasticsearch"), "{md}");
    assert!(!md.contains("NaN"), "{md}");
}

#[test]
fn markdown_has_a_row_for_every_figure() {
    let md = markdown(&Summary::new(measured()));
    for row in [
        "Scale 5000 chunks (5000 WordNet passages), 300 queries; 2 CPUs (AMD EPYC), 23.5 GiB.\n",
        "| /v2 upsert, precomputed vectors | 1500 |\n",
        "| **ratio** | **0.50** |\n",
        "| /v2 upsert on elasticsearch (2000 passages) | 700 |\n",
        "| vector search, k 10 (medians of 3 rounds) |",
        "| /v2 HTTP | 4 | 2000 | 1.50 | 2.25 | 3.00 |\n",
        "| raw SQL | 16 | 4000 | 1.50 | 2.25 | 3.00 |\n",
        "| **QPS ratio HTTP / SQL** | 16 | **0.85** | | | |\n",
        "| `GET /health` (the HTTP round trip alone) | 1 | 5000 | 1.50 | 2.25 | 3.00 |\n",
        "| recall@10, k 10 (defaults) | 0.9790 |\n",
        "| recall@10 at hnsw.ef_search 100 (SQL; 567 q/s, 1 client) | 0.9800 |\n",
        "| pgvector | 5000 | 300 | vector | 0.6000 | 0.5000 |\n",
        "| BoolQ questions, a paragraph a file: 600 files, 300 queries | all-minilm-l6-v2 | \
         default | 600 | 0.7000 | 0.5000 |\n",
        "| elasticsearch | 2000 | 300 | keyword | 0.2500 | 0.5000 |\n",
        "| pgvector | 2000 | 300 | hybrid | 0.1000 | 0.5000 |\n",
        "| chunking, 40 documents of 25 passages, 300 queries (vector search, by document) |",
        "| auto (800/400) | 123 | 4.5 | 0.2500 | 0.5000 |\n",
        "| static 128/64 | 123 | 4.5 | 0.2500 | 0.5000 |\n",
        "| candle matmul at the model's shapes: 75.0 GFLOPS | | | | |\n",
        "| 300 small files, built-in model | 10.0 | 20.0 | 5.0 | 2.0 |\n",
        "| 300 small files, instant embedder (the pipeline alone) | 10.0 | 400.0 | 5.0 | 2.0 |\n",
        "| 2 large files, potion-base-8m | 10.0 | 300.0 | 5.0 | 2.0 |\n",
        "| 300 small files, the static model alone on the same chunks | | 9000 | | |\n",
        "| 2 large files, model alone on the same 40 chunks (30.0 GFLOPS, 0.40 of matmul, 120 \
         word pieces a chunk) | | 25.0 | | |\n",
        "| **ratio built-in / model alone** | | **0.80** | | |\n",
        "| upload, attach, poll one 104806 byte file (`library-unittest.txt`), built-in model | | \
         | | 15.0 |\n",
        "| the same, instant embedder | | | | 0.53 |\n",
        "| vector search alone (/v2, query vectors given) | 16 | 3400.0 | 1.5 | 2.2 | 3.0 |\n",
        "| POST /v1/vector_stores/{id}/search | 4 | 90.0 | 1.5 | 2.2 | 3.0 |\n",
        "| model alone, batches of 32 (sentences/s) | 1 | 440.0 | | | |\n",
        "| service RSS peak, VmHWM (MiB) | 900 |\n",
        "| service table, MiB per million chunks | 4 |\n",
        "| COPY table, MiB per million chunks | 2 |\n",
        "\nElapsed: 321 s.\n",
    ] {
        assert!(md.contains(row), "no {row:?} in\n{md}");
    }
    assert!(
        !md.contains("2 large files, the static model alone"),
        "{md}"
    );
    let order = |a: &str, b: &str| md.find(a).unwrap() < md.find(b).unwrap();
    assert!(order(
        "| 300 small files, built-in model",
        "| 300 small files, instant"
    ));
    assert!(order(
        "| 300 small files, instant",
        "| 300 small files, potion"
    ));
    assert!(order("| pgvector | 5000 |", "| elasticsearch | 2000 |"));
}
