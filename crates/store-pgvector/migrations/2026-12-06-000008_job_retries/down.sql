ALTER TABLE vector_store_files DROP COLUMN retries;
