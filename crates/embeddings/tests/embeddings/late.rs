//! Late chunking with the built-in model: each span's vector checked against the model's own
//! token states, which are themselves checked against the reference implementation.

#![allow(
    clippy::single_range_in_vec_init,
    reason = "spans are ranges: a list of one span is what these tests mean"
)]

use std::ops::Range;

use embeddings::local::TokenStates;
use embeddings::{EmbedError, Embedder, LocalBertEmbedder};

use crate::local::{cosine, model, reference};

async fn late() -> LocalBertEmbedder {
    model().await.as_ref().clone().with_late_chunking(true)
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// The sum of the states of the tokens that overlap `span` (the special tokens, at offsets
/// (0, 0), left out unless `specials`).
fn summed(states: &TokenStates, span: &Range<usize>, specials: bool) -> Vec<f32> {
    let mut sum = vec![0f32; 384];
    let last = states.offsets.len() - 1;
    for (i, (&(start, end), row)) in states.offsets.iter().zip(&states.states).enumerate() {
        let special = i == 0 || i == last;
        if (special && specials) || (!special && end > span.start && start < span.end) {
            sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
        }
    }
    sum
}

/// Byte ranges of `text` cut at spaces into pieces of `words` words, each overlapping the
/// next by half.
fn chunks(text: &str, words: usize) -> Vec<Range<usize>> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices(' ').map(|(i, _)| i + 1))
        .collect();
    let step = (words / 2).max(1);
    (0..starts.len())
        .step_by(step)
        .take_while(|&i| i == 0 || i + step < starts.len())
        .map(|i| {
            let end = starts.get(i + words).map_or(text.len(), |&e| e - 1);
            starts[i]..end
        })
        .collect()
}

/// 120 words the tokenizer keeps whole (one token each).
fn plain_words() -> String {
    let words = [
        "the", "river", "bank", "was", "full", "of", "fish", "and", "old", "boats", "that", "the",
        "men", "sail", "at", "dawn", "while", "children", "watch", "them",
    ];
    (0..120)
        .map(|i| words[(i * 7 + i / 20) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_token_states_pool_into_the_reference_vector() {
    let m = model().await;
    for case in reference() {
        let states = m.token_states(&case.text).await.unwrap();
        assert_eq!(states.offsets.len(), states.states.len());
        let whole = unit(summed(&states, &(0..case.text.len()), true));
        let c = cosine(&whole, &case.vector);
        assert!(c >= 0.999, "cosine {c} for {:?}", case.text);
    }
}

#[tokio::test]
async fn each_chunk_is_the_mean_of_its_tokens_states_in_the_windows_that_read_it() {
    let m = late().await;
    let text = plain_words();
    assert_eq!(m.count_tokens(&text).unwrap(), 122, "one token a word");
    // Chunks of 40 words overlapping by 20: chunks 0, 2 and 4 are the windows.
    let spans = chunks(&text, 40);
    assert_eq!(spans.len(), 5, "{spans:?}");
    let vectors = m.embed_spans(&text, &spans).await.unwrap();
    let texts = embeddings::span_texts(&text, &spans).unwrap();
    let alone = m.embed(&texts).await.unwrap();
    for k in [0, 2, 4] {
        let c = cosine(&vectors[k], &alone[k]);
        assert!(c >= 0.9999, "chunk {k} is a window: cosine {c} to it alone");
    }
    for k in [1, 3] {
        // Its first half read in window k - 1, its second half in window k + 1.
        let (before, after) = (&spans[k - 1], &spans[k + 1]);
        let mut sum = summed(
            &m.token_states(&texts[k - 1]).await.unwrap(),
            &(spans[k].start - before.start..before.len()),
            false,
        );
        let second = summed(
            &m.token_states(&texts[k + 1]).await.unwrap(),
            &(0..spans[k].end - after.start),
            false,
        );
        sum.iter_mut().zip(second).for_each(|(s, x)| *s += x);
        let c = cosine(&vectors[k], &unit(sum));
        assert!(c >= 0.9999, "chunk {k}: cosine {c} to its tokens' states");
        let a = cosine(&vectors[k], &alone[k]);
        assert!(
            (0.5..0.9999).contains(&a),
            "chunk {k}: cosine {a} to it alone"
        );
    }
}

#[tokio::test]
async fn a_text_read_as_one_span_gets_the_models_own_vector() {
    let m = late().await;
    for case in reference() {
        let v = m
            .embed_spans(&case.text, &[0..case.text.len()])
            .await
            .unwrap();
        let c = cosine(&v[0], &case.vector);
        assert!(c >= 0.999, "cosine {c} for {:?}", case.text);
    }
}

#[tokio::test]
async fn a_text_longer_than_the_model_reads_is_read_in_windows_and_every_span_gets_a_vector() {
    let m = late().await;
    // About 1,700 tokens: seven windows; the spans cross their edges and one is the whole text.
    let text = reference()
        .into_iter()
        .map(|c| c.text)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .repeat(6);
    let mut spans = chunks(&text, 100);
    spans.push(0..text.len());
    let vectors = m.embed_spans(&text, &spans).await.unwrap();
    assert_eq!(vectors.len(), spans.len());
    for v in &vectors {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let texts = embeddings::span_texts(&text, &spans[..spans.len() - 1]).unwrap();
    for (v, a) in vectors.iter().zip(m.embed(&texts).await.unwrap()) {
        let c = cosine(v, &a);
        assert!(c > 0.3, "cosine to the chunk alone {c}");
    }
}

#[tokio::test]
async fn a_span_off_the_text_is_invalid_input_and_a_blank_span_is_read_as_an_empty_text() {
    let m = late().await;
    let text = "héllo wörld";
    for bad in [0..100, 2..3, Range { start: 5, end: 2 }] {
        match m.embed_spans(text, std::slice::from_ref(&bad)).await {
            Err(EmbedError::InvalidInput(msg)) => assert!(msg.contains("span"), "{msg}"),
            other => panic!("expected InvalidInput for {bad:?}, got {other:?}"),
        }
    }
    assert!(m.embed_spans(text, &[]).await.unwrap().is_empty());
    let spaced = "one \u{0}\u{0} two";
    let v = m.embed_spans(spaced, &[4..6]).await.unwrap();
    let empty = m.embed(&[String::new()]).await.unwrap();
    assert!(cosine(&v[0], &empty[0]) > 0.9999);
}
