//! [`Ingestor`]: the queue's worker. It claims jobs, reads and chunks their files, runs them
//! (small files of one store together, larger ones alone), keeps its claims while they run and
//! writes each job's end.

use std::ops::Range;
use std::time::Duration;

use store_core::{
    AttachedFile, Claim, ClaimRequest, CollectionRecord, FileRecord, FileStatus, JobOutcome,
    LastError, Runnable, Tenant,
};
use tokio_util::sync::CancellationToken;

use super::{DEFAULT_MAX_RETRIES, IngestService};
use crate::error::ServiceError;
use crate::sandbox::Failure;
use crate::text;

#[cfg(test)]
mod tests;
mod writes;

/// Files of at most this many chunks, claimed together for one vector store, are embedded
/// together and written in one fenced write.
const GROUP_CHUNKS: usize = 64;

/// Texts per embedding request.
const EMBED_BATCH: usize = 64;

/// Files (and texts) of at most this many bytes among the jobs of one claim are embedded
/// together; larger ones run one after another, each holding its text only while it runs, so
/// that a worker holds one large text at a time however many jobs it claimed.
const GROUP_FILE_BYTES: u64 = 256 * 1024;

/// Claims and runs ingestion jobs.
#[derive(Debug, Clone)]
pub struct Ingestor {
    service: IngestService,
    lease_secs: i64,
    max_attempts: u32,
    max_retries: u32,
    jobs_per_claim: usize,
    runnable: Option<Runnable>,
}

/// A claimed job whose text is chunked, ready to embed and store.
struct Job<'a> {
    claim: &'a Claim,
    store: CollectionRecord,
    file: FileRecord,
    pieces: Pieces,
}

/// A file's text and its chunks, as byte ranges of it.
struct Pieces {
    text: String,
    spans: Vec<Range<usize>>,
}

impl Pieces {
    fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes of text the chunks hold.
    fn bytes(&self) -> u64 {
        self.spans.iter().map(|r| r.len() as u64).sum()
    }

    /// The text of each chunk.
    fn texts(&self) -> impl Iterator<Item = String> + '_ {
        self.spans.iter().map(|r| self.text[r.clone()].to_string())
    }
}

impl Ingestor {
    /// A worker that claims one job at a time, of any vector store; a job is tried again after
    /// [`DEFAULT_MAX_RETRIES`] passing faults at most.
    pub fn new(service: IngestService, lease_secs: i64, max_attempts: u32) -> Self {
        Self {
            service,
            lease_secs,
            max_attempts,
            max_retries: DEFAULT_MAX_RETRIES,
            jobs_per_claim: 1,
            runnable: None,
        }
    }

    /// Retries a job after at most `n` passing faults (each waits longer: see
    /// [`store_core::retry_delay_secs`]).
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Claims only jobs of vector stores whose back-end and embedding model this server has.
    pub fn claiming_only_runnable(mut self) -> Self {
        self.runnable = Some(self.service.vectors.runnable());
        self
    }

    /// Claims up to `n` jobs at once and runs them together: small files of one vector store
    /// are embedded in one request and written in one fenced write, each larger file on its
    /// own (all of them concurrently).
    pub fn with_jobs_per_claim(mut self, n: usize) -> Self {
        self.jobs_per_claim = n.max(1);
        self
    }

