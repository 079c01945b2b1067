//! Embedding a file's chunks: read in the context of the file's text by a model that does
//! late chunking; otherwise each chunk alone, one longer than the model reads in windows, its
//! vector their weighted mean.

use std::ops::Range;

use embeddings::{EmbedError, Embedder};

use super::auto_chunking;
use crate::text;

/// The fewest cl100k tokens a window of [`embed_windows`] shrinks to.
const MIN_WINDOW_TOKENS: usize = 8;

/// The vectors of the pieces (byte ranges) of some texts, in order. A model that does late
/// chunking reads the pieces of a text of several in the context of the part of the text they
/// cover (one call per text, the calls side by side); every other piece, and every piece when
/// the model does not, is embedded alone ([`embed_windows`], all in one call). (Late chunking
/// of a text's only piece, read whole, gives the vector of the piece alone.)
pub async fn embed_pieces(
    embedder: &dyn Embedder,
    texts: &[(&str, &[Range<usize>])],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let late = embedder.late_chunking();
    let in_context = |spans: &[Range<usize>]| late && spans.len() > 1;
    let alone = texts
        .iter()
        .filter(|(_, spans)| !in_context(spans))
        .flat_map(|&(text, spans)| spans.iter().map(move |r| text.get(r.clone())))
        .collect::<Option<Vec<&str>>>()
        .ok_or_else(|| EmbedError::InvalidInput("a piece is not in its text".into()))?;
    let read =
        texts
            .iter()
            .filter(|(_, spans)| in_context(spans))
            .map(|&(text, spans)| async move {
                let from = spans.iter().map(|r| r.start).min().unwrap_or(0);
                let to = spans.iter().map(|r| r.end).max().unwrap_or(0);
                let shifted: Vec<Range<usize>> =
                    spans.iter().map(|r| r.start - from..r.end - from).collect();
                let part = text.get(from..to).ok_or_else(|| {
                    EmbedError::InvalidInput(format!("pieces {from}..{to} are not in the text"))
                })?;
                embedder.embed_spans(part, &shifted).await
            });
    let (alone, read) = futures::try_join!(
        embed_windows(embedder, &alone),
        futures::future::try_join_all(read)
    )?;
    let (mut alone, mut read) = (alone.into_iter(), read.into_iter());
    let mut out = Vec::with_capacity(texts.iter().map(|(_, s)| s.len()).sum());
    for (_, spans) in texts {
        if in_context(spans) {
            out.extend(read.next().unwrap_or_default());
        } else {
            out.extend(alone.by_ref().take(spans.len()));
        }
    }
    Ok(out)
}

