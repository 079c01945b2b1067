//! Files attached to vector stores: attaching queues a durable job; [`Ingestor`] workers claim
//! jobs, extract text (once per file, in the [`Sandbox`](crate::sandbox::Sandbox) for
//! third-party parsers), chunk it, embed and store the chunks under deterministic ids
//! (`{file_id}:{index}`), and end the job `completed` or `failed` with `last_error`. Chunk writes
//! run fenced by the claim's token, so a worker whose claim was taken over cannot change the
//! file's chunks.
//!
//! A job is counted in [`crate::metrics::INGESTION_JOBS`] where its end is written, once: by
//! the worker whose claim `finish` accepted (`completed`, with its chunks and file bytes, or
//! `failed`), or by [`IngestService::cancel_batch`] for the files it cancelled. A job whose tries
//! were used up by workers that died is claimed doomed: its holder removes what earlier tries
//! wrote and ends it `failed`, counted so.
//!
//! Its parts: [`chunking`] (chunk sizes), `attach` ([`IngestService`]: attachments, batches,
//! states), `windows` ([`embed_pieces`]: a file's chunks, read in context or alone, in
//! windows when longer than the model reads) and `worker`
//! ([`Ingestor`], its writes in `worker/writes.rs`).

mod attach;
mod chunking;
mod windows;
mod worker;

pub use attach::{IngestService, StoreState, batch_status};
pub use chunking::{auto_chunking, chunking};
pub use windows::embed_pieces;
pub use worker::Ingestor;

/// Passing faults (a back-end or the embedding provider unavailable) a job is retried after,
/// by default. With the back-off of [`store_core::retry_delay_secs`], 20 retries span about
/// an hour.
pub const DEFAULT_MAX_RETRIES: u32 = 20;
