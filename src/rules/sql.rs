//! Rendering a [`Filter`] as SQL: a Diesel [`QueryFragment`] with quoted identifiers and
//! bound values, usable in a boxed query of the model's table (`.filter(sql_filter)`) and for a
//! table known only by its stored metadata.
//!
//! One meaning on every backend (see the README): text compares byte for byte (case and
//! trailing spaces count), patterns are case-sensitive. Per backend that takes:
//! - SQLite: `=`/`<` use the column's default BINARY collation; patterns use `GLOB`
//!   (SQLite's `LIKE` ignores ASCII case).
//! - PostgreSQL: equality is already exact; ordering uses `COLLATE "C"`; `LIKE` is
//!   case-sensitive; UUIDs are cast with `CAST(? AS uuid)`.
//! - MySQL/MariaDB: the default collations ignore case and trailing spaces, so text is
//!   compared as `BINARY`.

use std::borrow::Cow;
use std::sync::Arc;

use diesel::backend::Backend as DieselBackend;
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types;

use super::filter::{Filter, Operand, Test, TestKind, LIKE_ESCAPE};
use super::{ColumnType, Value};
use crate::db::MultiBackend;
use crate::Backend;

/// IN lists longer than this are not kept in Diesel's prepared-statement cache: every length
/// is a new statement, and the cache would grow with every distinct subject.
const CACHEABLE_IN_LIST: usize = 64;

/// A backend rowguard renders filters for.
pub trait Dialect: DieselBackend + Sized {
    /// Which backend this is.
    const BACKEND: Backend;

    /// Pushes `value` as a bind parameter of its SQL type.
    fn push_value<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b Value) -> QueryResult<()>;

    /// Pushes `text` as a text bind parameter.
    fn push_text<'b>(out: &mut AstPass<'_, 'b, Self>, text: &'b str) -> QueryResult<()>;
}

macro_rules! dialect {
    ($db:ty, $backend:expr) => {
        impl Dialect for $db {
            const BACKEND: Backend = $backend;

            fn push_value<'b>(
                out: &mut AstPass<'_, 'b, Self>,
                value: &'b Value,
            ) -> QueryResult<()> {
                match value {
                    Value::Null => {
                        out.push_sql("NULL");
                        Ok(())
                    }
                    Value::Int(v) => out.push_bind_param::<sql_types::BigInt, _>(v),
                    Value::Float(v) => out.push_bind_param::<sql_types::Double, _>(v),
                    Value::Text(v) | Value::Uuid(v) => out.push_bind_param::<sql_types::Text, _>(v),
                    Value::Bool(v) => out.push_bind_param::<sql_types::Bool, _>(v),
                    Value::Date(v) => out.push_bind_param::<sql_types::Date, _>(v),
                    Value::Timestamp(v) => out.push_bind_param::<sql_types::Timestamp, _>(v),
                }
            }

            fn push_text<'b>(out: &mut AstPass<'_, 'b, Self>, text: &'b str) -> QueryResult<()> {
                out.push_bind_param::<sql_types::Text, _>(text)
            }
        }
    };
}

dialect!(diesel::sqlite::Sqlite, Backend::Sqlite);
dialect!(diesel::pg::Pg, Backend::Postgres);
#[cfg(feature = "mysql")]
dialect!(diesel::mysql::Mysql, Backend::Mysql);

/// A filter ready to go into a `WHERE`: `.filter(sql_filter)` on a boxed query, or rendered
/// on its own.
///
/// ```
/// use rowguard::rules::{compile_document, ColumnType, Columns, Right, SqlFilter};
///
/// let cols = Columns::new([("id", ColumnType::Integer), ("name", ColumnType::Text)]).unwrap();
/// let rules = compile_document(
///     r#"{"read":{"search":{"id":"=1;2","name":"starts_with A"}}}"#,
///     &cols,
/// ).unwrap();
/// let sql = SqlFilter::new(Some("contacts"), rules.filter(Right::Read).unwrap());
/// let text = diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string();
/// assert_eq!(
///     text,
///     r#"("contacts"."id" IN ($1, $2) AND "contacts"."name" LIKE $3 ESCAPE '!') -- binds: [1, 2, "A%"]"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct SqlFilter {
    table: Option<Cow<'static, str>>,
    filter: Arc<Filter>,
}

impl SqlFilter {
    /// A filter on `table`'s columns (qualified as `"table"."column"`; unqualified if `None`).
    /// Variables must already be resolved ([`Filter::resolve`]); an unresolved one is a
    /// query-building error, never a guess.
    pub fn new(table: Option<&str>, filter: Filter) -> Self {
        Self {
            table: table.map(|t| Cow::Owned(t.to_owned())),
            filter: Arc::new(filter),
        }
    }

