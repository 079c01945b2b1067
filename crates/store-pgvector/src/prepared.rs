//! Raw SQL that a connection may keep prepared.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;

/// A raw SQL query that diesel-async prepares once per connection and reuses, keyed by its text
/// and bind types. Diesel never caches `sql_query` (it cannot know that the text was not built
/// from input); this is for texts that are fixed apart from checked table names, so each
/// connection holds one statement per table it has searched. Connections are retired after
/// [`crate::MAX_CONNECTION_USES`] uses, which bounds what they hold.
#[derive(Debug)]
pub(crate) struct Prepared<Q>(pub(crate) Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Prepared<Q> {
    type SqlType = Untyped;
}
