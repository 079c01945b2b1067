ALTER TABLE vector_store_files DROP COLUMN IF EXISTS claim_token;
