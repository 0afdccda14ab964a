//! [`GuardConnection`] and [`StoreConnection`]: the application's own Diesel connection,
//! whatever its type.
//!
//! rowguard's own queries (rules, models, the state version) are written once and run on
//! the concrete connection behind a [`BackendConnection`], so an application keeps its
//! `PgConnection`, `SqliteConnection` or `MysqlConnection` (or rowguard's [`AnyConnection`],
//! or a pooled one of either) and passes it to the guard as it is.

use diesel::connection::{Connection, TransactionManager};
use diesel::{PgConnection, RunQueryDsl, SqliteConnection};

use super::{AnyConnection, Backend};

/// A borrowed connection of one concrete backend: what rowguard's own queries run on.
#[non_exhaustive]
pub enum BackendConnection<'a> {
    /// A PostgreSQL connection.
    Postgres(&'a mut PgConnection),
    /// A MySQL/MariaDB connection (cargo feature `mysql`).
    #[cfg(feature = "mysql")]
    Mysql(&'a mut diesel::MysqlConnection),
    /// A SQLite connection.
    Sqlite(&'a mut SqliteConnection),
}

impl std::fmt::Debug for BackendConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackendConnection({:?})", self.backend())
    }
}

impl BackendConnection<'_> {
    /// The backend behind this connection.
    pub fn backend(&self) -> Backend {
        match self {
            BackendConnection::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            BackendConnection::Mysql(_) => Backend::Mysql,
            BackendConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection behind `$conn` (a
/// [`StoreConnection`]): one query text, compiled for each backend.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $crate::db::StoreConnection::backend_connection(&mut *$conn) {
            $crate::db::BackendConnection::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::db::BackendConnection::Mysql($c) => $body,
            $crate::db::BackendConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// A connection rowguard's own queries run on (the store, the authorizer, migrations):
/// Diesel's `PgConnection`, `SqliteConnection` and `MysqlConnection` (feature `mysql`),
/// rowguard's [`AnyConnection`], and an r2d2 pooled connection of any of them. Functions
/// take it as `&mut dyn StoreConnection`, so any of these is passed as it is.
///
/// ```
/// use diesel::prelude::*;
/// use rowguard::{Backend, StoreConnection};
///
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// assert_eq!(conn.backend(), Backend::Sqlite);
/// rowguard::run_pending_migrations(&mut conn)?; // rowguard's tables, on the app's connection
/// assert_eq!(rowguard::store::state_version(&mut conn)?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait StoreConnection {
    /// The concrete connection behind this one.
    fn backend_connection(&mut self) -> BackendConnection<'_>;

    /// The backend behind this connection.
    fn backend(&mut self) -> Backend {
        self.backend_connection().backend()
    }
}

/// What a guard call accepts for the guard's connection type `C`: `C` itself, or an r2d2
/// pooled connection holding a `C` (rowguard's pool or Diesel's `r2d2::ConnectionManager`).
/// So a `Guard<PgConnection>` takes `&mut PgConnection` and `&mut PooledConnection<…>` alike.
#[diagnostic::on_unimplemented(
    message = "a `Guard<{C}>` runs on `{C}` (or a pooled one), not on `{Self}`",
    label = "this connection",
    note = "name the guard's connection type where it is made: `let guard: Guard<{Self}> = auth.guard(subject);` (a bare `Guard` is `Guard<AnyConnection>`)"
)]
pub trait AsConnection<C> {
    /// The connection to run on.
    fn as_connection(&mut self) -> &mut C;
}

/// A connection type a [`Guard`](crate::Guard) runs on: `PgConnection`, `SqliteConnection`,
/// `MysqlConnection` (feature `mysql`) and [`AnyConnection`]. An application keeps its own;
/// a model declared with [`authorizable!`](crate::authorizable) gets its queries for each of
/// them ([`ModelQueries`](crate::ModelQueries)), and the guard's type follows the
/// connection it is first used with. Code generic over the connection bounds on this trait
/// and on `M: ModelQueries<C>` for the models it touches.
///
/// ```
/// use rowguard::{Error, Guard, GuardConnection, ModelQueries, Right};
///
/// /// How many of `rows` the guard's subject may update, on any connection type.
/// fn updatable<C: GuardConnection, M: ModelQueries<C>>(
///     guard: &Guard<C>,
///     conn: &mut C,
///     rows: &[M],
/// ) -> Result<usize, Error> {
///     let mut n = 0;
///     for row in rows {
///         n += usize::from(guard.can(conn, Right::Update, row)?);
///     }
///     Ok(n)
/// }
/// ```
pub trait GuardConnection: StoreConnection + AsConnection<Self> + diesel::Connection {}

