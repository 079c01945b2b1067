//! The attribute keys each collection's chunks use, bounded per collection.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use store_core::{DocumentPart, Field, StoreError, StoreResult};

use crate::PgCatalog;
use crate::error;
use crate::sql::Count;

impl PgCatalog {
    /// Records that the collection's chunks use `keys`, unless that makes more than `max`
    /// distinct keys ([`store_core::Catalog::add_attribute_keys`]).
    pub(crate) async fn admit_attribute_keys(
        &self,
        collection_id: &str,
        keys: Vec<String>,
        max: usize,
    ) -> StoreResult<()> {
        /// The transaction ends on a database error or on too many keys.
        enum Fault {
            Db(diesel::result::Error),
            TooMany(i64),
        }
        impl From<diesel::result::Error> for Fault {
            fn from(e: diesel::result::Error) -> Self {
                Fault::Db(e)
            }
        }
        let mut conn = self.db.conn().await?;
        let id = collection_id.to_string();
        conn.transaction(async |c| {
            diesel::sql_query(
                "INSERT INTO attribute_keys (collection_id, key) SELECT $1, unnest($2::text[]) ON \
                 CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(id.clone())
            .bind::<diesel::sql_types::Array<Text>, _>(keys)
            .execute(c)
            .await?;
            let rows: Vec<Count> = diesel::sql_query(
                "SELECT count(*)::int8 AS n FROM attribute_keys WHERE collection_id = $1",
            )
            .bind::<Text, _>(id.clone())
            .load(c)
            .await?;
            let n = rows.into_iter().next().map_or(0, |r| r.n);
            if n > i64::try_from(max).unwrap_or(i64::MAX) {
                return Err(Fault::TooMany(n));
            }
            Ok(())
        })
        .await
        .map_err(|e| match e {
            Fault::Db(e) => error::db(e),
            Fault::TooMany(n) => StoreError::invalid_field(
                Field::Chunk(DocumentPart::Attributes),
                format!(
                    "collection '{collection_id}' would use {n} distinct attribute keys; a \
                     collection may use at most {max}"
                ),
            ),
        })
    }
}
