CREATE TABLE file_batches (
    id              text PRIMARY KEY,
    vector_store_id text NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    tenant_id       text NOT NULL,
    created_at      bigint NOT NULL,
    cancelled       boolean NOT NULL DEFAULT false
);

CREATE TABLE vector_store_files (
    vector_store_id  text NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    file_id          text NOT NULL,
    tenant_id        text NOT NULL,
    batch_id         text REFERENCES file_batches (id) ON DELETE SET NULL,
    status           text NOT NULL,
    last_error_code  text,
    last_error       text,
    attributes       jsonb NOT NULL DEFAULT '{}',
    max_chunk_tokens integer NOT NULL,
    overlap_tokens   integer NOT NULL,
    usage_bytes      bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL,
    seq              bigserial NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    claimed_until    bigint,
    PRIMARY KEY (vector_store_id, file_id)
);
CREATE INDEX vector_store_files_queue ON vector_store_files (seq) WHERE status = 'in_progress';
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id);
