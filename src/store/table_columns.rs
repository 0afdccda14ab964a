//! The columns a model's table really has, read from the database's own catalog: what a
//! column list hides or protects must cover every column, declared or not.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::StoreError;
use crate::db::{BackendConnection, StoreConnection};

/// One column of a table, as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TableColumn {
    /// The column's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Whether it has a `NOT NULL` constraint.
    #[diesel(sql_type = Bool)]
    pub not_null: bool,
}

/// The columns of `table` in the database, in their order (empty when there is no such
/// table). On SQLite the table is looked up in `main`; on PostgreSQL along the search path; on
/// MySQL/MariaDB in the current database.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let columns = rowguard::store::table_columns(&mut conn, "contacts")?;
/// let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
/// assert_eq!(names, ["id", "name", "status", "owner_id"]);
/// assert!(columns[0].not_null);
/// assert!(rowguard::store::table_columns(&mut conn, "no_such_table")?.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn table_columns(
    conn: &mut dyn StoreConnection,
    table: &str,
) -> Result<Vec<TableColumn>, StoreError> {
    let table = table.to_owned();
    Ok(match conn.backend_connection() {
        BackendConnection::Sqlite(c) => diesel::sql_query(
            // `pk`: SQLite lets a non-INTEGER primary key hold NULL, but rows have one.
            r#"SELECT name, ("notnull" <> 0 OR pk > 0) AS not_null
               FROM pragma_table_info(?, 'main') ORDER BY cid"#,
        )
        .bind::<Text, _>(table)
        .load(c)?,
        BackendConnection::Postgres(c) => diesel::sql_query(
            "SELECT attname::text AS name, attnotnull AS not_null FROM pg_attribute \
             WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
        )
        .bind::<Text, _>(table)
        .load(c)?,
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => diesel::sql_query(
            "SELECT CAST(column_name AS CHAR) AS name, is_nullable = 'NO' AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    })
}
