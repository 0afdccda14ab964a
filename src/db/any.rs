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

/// Whether `conn` is inside a transaction that rowguard can see (Diesel's `transaction`,
/// `begin_test_transaction`): reads there may come from an older snapshot.
pub fn in_transaction(conn: &mut AnyConnection) -> bool {
    use diesel::connection::{Connection, TransactionManager};
    <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_or(true, |depth| depth.is_some())
}

/// The key the database generated for the last row this connection inserted (SQLite
/// `last_insert_rowid()`, PostgreSQL `lastval()`, MySQL `LAST_INSERT_ID()`). An error if the
/// backend has none (PostgreSQL: no sequence used in this session).
pub fn last_insert_id(conn: &mut AnyConnection) -> diesel::QueryResult<i64> {
    use diesel::RunQueryDsl;

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
    Ok(diesel::sql_query(sql).get_result::<Id>(conn)?.id)
}
