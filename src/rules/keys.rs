//! Queries on a table known only by its stored metadata: `SELECT pk … ORDER BY pk` (DBA
//! tools: `rules try`) and `SELECT 1 … LIMIT 1` (relations decided for one row).

use std::marker::PhantomData;

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::RunQueryDsl;

use super::sql::Dialect;
use super::{ColumnType, SqlFilter, Value};
use crate::db::MultiBackend;

/// The primary keys of `table`'s rows that match a filter, ascending. `ST` is the SQL type
/// the key is loaded as (`BigInt` or `Text`).
#[derive(Debug, Clone)]
pub struct KeysQuery<ST> {
    table: String,
    primary_key: String,
    filter: SqlFilter,
    sql_type: PhantomData<ST>,
}

impl<ST> KeysQuery<ST> {
    /// The query; identifiers are quoted, values bound.
    pub fn new(table: &str, primary_key: &str, filter: SqlFilter) -> Self {
        Self {
            table: table.to_owned(),
            primary_key: primary_key.to_owned(),
            filter,
            sql_type: PhantomData,
        }
    }
}

impl<ST> QueryId for KeysQuery<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue> Query for KeysQuery<ST> {
    type SqlType = ST;
}

impl<ST, Conn> RunQueryDsl<Conn> for KeysQuery<ST> {}

impl<ST, DB: Dialect> QueryFragment<DB> for KeysQuery<ST>
where
    SqlFilter: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_identifier(&self.primary_key)?;
        out.push_sql(" FROM ");
        out.push_identifier(&self.table)?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        out.push_sql(" ORDER BY ");
        out.push_identifier(&self.primary_key)
    }
}

impl<ST> QueryFragment<MultiBackend> for KeysQuery<ST> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

/// `SELECT 1 FROM table WHERE [table.column = key AND] filter LIMIT 1`: whether any row of
/// `table` matches (relation conditions decided for one row, the foreign-key target check).
#[derive(Debug, Clone)]
pub struct AnyRowQuery {
    table: String,
    key: Option<(String, ColumnType, Value)>,
    filter: SqlFilter,
}

impl AnyRowQuery {
    /// The query; identifiers are quoted, values bound.
    pub fn new(table: &str, filter: SqlFilter) -> Self {
        Self {
            table: table.to_owned(),
            key: None,
            filter,
        }
    }

    /// Only the rows whose `column` (of type `ty`) equals `value` as the database compares
    /// keys: the plain `=` a foreign key and a join use (on MySQL, the column's collation),
    /// not the rule language's exact comparison, so it agrees with the `EXISTS` rowguard
    /// renders for the same relation, and uses the key's index.
    pub fn with_key(mut self, column: &str, ty: ColumnType, value: Value) -> Self {
        self.key = Some((column.to_owned(), ty, value));
        self
    }
}

impl QueryId for AnyRowQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for AnyRowQuery {
    type SqlType = diesel::sql_types::Integer;
}

impl<Conn> RunQueryDsl<Conn> for AnyRowQuery {}

impl<DB: Dialect> QueryFragment<DB> for AnyRowQuery
where
    SqlFilter: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT 1 FROM ");
        out.push_identifier(&self.table)?;
        out.push_sql(" WHERE ");
        if let Some((column, ty, value)) = &self.key {
            out.push_identifier(&self.table)?;
            out.push_sql(".");
            out.push_identifier(column)?;
            out.push_sql(" = ");
            let uuid = *ty == ColumnType::Uuid && DB::BACKEND == crate::Backend::Postgres;
            if uuid {
                out.push_sql("CAST(");
            }
            DB::push_value(&mut out, value)?;
            if uuid {
                out.push_sql(" AS uuid)");
            }
            out.push_sql(" AND ");
        }
        self.filter.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT 1");
        Ok(())
    }
}

impl QueryFragment<MultiBackend> for AnyRowQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}
