CREATE TABLE files (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    filename   text NOT NULL,
    bytes      bigint NOT NULL,
    purpose    text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint
);
CREATE INDEX files_tenant_id ON files (tenant_id, id);
CREATE INDEX files_expires_at ON files (expires_at) WHERE expires_at IS NOT NULL;
