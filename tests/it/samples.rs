//! A table with one column of every rule type, for running filters as SQL on each backend
//! and comparing with the in-memory evaluator.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use rowguard::db::MultiBackend;
use rowguard::rules::{ColumnType, Columns, Dialect, Filter, SqlFilter, Value};
use rowguard::{AnyConnection, Backend};

diesel::table! {
    samples (id) {
        id -> BigInt,
    }
}

/// Column order of the table and of in-memory rows (`id` first).
pub const COLUMNS: [(&str, ColumnType); 9] = [
    ("id", ColumnType::Bigint),
    ("i", ColumnType::Integer),
    ("b", ColumnType::Bigint),
    ("f", ColumnType::Float),
    ("t", ColumnType::Text),
    ("flag", ColumnType::Bool),
    ("d", ColumnType::Date),
    ("ts", ColumnType::Timestamp),
    ("u", ColumnType::Uuid),
];

pub fn columns() -> Columns {
    Columns::new(COLUMNS).expect("sample columns")
}

/// Creates `samples`. MySQL text uses the server's default case- and space-insensitive
/// collation on purpose: rowguard must compare exactly anyway.
pub fn create_table(conn: &mut AnyConnection) {
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "CREATE TABLE samples (id BIGINT PRIMARY KEY, i INTEGER, b BIGINT, f DOUBLE, t TEXT, \
             flag BOOLEAN, d DATE, ts TIMESTAMP, u TEXT)"
        }
        Backend::Postgres => {
            "CREATE TABLE samples (id BIGINT PRIMARY KEY, i INTEGER, b BIGINT, f DOUBLE PRECISION, \
             t TEXT, flag BOOLEAN, d DATE, ts TIMESTAMP, u UUID)"
        }
        Backend::Mysql => {
            "CREATE TABLE samples (id BIGINT PRIMARY KEY, i INT, b BIGINT, f DOUBLE, \
             t VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, flag BOOLEAN, \
             d DATE, ts DATETIME(6), u CHAR(36)) ENGINE = InnoDB"
        }
    };
    conn.batch_execute(sql).expect("create samples");
}

/// `INSERT INTO samples VALUES (…)` with every value bound.
pub struct InsertRow<'a>(pub &'a [Value]);

impl QueryId for InsertRow<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for InsertRow<'_> {}

fn walk_insert<'b, DB: Dialect>(
    row: &'b [Value],
    out: &mut AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    out.push_sql("INSERT INTO samples (id, i, b, f, t, flag, d, ts, u) VALUES (");
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        let uuid = COLUMNS[i].1 == ColumnType::Uuid && DB::BACKEND == Backend::Postgres;
        if uuid {
            out.push_sql("CAST(");
        }
        DB::push_value(out, value)?;
        if uuid {
            out.push_sql(" AS uuid)");
        }
    }
    out.push_sql(")");
    Ok(())
}

macro_rules! insert_fragment {
    ($db:ty) => {
        impl QueryFragment<$db> for InsertRow<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $db>) -> QueryResult<()> {
                walk_insert(self.0, &mut out)
            }
        }
    };
}
insert_fragment!(diesel::sqlite::Sqlite);
insert_fragment!(diesel::pg::Pg);
#[cfg(feature = "mysql")]
insert_fragment!(diesel::mysql::Mysql);

impl QueryFragment<MultiBackend> for InsertRow<'_> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

pub fn insert(conn: &mut AnyConnection, rows: &[Vec<Value>]) -> QueryResult<()> {
    for row in rows {
        InsertRow(row).execute(conn)?;
    }
    Ok(())
}

/// The ids the filter selects in SQL, ascending.
pub fn select_ids(conn: &mut AnyConnection, filter: &Filter) -> QueryResult<Vec<i64>> {
    samples::table
        .select(samples::id)
        .filter(SqlFilter::new(Some("samples"), filter.clone()))
        .order(samples::id)
        .load(conn)
}

/// The ids `filter` selects in SQL with `rows` inserted, in a transaction that is rolled back
/// (the table is empty again afterwards).
pub fn ids_with_rows(
    conn: &mut AnyConnection,
    rows: &[Vec<Value>],
    filter: &Filter,
) -> QueryResult<Vec<i64>> {
    use diesel::result::Error as DieselError;
    let mut ids = Vec::new();
    let outcome = conn.transaction::<(), DieselError, _>(|c| {
        insert(c, rows)?;
        ids = select_ids(c, filter)?;
        Err(DieselError::RollbackTransaction)
    });
    match outcome {
        Err(DieselError::RollbackTransaction) => Ok(ids),
        Err(other) => Err(other),
        Ok(()) => Err(DieselError::RollbackTransaction),
    }
}

/// The ids the filter accepts in memory, ascending.
pub fn matching_ids(rows: &[Vec<Value>], filter: &Filter) -> Vec<i64> {
    ids_where(rows, |row| filter.matches(row))
}

/// The ids of the rows `keep` accepts, ascending.
pub fn ids_where(rows: &[Vec<Value>], keep: impl Fn(&[Value]) -> bool) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter(|row| keep(row.as_slice()))
        .map(|row| match row[0] {
            Value::Int(id) => id,
            _ => panic!("id is an integer"),
        })
        .collect();
    ids.sort_unstable();
    ids
}
