//! Documents (chunks) written to and read from a vector store: embedding those without a
//! vector, admitting their attribute keys, deleting by file.

use std::collections::HashSet;

use serde_json::{Map, Value};
use store_core::{Chunk, CollectionRecord, DocumentPart, Field, StoredChunk, Tenant};

use super::search::{fit, json_len};
use super::{CreateCollectionInput, DocumentInput, VectorService, embed_error};
use crate::error::ServiceError;

impl VectorService {
    /// Stores documents, embedding those without a vector.
    pub async fn upsert(
        &self,
        record: &CollectionRecord,
        docs: Vec<DocumentInput>,
    ) -> Result<u64, ServiceError> {
        let chunks = self.embed_documents(record, docs).await?;
        let written = self.store(record)?.upsert(&record.spec()?, chunks).await;
        self.written(record, written).await
    }

    /// Stores documents into the tenant's collection `input.collection` (on `input.backend`),
    /// creating it from `input` first when there is none. Each document id appears once.
    pub async fn index(
        &self,
        tenant: &Tenant,
        input: CreateCollectionInput,
        docs: Vec<DocumentInput>,
    ) -> Result<(CollectionRecord, u64), ServiceError> {
        if let Some(i) = models::validation::first_duplicate(docs.iter().map(|d| d.id.as_str())) {
            return Err(ServiceError::invalid(
                Field::Documents,
                format!("id '{}' appears more than once", docs[i].id),
            ));
        }
        let backend = input.backend.as_deref();
        let record = match self
            .find_collection(tenant, &input.collection, backend)
            .await?
        {
            Some(r) => r,
            None => self.create_collection(tenant, input).await?,
        };
        let indexed = self.upsert(&record, docs).await?;
        Ok((record, indexed))
    }

    /// The chunks of `docs`, each with its vector: the given one, checked, or its text
    /// embedded with the collection's model. Each document is held to the limits first, and
    /// its attribute keys are admitted to the collection's count (the only thing recorded:
    /// no chunk is stored).
    pub async fn embed_documents(
        &self,
        record: &CollectionRecord,
        docs: Vec<DocumentInput>,
    ) -> Result<Vec<Chunk>, ServiceError> {
        self.check_expiry(record)?;
        for (i, d) in docs.iter().enumerate() {
            store_core::limits::document(
                &d.id,
                &d.file_id,
                d.filename.as_deref(),
                &d.text,
                &d.attributes,
                self.limits.max_text_bytes,
            )
            .map_err(|e| {
                let field = Field::Document {
                    index: i,
                    part: e.field,
                };
                ServiceError::invalid(field, format!("document {i}: {e}"))
            })?;
            if let Some(v) = &d.vector {
                let field = Field::Document {
                    index: i,
                    part: DocumentPart::Vector,
                };
                store_core::check_vector(v, record.dimension, field)?;
            }
        }
        self.admit_attribute_keys(record, docs.iter().map(|d| &d.attributes))
            .await?;
        let missing: Vec<usize> = (0..docs.len())
            .filter(|&i| docs[i].vector.is_none())
            .collect();
        let mut embedded = Vec::new();
        if !missing.is_empty() {
            let embedder = self.collection_embedder(
                record,
                Field::Document {
                    index: missing[0],
                    part: DocumentPart::Vector,
                },
            )?;
            let texts: Vec<String> = missing.iter().map(|&i| docs[i].text.clone()).collect();
            embedded = embedder.embed(&texts).await.map_err(|e| {
                embed_error(e, |index, tokens, max| {
                    ServiceError::invalid(
                        Field::Document {
                            index: missing[index],
                            part: DocumentPart::Text,
                        },
                        format!(
                            "the text of document {} is {tokens} tokens long, over the limit of \
                             {max} tokens of model '{}'; split it into smaller documents",
                            missing[index],
                            embedder.model()
                        ),
                    )
                })
            })?;
            if let Some(j) = embedded.iter().position(|v| is_zero(v)) {
                return Err(ServiceError::invalid(
                    Field::Document {
                        index: missing[j],
                        part: DocumentPart::Text,
                    },
                    no_vector(
                        &format!("the text of document {}", missing[j]),
                        embedder.model(),
                    ),
                ));
            }
        }
        let mut embedded = embedded.into_iter();
        let mut chunks = Vec::with_capacity(docs.len());
        for d in docs {
            let vector = match d.vector {
                Some(v) => v,
                None => embedded.next().ok_or_else(|| {
                    ServiceError::internal_msg("the embedder returned too few vectors")
                })?,
            };
            chunks.push(Chunk {
                id: d.id,
                file_id: d.file_id,
                filename: d.filename,
                chunk_index: d.chunk_index,
                text: d.text,
                vector,
                attributes: d.attributes,
            });
        }
        Ok(chunks)
    }

    /// Records the attribute keys `attributes` use in `record`, refusing (as invalid) a write that
    /// would take the collection over [`store_core::limits::MAX_ATTRIBUTE_KEYS`].
    pub async fn admit_attribute_keys<'a>(
        &self,
        record: &CollectionRecord,
        attributes: impl IntoIterator<Item = &'a Map<String, Value>>,
    ) -> Result<(), ServiceError> {
        let mut keys: HashSet<String> = attributes
            .into_iter()
            .flat_map(|a| a.keys().cloned())
            .collect();
        if let Ok(known) = self.known_keys.lock()
            && let Some(known) = known.get(&record.id)
        {
            keys.retain(|k| !known.contains(k));
        }
        if keys.is_empty() {
            return Ok(());
        }
        self.catalog
            .add_attribute_keys(
                &record.id,
                keys.iter().cloned().collect(),
                store_core::limits::MAX_ATTRIBUTE_KEYS,
            )
            .await?;
        if let Ok(mut known) = self.known_keys.lock() {
            if known.len() > 10_000 {
                known.clear();
            }
            known.entry(record.id.clone()).or_default().extend(keys);
        }
        Ok(())
    }

    pub async fn delete_files(
        &self,
        record: &CollectionRecord,
        file_ids: &[String],
    ) -> Result<u64, ServiceError> {
        let deleted = self
            .store(record)?
            .delete_files(&record.spec()?, file_ids)
            .await;
        self.written(record, deleted).await
    }

    pub async fn delete_all(&self, record: &CollectionRecord) -> Result<u64, ServiceError> {
        let deleted = self.store(record)?.delete_all(&record.spec()?).await;
        self.written(record, deleted).await
    }

    /// A page of stored chunks and the total count.
    pub async fn list_documents(
        &self,
        record: &CollectionRecord,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<StoredChunk>, u64), ServiceError> {
        let store = self.store(record)?;
        let spec = record.spec()?;
        let rows = store.list(&spec, limit, offset).await?;
        let total = store.count(&spec).await?;
        let rows = fit(rows, self.limits.max_response_bytes, |c| json_len(&c.text));
        Ok((rows, total))
    }

    /// Every chunk of one file, in order.
    pub async fn file_chunks(
        &self,
        record: &CollectionRecord,
        file_id: &str,
    ) -> Result<Vec<StoredChunk>, ServiceError> {
        Ok(self
            .store(record)?
            .file_chunks(&record.spec()?, file_id)
            .await?)
    }
}

pub(super) fn is_zero(v: &[f32]) -> bool {
    v.iter().all(|x| *x == 0.0)
}

/// Why a text embedded into the zero vector cannot be stored or searched with.
pub(super) fn no_vector(what: &str, model: &str) -> String {
    format!(
        "{what} holds no word that model '{model}' knows: its vector is zero, which has no cosine \
         similarity"
    )
}
