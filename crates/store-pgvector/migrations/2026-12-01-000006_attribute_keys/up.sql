-- The distinct attribute keys each collection's chunks use, so that every back-end holds a
-- collection to the same bound (Elasticsearch maps each key to fields of its index).
CREATE TABLE attribute_keys (
    collection_id text NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    key           text NOT NULL,
    PRIMARY KEY (collection_id, key)
);
