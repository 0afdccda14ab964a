//! Test support: an isolated, migrated database per test on each backend.
//!
//! SQLite gets a file in a fresh temporary directory; PostgreSQL and MySQL/MariaDB get a
//! fresh database on the server named by `ROWGUARD_TEST_POSTGRES_URL` /
//! `ROWGUARD_TEST_MYSQL_URL` (defaults: the local servers). The database is dropped when the
//! [`TestDatabase`] is, and databases left behind by killed test processes are swept up.
//!
//! An unreachable server is an error here, never a silent pass; `cargo xtask test` probes
//! the servers first and, outside CI, skips an unreachable backend's tests with a notice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::{
    connect_pool, establish, run_pending_migrations, AnyConnection, Backend, DatabaseUrl, DbError,
    Pool, PoolOptions,
};

/// Environment variable naming the PostgreSQL server tests use.
pub const POSTGRES_URL_ENV: &str = "ROWGUARD_TEST_POSTGRES_URL";
/// Environment variable naming the MySQL/MariaDB server tests use.
pub const MYSQL_URL_ENV: &str = "ROWGUARD_TEST_MYSQL_URL";
/// Default PostgreSQL test server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MySQL/MariaDB test server.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Prefix of every database the harness creates (swept when its process is gone).
const DB_PREFIX: &str = "rowguard_t_";

/// Errors of the test harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestDbError {
    /// The server URL variable is malformed, or the backend is not compiled in.
    #[error("{0}")]
    Config(DbError),
    /// The server did not accept a connection.
    #[error(
        "{backend} test server not available: {cause}. Start it or set {env}; \
         `cargo xtask test` skips unreachable backends outside CI"
    )]
    Unreachable {
        /// The backend.
        backend: Backend,
        /// The variable that names its server.
        env: &'static str,
        /// Why the connection failed.
        cause: DbError,
    },
    /// Creating, migrating or cleaning the database failed.
    #[error("{backend} test database: {cause}")]
    Setup {
        /// The backend.
        backend: Backend,
        /// What failed.
        cause: DbError,
    },
    /// The SQLite temporary directory could not be made.
    #[error("cannot create a temporary directory for SQLite: {0}")]
    TempDir(#[from] std::io::Error),
}

/// The server URL tests use for `backend` (`None` for SQLite).
pub fn server_url(backend: Backend) -> Option<Result<DatabaseUrl, DbError>> {
    let (env, default) = match backend {
        Backend::Sqlite => return None,
        Backend::Postgres => (POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        Backend::Mysql => (MYSQL_URL_ENV, DEFAULT_MYSQL_URL),
    };
    let raw = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    Some(DatabaseUrl::parse(&raw))
}

fn env_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Mysql => MYSQL_URL_ENV,
        _ => POSTGRES_URL_ENV,
    }
}

enum Cleanup {
    SqliteDir(PathBuf),
    Server { admin: DatabaseUrl, name: String },
}

