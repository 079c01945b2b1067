//! How a file is cut into chunks: `auto` sizes fitted to the model, or the static sizes a
//! request asks for.

use models::openai::{ChunkingStrategy, StaticChunking};
use store_core::Field;

use crate::error::ServiceError;

/// `auto` chunking: 800 tokens with 400 of overlap, narrowed to what the model takes.
pub const AUTO_MAX_TOKENS: u32 = 800;
pub const AUTO_OVERLAP_TOKENS: u32 = 400;

/// Chunk sizes (cl100k tokens) for a model that takes `model_max` of its own tokens: half is
/// kept as headroom, since its tokenizer may split finer than cl100k (code and URLs do).
pub fn auto_chunking(model_max: Option<usize>) -> (u32, u32) {
    let fit = model_max.map_or(AUTO_MAX_TOKENS, |m| {
        ((m / 2) as u32).clamp(16, AUTO_MAX_TOKENS)
    });
    (
        fit,
        if fit == AUTO_MAX_TOKENS {
            AUTO_OVERLAP_TOKENS
        } else {
            fit / 2
        },
    )
}

/// The (max tokens, overlap tokens) of a `chunking_strategy`, which the request named as
/// `field`. Every size OpenAI takes is taken; a chunk longer than the model reads is embedded in
/// windows ([`super::embed_pieces`]).
pub fn chunking(
    strategy: Option<ChunkingStrategy>,
    model_max: Option<usize>,
    field: Field,
) -> Result<(u32, u32), ServiceError> {
    let bad = |m: &str| ServiceError::invalid(field.clone(), m.to_string());
    match strategy {
        None | Some(ChunkingStrategy::Auto {}) => Ok(auto_chunking(model_max)),
        Some(ChunkingStrategy::Static {
            static_:
                StaticChunking {
                    max_chunk_size_tokens: max,
                    chunk_overlap_tokens: overlap,
                },
        }) => {
            if !(100..=4096).contains(&max) {
                return Err(bad(
                    "static.max_chunk_size_tokens must be between 100 and 4096",
                ));
            }
            if overlap > max / 2 {
                return Err(bad(
                    "static.chunk_overlap_tokens must not exceed half of max_chunk_size_tokens",
                ));
            }
            Ok((max, overlap))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_static_size_openai_takes_is_taken_whatever_the_model() {
        let sized = |max, overlap| {
            Some(ChunkingStrategy::Static {
                static_: StaticChunking {
                    max_chunk_size_tokens: max,
                    chunk_overlap_tokens: overlap,
                },
            })
        };
        let field = || Field::ChunkingStrategy;
        assert_eq!(
            chunking(sized(4096, 2048), Some(256), field()).unwrap(),
            (4096, 2048)
        );
        let e = chunking(sized(99, 0), Some(256), field()).unwrap_err();
        assert_eq!(e.field(), Some(&Field::ChunkingStrategy));
        assert!(chunking(sized(200, 101), Some(256), field()).is_err());
    }
}
