DROP INDEX IF EXISTS uploads_tenant_pending;
