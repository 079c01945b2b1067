//! The Elasticsearch storage back-end (not implemented yet: the Elasticsearch issue fills this crate).
