-- Every claim of an ingestion job gets a token of its own: only the holder of the current
-- token may renew, finish or write the job's chunks.
ALTER TABLE vector_store_files ADD COLUMN claim_token text;
