// The document store-elastic writes for each chunk (`mapping::document`), as its strict index
// mapping (`mapping::index_body`) declares the fields. The `_bulk` source lines the request-types
// test records are checked against it; the index mapping itself is checked against the client's
// `IndicesCreateRequest`.

/** Typed copies of the attributes that filters read: one map per JSON type. */
export interface TypedAttributes {
  s: Record<string, string | string[]>;
  n: Record<string, number | number[]>;
  b: Record<string, boolean | boolean[]>;
}

export interface ChunkDocument {
  chunk_id: string;
  file_id: string;
  filename: string | null;
  chunk_index: number;
  text: string;
  text_bytes: number;
  embedding: number[];
  attributes: Record<string, unknown>;
  attr: TypedAttributes;
}
