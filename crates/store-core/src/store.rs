//! The back-end trait and the values that cross it.

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::StoreResult;
use crate::filter::Filter;
pub use crate::fusion::{Fusion, HybridOptions};
use crate::limits::keyword_terms;

/// A collection as a back-end sees it: its physical name (lowercase ASCII letters, digits and
/// `_`, unique across tenants) and the dimension of its vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSpec {
    pub name: PhysicalName,
    pub dimension: usize,
}

/// The name a back-end stores a collection under (a table, an index): a lower-case ASCII
/// letter, then up to 62 lower-case ASCII letters, digits or `_` — PostgreSQL's identifier limit,
/// which every back-end keeps. A collection's name goes into a query (as a table or an index
/// name) only once parsed into this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhysicalName(String);

impl PhysicalName {
    /// The longest physical name, in bytes.
    pub const MAX_LEN: usize = 63;

    /// `name`, when it follows the rule of the platform's collection names
    /// ([`models::validation::collection_name`]), which is this one.
    pub fn parse(name: &str) -> StoreResult<Self> {
        match models::validation::collection_name(name) {
            Ok(()) => Ok(Self(name.to_string())),
            Err(e) => Err(crate::StoreError::invalid_field(
                crate::Field::Collection,
                format!(
                    "'{name}' is not a valid physical collection name: it {}",
                    e.message.as_deref().unwrap_or("breaks the naming rule")
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for PhysicalName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhysicalName {
    type Error = crate::StoreError;

    fn try_from(name: String) -> StoreResult<Self> {
        Self::parse(&name)
    }
}

impl From<PhysicalName> for String {
    fn from(name: PhysicalName) -> Self {
        name.0
    }
}

impl std::fmt::Display for PhysicalName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl CollectionSpec {
    /// A collection named `name`, once checked to be a [`PhysicalName`].
    pub fn new(name: &str, dimension: usize) -> StoreResult<Self> {
        Ok(Self {
            name: PhysicalName::parse(name)?,
            dimension,
        })
    }

    /// A chunk's vector for this collection: see [`check_vector`].
    pub fn check_vector(&self, v: &[f32]) -> StoreResult<()> {
        check_vector(
            v,
            self.dimension,
            crate::Field::Chunk(crate::DocumentPart::Vector),
        )
    }

    /// The dimension is one a back-end taking at most `max` can index.
    pub fn check_dimension(&self, max: usize) -> StoreResult<()> {
        if (1..=max).contains(&self.dimension) {
            Ok(())
        } else {
            Err(crate::StoreError::invalid_field(
                crate::Field::Dimension,
                format!("dimension must be between 1 and {max}"),
            ))
        }
    }

    /// Creating a collection that already exists with `existing` dimensions: fine when they
    /// agree, a conflict otherwise.
    pub fn same_dimension_as(&self, existing: usize) -> StoreResult<()> {
        if existing == self.dimension {
            Ok(())
        } else {
            Err(crate::StoreError::conflict(format!(
                "collection {} exists with dimension {existing}",
                self.name
            )))
        }
    }
}

/// One unit of stored text with its vector. `id` is unique within a collection and upserts are
/// idempotent by it. `file_id` groups the chunks of one document or file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: String,
    pub file_id: String,
    pub filename: Option<String>,
    pub chunk_index: u32,
    pub text: String,
    pub vector: Vec<f32>,
    pub attributes: Map<String, Value>,
}

/// A chunk as read back (without its vector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChunk {
    pub id: String,
    pub file_id: String,
    pub filename: Option<String>,
    pub chunk_index: u32,
    pub text: String,
    pub attributes: Map<String, Value>,
}

/// What to search with.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchQuery {
    /// Nearest neighbours by cosine similarity; score = (1 + cos) / 2.
    Vector(Vec<f32>),
    /// Full-text relevance; score = rank / (rank + 1).
    Keyword(String),
    /// The two lists fused ([`HybridOptions`]), scores in 0..=1, a chunk ranked first by both
    /// scoring 1.
    Hybrid { vector: Vec<f32>, text: String },
}

/// The rules every vector stored or searched with meets, on every back-end: `dimension`
/// components, all finite, not all zero (a zero vector has no direction, so no cosine
/// similarity). `field` is where the vector came from.
pub fn check_vector(v: &[f32], dimension: usize, field: crate::Field) -> StoreResult<()> {
    if v.len() != dimension {
        return Err(crate::StoreError::dimension_mismatch(
            field,
            dimension,
            v.len(),
        ));
    }
    let fault = if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        format!("{field} component {i} is not a finite number")
    } else if v.iter().all(|x| *x == 0.0) {
        format!("{field} is all zeros: it has no direction, so no cosine similarity")
    } else {
        return Ok(());
    };
    Err(crate::StoreError::invalid_field(field, fault))
}

/// The most hits one search returns, on every back-end.
pub const MAX_K: usize = models::raw::MAX_K as usize;

/// What a back-end supplies to the one search driver, [`run_search`]: its own nearest and
/// best-matching chunks. The driver does the rest (validation, `k`, fusion, the threshold) the
/// same way for every back-end.
#[async_trait]
pub trait HitSource: Send + Sync {
    /// What only this back-end limits in a request, checked before it is sent anywhere.
    fn check(&self, _collection: &CollectionSpec, _request: &SearchRequest) -> StoreResult<()> {
        Ok(())
    }

    /// Up to `n` chunks nearest to `vector` that pass `filter`, best first, scored
    /// (1 + cos) / 2.
    async fn vector_hits(
        &self,
        collection: &CollectionSpec,
        vector: &[f32],
        filter: Option<&Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>>;

    /// Up to `n` chunks matching `text` that pass `filter`, best first, scores in 0..=1.
    async fn keyword_hits(
        &self,
        collection: &CollectionSpec,
        text: &str,
        filter: Option<&Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>>;

    /// Succeeds when the collection exists; [`crate::StoreError::NotFound`] otherwise.
    async fn require_collection(&self, collection: &CollectionSpec) -> StoreResult<()>;
}

impl SearchRequest {
    /// The limits of a search on every back-end: a query vector of the collection's dimension
    /// with a direction, `k` at most [`MAX_K`], a threshold in 0..=1.
    pub fn validate(&self, collection: &CollectionSpec) -> StoreResult<()> {
        if let SearchQuery::Vector(v) | SearchQuery::Hybrid { vector: v, .. } = &self.mode {
            check_vector(v, collection.dimension, crate::Field::QueryVector)?;
        }
        if self.k > MAX_K {
            return Err(crate::StoreError::invalid_field(
                crate::Field::MaxResults,
                format!("a search returns at most {MAX_K} hits, not {}", self.k),
            ));
        }
        if let Some(t) = self.score_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(crate::StoreError::invalid_field(
                crate::Field::ScoreThreshold,
                format!("score_threshold must be between 0 and 1, not {t}"),
            ));
        }
        Ok(())
    }
}

/// A search on any back-end: the request validated, the back-end's hits taken (both lists,
/// each [`HybridOptions::depth`] deep, for hybrid, fused here), none below the threshold, at
/// most `k`. `k == 0` answers nothing, but a missing collection is still not found.
pub async fn run_search<S: HitSource + ?Sized>(
    source: &S,
    collection: &CollectionSpec,
    request: &SearchRequest,
) -> StoreResult<Vec<Hit>> {
    request.validate(collection)?;
    source.check(collection, request)?;
    let (k, threshold, filter) = (request.k, request.score_threshold, request.filter.as_ref());
    if k == 0 {
        source.require_collection(collection).await?;
        return Ok(Vec::new());
    }
    match &request.mode {
        SearchQuery::Vector(v) => Ok(threshold_and_k(
            source.vector_hits(collection, v, filter, k).await?,
            threshold,
            k,
        )),
        SearchQuery::Keyword(text) => Ok(threshold_and_k(
            source
                .keyword_hits(collection, keyword_terms(text), filter, k)
                .await?,
            threshold,
            k,
        )),
        SearchQuery::Hybrid { vector, text } => {
            let depth = HybridOptions::depth(k);
            let (by_vector, by_keyword) = futures::try_join!(
                source.vector_hits(collection, vector, filter, depth),
                source.keyword_hits(collection, keyword_terms(text), filter, depth)
            )?;
            Ok(request
                .hybrid
                .fuse_hits(by_vector, by_keyword, threshold, k))
        }
    }
}

/// Of chunks with the same id, the last one, in the place of the first: what one upsert
/// stores when a request repeats an id.
pub fn last_of_each_id(chunks: Vec<Chunk>) -> Vec<Chunk> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Chunk> = Vec::with_capacity(chunks.len());
    for c in chunks {
        match position.get(&c.id) {
            Some(&i) => out[i] = c,
            None => {
                position.insert(c.id.clone(), out.len());
                out.push(c);
            }
        }
    }
    out
}

/// The hits scoring at least `threshold`, at most `k`, in the order given.
pub(crate) fn threshold_and_k(
    hits: impl IntoIterator<Item = Hit>,
    threshold: Option<f32>,
    k: usize,
) -> Vec<Hit> {
    hits.into_iter()
        .filter(|h| threshold.is_none_or(|t| h.score >= t))
        .take(k)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub mode: SearchQuery,
    pub filter: Option<Filter>,
    /// How many hits at most, up to [`MAX_K`].
    pub k: usize,
    /// Hits scoring below this are dropped (0..=1).
    pub score_threshold: Option<f32>,
    pub hybrid: HybridOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub chunk: StoredChunk,
    pub score: f32,
}

#[cfg(any(test, feature = "mocks"))]
impl Hit {
    /// A hit of the chunk `id` (of the file `id`, reading `id`) scoring `score`, for the tests
    /// of what ranks hits.
    pub fn sample(id: &str, score: f32) -> Self {
        let chunk = StoredChunk {
            id: id.into(),
            file_id: id.into(),
            filename: None,
            chunk_index: 0,
            text: id.into(),
            attributes: Map::new(),
        };
        Self { chunk, score }
    }
}

/// A storage back-end. Object-safe, so the registry holds `Arc<dyn VectorStore>`.
///
/// Every method that takes vectors checks their dimension against `collection.dimension` and
/// answers [`crate::StoreError::InvalidInput`] on a mismatch. A collection that does not exist is
/// [`crate::StoreError::NotFound`]; an unreachable server is [`crate::StoreError::Unavailable`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VectorStore: Send + Sync + Debug + 'static {
    /// The back-end's registry name (`pgvector`, `elasticsearch`).
    fn name(&self) -> &'static str;

    /// Succeeds when the back-end's server answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates the collection; creating an existing one with the same dimension is a no-op.
    async fn create_collection(&self, collection: &CollectionSpec) -> StoreResult<()>;

    /// Drops the collection and all its chunks; dropping a missing one is a no-op.
    async fn drop_collection(&self, collection: &CollectionSpec) -> StoreResult<()>;

    /// Inserts or replaces chunks by id; returns how many were written. Durable when it returns,
    /// and visible to the next search.
    async fn upsert(&self, collection: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64>;

    /// [`VectorStore::upsert`] for an ingestion claim. `generation` orders the claims of every
    /// file (a later claim has a larger one): where a request that timed out may still be
    /// applied later, such a late write never replaces a chunk a later generation wrote. A
    /// back-end whose writes are over when their call returns can ignore it.
    async fn upsert_claimed(
        &self,
        collection: &CollectionSpec,
        chunks: Vec<Chunk>,
        generation: u64,
    ) -> StoreResult<u64> {
        let _ = generation;
        self.upsert(collection, chunks).await
    }

    /// Removes each `(file_id, keep)` file's chunks whose `chunk_index` is `keep` or more (left
    /// by an earlier, longer write of the file); returns how many went.
    async fn trim_files(
        &self,
        collection: &CollectionSpec,
        files: &[(String, u32)],
    ) -> StoreResult<u64>;

    /// Deletes every chunk of the given files (documents); returns how many chunks went.
    async fn delete_files(
        &self,
        collection: &CollectionSpec,
        file_ids: &[String],
    ) -> StoreResult<u64>;

    /// Replaces the attributes of every chunk of one file, in place (filters see the new
    /// ones at once); returns how many chunks were changed.
    async fn set_file_attributes(
        &self,
        collection: &CollectionSpec,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<u64>;

    /// Deletes every chunk, keeping the collection; returns how many went.
    async fn delete_all(&self, collection: &CollectionSpec) -> StoreResult<u64>;

    /// How many chunks the collection holds.
    async fn count(&self, collection: &CollectionSpec) -> StoreResult<u64>;

    /// The bytes of text (UTF-8) the collection's chunks hold.
    async fn usage_bytes(&self, collection: &CollectionSpec) -> StoreResult<u64>;

    /// A page of chunks ordered by (file_id, chunk_index).
    async fn list(
        &self,
        collection: &CollectionSpec,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<StoredChunk>>;

    /// Every chunk of one file, ordered by chunk_index.
    async fn file_chunks(
        &self,
        collection: &CollectionSpec,
        file_id: &str,
    ) -> StoreResult<Vec<StoredChunk>>;

    /// The best hits, best first, scores in 0..=1, none below the threshold, at most `k`
    /// ([`run_search`] does it alike for every back-end): `k` over [`MAX_K`] is invalid input,
    /// `k == 0` finds nothing but a missing collection is still not found.
    async fn search(
        &self,
        collection: &CollectionSpec,
        request: &SearchRequest,
    ) -> StoreResult<Vec<Hit>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_physical_name_is_one_identifier_on_every_back_end() {
        let longest = format!("a{}", "b".repeat(PhysicalName::MAX_LEN - 1));
        assert_eq!(PhysicalName::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(
            PhysicalName::parse("vs_0190abc").unwrap().to_string(),
            "vs_0190abc"
        );
        let e = PhysicalName::parse("a\"; drop").unwrap_err();
        assert!(e.to_string().contains("lowercase letter"), "{e}");
        assert!(PhysicalName::parse(&format!("{longest}b")).is_err());
    }

    #[test]
    fn of_repeated_ids_the_last_is_kept_in_the_first_place() {
        let c = |id: &str, text: &str| Chunk {
            id: id.into(),
            file_id: "f".into(),
            filename: None,
            chunk_index: 0,
            text: text.into(),
            vector: vec![1.0],
            attributes: Map::new(),
        };
        let kept = last_of_each_id(vec![c("a", "1"), c("b", "2"), c("a", "3"), c("c", "4")]);
        let got: Vec<(&str, &str)> = kept
            .iter()
            .map(|c| (c.id.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(got, [("a", "3"), ("b", "2"), ("c", "4")]);
    }
}
