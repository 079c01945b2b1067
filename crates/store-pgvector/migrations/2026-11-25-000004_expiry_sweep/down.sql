DROP INDEX IF EXISTS collections_awaiting_sweep;
ALTER TABLE collections DROP COLUMN IF EXISTS chunks_freed_at;
