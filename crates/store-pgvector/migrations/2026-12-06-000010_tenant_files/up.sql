-- Each tenant's stored files and their bytes, kept as files come and go, so that the quotas on
-- them (`quotas.max_files`, `quotas.max_file_bytes`) are checked without counting.
LOCK TABLE files IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE tenants
    ADD COLUMN file_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN file_bytes bigint NOT NULL DEFAULT 0;

UPDATE tenants t SET file_count = f.n, file_bytes = f.b
FROM (SELECT tenant_id, count(*) AS n, coalesce(sum(bytes), 0) AS b FROM files GROUP BY tenant_id) f
WHERE f.tenant_id = t.id;

CREATE FUNCTION count_tenant_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET file_count = file_count + 1, file_bytes = file_bytes + NEW.bytes
        WHERE id = NEW.tenant_id;
        RETURN NEW;
    END IF;
    UPDATE tenants SET file_count = file_count - 1, file_bytes = file_bytes - OLD.bytes
    WHERE id = OLD.tenant_id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER files_tenant_counts
    AFTER INSERT OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION count_tenant_files();
