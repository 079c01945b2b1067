//! Mapping database and pool failures to [`StoreError`] kinds.

use diesel::result::{DatabaseErrorKind, Error};
use store_core::StoreError;

/// A failed query.
#[allow(
    clippy::wildcard_enum_match_arm,
    reason = "diesel's error is non-exhaustive: whatever it adds is a failed query too"
)]
pub fn db(e: Error) -> StoreError {
    match &e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::conflict(info.message().to_string())
        }
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            StoreError::unavailable("the database connection was lost", e)
        }
        Error::DatabaseError(_, info) if info.message().contains("statement timeout") => {
            StoreError::unavailable(
                "the database took longer than its statement timeout to answer",
                e,
            )
        }
        Error::DatabaseError(_, info) if is_connection_failure(info.message()) => {
            StoreError::unavailable("the database connection was lost", e)
        }
        Error::DatabaseError(_, info)
            if info.message().contains("relation \"vectors.")
                && info.message().contains("does not exist") =>
        {
            StoreError::not_found("collection", "(its table is missing)")
        }
        Error::NotFound => StoreError::not_found("row", "?"),
        _ => StoreError::internal("a database query failed", e),
    }
}

fn is_connection_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "connection closed",
        "connection reset",
        "broken pipe",
        "terminating connection",
        "connection refused",
        "unexpected eof",
        "error communicating",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// No connection could be had.
pub fn pool(e: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
    StoreError::unavailable("no database connection could be had", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_timeout_is_unavailable_not_a_server_error() {
        let e = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("canceling statement due to statement timeout".to_string()),
        );
        assert_eq!(db(e).kind(), store_core::ErrorKind::Unavailable);
    }
}