macro_rules! guard_connection {
    ($($conn:ty => $variant:ident),+ $(,)?) => {$(
        impl StoreConnection for $conn {
            fn backend_connection(&mut self) -> BackendConnection<'_> {
                BackendConnection::$variant(self)
            }
        }

        impl AsConnection<$conn> for $conn {
            fn as_connection(&mut self) -> &mut $conn {
                self
            }
        }

        impl GuardConnection for $conn {}
    )+};
}

guard_connection!(PgConnection => Postgres, SqliteConnection => Sqlite);
#[cfg(feature = "mysql")]
guard_connection!(diesel::MysqlConnection => Mysql);

impl StoreConnection for AnyConnection {
    fn backend_connection(&mut self) -> BackendConnection<'_> {
        match self {
            AnyConnection::Postgres(c) => BackendConnection::Postgres(c),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(c) => BackendConnection::Mysql(c),
            AnyConnection::Sqlite(c) => BackendConnection::Sqlite(c),
        }
    }
}

impl AsConnection<AnyConnection> for AnyConnection {
    fn as_connection(&mut self) -> &mut AnyConnection {
        self
    }
}

impl GuardConnection for AnyConnection {}

/// A pooled connection (rowguard's pool or Diesel's `r2d2::ConnectionManager`).
impl<M> StoreConnection for r2d2::PooledConnection<M>
where
    M: r2d2::ManageConnection,
    M::Connection: StoreConnection,
{
    fn backend_connection(&mut self) -> BackendConnection<'_> {
        (**self).backend_connection()
    }
}

impl<M: r2d2::ManageConnection> AsConnection<M::Connection> for r2d2::PooledConnection<M> {
    fn as_connection(&mut self) -> &mut M::Connection {
        self
    }
}

/// Runs `write` (several statements to rowguard's own tables) in one transaction on `conn`
/// (a savepoint when the caller already opened one), then, once it has committed, tells
/// every cache of the process ([`note_store_write`](crate::cache::note_store_write)). Inside
/// the caller's transaction the commit is the caller's: the caches of other connections learn
/// of the write at their next version check, or at once if the caller notes it after
/// committing.
///
/// For several of rowguard's writes that stand or fall together, or a write followed by a
/// check that must see it (reads on `conn` inside skip the caches, which hold only what is
/// committed); an error rolls everything back.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::db::write_transaction;
/// use rowguard::store::put_policy;
/// let arn = "arn:rowguard:default:local:1:server/1";
/// let refused: Result<(), Box<dyn std::error::Error>> = write_transaction(&mut conn, |c| {
///     put_policy(c, "roles", "agent", r#"[{"Effect":"Allow","Action":"server:*","Resource":"*"}]"#)?;
///     // The check sees the uncommitted policy...
///     assert!(auth.is_allowed(c, &agent(), "server:Reboot", arn)?);
///     Err("not today".into()) // ...and the error takes it back.
/// });
/// assert!(refused.is_err());
/// assert!(!auth.is_allowed(&mut conn, &agent(), "server:Reboot", arn)?);
/// # Ok(())
/// # }
/// ```
pub fn write_transaction<T, E>(
    conn: &mut dyn StoreConnection,
    write: impl FnOnce(&mut dyn StoreConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let nested = in_transaction(conn);
    // The application user for the history triggers (crate::store::acting_as), set inside
    // the transaction and cleared before its end.
    let user = crate::store::acting();
    let marked = |c: &mut dyn StoreConnection| -> Result<T, E> {
        // Always set (none clears a value left behind); nested in a transaction of the
        // caller's, its value comes back afterwards for its own writes.
        let previous = if nested {
            crate::store::marked(c)?
        } else {
            None
        };
        crate::store::mark(c, user.as_deref())?;
        let written = write(c)?;
        crate::store::mark(c, previous.as_deref())?;
        Ok(written)
    };
    let result = match conn.backend_connection() {
        // SQLite: take the write lock at BEGIN, where the busy timeout waits for it. A
        // deferred transaction that reads first fails at once with "database is locked"
        // when another connection writes meanwhile.
        BackendConnection::Sqlite(c) if !nested => c.immediate_transaction(|c| marked(c)),
        BackendConnection::Sqlite(c) => c.transaction(|c| marked(c)),
        // The servers: take the state row's lock first, as SQLite's BEGIN IMMEDIATE takes
        // the write lock. Every write of rowguard's tables bumps that row's version, so
        // writers queue here rather than at their end, and a check inside the transaction
        // (MySQL's snapshot starts at its first plain read) sees every write committed
        // before it, not a snapshot from before a concurrent writer's commit.
        BackendConnection::Postgres(c) if !nested => c.transaction(|c| {
            diesel::sql_query(LOCK_STATE).execute(c)?;
            marked(c)
        }),
        BackendConnection::Postgres(c) => c.transaction(|c| marked(c)),
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) if !nested => c.transaction(|c| {
            diesel::sql_query(LOCK_STATE).execute(c)?;
            marked(c)
        }),
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => c.transaction(|c| marked(c)),
    };
    // A MySQL session variable outlives a rolled-back transaction: clear it.
    if result.is_err() && !nested && conn.backend() == Backend::Mysql {
        let _ = crate::store::mark(conn, None);
    }
    if result.is_ok() {
        if nested {
            // The caller's transaction now holds a write no other connection may see (it
            // can still roll back): until it ends, reads on this connection neither use
            // nor fill the caches.
            mark_dirty(conn);
        } else {
            crate::cache::note_store_write();
        }
    }
    result
}

