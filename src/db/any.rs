//! [`AnyConnection`]: one Diesel connection type over the three backends.
//!
//! Diesel's `MultiConnection` derive generates public helper items (`MultiBackend`, …)
//! without documentation, hence the `allow` on this module in `db/mod.rs`.

use super::Backend;

/// A connection to any of rowguard's backends.
///
/// It is a Diesel [`MultiConnection`](diesel::MultiConnection): every Diesel query that all
/// three backends support runs on it directly. Match on the variant for backend-specific SQL.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A PostgreSQL connection.
    Postgres(diesel::PgConnection),
    /// A MySQL/MariaDB connection (cargo feature `mysql`).
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
    /// A SQLite connection, with foreign keys, WAL and a busy timeout switched on.
    Sqlite(diesel::SqliteConnection),
}

impl AnyConnection {
    /// The backend behind this connection.
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(_) => Backend::Mysql,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}
