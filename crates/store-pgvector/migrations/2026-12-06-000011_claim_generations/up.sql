-- Every claim of an ingestion job draws a generation: a later claim has a larger one. A
-- back-end whose writes may land after their request gave up (Elasticsearch) versions each
-- chunk by it, so such a late write never replaces what a later claim wrote. Elasticsearch
-- adds one to a chunk's version when it changes it in place (an attribute update), so the
-- generations start above the versions it counts on its own and leave that much room between
-- two claims.
CREATE SEQUENCE claim_generations AS bigint START 4294967296 INCREMENT BY 16777216;
