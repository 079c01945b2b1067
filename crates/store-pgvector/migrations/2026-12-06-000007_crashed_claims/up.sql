-- Claims of a file's ingestion that ended without an answer (the server crashed, or stalled
-- past its lease), in any vector store. Re-attaching the file does not reset it: a file that
-- keeps taking servers down stops being tried.
ALTER TABLE files ADD COLUMN crashed_claims integer NOT NULL DEFAULT 0;

-- A claim is void once something else than its holder's renewal changes its token (another
-- claim, a re-attach, a detach, a cancel, or its holder's own late finish). If its lease had
-- run out by then, it ended without an answer in time: it counts against the file.
CREATE FUNCTION count_crashed_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.claim_token IS NOT NULL
       AND OLD.claimed_until <= floor(extract(epoch FROM now()))::bigint
       AND (TG_OP = 'DELETE' OR NEW.claim_token IS DISTINCT FROM OLD.claim_token) THEN
        UPDATE files SET crashed_claims = crashed_claims + 1 WHERE id = OLD.file_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER vector_store_files_crashed_claims
    BEFORE UPDATE OR DELETE ON vector_store_files
    FOR EACH ROW EXECUTE FUNCTION count_crashed_claim();
