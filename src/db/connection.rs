//! One connection type for all three backends, established from a [`DatabaseUrl`]
//! with the real cause of a failure kept.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::ConnectionError;

use super::{AnyConnection, Backend, DatabaseUrl, DbError};

/// How long a SQLite writer waits for another writer's lock before giving up.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Opens one connection to `url`, choosing the backend from the URL (never by trial), so a
/// failure reports that backend's own cause.
///
/// ```
/// use rowguard::{establish, Backend, DatabaseUrl};
///
/// let dir = std::env::temp_dir().join(format!("rowguard-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = DatabaseUrl::parse(dir.join("doc.sqlite3").to_str().unwrap()).unwrap();
/// let conn = establish(&url).unwrap();
/// assert_eq!(conn.backend(), Backend::Sqlite);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn establish(url: &DatabaseUrl) -> Result<AnyConnection, DbError> {
    let fail = |e: ConnectionError| DbError::connect(url, e);
    match url.backend() {
        Backend::Sqlite => {
            check_sqlite_directory(url)?;
            let mut conn = diesel::SqliteConnection::establish(url.target()).map_err(fail)?;
            configure_sqlite(&mut conn).map_err(|e| {
                DbError::connect(url, ConnectionError::CouldntSetupConfiguration(e))
            })?;
            Ok(AnyConnection::Sqlite(conn))
        }
        Backend::Postgres => diesel::PgConnection::establish(url.target())
            .map(AnyConnection::Postgres)
            .map_err(fail),
        #[cfg(feature = "mysql")]
        Backend::Mysql => diesel::MysqlConnection::establish(url.target())
            .map(AnyConnection::Mysql)
            .map_err(fail),
        #[cfg(not(feature = "mysql"))]
        Backend::Mysql => Err(DbError::NotCompiledIn {
            backend: Backend::Mysql,
            feature: "mysql",
        }),
    }
}

/// What rowguard sets on every SQLite connection it opens: foreign keys enforced (rowguard's
/// tables rely on them), a 5 s busy timeout (concurrent writers wait instead of failing at
/// once), WAL journaling. Call it on a `SqliteConnection` you open yourself.
///
/// ```
/// use diesel::prelude::*;
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// rowguard::db::configure_sqlite(&mut conn)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn configure_sqlite(conn: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
         PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    ))
}

/// SQLite's own message for a missing directory is "unable to open database file"; name the
/// directory instead.
fn check_sqlite_directory(url: &DatabaseUrl) -> Result<(), DbError> {
    let target = url.target();
    if target == ":memory:" || target.starts_with("file:") {
        return Ok(());
    }
    match std::path::Path::new(target).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(DbError::Connect {
            backend: Backend::Sqlite,
            url: url.redacted(),
            problem: super::ConnectProblem::MissingDatabase,
            cause: format!("directory {} does not exist", dir.display()),
            source: None,
        }),
        _ => Ok(()),
    }
}
