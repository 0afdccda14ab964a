//! rowguard's migrations, embedded per backend and applied on the matching connection.

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{Backend, BackendConnection, DbError, StoreConnection};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Runs `$body` with `$c` bound to the inner connection and `$m` to its migrations.
macro_rules! with_migrations {
    ($conn:expr, |$c:ident, $m:ident| $body:expr) => {
        match StoreConnection::backend_connection(&mut *$conn) {
            BackendConnection::Sqlite($c) => {
                let $m = SQLITE;
                $body
            }
            BackendConnection::Postgres($c) => {
                let $m = POSTGRES;
                $body
            }
            #[cfg(feature = "mysql")]
            BackendConnection::Mysql($c) => {
                let $m = MYSQL;
                $body
            }
        }
    };
}

fn migration_error(backend: Backend, source: Box<dyn std::error::Error + Send + Sync>) -> DbError {
    DbError::Migration { backend, source }
}

/// Names of the migrations not yet applied, oldest first.
pub fn pending_migrations(conn: &mut dyn StoreConnection) -> Result<Vec<String>, DbError> {
    let backend = conn.backend();
    with_migrations!(conn, |c, m| c
        .pending_migrations(m)
        .map(|list| list.iter().map(|mig| mig.name().to_string()).collect())
        .map_err(|e| migration_error(backend, e)))
}

/// Applies every pending migration and returns the names of those it applied (empty when
/// the database was already up to date).
///
/// ```
/// use rowguard::{establish, run_pending_migrations, DatabaseUrl};
///
/// let url = DatabaseUrl::parse(":memory:").unwrap();
/// let mut conn = establish(&url).unwrap();
/// let applied = run_pending_migrations(&mut conn).unwrap();
/// assert!(!applied.is_empty());
/// assert!(run_pending_migrations(&mut conn).unwrap().is_empty());
/// ```
pub fn run_pending_migrations(conn: &mut dyn StoreConnection) -> Result<Vec<String>, DbError> {
    let names = pending_migrations(conn)?;
    let backend = conn.backend();
    with_migrations!(conn, |c, m| c
        .run_pending_migrations(m)
        .map_err(|e| migration_error(backend, e)))?;
    Ok(names)
}

/// Reverts every applied migration, newest first (each `down.sql`), and returns the names of
/// those it reverted. Drops rowguard's tables and everything in them: for tests and for
/// removing rowguard from a database.
pub fn revert_all_migrations(conn: &mut dyn StoreConnection) -> Result<Vec<String>, DbError> {
    let backend = conn.backend();
    with_migrations!(conn, |c, m| c
        .revert_all_migrations(m)
        .map(|list| list.iter().map(ToString::to_string).collect())
        .map_err(|e| migration_error(backend, e)))
}

/// Every migration of this backend, oldest first, with whether it is applied.
///
/// ```
/// use rowguard::{establish, db::migration_status, run_pending_migrations, DatabaseUrl};
///
/// let mut conn = establish(&DatabaseUrl::parse(":memory:").unwrap()).unwrap();
/// assert!(migration_status(&mut conn).unwrap().iter().all(|(_, applied)| !applied));
/// run_pending_migrations(&mut conn).unwrap();
/// assert!(migration_status(&mut conn).unwrap().iter().all(|(_, applied)| *applied));
/// ```
pub fn migration_status(conn: &mut dyn StoreConnection) -> Result<Vec<(String, bool)>, DbError> {
    let pending = pending_migrations(conn)?;
    let backend = conn.backend();
    let all: Vec<String> = with_migrations!(conn, |c, m| names_of(c, &m)
        .map_err(|e| migration_error(backend, e)))?;
    Ok(all
        .into_iter()
        .map(|name| {
            let applied = !pending.contains(&name);
            (name, applied)
        })
        .collect())
}

/// Reverts rowguard's newest applied migration (its `down.sql`) and returns its name —
/// rowguard's own even when the application's migrations, in the same
/// `__diesel_schema_migrations` table, are newer. Reverting rowguard's first migration drops
/// its tables and the rules in them.
///
/// ```
/// use rowguard::{establish, db::revert_last_migration, run_pending_migrations, pending_migrations, DatabaseUrl};
///
/// let mut conn = establish(&DatabaseUrl::parse(":memory:").unwrap()).unwrap();
/// let applied = run_pending_migrations(&mut conn).unwrap();
/// assert_eq!(revert_last_migration(&mut conn).unwrap().as_ref(), applied.last());
/// assert_eq!(pending_migrations(&mut conn).unwrap().len(), 1);
/// ```
pub fn revert_last_migration(conn: &mut dyn StoreConnection) -> Result<Option<String>, DbError> {
    let pending = pending_migrations(conn)?;
    let backend = conn.backend();
    with_migrations!(conn, |c, m| revert_newest(c, &m, &pending)
        .map_err(|e| migration_error(backend, e)))
}

/// Reverts the newest of `m`'s migrations that is not `pending`; `None` when none is applied.
fn revert_newest<DB: diesel::backend::Backend, C: MigrationHarness<DB>>(
    conn: &mut C,
    m: &EmbeddedMigrations,
    pending: &[String],
) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
    let list = diesel::migration::MigrationSource::<DB>::migrations(m)?;
    let Some(newest) = list
        .iter()
        .rev()
        .find(|mig| !pending.contains(&mig.name().to_string()))
    else {
        return Ok(None);
    };
    conn.revert_migration(newest.as_ref())?;
    Ok(Some(newest.name().to_string()))
}

/// The names of `m`'s migrations for the connection's backend, oldest first.
fn names_of<DB: diesel::backend::Backend, C: MigrationHarness<DB>>(
    _conn: &mut C,
    m: &EmbeddedMigrations,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let list = diesel::migration::MigrationSource::<DB>::migrations(m)?;
    Ok(list.iter().map(|mig| mig.name().to_string()).collect())
}
