//! What an input error is about, in the service's own terms. Each wire surface names a [`Field`]
//! in its own words (`embedding_model` on OpenAI's, `model_name` on the platform's), once.

use std::fmt;

/// The part of a request an invalid input came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A collection's name (as its caller gave it, or as a back-end stores it).
    Collection,
    /// The storage back-end a collection lives on.
    Backend,
    /// A collection's embedding model.
    Model,
    /// A collection's vector dimension.
    Dimension,
    /// A collection's expiry.
    ExpiresAfter,
    /// The text of a search.
    Query,
    /// The vector of a search (or the vector a text query would be embedded into).
    QueryVector,
    /// The attribute filter of a search.
    Filter,
    /// How many hits a search returns at most.
    MaxResults,
    /// The lowest score a hit may have.
    ScoreThreshold,
    /// The documents of a write, as a whole.
    Documents,
    /// One document of a write, by its position in the request.
    Document { index: usize, part: DocumentPart },
    /// A part of a chunk handed to a back-end, where its position is not known.
    Chunk(DocumentPart),
    /// The chunks of one write, as a whole.
    Chunks,
    /// The file of an upload.
    File,
    /// The purpose of an upload.
    Purpose,
    /// The expiry of an upload.
    FileExpiresAfter(FileExpiryPart),
    /// The one file a request attaches.
    FileId,
    /// The files of a batch, as a whole.
    FileList,
    /// One of a list of file ids, by position.
    FileIds(usize),
    /// One of a list of files (each with its own attributes), by position.
    Files(usize),
    /// How files are split into chunks.
    ChunkingStrategy,
    /// How one of a list of files (by position) is split into chunks, when it says so itself.
    FileChunkingStrategy(usize),
    /// A tenant's name.
    Tenant,
    /// An API key (or a prefix of one).
    Key,
    /// A setting of the server's configuration, by its dotted name.
    Setting(String),
    /// An input of an embeddings request, by its place; the whole input when `None`.
    Input(Option<usize>),
    /// The dimension an embeddings request asks for.
    Dimensions,
    /// The size an upload in parts declares.
    UploadBytes,
    /// The name of the file an upload in parts makes.
    Filename,
    /// The MIME type of an upload in parts.
    MimeType,
    /// The expiry of an upload in parts (a JSON object, unlike [`Field::FileExpiresAfter`]).
    UploadExpiresAfter(FileExpiryPart),
    /// The bytes of one part of an upload.
    PartData,
    /// The parts an upload is completed with, as a whole or one by position.
    PartIds(Option<usize>),
    /// The MD5 checksum an upload is completed with.
    Md5,
}

/// A field of one document (or chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentPart {
    Id,
    FileId,
    Filename,
    Text,
    Attributes,
    Vector,
}

/// A field of an upload's `expires_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileExpiryPart {
    /// The pair as a whole.
    Both,
    Anchor,
    Seconds,
}

impl DocumentPart {
    /// The part's usual name: the one the stored chunk uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentPart::Id => "id",
            DocumentPart::FileId => "file_id",
            DocumentPart::Filename => "filename",
            DocumentPart::Text => "text",
            DocumentPart::Attributes => "attributes",
            DocumentPart::Vector => "vector",
        }
    }
}

impl Field {
    /// The field's name in the terms shared by the wire surfaces: OpenAI's where it has one,
    /// the stored chunk's for documents. A surface that names a field otherwise says so for that
    /// field and falls back to this for the rest.
    pub fn common_name(&self) -> String {
        match self {
            Field::Collection => "collection".into(),
            Field::Backend => "storage_backend".into(),
            Field::Model => "model".into(),
            Field::Dimension => "dimension".into(),
            Field::ExpiresAfter => "expires_after".into(),
            Field::Query => "query".into(),
            Field::QueryVector => "vector".into(),
            Field::Filter => "filters".into(),
            Field::MaxResults => "max_num_results".into(),
            Field::ScoreThreshold => "ranking_options.score_threshold".into(),
            Field::Documents => "documents".into(),
            Field::Document { index, part } => format!("documents[{index}].{}", part.as_str()),
            Field::Chunk(part) => part.as_str().into(),
            Field::Chunks => "chunks".into(),
            Field::File => "file".into(),
            Field::Purpose => "purpose".into(),
            Field::FileExpiresAfter(FileExpiryPart::Both) => "expires_after".into(),
            Field::FileExpiresAfter(FileExpiryPart::Anchor) => "expires_after[anchor]".into(),
            Field::FileExpiresAfter(FileExpiryPart::Seconds) => "expires_after[seconds]".into(),
            Field::FileId => "file_id".into(),
            Field::FileList => "file_ids".into(),
            Field::FileIds(i) => format!("file_ids[{i}]"),
            Field::Files(i) => format!("files[{i}].file_id"),
            Field::ChunkingStrategy => "chunking_strategy".into(),
            Field::FileChunkingStrategy(i) => format!("files[{i}].chunking_strategy"),
            Field::Tenant => "tenant".into(),
            Field::Key => "key".into(),
            Field::Setting(name) => name.clone(),
            Field::Input(None) => "input".into(),
            Field::Input(Some(i)) => format!("input[{i}]"),
            Field::Dimensions => "dimensions".into(),
            Field::UploadBytes => "bytes".into(),
            Field::Filename => "filename".into(),
            Field::MimeType => "mime_type".into(),
            Field::UploadExpiresAfter(FileExpiryPart::Both) => "expires_after".into(),
            Field::UploadExpiresAfter(FileExpiryPart::Anchor) => "expires_after.anchor".into(),
            Field::UploadExpiresAfter(FileExpiryPart::Seconds) => "expires_after.seconds".into(),
            Field::PartData => "data".into(),
            Field::PartIds(None) => "part_ids".into(),
            Field::PartIds(Some(i)) => format!("part_ids[{i}]"),
            Field::Md5 => "md5".into(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.common_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_are_the_wire_s() {
        let cases = [
            (Field::Backend, "storage_backend"),
            (
                Field::Document {
                    index: 2,
                    part: DocumentPart::Text,
                },
                "documents[2].text",
            ),
            (Field::FileIds(1), "file_ids[1]"),
            (Field::Files(0), "files[0].file_id"),
            (
                Field::FileExpiresAfter(FileExpiryPart::Seconds),
                "expires_after[seconds]",
            ),
            (
                Field::UploadExpiresAfter(FileExpiryPart::Seconds),
                "expires_after.seconds",
            ),
            (Field::PartIds(Some(3)), "part_ids[3]"),
            (
                Field::Setting("storage.elasticsearch.url".into()),
                "storage.elasticsearch.url",
            ),
        ];
        for (field, name) in cases {
            assert_eq!(field.to_string(), name);
        }
    }
}
