//! A Rust client mirroring `client.vector_stores.*` of the OpenAI SDKs (not implemented yet: the OpenAI API issue fills this crate).
