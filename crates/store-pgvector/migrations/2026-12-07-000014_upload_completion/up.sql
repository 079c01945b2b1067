-- Until when (Unix seconds) one completion of the upload holds it: a second completion meanwhile
-- is refused instead of joining the parts again; a claim past its time is taken over.
ALTER TABLE uploads ADD COLUMN completing_until bigint;
