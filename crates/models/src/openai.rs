//! The OpenAI Vector Stores API objects, field for field as the official SDKs type them
//! (`openai.types.vector_store*`, `openai.types.upload*`), plus the documented extension fields.

mod attached;
mod embeddings;
mod files;
mod lists;
mod search;
mod stores;
#[cfg(test)]
mod tests;
mod uploads;

pub use attached::*;
pub use embeddings::*;
pub use files::*;
pub use lists::*;
pub use search::*;
pub use stores::*;
pub use uploads::*;
