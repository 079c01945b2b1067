-- When the expiry sweeper freed an expired collection's chunks (NULL: not yet, or not expired).
ALTER TABLE collections ADD COLUMN chunks_freed_at bigint;

CREATE INDEX collections_awaiting_sweep ON collections ((last_active_at + expires_after_days::bigint * 86400))
    WHERE expires_after_days IS NOT NULL AND chunks_freed_at IS NULL;
