//! An r2d2 pool of [`AnyConnection`]s.

use std::time::Duration;

use diesel::r2d2::R2D2Connection;

use super::{establish, AnyConnection, DatabaseUrl, DbError};

/// A pool of connections to one database.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// A pooled connection; derefs to [`AnyConnection`].
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The r2d2 manager: opens connections with [`establish`], so pool errors keep the real cause.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    /// The database this manager connects to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        conn.ping().map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

/// Pool settings. The defaults suit a web service; see each field.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections open at once (default 10).
    pub max_size: u32,
    /// Connections the pool opens in the background to keep idle (default 0: connections are
    /// opened only for a waiting checkout, then kept until the idle timeout). A background
    /// open still running when the process exits can crash libpq's teardown.
    pub min_idle: u32,
    /// How long a checkout waits for a free connection (default 10 s).
    pub connection_timeout: Duration,
    /// Run a query on every checkout to test the connection. Off by default: it costs a
    /// round trip per checkout (about 90 µs against a local PostgreSQL), and a broken
    /// connection is detected by Diesel and dropped anyway.
    pub test_on_checkout: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            min_idle: 0,
            connection_timeout: Duration::from_secs(10),
            test_on_checkout: false,
        }
    }
}

/// Builds a pool for `url`. One connection is opened first, so a bad URL fails here with
/// its real cause instead of as a checkout timeout later.
///
/// ```
/// use rowguard::{connect_pool, DatabaseUrl, PoolOptions};
///
/// let dir = std::env::temp_dir().join(format!("rowguard-pool-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = DatabaseUrl::parse(dir.join("pool.sqlite3").to_str().unwrap()).unwrap();
/// let pool = connect_pool(&url, PoolOptions::default()).unwrap();
/// let conn = pool.get().unwrap();
/// assert_eq!(conn.backend(), rowguard::Backend::Sqlite);
/// # drop(conn); drop(pool); std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn connect_pool(url: &DatabaseUrl, options: PoolOptions) -> Result<Pool, DbError> {
    drop(establish(url)?);
    r2d2::Pool::builder()
        .max_size(options.max_size.max(1))
        .min_idle(Some(options.min_idle.min(options.max_size)))
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(options.test_on_checkout)
        .build(ConnectionManager::new(url.clone()))
        .map_err(DbError::from)
}
