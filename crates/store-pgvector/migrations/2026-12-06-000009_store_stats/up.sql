-- Each collection's file counts by status, kept as its attached files change, and its usage
-- (bytes of chunk text) as last counted. A write that may change the chunks adds to
-- `usage_changes`; a count records how many changes it saw in `usage_counted`, so the usage is
-- out of date while `usage_changes > usage_counted`. A page of collections is then read with
-- their counts and usage in one query, whatever they hold.
-- No file changes status while the counts are first taken.
LOCK TABLE collections, vector_store_files IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE store_stats (
    vector_store_id text PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    in_progress     bigint NOT NULL DEFAULT 0,
    completed       bigint NOT NULL DEFAULT 0,
    failed          bigint NOT NULL DEFAULT 0,
    cancelled       bigint NOT NULL DEFAULT 0,
    usage_bytes     bigint NOT NULL DEFAULT 0,
    usage_changes   bigint NOT NULL DEFAULT 0,
    usage_counted   bigint NOT NULL DEFAULT 0,
    -- When the usage last changed and was last counted (unix seconds): the background count
    -- takes a collection once its writes pause, or every so often while they go on, not after
    -- every write.
    usage_changed_at bigint NOT NULL DEFAULT 0,
    usage_counted_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX store_stats_stale ON store_stats (vector_store_id) WHERE usage_changes > usage_counted;

-- Existing collections: counted now, usage to be counted again.
INSERT INTO store_stats (vector_store_id, in_progress, completed, failed, cancelled, usage_changes)
SELECT c.id,
       count(*) FILTER (WHERE f.status = 'in_progress'),
       count(*) FILTER (WHERE f.status = 'completed'),
       count(*) FILTER (WHERE f.status NOT IN ('in_progress', 'completed', 'cancelled')),
       count(*) FILTER (WHERE f.status = 'cancelled'),
       1
FROM collections c LEFT JOIN vector_store_files f ON f.vector_store_id = c.id
GROUP BY c.id;

CREATE FUNCTION store_stats_of_new_collection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store_stats (vector_store_id) VALUES (NEW.id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER collections_store_stats
    AFTER INSERT ON collections
    FOR EACH ROW EXECUTE FUNCTION store_stats_of_new_collection();

-- Adds `n` files of `p_status` to a collection's counts; every change of status (a file that
-- completed or failed, one detached or attached again) may also change its chunks.
CREATE FUNCTION bump_store_stats(p_store text, p_status text, p_n bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE store_stats SET
        in_progress = in_progress + CASE WHEN p_status = 'in_progress' THEN p_n ELSE 0 END,
        completed = completed + CASE WHEN p_status = 'completed' THEN p_n ELSE 0 END,
        cancelled = cancelled + CASE WHEN p_status = 'cancelled' THEN p_n ELSE 0 END,
        failed = failed + CASE WHEN p_status NOT IN ('in_progress', 'completed', 'cancelled') THEN p_n ELSE 0 END,
        usage_changes = usage_changes + 1,
        usage_changed_at = floor(extract(epoch FROM now()))::bigint
    WHERE vector_store_id = p_store;
$$;

-- Once per statement on vector_store_files: the rows that entered or left a status, by
-- collection, applied in collection order (two statements touching the same collections
-- cannot deadlock). An update that changes no row's status changes no count and takes no lock.
CREATE FUNCTION store_stats_of_inserted_files() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT vector_store_id, status, count(*) AS n FROM new_files
             GROUP BY 1, 2 ORDER BY 1, 2 LOOP
        PERFORM bump_store_stats(r.vector_store_id, r.status, r.n);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION store_stats_of_deleted_files() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT vector_store_id, status, count(*) AS n FROM old_files
             GROUP BY 1, 2 ORDER BY 1, 2 LOOP
        PERFORM bump_store_stats(r.vector_store_id, r.status, -r.n);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION store_stats_of_updated_files() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT vector_store_id, status, sum(d) AS n FROM (
                 SELECT o.vector_store_id, o.status, -1 AS d
                 FROM old_files o JOIN new_files f USING (vector_store_id, file_id)
                 WHERE o.status IS DISTINCT FROM f.status
                 UNION ALL
                 SELECT f.vector_store_id, f.status, 1 AS d
                 FROM old_files o JOIN new_files f USING (vector_store_id, file_id)
                 WHERE o.status IS DISTINCT FROM f.status) x
             GROUP BY 1, 2 ORDER BY 1, 2 LOOP
        PERFORM bump_store_stats(r.vector_store_id, r.status, r.n);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER vector_store_files_stats_insert
    AFTER INSERT ON vector_store_files REFERENCING NEW TABLE AS new_files
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_of_inserted_files();
CREATE TRIGGER vector_store_files_stats_delete
    AFTER DELETE ON vector_store_files REFERENCING OLD TABLE AS old_files
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_of_deleted_files();
CREATE TRIGGER vector_store_files_stats_update
    AFTER UPDATE ON vector_store_files REFERENCING OLD TABLE AS old_files NEW TABLE AS new_files
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_of_updated_files();