/// An isolated database for one test, dropped with this value.
///
/// ```no_run
/// use rowguard::testing::TestDatabase;
/// use rowguard::Backend;
///
/// let db = TestDatabase::migrated(Backend::Postgres).expect("PostgreSQL test server");
/// let mut conn = db.connect().unwrap();
/// // ... the database is dropped at the end of the scope
/// ```
pub struct TestDatabase {
    backend: Backend,
    url: DatabaseUrl,
    cleanup: Cleanup,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// A fresh, empty database (no migrations applied).
    pub fn empty(backend: Backend) -> Result<Self, TestDbError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        match server_url(backend) {
            None => {
                let dir = std::env::temp_dir().join(format!("rowguard-test-{pid}-{n}"));
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("test.sqlite3");
                let url =
                    DatabaseUrl::parse(&path.to_string_lossy()).map_err(TestDbError::Config)?;
                Ok(Self {
                    backend,
                    url,
                    cleanup: Cleanup::SqliteDir(dir),
                })
            }
            Some(admin) => {
                let admin = admin.map_err(TestDbError::Config)?;
                if !backend.is_compiled_in() {
                    return Err(TestDbError::Config(DbError::NotCompiledIn {
                        backend,
                        feature: "mysql",
                    }));
                }
                let mut conn = establish(&admin).map_err(|cause| TestDbError::Unreachable {
                    backend,
                    env: env_name(backend),
                    cause,
                })?;
                sweep_stale_databases(&mut conn);
                let name = format!("{DB_PREFIX}{pid}_{n}");
                let setup = |cause| TestDbError::Setup { backend, cause };
                conn.batch_execute(&create_database_sql(backend, &name))
                    .map_err(|e| setup(DbError::Query(e)))?;
                let url = with_database(&admin, &name).map_err(setup)?;
                Ok(Self {
                    backend,
                    url,
                    cleanup: Cleanup::Server { admin, name },
                })
            }
        }
    }

    /// A fresh database with rowguard's migrations applied.
    pub fn migrated(backend: Backend) -> Result<Self, TestDbError> {
        let db = Self::empty(backend)?;
        let mut conn = db
            .connect()
            .map_err(|cause| TestDbError::Setup { backend, cause })?;
        run_pending_migrations(&mut conn).map_err(|cause| TestDbError::Setup { backend, cause })?;
        Ok(db)
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL of this database.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// A new connection to this database.
    pub fn connect(&self) -> Result<AnyConnection, DbError> {
        establish(&self.url)
    }

    /// A pool over this database.
    pub fn pool(&self, options: PoolOptions) -> Result<Pool, DbError> {
        connect_pool(&self.url, options)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Server { admin, name } => {
                // Best effort: a failure here leaves a database the next sweep removes.
                if let Ok(mut conn) = establish(admin) {
                    let _ = conn.batch_execute(&drop_database_sql(self.backend, name));
                }
            }
        }
    }
}

fn create_database_sql(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Mysql => {
            format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        }
        _ => format!("CREATE DATABASE {name}"),
    }
}

fn drop_database_sql(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {name}"),
    }
}

/// `admin` with its database replaced by `name`.
fn with_database(admin: &DatabaseUrl, name: &str) -> Result<DatabaseUrl, DbError> {
    let mut url = url::Url::parse(admin.target()).map_err(|source| DbError::MalformedUrl {
        backend: admin.backend(),
        url: admin.redacted(),
        source,
    })?;
    url.set_path(&format!("/{name}"));
    DatabaseUrl::parse(url.as_str())
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Drops test databases whose creating process no longer runs (a killed test run).
fn sweep_stale_databases(conn: &mut AnyConnection) {
    static SWEPT: Once = Once::new();
    SWEPT.call_once(|| {
        let sql = match conn.backend() {
            Backend::Postgres => "SELECT datname AS name FROM pg_database",
            _ => "SELECT schema_name AS name FROM information_schema.schemata",
        };
        let Ok(names) = diesel::sql_query(sql).load::<DatabaseName>(conn) else {
            return;
        };
        for DatabaseName { name } in names {
            let Some(pid) = name
                .strip_prefix(DB_PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = conn.batch_execute(&drop_database_sql(conn.backend(), &name));
            }
        }
    });
}

/// Declares backend tests: for each function `fn name(db: &TestDatabase)`, a module `name`
/// with one `#[test]` per backend (`on_sqlite`, `on_postgres`, and with the `mysql` feature
/// `on_mysql`), each given a fresh migrated database.
///
/// ```
/// use rowguard::testing::TestDatabase;
///
/// // Expands to `mod has_a_url { #[test] fn on_sqlite() … fn on_postgres() … }`.
/// rowguard::backend_tests!(has_a_url);
///
/// fn has_a_url(db: &TestDatabase) {
///     assert!(!db.url().target().is_empty());
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn on_sqlite() {
                $crate::testing::run_on($crate::Backend::Sqlite, super::$name);
            }
            #[test]
            fn on_postgres() {
                $crate::testing::run_on($crate::Backend::Postgres, super::$name);
            }
            // rowguard's `mysql` feature decides, not the caller's.
            $crate::__if_mysql! {
                #[test]
                fn on_mysql() {
                    $crate::testing::run_on($crate::Backend::Mysql, super::$name);
                }
            }
        }
    )+};
}

/// Runs `test` against a fresh migrated database on `backend`; panics with the harness error
/// if the database cannot be had.
pub fn run_on(backend: Backend, test: impl FnOnce(&TestDatabase)) {
    let db = TestDatabase::migrated(backend).unwrap_or_else(|e| panic!("{e}"));
    test(&db);
}
