-- How many times a job was released because of a passing fault (a back-end or the embedding
-- provider was unavailable). Such releases do not count as attempts; they back off
-- exponentially and end the job once `ingest.max_retries` is reached.
ALTER TABLE vector_store_files ADD COLUMN retries integer NOT NULL DEFAULT 0;
