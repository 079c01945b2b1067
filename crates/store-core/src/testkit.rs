//! The back-end conformance suite (filled in with the pgvector back-end).
