//! How a job's chunks are embedded and written: each write fenced by the job's claim.

use std::ops::Range;

use store_core::{
    AttachedFile, Chunk, Claim, CollectionRecord, FencedWork, FileRecord, JobOutcome,
};

use super::{EMBED_BATCH, Ended, Ingestor, Job, Pieces, Step, Stored, failed};
use crate::error::ServiceError;
use crate::{DocumentInput, ingest::embed_pieces};

impl Ingestor {
    /// Stores one job's chunks and ends it.
    pub(super) async fn run_alone(&self, job: Job<'_>) -> Result<(), ServiceError> {
        let claim = job.claim;
        let chunks = job.pieces.len() as u64;
        let result = self
            .store_chunks(&job.store, &job.file, claim, job.pieces)
            .await
            .map(|usage_bytes| Stored {
                usage_bytes,
                chunks,
                file_bytes: job.file.bytes,
            })
            .map_err(|step| self.ended(&claim.job, step));
        self.end(claim, result).await
    }

    /// Stores the chunks of several small files of one vector store in one fenced write and
    /// ends them together. A job whose claim the write did not find held, and every job when
    /// the group fails, runs again alone (which tells apart a lost claim, a file at fault and
    /// a passing fault).
    pub(super) async fn run_group(&self, jobs: Vec<Job<'_>>) -> Result<(), ServiceError> {
        let store_id = jobs[0].store.id.clone();
        let written = match self.store_group(&jobs).await {
            Ok(written) => written,
            Err(e) => {
                tracing::debug!(
                    vector_store = %store_id,
                    jobs = jobs.len(),
                    error = %crate::error::error_chain(&e),
                    "a group of ingestion jobs failed; each runs alone"
                );
                Vec::new()
            }
        };
        let (done, again): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|j| written.contains(&j.file.id));
        if !done.is_empty() {
            let finished = self
                .service
                .catalog
                .finish_completed(
                    &store_id,
                    done.iter()
                        .map(|j| (j.file.id.clone(), j.claim.token.clone(), j.pieces.bytes()))
                        .collect(),
                )
                .await?;
            for j in &done {
                if finished.contains(&j.file.id) {
                    crate::metrics::job_completed(j.pieces.len() as u64, j.file.bytes);
                    tracing::info!(
                        vector_store = %store_id,
                        file = %j.file.id,
                        outcome = ?JobOutcome::Completed { usage_bytes: j.pieces.bytes() },
                        "ingestion job ended"
                    );
                } else {
                    self.clean_up_cancelled(&j.claim.job).await?;
                }
            }
        }
        let results = futures::future::join_all(again.into_iter().map(|j| self.run_alone(j))).await;
        results.into_iter().collect()
    }

    /// Embeds the jobs' chunks and writes those of the jobs whose claims are held; their file
    /// ids.
    pub(super) async fn store_group(&self, jobs: &[Job<'_>]) -> Result<Vec<String>, ServiceError> {
        let store = &jobs[0].store;
        let docs: Vec<DocumentInput> = jobs
            .iter()
            .flat_map(|j| documents(&j.file, j.claim, &j.pieces))
            .collect();
        let texts: Vec<(&str, &[Range<usize>])> = jobs
            .iter()
            .map(|j| (j.pieces.text.as_str(), j.pieces.spans.as_slice()))
            .collect();
        let chunks = self.embed_chunks(store, docs, &texts).await?;
        let backend = self.service.vectors.backend_of(store)?;
        let spec = store.spec()?;
        let generation = jobs.iter().map(|j| j.claim.generation).max().unwrap_or(0);
        let counts: Vec<(String, u32)> = jobs
            .iter()
            .map(|j| (j.file.id.clone(), chunk_count(&j.pieces.spans)))
            .collect();
        let held = self
            .service
            .catalog
            .fenced_group(
                &store.id,
                jobs.iter()
                    .map(|j| (j.file.id.clone(), j.claim.token.clone()))
                    .collect(),
                Box::new(move |held: Vec<String>| {
                    Box::pin(async move {
                        let chunks: Vec<Chunk> = chunks
                            .into_iter()
                            .filter(|c| held.contains(&c.file_id))
                            .collect();
                        // Whatever an earlier try or attachment left goes first, and what
                        // one of their late writes added goes last.
                        backend.delete_files(&spec, &held).await?;
                        let n = backend.upsert_claimed(&spec, chunks, generation).await?;
                        let counts: Vec<(String, u32)> = counts
                            .into_iter()
                            .filter(|(f, _)| held.contains(f))
                            .collect();
                        backend.trim_files(&spec, &counts).await?;
                        Ok(n)
                    })
                }),
            )
            .await?;
        Ok(held)
    }

    /// The chunks of `store` of `docs`, whose texts are the pieces of `texts` in order,
    /// embedded by [`embed_pieces`].
    pub(super) async fn embed_chunks(
        &self,
        store: &CollectionRecord,
        docs: Vec<DocumentInput>,
        texts: &[(&str, &[Range<usize>])],
    ) -> Result<Vec<Chunk>, ServiceError> {
        let embedder = self.service.vectors.embedder_of(store)?;
        let vectors = embed_pieces(embedder.as_ref(), texts).await?;
        if vectors.len() != docs.len() {
            return Err(ServiceError::internal_msg(format!(
                "the model gave {} vectors for {} chunks",
                vectors.len(),
                docs.len()
            )));
        }
        let docs = docs
            .into_iter()
            .zip(vectors)
            .map(|(d, v)| DocumentInput {
                vector: Some(v),
                ..d
            })
            .collect();
        self.service.vectors.embed_documents(store, docs).await
    }

    /// Runs `work` under the claim; `ClaimLost` when it is no longer held.
    pub(super) async fn fenced(&self, claim: &Claim, work: FencedWork) -> Result<u64, Step> {
        let job = &claim.job;
        match self
            .service
            .catalog
            .fenced(&job.vector_store_id, &job.file_id, &claim.token, work)
            .await
        {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(Step::ClaimLost),
            Err(e) => Err(Step::Failed(e.into())),
        }
    }

    /// Removes the file's chunks, under the claim.
    pub(super) async fn remove_chunks(&self, claim: &Claim) -> Result<(), ServiceError> {
        let job = &claim.job;
        let store = self
            .service
            .vectors
            .catalog()
            .get_collection(&job.tenant_id, &job.vector_store_id)
            .await?;
        let backend = self.service.vectors.backend_of(&store)?;
        let (spec, file_id) = (store.spec()?, job.file_id.clone());
        match self
            .fenced(
                claim,
                Box::pin(async move { backend.delete_files(&spec, &[file_id]).await }),
            )
            .await
        {
            Err(Step::Failed(e)) => Err(e),
            Ok(_) | Err(Step::ClaimLost) => Ok(()),
        }
    }

    /// Replaces the file's chunks with `pieces`; returns the bytes of text stored. Each batch
    /// is embedded first, then written under the claim (the first write also removes whatever
    /// an earlier try or attachment left).
    pub(super) async fn store_chunks(
        &self,
        store: &CollectionRecord,
        file: &FileRecord,
        claim: &Claim,
        pieces: Pieces,
    ) -> Result<u64, Step> {
        let usage = pieces.bytes();
        let docs = documents(file, claim, &pieces);
        let backend = self
            .service
            .vectors
            .backend_of(store)
            .map_err(Step::Failed)?;
        let spec = store.spec().map_err(|e| Step::Failed(e.into()))?;
        let mut replaced = false;
        if docs.is_empty() {
            let (b, spec, file_id) = (backend.clone(), spec.clone(), file.id.clone());
            self.fenced(
                claim,
                Box::pin(async move { b.delete_files(&spec, &[file_id]).await }),
            )
            .await?;
            return Ok(usage);
        }
        let count = chunk_count(&docs);
        let parts = docs.chunks(EMBED_BATCH).count();
        for (i, part) in docs.chunks(EMBED_BATCH).enumerate() {
            let spans = &pieces.spans[i * EMBED_BATCH..i * EMBED_BATCH + part.len()];
            let chunks = self
                .embed_chunks(store, part.to_vec(), &[(pieces.text.as_str(), spans)])
                .await
                .map_err(Step::Failed)?;
            let (b, spec, file_id) = (backend.clone(), spec.clone(), file.id.clone());
            let first = !std::mem::replace(&mut replaced, true);
            let (last, generation) = (i + 1 == parts, claim.generation);
            self.fenced(
                claim,
                Box::pin(async move {
                    // Whatever an earlier try or attachment left goes first, and what one of
                    // their late writes added goes last.
                    if first {
                        b.delete_files(&spec, std::slice::from_ref(&file_id))
                            .await?;
                    }
                    let n = b.upsert_claimed(&spec, chunks, generation).await?;
                    if last {
                        b.trim_files(&spec, &[(file_id, count)]).await?;
                    }
                    Ok(n)
                }),
            )
            .await?;
        }
        Ok(usage)
    }

    /// What a step that stopped means for the job.
    pub(super) fn ended(&self, job: &AttachedFile, step: Step) -> Ended {
        match step {
            Step::ClaimLost => Ended::ClaimLost,
            Step::Failed(e) if e.is_caller_fault() => failed("invalid_file", e.to_string()),
            Step::Failed(e) => self.on_error(job, e),
        }
    }

    /// A fault on the server's side (not the file's) is tried again, after a back-off, until
    /// the retries run out; then the file fails with `server_error`.
    pub(super) fn on_error(&self, job: &AttachedFile, e: ServiceError) -> Ended {
        tracing::warn!(
            vector_store = %job.vector_store_id,
            file = %job.file_id,
            retry = job.retries,
            error = %crate::error::error_chain(&e),
            "ingestion step failed"
        );
        Ended::Outcome(if job.retries < self.max_retries {
            JobOutcome::Retry
        } else {
            JobOutcome::Failed(store_core::retries_used_up(job.retries))
        })
    }
}

/// How many chunks a file has (as a `chunk_index` bound).
pub(super) fn chunk_count<T>(chunks: &[T]) -> u32 {
    u32::try_from(chunks.len()).unwrap_or(u32::MAX)
}

/// The documents of a file's chunks, ids `{file_id}:{index}`.
pub(super) fn documents(file: &FileRecord, claim: &Claim, pieces: &Pieces) -> Vec<DocumentInput> {
    pieces
        .texts()
        .enumerate()
        .map(|(i, text)| DocumentInput {
            id: format!("{}:{i}", file.id),
            file_id: file.id.clone(),
            filename: Some(file.filename.clone()),
            chunk_index: i as u32,
            text,
            vector: None,
            attributes: claim.job.attributes.clone(),
        })
        .collect()
}
