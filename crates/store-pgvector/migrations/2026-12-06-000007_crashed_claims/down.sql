DROP TRIGGER vector_store_files_crashed_claims ON vector_store_files;
DROP FUNCTION count_crashed_claim();
ALTER TABLE files DROP COLUMN crashed_claims;