    /// Runs until `shutdown` is cancelled, sleeping `idle` when there is nothing to do. Once
    /// cancelled it claims nothing more, hands back the jobs it holds (another worker or server
    /// takes them within seconds, not after their lease) and returns.
    pub async fn run(self, idle: Duration, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let pause = match self.run_once_until(&shutdown).await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!(
                        error = %crate::error::error_chain(&e),
                        "an ingestion step on the queue failed"
                    );
                    idle * 5
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => {}
            }
        }
        tracing::debug!("ingestion worker stopped");
    }

    /// Claims jobs and runs them; false when there was none.
    pub async fn run_once(&self) -> Result<bool, ServiceError> {
        self.run_once_until(&CancellationToken::new()).await
    }

    async fn run_once_until(&self, shutdown: &CancellationToken) -> Result<bool, ServiceError> {
        let catalog = &self.service.catalog;
        let mut request =
            ClaimRequest::new(self.lease_secs, self.max_attempts, self.jobs_per_claim);
        request.runnable = self.runnable.clone();
        let claims = catalog.claim(request).await?;
        if claims.is_empty() {
            return Ok(false);
        }
        for c in &claims {
            tracing::debug!(
                vector_store = %c.job.vector_store_id,
                file = %c.job.file_id,
                attempt = c.job.attempts,
                "ingestion job claimed"
            );
        }
        // The claims are renewed while the jobs run, however long they take.
        let work = async {
            tokio::select! {
                result = self.run_claims(&claims) => result,
                never = self.keep_claims(&claims) => match never {},
            }
        };
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result.map(|()| true),
            () = shutdown.cancelled() => {
                // Hand the jobs back while their work goes on: a chunk write in flight finishes
                // first (the hand-back waits for it), and none follows. Work that ends first
                // ends the jobs as usual.
                let hand_back = futures::future::join_all(claims.iter().map(|c| {
                    catalog.finish(
                        &c.job.vector_store_id,
                        &c.job.file_id,
                        &c.token,
                        JobOutcome::HandBack
                    )
                }));
                tokio::select! {
                    handed = hand_back => {
                        tracing::info!(
                            jobs = handed.len(),
                            "shutting down: ingestion jobs handed back"
                        );
                        handed.into_iter().find_map(Result::err).map_or(Ok(true), |e| Err(e.into()))
                    }
                    result = &mut work => result.map(|()| true),
                }
            }
        }
    }

    /// Runs the claimed jobs to their end; the first error of the queue's own, once all ended.
    /// A doomed job is not run: what earlier tries wrote is removed and it ends `failed`.
    async fn run_claims(&self, claims: &[Claim]) -> Result<(), ServiceError> {
        let (doomed, claims): (Vec<&Claim>, Vec<&Claim>) =
            claims.iter().partition(|c| c.doomed.is_some());
        let doomed = futures::future::join_all(doomed.into_iter().map(|c| {
            let error = c.doomed.clone().expect("partitioned on it");
            tracing::warn!(
                vector_store = %c.job.vector_store_id,
                file = %c.job.file_id,
                message = %error.message,
                "ingestion job not run again"
            );
            self.end(c, Err(Ended::Outcome(JobOutcome::Failed(error))))
        }));
        let (doomed, run) = futures::join!(doomed, self.run_live(claims));
        doomed.into_iter().collect::<Result<(), _>>().and(run)
    }

    /// Runs jobs that are not doomed.
    async fn run_live(&self, claims: Vec<&Claim>) -> Result<(), ServiceError> {
        let found = futures::future::join_all(claims.iter().map(|c| self.look_up(c))).await;
        let mut small = Vec::new();
        let mut large = Vec::new();
        let mut ended = Vec::new();
        for (&claim, f) in claims.iter().zip(found) {
            match f {
                Ok((store, file)) if file.bytes <= GROUP_FILE_BYTES => {
                    small.push((claim, store, file));
                }
                Ok(found) => large.push((claim, found)),
                Err(e) => ended.push((claim, e)),
            }
        }
        let small = self.run_small(small, ended);
        let large = async {
            let mut results = Vec::new();
            for (claim, (store, file)) in large {
                results.push(match self.read(claim, store, file).await {
                    Ok(job) => self.run_alone(job).await,
                    Err(e) => self.end(claim, Err(e)).await,
                });
            }
            results.into_iter().collect::<Result<(), ServiceError>>()
        };
        let (small, large) = futures::join!(small, large);
        small.and(large)
    }

    /// Runs the small files of a claim: those of one vector store in one group, each that has
    /// more than [`GROUP_CHUNKS`] chunks on its own, concurrently (one whose text is larger than
    /// [`GROUP_FILE_BYTES`] at once, alone); and ends `ended`.
    async fn run_small<'a>(
        &self,
        small: Vec<(&'a Claim, CollectionRecord, FileRecord)>,
        ended: Vec<(&'a Claim, Ended)>,
    ) -> Result<(), ServiceError> {
        let mut groups: Vec<Vec<Job<'_>>> = Vec::new();
        let mut alone = Vec::new();
        let mut ended = ended;
        let mut results = Vec::new();
        // Read one after another: a small file whose text is large (a compressed format) runs
        // alone at once, before the next is read.
        for (claim, store, file) in small {
            match self.read(claim, store, file).await {
                Err(e) => ended.push((claim, e)),
                Ok(job) if job.pieces.bytes() > GROUP_FILE_BYTES => {
                    results.push(self.run_alone(job).await);
                }
                Ok(job) if (1..=GROUP_CHUNKS).contains(&job.pieces.len()) => {
                    match groups.iter_mut().find(|g| g[0].store.id == job.store.id) {
                        Some(g) => g.push(job),
                        None => groups.push(vec![job]),
                    }
                }
                Ok(job) => alone.push(job),
            }
        }
        let (single, groups): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| g.len() == 1);
        alone.extend(single.into_iter().flatten());
        results.extend(
            futures::future::join_all(
                ended
                    .into_iter()
                    .map(|(claim, e)| {
                        Box::pin(self.end(claim, Err(e))) as futures::future::BoxFuture<'_, _>
                    })
                    .chain(
                        alone
                            .into_iter()
                            .map(|job| Box::pin(self.run_alone(job)) as _),
                    )
                    .chain(groups.into_iter().map(|g| Box::pin(self.run_group(g)) as _)),
            )
            .await,
        );
        results.into_iter().collect()
    }

    /// The job's vector store and file.
    async fn look_up(&self, claim: &Claim) -> Result<(CollectionRecord, FileRecord), Ended> {
        let job = &claim.job;
        let tenant = Tenant {
            id: job.tenant_id.clone(),
            name: String::new(),
        };
        let store = self
            .service
            .vectors
            .catalog()
            .get_collection(&job.tenant_id, &job.vector_store_id)
            .await
            .map_err(|e| self.on_error(job, e.into()))?;
        let file = self
            .service
            .files
            .get(&tenant, &job.file_id)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    failed("invalid_file", "the file was deleted".into())
                } else {
                    self.on_error(job, e)
                }
            })?;
        Ok((store, file))
    }

    /// The job's text, chunked.
    async fn read<'a>(
        &self,
        claim: &'a Claim,
        store: CollectionRecord,
        file: FileRecord,
    ) -> Result<Job<'a>, Ended> {
        let job = &claim.job;
        let text = match self.service.text_of(&file).await {
            Ok(text) => text,
            Err(Failure::Unsupported(m)) => return Err(failed("unsupported_file", m)),
            Err(Failure::Invalid(m)) => return Err(failed("invalid_file", m)),
            Err(Failure::Server(m)) => {
                return Err(self.on_error(job, ServiceError::internal_msg(m)));
            }
        };
        // Off the async threads: a long text takes a while, and the claim's renewals must go on.
        let (max, overlap) = (job.max_chunk_tokens as usize, job.overlap_tokens as usize);
        let pieces = tokio::task::spawn_blocking(move || Pieces {
            spans: text::chunk_spans(&text, max, overlap),
            text,
        })
        .await
        .map_err(|e| {
            self.on_error(
                job,
                ServiceError::internal_msg(format!("chunking stopped: {e}")),
            )
        })?;
        Ok(Job {
            claim,
            store,
            file,
            pieces,
        })
    }

    /// Ends a job with the result of its work: completed, failed (keeping none of its chunks)
    /// or released to be tried again; a job whose end was written is counted.
    async fn end(&self, claim: &Claim, result: Result<Stored, Ended>) -> Result<(), ServiceError> {
        let catalog = &self.service.catalog;
        let job = &claim.job;
        let (outcome, stored) = match result {
            Ok(stored) => (
                JobOutcome::Completed {
                    usage_bytes: stored.usage_bytes,
                },
                Some(stored),
            ),
            Err(Ended::Outcome(outcome)) => (outcome, None),
            Err(Ended::ClaimLost) => {
                tracing::debug!(
                    vector_store = %job.vector_store_id,
                    file = %job.file_id,
                    "ingestion claim taken over; its work is dropped"
                );
                return self.clean_up_cancelled(job).await;
            }
        };
        if let JobOutcome::Failed(_) = &outcome
            && let Err(e) = self.remove_chunks(claim).await
        {
            // A file that fails keeps none of the chunks it wrote; failing that, try again.
            tracing::warn!(
                file = %job.file_id,
                error = %crate::error::error_chain(&e),
                "could not remove the chunks of a failed file"
            );
            catalog
                .finish(
                    &job.vector_store_id,
                    &job.file_id,
                    &claim.token,
                    JobOutcome::Retry,
                )
                .await?;
            return Ok(());
        }
        tracing::info!(
            vector_store = %job.vector_store_id,
            file = %job.file_id,
            outcome = ?outcome,
            "ingestion job ended"
        );
        let failed = matches!(outcome, JobOutcome::Failed(_));
        if !catalog
            .finish(&job.vector_store_id, &job.file_id, &claim.token, outcome)
            .await?
        {
            return self.clean_up_cancelled(job).await;
        }
        if let Some(s) = stored {
            crate::metrics::job_completed(s.chunks, s.file_bytes);
        } else if failed {
            crate::metrics::jobs_ended(FileStatus::Failed, 1);
        }
        Ok(())
    }

    /// A job cancelled while it ran keeps no chunks. (A detached one's were removed by the
    /// detach; a re-attached or re-claimed one's belong to the new claim.)
    async fn clean_up_cancelled(&self, job: &AttachedFile) -> Result<(), ServiceError> {
        let now = self
            .service
            .catalog
            .status(&job.vector_store_id, &job.file_id)
            .await?;
        if now == Some(FileStatus::Cancelled)
            && let Ok(store) = self
                .service
                .vectors
                .catalog()
                .get_collection(&job.tenant_id, &job.vector_store_id)
                .await
        {
            self.service
                .vectors
                .delete_files(&store, std::slice::from_ref(&job.file_id))
                .await?;
        }
        Ok(())
    }

    /// Renews the claim every third of a lease until dropped. Once the claim is lost
    /// (cancelled, detached, re-attached, or claimed again after a stall) it stops renewing;
    /// the fenced writes and `finish` then refuse this worker.
    async fn keep_claim(&self, claim: &Claim) -> std::convert::Infallible {
        let every = Duration::from_millis((self.lease_secs.max(1) as u64) * 1000 / 3);
        let job = &claim.job;
        loop {
            tokio::time::sleep(every).await;
            match self
                .service
                .catalog
                .renew(
                    &job.vector_store_id,
                    &job.file_id,
                    &claim.token,
                    self.lease_secs,
                )
                .await
            {
                Ok(true) => {
                    tracing::debug!(
                        vector_store = %job.vector_store_id,
                        file = %job.file_id,
                        "ingestion claim renewed"
                    );
                }
                Ok(false) => std::future::pending::<()>().await,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        file = %job.file_id,
                        "could not renew an ingestion claim"
                    );
                }
            }
        }
    }

    /// Renews every claim of `claims` until dropped.
    async fn keep_claims(&self, claims: &[Claim]) -> std::convert::Infallible {
        futures::future::join_all(claims.iter().map(|c| self.keep_claim(c))).await;
        std::future::pending().await
    }
}

/// The job ends `failed` with this error.
fn failed(code: &str, message: String) -> Ended {
    Ended::Outcome(JobOutcome::Failed(LastError {
        code: code.into(),
        message,
    }))
}

/// What a job that completed stored.
#[derive(Debug)]
struct Stored {
    /// Bytes of the chunks' text.
    usage_bytes: u64,
    chunks: u64,
    /// Bytes of the job's file.
    file_bytes: u64,
}

/// How a job that did not complete ended.
#[derive(Debug)]
enum Ended {
    Outcome(JobOutcome),
    /// The claim was taken over (re-attached, detached, cancelled, or claimed again).
    ClaimLost,
}

/// Why a step of a job stopped.
#[derive(Debug)]
enum Step {
    /// It failed; the caller decides what that means for the file.
    Failed(ServiceError),
    ClaimLost,
}
