//! OpenAPI schemas (utoipa) for what the derives cannot infer: the metadata and attribute maps
//! (`serde_json::Map` fields whose values the validation rules bound), and the fixed `object`
//! strings of the response objects. Only with the `openapi` feature.
//!
//! The map schemas are named components, referenced with `schema(value_type = ...)` from the
//! fields that hold such a map; the `object` schemas are inlined with `schema(schema_with = ...)`.

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::validation::{
    MAX_NUMBER, METADATA_MAX_KEY_LEN, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LEN,
};

/// A string schema.
pub(crate) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A string that is one of `values`.
pub(crate) fn one_of_strings(values: &[&str]) -> Object {
    string().enum_values(Some(values.iter().copied())).build()
}

/// The key of a metadata or attribute map: 1 to 64 characters.
fn key() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(METADATA_MAX_KEY_LEN))
        .build()
}

/// A reference to the component `T` is registered as.
fn reference<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// OpenAI's `Metadata` of a vector store as a request sets it: at most 16 pairs, keys of 1 to 64
/// characters, string values of at most 512 characters.
pub struct Metadata;

/// An object of at most [`METADATA_MAX_KEYS`] pairs with keys of 1 to
/// [`METADATA_MAX_KEY_LEN`] characters, values `values` (`what` says which in the description).
fn pairs(what: &str, values: RefOr<Schema>, example: serde_json::Value) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "At most {METADATA_MAX_KEYS} key-value pairs: keys of 1 to {METADATA_MAX_KEY_LEN} \
             characters, {what}."
        )))
        .additional_properties(Some(AdditionalProperties::RefOr(values)))
        .property_names(Some(key()))
        .max_properties(Some(METADATA_MAX_KEYS))
        .examples([example])
        .into()
}

impl PartialSchema for Metadata {
    fn schema() -> RefOr<Schema> {
        pairs(
            &format!("string values of at most {METADATA_MAX_VALUE_LEN} characters"),
            RefOr::T(Schema::Object(
                string().max_length(Some(METADATA_MAX_VALUE_LEN)).build(),
            )),
            serde_json::json!({"project": "handbook"}),
        )
    }
}

impl ToSchema for Metadata {}

/// One attribute or metadata value: a string of at most 512 characters, a (finite) number or a
/// boolean.
pub struct AttributeValue;

impl PartialSchema for AttributeValue {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(format!(
                "A string of at most {METADATA_MAX_VALUE_LEN} characters, a number of magnitude \
                 at most 1e308, or a boolean."
            )))
            .item(string().max_length(Some(METADATA_MAX_VALUE_LEN)).build())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(-MAX_NUMBER))
                    .maximum(Some(MAX_NUMBER)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Boolean).build())
            .into()
    }
}

impl ToSchema for AttributeValue {}

/// Attributes (or the metadata of a collection) as a request sets them: at most 16 pairs, keys of
/// 1 to 64 characters, values [`AttributeValue`]s.
pub struct Attributes;

impl PartialSchema for Attributes {
    fn schema() -> RefOr<Schema> {
        pairs(
            &format!(
                "values strings of at most {METADATA_MAX_VALUE_LEN} characters, numbers or \
                 booleans"
            ),
            reference::<AttributeValue>(),
            serde_json::json!({"lang": "en", "year": 2024, "draft": false}),
        )
    }
}

impl ToSchema for Attributes {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((AttributeValue::name().into(), AttributeValue::schema()));
    }
}

/// The attributes of a stored document as a response reports them: the metadata keys, plus the
/// platform document's own `links` and `topics` (lists of strings) and `author` where it has
/// them. Any document of a collection may be reported on any surface, so every such map can hold
/// lists.
pub struct DocumentAttributes;

impl PartialSchema for DocumentAttributes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The document's attributes: strings, numbers or booleans, and for a document \
                 indexed through the platform API its `links` and `topics` (lists of strings) and \
                 `author`.",
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                OneOfBuilder::new()
                    .item(reference::<AttributeValue>())
                    .item(ArrayBuilder::new().items(string().build()).build())
                    .into(),
            ))))
            .examples([serde_json::json!({"lang": "en", "topics": ["search"], "author": "ada"})])
            .into()
    }
}

impl ToSchema for DocumentAttributes {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((AttributeValue::name().into(), AttributeValue::schema()));
    }
}

/// The `order` of a list: `asc` or `desc` (the default).
pub(crate) fn order() -> Object {
    let mut schema = one_of_strings(&["asc", "desc"]);
    schema.default = Some(serde_json::json!("desc"));
    schema
}

/// The platform's `search_type`: [`crate::SearchMode`] in its words.
pub struct SearchType;

impl PartialSchema for SearchType {
    fn schema() -> RefOr<Schema> {
        let mut schema = one_of_strings(&["semantic", "full_text", "hybrid"]);
        schema.description = Some(
            "`semantic` ranks by vector similarity, `full_text` by keywords (BM25), `hybrid` by \
             both, fused."
                .into(),
        );
        schema.default = Some(serde_json::json!("semantic"));
        RefOr::T(Schema::Object(schema))
    }
}

impl ToSchema for SearchType {}

/// The default page size of OpenAI's cursor lists, as the schema shows it.
pub(crate) fn cursor_page_default() -> u32 {
    crate::wire::page::CURSOR_DEFAULT
}

/// The default page size of `GET /v1/files`, as the schema shows it.
pub(crate) fn files_page_default() -> u32 {
    crate::wire::page::FILES_DEFAULT
}

/// The `object` of each response object: a fixed string, or one of a few.
pub(crate) mod object {
    use super::one_of_strings;
    use utoipa::openapi::schema::Object;

    use crate::wire::object::*;

    macro_rules! objects {
        ($($(#[$doc:meta])* $fn:ident => [$($value:expr),+ $(,)?];)*) => {
            $(
                $(#[$doc])*
                pub(crate) fn $fn() -> Object {
                    one_of_strings(&[$($value),+])
                }
            )*
        };
    }

    objects! {
        list => [LIST];
        text => [TEXT];
        vector_store => [VECTOR_STORE];
        /// One schema serves every deletion: of a vector store, a store's file, a file and a
        /// raw collection.
        deleted => [VECTOR_STORE_DELETED, VECTOR_STORE_FILE_DELETED, FILE, COLLECTION_DELETED];
        search_results_page => [SEARCH_RESULTS_PAGE];
        file => [FILE];
        upload => [UPLOAD];
        upload_part => [UPLOAD_PART];
        vector_store_file => [VECTOR_STORE_FILE];
        files_batch => [FILES_BATCH];
        file_content_page => [FILE_CONTENT_PAGE];
        collection => [COLLECTION];
        upsert_result => [UPSERT_RESULT];
        delete_result => [DELETE_RESULT];
        api_key => [API_KEY];
        embedding => [EMBEDDING];
    }
}
