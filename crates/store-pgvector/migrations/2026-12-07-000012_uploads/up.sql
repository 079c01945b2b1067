-- Uploads in parts (OpenAI's Uploads API): the upload, and one row per part received. A part's
-- bytes count in its tenant's `file_bytes` (the `quotas.max_file_bytes` quota) while its row
-- exists; completing an upload swaps its parts' rows for the file's row in one transaction.
CREATE TABLE uploads (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id),
    filename           text NOT NULL,
    bytes              bigint NOT NULL,
    mime_type          text NOT NULL,
    purpose            text NOT NULL,
    status             text NOT NULL
        CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    created_at         bigint NOT NULL,
    expires_at         bigint NOT NULL,
    file_expires_after bigint,
    file_id            text
);
CREATE INDEX uploads_tenant_id ON uploads (tenant_id, id);
CREATE INDEX uploads_pending_expiry ON uploads (expires_at) WHERE status = 'pending';

CREATE TABLE upload_parts (
    id         text PRIMARY KEY,
    upload_id  text NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL,
    bytes      bigint NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX upload_parts_upload_id ON upload_parts (upload_id, id);

CREATE FUNCTION count_tenant_upload_parts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET file_bytes = file_bytes + NEW.bytes WHERE id = NEW.tenant_id;
        RETURN NEW;
    END IF;
    UPDATE tenants SET file_bytes = file_bytes - OLD.bytes WHERE id = OLD.tenant_id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER upload_parts_tenant_bytes
    AFTER INSERT OR DELETE ON upload_parts
    FOR EACH ROW EXECUTE FUNCTION count_tenant_upload_parts();