/// One vector per text, for texts of any length: a text the model reads whole is embedded as
/// it is; a longer one is cut into consecutive windows the model reads (of the `auto` chunk
/// size, on character boundaries, nothing left out), and its vector is the mean of the
/// windows' vectors weighted by their lengths, normalised. A text whose window the model still
/// finds too long (text that splits into many word pieces) is cut smaller; the others are not
/// cut again.
pub async fn embed_windows(
    embedder: &dyn Embedder,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let (auto, _) = auto_chunking(Some(embedder.max_input_tokens()));
    let mut windows = vec![auto as usize; texts.len()];
    loop {
        // (text index, window text) for every window of every text; a text read whole is one.
        let mut pieces: Vec<(usize, &str)> = Vec::new();
        let mut whole = vec![false; texts.len()];
        for (i, t) in texts.iter().enumerate() {
            if text::count_tokens(t) <= windows[i] {
                whole[i] = true;
                pieces.push((i, t));
            } else {
                pieces.extend(text::chunk(t, windows[i], 0).into_iter().map(|w| (i, w)));
            }
        }
        let inputs: Vec<String> = pieces.iter().map(|(_, w)| (*w).to_string()).collect();
        match embedder.embed(&inputs).await {
            Ok(vectors) => {
                let mut out = vec![vec![0f32; embedder.dimension()]; texts.len()];
                for ((i, w), v) in pieces.iter().zip(vectors) {
                    if whole[*i] {
                        // The model's own vector.
                        out[*i] = v;
                    } else {
                        let weight = w.len() as f32;
                        out[*i]
                            .iter_mut()
                            .zip(v)
                            .for_each(|(s, x)| *s += weight * x);
                    }
                }
                for (v, _) in out.iter_mut().zip(&whole).filter(|(_, w)| !**w) {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                return Ok(out);
            }
            Err(EmbedError::InputTooLong { index, .. })
                if pieces
                    .get(index)
                    .is_some_and(|(i, _)| windows[*i] > MIN_WINDOW_TOKENS) =>
            {
                let i = pieces[index].0;
                windows[i] = (windows[i] * 3 / 4).max(MIN_WINDOW_TOKENS);
                tracing::debug!(
                    window = windows[i],
                    "a window was too long for the model; embedding that text in smaller windows"
                );
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use embeddings::MockEmbedder;

    use super::*;

    /// A model of 2-d vectors that reads at most `max` of its tokens (a word each here) and
    /// embeds a text as (its words, 1), so a mean over windows can be checked.
    fn words_model(max: usize) -> MockEmbedder {
        let mut e = MockEmbedder::new();
        e.expect_model().return_const("words".to_string());
        e.expect_dimension().return_const(2usize);
        e.expect_max_input_tokens().return_const(256usize);
        e.expect_embed().returning(move |texts: &[String]| {
            texts
                .iter()
                .enumerate()
                .map(|(index, t)| {
                    let words = t.split_whitespace().count();
                    if words > max {
                        return Err(EmbedError::InputTooLong {
                            index,
                            tokens: words,
                            max,
                        });
                    }
                    Ok(vec![words as f32, 1.0])
                })
                .collect()
        });
        e
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[tokio::test]
    async fn a_text_the_model_reads_whole_is_embedded_as_it_is() {
        let model = words_model(1000);
        let v = embed_windows(&model, &["three short words"]).await.unwrap();
        assert_eq!(v, vec![vec![3.0, 1.0]]);
    }

    #[tokio::test]
    async fn a_longer_text_is_the_normalised_mean_of_its_windows() {
        let model = words_model(1000);
        // About 400 cl100k tokens: more than the 128 of one window for a 256-token model.
        let long = "word ".repeat(400);
        let v = embed_windows(&model, &[long.trim(), "tiny"]).await.unwrap();
        let windows = text::chunk(long.trim(), 128, 0);
        assert!(windows.len() >= 3, "{}", windows.len());
        let mut mean = [0f32; 2];
        for w in &windows {
            let weight = w.len() as f32;
            mean[0] += weight * w.split_whitespace().count() as f32;
            mean[1] += weight;
        }
        let want = unit(&[mean[0], mean[1]]);
        assert!((v[0][0] - want[0]).abs() < 1e-5 && (v[0][1] - want[1]).abs() < 1e-5);
        assert_eq!(v[1], vec![1.0, 1.0]);
        let norm: f32 = v[0].iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[tokio::test]
    async fn windows_shrink_until_the_model_reads_them() {
        // The model reads 40 words: windows of 128 tokens are too long for it.
        let model = words_model(40);
        let long = "word ".repeat(300);
        let v = embed_windows(&model, &[long.trim()]).await.unwrap();
        assert_eq!(v.len(), 1);
        assert!(v[0].iter().all(|x| x.is_finite()));
    }

    #[tokio::test]
    async fn only_the_text_the_model_finds_too_long_is_cut_smaller() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
        let mut model = words_model(40);
        model.checkpoint();
        model.expect_dimension().return_const(2usize);
        model.expect_max_input_tokens().return_const(256usize);
        let seen = calls.clone();
        model.expect_embed().returning(move |texts: &[String]| {
            seen.lock().unwrap().push(texts.to_vec());
            match texts.iter().position(|t| t.split_whitespace().count() > 40) {
                Some(index) => Err(EmbedError::InputTooLong {
                    index,
                    tokens: 41,
                    max: 40,
                }),
                None => Ok(texts.iter().map(|_| vec![1.0, 1.0]).collect()),
            }
        });
        // Many words a window (too long for this model), and long words, few a window.
        let many = "word ".repeat(300);
        let few = "xqzjvkw ".repeat(150);
        let v = embed_windows(&model, &[many.trim(), few.trim()])
            .await
            .unwrap();
        assert_eq!(v.len(), 2);
        let calls = calls.lock().unwrap();
        assert!(calls.len() > 1, "the first windows were too long");
        let few_windows = text::chunk(few.trim(), 128, 0);
        for call in calls.iter() {
            assert!(
                call.ends_with(
                    &few_windows
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect::<Vec<_>>()
                )
            );
        }
    }

    #[tokio::test]
    #[allow(clippy::single_range_in_vec_init, reason = "a text of one piece")]
    async fn a_late_chunking_model_reads_a_texts_pieces_in_the_part_they_cover_a_lone_one_alone() {
        let calls = Arc::new(std::sync::Mutex::new(
            Vec::<(String, Vec<Range<usize>>)>::new(),
        ));
        let mut model = MockEmbedder::new();
        model.expect_late_chunking().return_const(true);
        let seen = calls.clone();
        model.expect_embed_spans().returning(move |text, spans| {
            seen.lock()
                .unwrap()
                .push((text.to_string(), spans.to_vec()));
            Ok(spans.iter().map(|r| vec![r.len() as f32]).collect())
        });
        let (a, b) = ("zero one two three four", "");
        model.expect_max_input_tokens().return_const(256usize);
        model.expect_dimension().return_const(1usize);
        model.expect_embed().returning(|texts: &[String]| {
            Ok(texts.iter().map(|t| vec![-(t.len() as f32)]).collect())
        });
        let (c, d) = ("five six", "seven eight nine");
        let texts: [(&str, &[Range<usize>]); 4] = [
            (c, &[0..4]),
            (a, &[5..12, 9..18]),
            (b, &[]),
            (d, &[0..5, 6..11]),
        ];
        let v = embed_pieces(&model, &texts).await.unwrap();
        // In order: "five" alone, then the pieces read in context.
        assert_eq!(
            v,
            vec![vec![-4.0], vec![7.0], vec![9.0], vec![5.0], vec![5.0]]
        );
        let calls = calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            vec![
                ("one two three".to_string(), vec![0..7, 4..13]),
                ("seven eight".to_string(), vec![0..5, 6..11]),
            ],
            "the part of the text the pieces cover, the spans moved with it"
        );
        assert!(embed_pieces(&model, &[(a, &[20..40])]).await.is_err());
        assert!(embed_pieces(&model, &[(a, &[0..4, 20..40])]).await.is_err());
    }

    #[tokio::test]
    #[allow(clippy::single_range_in_vec_init, reason = "a text of one piece")]
    async fn any_other_model_embeds_every_piece_alone_in_one_call() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
        let mut model = words_model(1000);
        model.checkpoint();
        model.expect_late_chunking().return_const(false);
        model.expect_max_input_tokens().return_const(256usize);
        model.expect_dimension().return_const(2usize);
        let seen = calls.clone();
        model.expect_embed().returning(move |texts: &[String]| {
            seen.lock().unwrap().push(texts.to_vec());
            Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
        });
        let v = embed_pieces(
            &model,
            &[("one two three", &[0..3, 4..7]), ("four", &[0..4])],
        )
        .await
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            *calls.lock().unwrap(),
            vec![vec!["one".to_string(), "two".into(), "four".into()]]
        );
    }
}
