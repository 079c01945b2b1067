//! Embedding texts longer than the model reads: in windows, the vector their weighted mean.

use embeddings::{EmbedError, Embedder};

use super::auto_chunking;
use crate::text;

/// The fewest cl100k tokens a window of [`embed_windows`] shrinks to.
const MIN_WINDOW_TOKENS: usize = 8;

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
}
