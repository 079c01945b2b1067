CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS vectors;

CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at bigint NOT NULL
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_hash   text NOT NULL UNIQUE,
    prefix     text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE collections (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id),
    collection         text NOT NULL,
    name               text,
    backend            text NOT NULL,
    model              text,
    dimension          integer NOT NULL CHECK (dimension > 0),
    metadata           jsonb NOT NULL DEFAULT '{}',
    expires_after_days integer,
    created_at         bigint NOT NULL,
    last_active_at     bigint NOT NULL,
    UNIQUE (tenant_id, collection)
);