/// Locks the one row of `authorization_state` until the transaction ends.
const LOCK_STATE: &str = "SELECT version FROM authorization_state FOR UPDATE";

thread_local! {
    /// The connections (by address) whose open transaction holds a write of rowguard's.
    static DIRTY: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The address of the backend connection behind `conn`, the same whichever wrapper (an
/// `AnyConnection`, the native connection in it) a call comes through.
fn address(conn: &mut dyn StoreConnection) -> usize {
    match conn.backend_connection() {
        BackendConnection::Postgres(c) => std::ptr::from_mut(c) as usize,
        BackendConnection::Sqlite(c) => std::ptr::from_mut(c) as usize,
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => std::ptr::from_mut(c) as usize,
    }
}

fn mark_dirty(conn: &mut dyn StoreConnection) {
    let at = address(conn);
    DIRTY.with(|d| {
        let mut d = d.borrow_mut();
        if !d.contains(&at) {
            d.push(at);
        }
    });
}

/// Whether `conn` is inside a transaction that wrote to rowguard's tables (through
/// rowguard): what it reads there may never commit, so it is neither cached nor answered
/// from a cache. Outside a transaction the mark is cleared.
pub(crate) fn dirty(conn: &mut dyn StoreConnection) -> bool {
    let marked = DIRTY.with(|d| !d.borrow().is_empty());
    if !marked {
        return false;
    }
    let at = address(conn);
    if in_transaction(conn) {
        DIRTY.with(|d| d.borrow().contains(&at))
    } else {
        DIRTY.with(|d| d.borrow_mut().retain(|&a| a != at));
        false
    }
}

/// At the start of a transaction that will write: on SQLite, takes the write lock now, where
/// the busy timeout waits for it (an `UPDATE` that matches no row). A deferred SQLite
/// transaction that reads first and writes later fails at once with "database is locked" when
/// another connection wrote meanwhile; other backends lock rows as they go and need nothing.
///
/// ```
/// use diesel::Connection;
/// let mut conn = rowguard::establish(&rowguard::DatabaseUrl::parse(":memory:")?)?;
/// rowguard::run_pending_migrations(&mut conn)?;
/// conn.transaction(|conn| {
///     rowguard::db::lock_for_writing(conn)?;
///     // … reads, then writes …
///     Ok::<_, diesel::result::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lock_for_writing(conn: &mut dyn StoreConnection) -> Result<(), diesel::result::Error> {
    if let BackendConnection::Sqlite(c) = conn.backend_connection() {
        diesel::sql_query("UPDATE authorization_state SET version = version WHERE 0 = 1")
            .execute(c)?;
    }
    Ok(())
}

/// Whether `conn` is inside a transaction that rowguard can see (Diesel's `transaction`,
/// `begin_test_transaction`): reads there may come from an older snapshot.
///
/// ```
/// use diesel::prelude::*;
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// assert!(!rowguard::db::in_transaction(&mut conn));
/// conn.transaction(|conn| {
///     assert!(rowguard::db::in_transaction(conn));
///     Ok::<_, diesel::result::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn in_transaction(conn: &mut dyn StoreConnection) -> bool {
    fn depth<C: Connection>(conn: &mut C) -> bool {
        C::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .map_or(true, |depth| depth.is_some())
    }
    on_backend!(conn, c => depth(c))
}

/// The key the database generated for the last row this connection inserted (SQLite
/// `last_insert_rowid()`, PostgreSQL `lastval()`, MySQL `LAST_INSERT_ID()`). An error if the
/// backend has none (PostgreSQL: no sequence used in this session).
///
/// ```
/// use diesel::prelude::*;
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)").execute(&mut conn)?;
/// diesel::sql_query("INSERT INTO t (x) VALUES ('a'), ('b')").execute(&mut conn)?;
/// assert_eq!(rowguard::db::last_insert_id(&mut conn)?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn last_insert_id(conn: &mut dyn StoreConnection) -> diesel::QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT last_insert_rowid() AS id",
        Backend::Postgres => "SELECT lastval() AS id",
        Backend::Mysql => "SELECT CAST(LAST_INSERT_ID() AS SIGNED) AS id",
    };
    on_backend!(conn, c => Ok(diesel::sql_query(sql).get_result::<Id>(c)?.id))
}
