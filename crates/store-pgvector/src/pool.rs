//! The connection pool ([`connect`], [`Pool`]) and the embedded migrations ([`migrate`]).

use std::time::Duration;

use deadpool::managed::{Hook, HookError, QueueMode};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::{ConnectionError, QueryableByName};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;
use store_core::{PoolStatus, StoreError, StoreResult};

use crate::error;
use crate::options::{PgVectorOptions, SearchSettings};

type Connections = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
/// A connection taken from a [`Pool`]; it goes back when dropped.
pub type Conn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// A pool of connections made by [`connect`], with the options its connections were set up
/// with: each starts with their search settings as session defaults, which a
/// [`PgVectorStore`] over the pool relies on, and none other.
#[derive(Clone)]
pub struct Pool {
    connections: Connections,
    options: std::sync::Arc<PgVectorOptions>,
}

impl Pool {
    /// A connection, waiting for one at most the pool's timeout.
    pub async fn get(&self) -> StoreResult<Conn> {
        self.connections.get().await.map_err(error::pool)
    }

    /// The most connections the pool opens.
    pub fn max_size(&self) -> usize {
        self.connections.status().max_size
    }

    /// The options every connection of the pool was set up with.
    pub fn options(&self) -> &PgVectorOptions {
        &self.options
    }

    /// How many connections the pool holds, how many of them are lent out, and how many
    /// callers wait for one.
    pub fn status(&self) -> PoolStatus {
        let status = self.connections.status();
        PoolStatus {
            size: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.connections.status();
        f.debug_struct("Pool")
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish()
    }
}

/// The pool as the store and the catalog hold it: prints its size, not its connections.
#[derive(Clone, Debug)]
pub(crate) struct Db(pub(crate) Pool);

impl Db {
    pub(crate) async fn conn(&self) -> StoreResult<Conn> {
        self.0.get().await
    }

    /// Succeeds when the database answers.
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    /// The tenant's row `id` of `table` (`columns` of it; both constants of this crate): none
    /// or one.
    pub(crate) async fn owned_rows<R>(
        &self,
        table: &'static str,
        columns: &'static str,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Vec<R>>
    where
        R: diesel::QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        let mut conn = self.conn().await?;
        diesel::sql_query(format!(
            "SELECT {columns} FROM {table} WHERE tenant_id = $1 AND id = $2"
        ))
        .bind::<diesel::sql_types::Text, _>(tenant_id.to_string())
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)
    }

    /// The rows `query` reads, each as a `T`.
    pub(crate) async fn load_as<R, T>(
        &self,
        query: BoxedSqlQuery<'_, Pg, SqlQuery>,
    ) -> StoreResult<Vec<T>>
    where
        R: QueryableByName<Pg> + Into<T> + Send + 'static,
    {
        let mut conn = self.conn().await?;
        let rows: Vec<R> = query.load(&mut conn).await.map_err(error::db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Whether `query`, a `SELECT EXISTS (…) AS exists` whose `$1` is `id`, finds a row.
    pub(crate) async fn exists(&self, query: &'static str, id: &str) -> StoreResult<bool> {
        #[derive(QueryableByName)]
        struct Exists {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            exists: bool,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<Exists> = diesel::sql_query(query)
            .bind::<diesel::sql_types::Text, _>(id.to_string())
            .load(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(rows.into_iter().next().is_some_and(|r| r.exists))
    }

    /// Deletes the tenant's row `id` of `table` (a constant of this crate); not found when there
    /// is none.
    pub(crate) async fn delete_owned(
        &self,
        table: &'static str,
        what: &'static str,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let n = diesel::sql_query(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND id = $2"
        ))
        .bind::<diesel::sql_types::Text, _>(tenant_id.to_string())
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        if n == 0 {
            return Err(StoreError::not_found(what, id));
        }
        Ok(())
    }
}

/// How long a request waits for a connection, or for a new one to be made, before the database
/// counts as unavailable.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection is closed, and replaced by a new one, after this many uses: it keeps the search
/// statements of every table it served prepared, and this bounds how many.
pub const MAX_CONNECTION_USES: usize = 10_000;

/// A pool of at most `pool_size` connections, tried once so that a bad URL or a server that is
/// down fails here ([`store_core::ErrorKind::Unavailable`]). New connections get the search
/// settings of `options` as session defaults; the pool keeps `options`, so that the
/// [`PgVectorStore`] made over it searches with them.
pub async fn connect(url: &str, pool_size: usize, options: &PgVectorOptions) -> StoreResult<Pool> {
    options.check()?;
    let setup = format!(
        "{}; SET statement_timeout = {}",
        SearchSettings::session(options).sql(false),
        options.statement_timeout_ms
    );
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // A connection taken from the pool is not pinged first (the default sends `SELECT 1` each
    // time, a second statement for every query): one whose socket the server or the network
    // closed is known as closed and replaced without a query; a query that fails on a
    // connection closes it, so the next request gets a new one.
    config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let setup = setup.clone();
        async move {
            let mut conn = tokio::time::timeout(POOL_TIMEOUT, AsyncPgConnection::establish(url))
                .await
                .map_err(|_| ConnectionError::BadConnection("connecting timed out".into()))??;
            diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, &setup)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    let connections = Connections::builder(manager)
        .max_size(pool_size.max(1))
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        // The most recently returned connection is handed out first: under light load the same
        // few server processes do all the work, with their caches warm, instead of every
        // connection in turn.
        .queue_mode(QueueMode::Lifo)
        .pre_recycle(Hook::sync_fn(|_, metrics| {
            if metrics.recycle_count >= MAX_CONNECTION_USES {
                Err(HookError::message("the connection has served its uses"))
            } else {
                Ok(())
            }
        }))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::internal("could not build the connection pool", e))?;
    let pool = Pool {
        connections,
        options: std::sync::Arc::new(options.clone()),
    };
    // Fail fast on a bad URL or an unreachable server.
    Db(pool.clone()).ping().await?;
    Ok(pool)
}

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies the embedded migrations (idempotent; concurrent callers wait on an advisory lock).
pub async fn migrate(url: &str) -> StoreResult<()> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || -> StoreResult<()> {
        use diesel::Connection;
        use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
                .map_err(|e| StoreError::unavailable("could not connect to the database", e))?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_lock(72707001)"),
            &mut conn,
        )
        .map_err(error::db)?;
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(|e| StoreError::Internal {
                message: format!("migrations failed: {e}"),
                source: None,
            });
        let _ = diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_unlock(72707001)"),
            &mut conn,
        );
        result
    })
    .await
    .map_err(|e| StoreError::internal("the migration task stopped", e))?
}
