//! Cursor lists: the list queries, the page shape, and what a deletion answers.

use serde::{Deserialize, Serialize};
use validator::Validate;

#[cfg(feature = "openapi")]
use crate::openapi::object;

/// The order of a list by `created_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// A cursor-list query type: `limit` 1..=100 (20), `order` (desc), `after`, `before`, then the
/// fields given; with its `page_size`.
macro_rules! cursor_list_query {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
        #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// How many objects a page holds, 1 to 100.
            #[validate(range(min = 1, max = 100))]
            #[cfg_attr(
                feature = "openapi",
                schema(minimum = 1, maximum = 100, default = crate::openapi::cursor_page_default)
            )]
            #[cfg_attr(
                feature = "openapi",
                param(minimum = 1, maximum = 100, default = crate::openapi::cursor_page_default)
            )]
            pub limit: Option<u32>,
            /// The order by `created_at`.
            #[cfg_attr(feature = "openapi", schema(default = "desc"))]
            #[cfg_attr(feature = "openapi", param(schema_with = crate::openapi::order))]
            pub order: Option<$crate::openai::Order>,
            /// The cursor: the id of the object the page starts after.
            pub after: Option<String>,
            /// The cursor: the id of the object the page ends before.
            pub before: Option<String>,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// The page size asked for, or the default.
            pub fn page_size(&self) -> u32 {
                self.limit.unwrap_or(crate::wire::page::CURSOR_DEFAULT)
            }
        }
    };
}
pub(crate) use cursor_list_query;

cursor_list_query! {
    /// Cursor-list query: `limit` 1..=100 (20), `order` (desc), `after`, `before`.
    pub struct ListQuery {}
}

/// Which page of a file's content: `page`, the `next_page` of the page before (none: the first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    /// The `next_page` of the page before; none for the first page.
    pub page: Option<String>,
}

/// A page of a cursor list (`openai.pagination.SyncCursorPage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListPage<T> {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    /// The page's objects.
    pub data: Vec<T>,
    /// The id of the page's first object; `null` when the page is empty.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first_id: Option<String>,
    /// The id of the page's last object (the `after` of the next page); `null` when the page is
    /// empty.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_id: Option<String>,
    /// Whether more objects follow.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// A page of `data`, its first and last ids taken with `id`.
    pub fn new(data: Vec<T>, has_more: bool, id: impl Fn(&T) -> &str) -> Self {
        Self {
            object: crate::wire::object::LIST.into(),
            first_id: data.first().map(|x| id(x).to_string()),
            last_id: data.last().map(|x| id(x).to_string()),
            has_more,
            data,
        }
    }
}

/// What a deletion answers: a vector store (`vector_store.deleted`), a store's file
/// (`vector_store.file.deleted`), a file (`file`) or a raw collection (`collection.deleted`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// The id of what was deleted.
    pub id: String,
    /// What was deleted.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::deleted))]
    pub object: String,
    /// Always `true`.
    pub deleted: bool,
}

impl Deleted {
    /// `id` deleted, as an `object` (one of [`crate::wire::object`]'s `…DELETED` tags or
    /// [`FILE`](crate::wire::object::FILE)).
    pub fn new(id: impl Into<String>, object: &str) -> Self {
        Self {
            id: id.into(),
            object: object.into(),
            deleted: true,
        }
    }
}
