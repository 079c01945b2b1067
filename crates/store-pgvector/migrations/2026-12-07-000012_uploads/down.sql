DROP TRIGGER upload_parts_tenant_bytes ON upload_parts;
DROP FUNCTION count_tenant_upload_parts();
DROP TABLE upload_parts;
DROP TABLE uploads;
