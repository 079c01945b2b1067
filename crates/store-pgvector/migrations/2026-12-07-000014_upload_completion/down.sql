ALTER TABLE uploads DROP COLUMN completing_until;