    /// Like [`SqlFilter::new`], sharing an already allocated filter (a static table name
    /// costs no allocation).
    pub fn from_arc(table: Option<Cow<'static, str>>, filter: Arc<Filter>) -> Self {
        Self { table, filter }
    }

    /// The filter rendered.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

impl<DB: Dialect> QueryFragment<DB> for SqlFilter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        render(&self.filter, self.table.as_deref(), &mut out)
    }
}

impl QueryFragment<MultiBackend> for SqlFilter {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

impl QueryId for SqlFilter {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Expression for SqlFilter {
    type SqlType = sql_types::Bool;
}

impl<QS> AppearsOnTable<QS> for SqlFilter {}

impl<QS> SelectableExpression<QS> for SqlFilter {}

impl ValidGrouping<()> for SqlFilter {
    type IsAggregate = is_aggregate::Never;
}

fn render<'b, DB: Dialect>(
    filter: &'b Filter,
    table: Option<&'b str>,
    out: &mut AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    match filter {
        Filter::True => out.push_sql("1=1"),
        Filter::False => out.push_sql("1=0"),
        Filter::And(children) | Filter::Or(children) => {
            let sep = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            out.push_sql("(");
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    out.push_sql(sep);
                }
                render(child, table, out)?;
            }
            out.push_sql(")");
        }
        Filter::Not(inner) => {
            out.push_sql("NOT (");
            render(inner, table, out)?;
            out.push_sql(")");
        }
        Filter::Scoped(inner) => render(inner, table, out)?,
        Filter::Test(test) => render_test(test, table, out)?,
    }
    Ok(())
}

fn render_test<'b, DB: Dialect>(
    test: &'b Test,
    table: Option<&'b str>,
    out: &mut AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    let text = test.ty == ColumnType::Text;
    let ordering = matches!(test.kind, TestKind::Compare(..) | TestKind::Between(..));
    if text && DB::BACKEND == Backend::Mysql && !matches!(test.kind, TestKind::IsNull) {
        out.push_sql("BINARY ");
    }
    if let Some(table) = table {
        out.push_identifier(table)?;
        out.push_sql(".");
    }
    out.push_identifier(&test.column)?;
    if text && ordering && DB::BACKEND == Backend::Postgres {
        out.push_sql(" COLLATE \"C\"");
    }
    match &test.kind {
        TestKind::IsNull => out.push_sql(" IS NULL"),
        TestKind::In(ops) if ops.len() == 1 => {
            out.push_sql(" = ");
            push_operand(&ops[0], test.ty, out)?;
        }
        TestKind::In(ops) => {
            if ops.len() > CACHEABLE_IN_LIST {
                out.unsafe_to_cache_prepared();
            }
            out.push_sql(" IN (");
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                push_operand(op, test.ty, out)?;
            }
            out.push_sql(")");
        }
        TestKind::Compare(op, x) => {
            out.push_sql(" ");
            out.push_sql(op.sql());
            out.push_sql(" ");
            push_operand(x, test.ty, out)?;
        }
        TestKind::Between(lo, hi) => {
            out.push_sql(" BETWEEN ");
            push_operand(lo, test.ty, out)?;
            out.push_sql(" AND ");
            push_operand(hi, test.ty, out)?;
        }
        TestKind::Like(pattern) => {
            if DB::BACKEND == Backend::Sqlite {
                out.push_sql(" GLOB ");
                DB::push_text(out, pattern.glob())?;
            } else {
                out.push_sql(" LIKE ");
                DB::push_text(out, pattern.like())?;
                out.push_sql(" ESCAPE '");
                out.push_sql(LIKE_ESCAPE.encode_utf8(&mut [0; 4]));
                out.push_sql("'");
            }
        }
    }
    Ok(())
}

fn push_operand<'b, DB: Dialect>(
    op: &'b Operand,
    ty: ColumnType,
    out: &mut AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    let Operand::Value(value) = op else {
        return Err(DieselError::QueryBuilderError(
            format!("rowguard: {op} was not resolved before rendering").into(),
        ));
    };
    if ty == ColumnType::Uuid && DB::BACKEND == Backend::Postgres {
        out.push_sql("CAST(");
        DB::push_value(out, value)?;
        out.push_sql(" AS uuid)");
        return Ok(());
    }
    DB::push_value(out, value)
}
