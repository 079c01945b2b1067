-- The tenant's pending uploads, counted against quotas.max_pending_uploads when one is made.
CREATE INDEX uploads_tenant_pending ON uploads (tenant_id) WHERE status = 'pending';
