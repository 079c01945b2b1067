DROP TRIGGER files_tenant_counts ON files;
DROP FUNCTION count_tenant_files();
ALTER TABLE tenants DROP COLUMN file_count, DROP COLUMN file_bytes;
