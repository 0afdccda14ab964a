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
//!
//! Why one file of about 640 lines: each backend's rendering sits beside the others, so a
//! change to one meaning is made for all three in one place.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use diesel::backend::Backend as DieselBackend;
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{Error as DieselError, QueryResult};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{self, HasSqlType};
use ref_cast::RefCast;

use super::filter::{Exists, Filter, Operand, Test, TestKind, LIKE_ESCAPE};
use super::{ColumnType, Value};
use crate::db::MultiBackend;
use crate::Backend;

/// IN lists longer than this are not kept in Diesel's prepared-statement cache: every length
/// is a new statement, and the cache would grow with every distinct subject. (PostgreSQL
/// binds a list as one array instead, so its statement text does not depend on the length.)
const CACHEABLE_IN_LIST: usize = 64;

/// Lists longer than this are bound as one JSON array on SQLite (`json_each`) and
/// MySQL/MariaDB (`JSON_TABLE`): one bind whatever the length, so no list meets the
/// backends' limits on bind parameters (SQLite 32,766, MySQL 65,535). Shorter lists keep
/// `IN (?, …)`, which the planners know best.
pub const LONG_LIST: usize = 1000;

/// A backend rowguard renders filters for.
pub trait Dialect: DieselBackend + Sized {
    /// Which backend this is.
    const BACKEND: Backend;

    /// Pushes `value` as a bind parameter of its SQL type.
    fn push_value<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b Value) -> QueryResult<()>;

    /// Pushes `text` as a text bind parameter.
    fn push_text<'b>(out: &mut AstPass<'_, 'b, Self>, text: &'b str) -> QueryResult<()>;

    /// Renders `column`'s membership in `list` (two or more operands) in this backend's own
    /// form, if it has one that beats `IN (?, ?, …)`; `Ok(false)` leaves it to the `IN` list.
    fn push_in_list<'b>(
        _out: &mut AstPass<'_, 'b, Self>,
        _ty: ColumnType,
        _list: &'b [Operand],
    ) -> QueryResult<bool> {
        Ok(false)
    }
}

macro_rules! dialect {
    ($db:ty, $backend:expr $(, $extra:item)*) => {
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

            $($extra)*
        }
    };
}

dialect!(
    diesel::sqlite::Sqlite,
    Backend::Sqlite,
    /// Long lists: `column IN (SELECT value FROM json_each(?))`, the list as one JSON text.
    fn push_in_list<'b>(
        out: &mut AstPass<'_, 'b, Self>,
        _ty: ColumnType,
        list: &'b [Operand],
    ) -> QueryResult<bool> {
        let Some(json) = JsonList::for_long(list) else {
            return Ok(false);
        };
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<sql_types::Text, _>(json)?;
        out.push_sql("))");
        Ok(true)
    }
);
dialect!(
    diesel::pg::Pg,
    Backend::Postgres,
    /// `column = ANY($1)` with the list as one array: one statement for every list length
    /// (what Diesel's `eq_any` renders), so it stays in the prepared-statement cache.
    fn push_in_list<'b>(
        out: &mut AstPass<'_, 'b, Self>,
        ty: ColumnType,
        list: &'b [Operand],
    ) -> QueryResult<bool> {
        let Some(element) = PgArray::element(ty, list) else {
            return Ok(false);
        };
        let array = PgArray::ref_cast(list);
        let uuid = matches!(element, PgElement::Uuid);
        out.push_sql(if uuid { " = ANY(CAST(" } else { " = ANY(" });
        match element {
            PgElement::BigInt => {
                out.push_bind_param::<sql_types::Array<sql_types::BigInt>, _>(array)?
            }
            PgElement::Double => {
                out.push_bind_param::<sql_types::Array<sql_types::Double>, _>(array)?
            }
            PgElement::Text | PgElement::Uuid => {
                out.push_bind_param::<sql_types::Array<sql_types::Text>, _>(array)?
            }
            PgElement::Bool => {
                out.push_bind_param::<sql_types::Array<sql_types::Bool>, _>(array)?
            }
            PgElement::Date => {
                out.push_bind_param::<sql_types::Array<sql_types::Date>, _>(array)?
            }
            PgElement::Timestamp => {
                out.push_bind_param::<sql_types::Array<sql_types::Timestamp>, _>(array)?
            }
        }
        out.push_sql(if uuid { " AS uuid[]))" } else { ")" });
        Ok(true)
    }
);
#[cfg(feature = "mysql")]
dialect!(
    diesel::mysql::Mysql,
    Backend::Mysql,
    /// Long lists: `column IN (SELECT v FROM JSON_TABLE(?, '$[*]' COLUMNS (v TYPE PATH '$')))`,
    /// the list as one JSON text (MySQL 8.0+, MariaDB 10.6+).
    fn push_in_list<'b>(
        out: &mut AstPass<'_, 'b, Self>,
        ty: ColumnType,
        list: &'b [Operand],
    ) -> QueryResult<bool> {
        let Some(json) = JsonList::for_long(list) else {
            return Ok(false);
        };
        let column = match ty {
            ColumnType::Integer | ColumnType::Bigint | ColumnType::Bool => "BIGINT",
            ColumnType::Float => "DOUBLE",
            ColumnType::Text | ColumnType::Uuid => "LONGTEXT",
            ColumnType::Date => "DATE",
            ColumnType::Timestamp => "DATETIME(6)",
        };
        out.push_sql(" IN (SELECT v FROM JSON_TABLE(");
        out.push_bind_param::<sql_types::Text, _>(json)?;
        out.push_sql(", '$[*]' COLUMNS (v ");
        out.push_sql(column);
        // ERROR ON ERROR: a value MySQL cannot convert fails the query, as the IN form does,
        // instead of becoming NULL.
        out.push_sql(" PATH '$' ERROR ON ERROR)) AS rowguard_list)");
        Ok(true)
    }
);

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
/// let text = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string();
/// assert_eq!(
///     text,
///     r#"(`contacts`.`id` IN (?, ?) AND `contacts`.`name` GLOB ?) -- binds: [1, 2, "A*"]"#
/// );
/// // PostgreSQL binds a list as one array: the same statement for every list length.
/// let text = diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string();
/// assert_eq!(
///     text,
///     r#"("contacts"."id" = ANY($1) AND "contacts"."name" LIKE $2 ESCAPE '!') -- binds: [[1, 2], "A%"]"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct SqlFilter {
    table: Option<Cow<'static, str>>,
    filter: Arc<Filter>,
    /// A condition ANDed to `filter` (a guarded write's key, an application's search),
    /// kept apart so that adding it never copies the cached rule.
    also: Option<Arc<Filter>>,
    /// On SQLite, name related tables `main.t` (inside a CTE that shadows a table's name,
    /// where `t` would mean the CTE).
    in_main: bool,
}

impl SqlFilter {
    /// A filter on `table`'s columns (qualified as `"table"."column"`; unqualified if `None`).
    /// Variables must already be resolved ([`Filter::resolve`]); an unresolved one is a
    /// query-building error, never a guess.
    pub fn new(table: Option<&str>, filter: Filter) -> Self {
        Self {
            table: table.map(|t| Cow::Owned(t.to_owned())),
            filter: Arc::new(filter),
            also: None,
            in_main: false,
        }
    }

    /// Like [`SqlFilter::new`], sharing an already allocated filter (a static table name
    /// costs no allocation).
    pub fn from_arc(table: Option<Cow<'static, str>>, filter: Arc<Filter>) -> Self {
        Self {
            table,
            filter,
            also: None,
            in_main: false,
        }
    }

    /// This filter AND `also`, rendered `(filter AND also)` (just `also` when the filter is
    /// `true`). Unlike building `Filter::And`, the shared filter is not copied.
    pub(crate) fn and(mut self, also: Filter) -> Self {
        let also = match self.also.take() {
            Some(before) => Filter::And(vec![(*before).clone(), also]),
            None => also,
        };
        // An empty `And`/`Or` in an application's search renders as TRUE/FALSE, not `()`.
        self.also = Some(Arc::new(also.simplify()));
        self
    }

    /// The same filter with related tables named in SQLite's `main` schema (other backends
    /// are unchanged): for use inside a CTE named like one of them.
    pub(crate) fn in_main_schema(mut self) -> Self {
        self.in_main = true;
        self
    }

    /// The whole condition rendered: the filter, AND what was added to it (a guarded
    /// write's key, an application's search). Borrowed when nothing was added.
    pub fn filter(&self) -> Cow<'_, Filter> {
        match &self.also {
            None => Cow::Borrowed(&self.filter),
            Some(also) => Cow::Owned(Filter::And(vec![(*self.filter).clone(), (**also).clone()])),
        }
    }

    /// The SQL as `backend` gets it, with the bind values after it (for explanations and
    /// logs; what runs binds them). A backend not compiled in gets the filter's own text.
    ///
    /// ```
    /// use rowguard::rules::{compile_document, ColumnType, Columns, Right, SqlFilter};
    /// use rowguard::Backend;
    ///
    /// let columns = Columns::new([("id", ColumnType::Bigint)]).unwrap();
    /// let rules = compile_document(r#"{"read":{"search":{"id":"=7"}}}"#, &columns).unwrap();
    /// let sql = SqlFilter::new(Some("t"), rules.filter(Right::Read).unwrap());
    /// assert_eq!(sql.debug_sql(Backend::Sqlite), "`t`.`id` = ? -- binds: [7]");
    /// assert_eq!(sql.debug_sql(Backend::Postgres), r#""t"."id" = $1 -- binds: [7]"#);
    /// ```
    pub fn debug_sql(&self, backend: Backend) -> String {
        match backend {
            Backend::Sqlite => diesel::debug_query::<diesel::sqlite::Sqlite, _>(self).to_string(),
            Backend::Postgres => diesel::debug_query::<diesel::pg::Pg, _>(self).to_string(),
            #[cfg(feature = "mysql")]
            Backend::Mysql => diesel::debug_query::<diesel::mysql::Mysql, _>(self).to_string(),
            #[cfg(not(feature = "mysql"))]
            Backend::Mysql => self.filter().to_string(),
        }
    }
}

impl<DB: Dialect> QueryFragment<DB> for SqlFilter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let main = self.in_main && DB::BACKEND == Backend::Sqlite;
        let table = self.table.as_deref();
        match (&*self.filter, &self.also) {
            (filter, None) => render(filter, table, 0, main, &mut out),
            (Filter::True, Some(also)) => render(also, table, 0, main, &mut out),
            (filter, Some(also)) => {
                out.push_sql("(");
                render(filter, table, 0, main, &mut out)?;
                out.push_sql(" AND ");
                render(also, table, 0, main, &mut out)?;
                out.push_sql(")");
                Ok(())
            }
        }
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

/// Renders `filter` on the rows of `table` (the alias of a related table when `depth` > 0).
fn render<'b, DB: Dialect>(
    filter: &'b Filter,
    table: Option<&str>,
    depth: usize,
    main: bool,
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
                render(child, table, depth, main, out)?;
            }
            out.push_sql(")");
        }
        Filter::Not(inner) => {
            out.push_sql("NOT (");
            render(inner, table, depth, main, out)?;
            out.push_sql(")");
        }
        Filter::Scoped(inner) => render(inner, table, depth, main, out)?,
        Filter::Test(test) => render_test(test, table, out)?,
        Filter::Exists(exists) => render_exists(exists, table, depth, main, out)?,
    }
    Ok(())
}

/// `EXISTS (SELECT 1 FROM target AS rowguard_rN WHERE rowguard_rN.fk = outer.key AND …)`:
/// always correlated on the relation's two columns, so the planner probes the key's index.
/// The alias is numbered by depth: a relation back to the same table (or a nested one) never
/// captures the outer table's name.
fn render_exists<'b, DB: Dialect>(
    exists: &'b Exists,
    table: Option<&str>,
    depth: usize,
    main: bool,
    out: &mut AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    let outer: &str = table.unwrap_or(&exists.outer_table);
    let alias = format!("rowguard_r{}", depth + 1);
    out.push_sql("EXISTS (SELECT 1 FROM ");
    if main {
        out.push_sql("main.");
    }
    out.push_identifier(&exists.target_table)?;
    out.push_sql(" AS ");
    out.push_identifier(&alias)?;
    out.push_sql(" WHERE ");
    out.push_identifier(&alias)?;
    out.push_sql(".");
    out.push_identifier(&exists.target_column)?;
    out.push_sql(" = ");
    out.push_identifier(outer)?;
    out.push_sql(".");
    out.push_identifier(&exists.local_column)?;
    if exists.filter != Filter::True {
        out.push_sql(" AND ");
        render(&exists.filter, Some(&alias), depth + 1, main, out)?;
    }
    out.push_sql(")");
    Ok(())
}

fn render_test<'b, DB: Dialect>(
    test: &'b Test,
    table: Option<&str>,
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
            if DB::push_in_list(out, test.ty, ops)? {
                return Ok(());
            }
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

/// An `IN` list bound as one PostgreSQL array. A view of the filter's own operands (no
/// copy): the bind must borrow from the filter for as long as the query does.
#[derive(RefCast)]
#[repr(transparent)]
struct PgArray([Operand]);

/// The element type a [`PgArray`] is sent as.
#[derive(Clone, Copy)]
enum PgElement {
    BigInt,
    Double,
    Text,
    /// Sent as text, cast to `uuid[]` in the SQL (as single UUIDs are).
    Uuid,
    Bool,
    Date,
    Timestamp,
}

impl PgArray {
    /// The array element type for a list of `ty` values, if every operand is a known,
    /// non-NULL value (a NULL in the list keeps the `IN` form, whose meaning is the same but
    /// is not worth a second code path).
    fn element(ty: ColumnType, list: &[Operand]) -> Option<PgElement> {
        let element = match ty {
            ColumnType::Integer | ColumnType::Bigint => PgElement::BigInt,
            ColumnType::Float => PgElement::Double,
            ColumnType::Text => PgElement::Text,
            ColumnType::Uuid => PgElement::Uuid,
            ColumnType::Bool => PgElement::Bool,
            ColumnType::Date => PgElement::Date,
            ColumnType::Timestamp => PgElement::Timestamp,
        };
        let fits = |op: &Operand| {
            matches!(
                (element, op),
                (PgElement::BigInt, Operand::Value(Value::Int(_)))
                    | (PgElement::Double, Operand::Value(Value::Float(_)))
                    | (PgElement::Text, Operand::Value(Value::Text(_)))
                    | (PgElement::Uuid, Operand::Value(Value::Uuid(_)))
                    | (PgElement::Bool, Operand::Value(Value::Bool(_)))
                    | (PgElement::Date, Operand::Value(Value::Date(_)))
                    | (PgElement::Timestamp, Operand::Value(Value::Timestamp(_)))
            )
        };
        (list.len() > 1 && list.iter().all(fits)).then_some(element)
    }

    /// PostgreSQL's binary array format: header, one dimension, then each element's length
    /// and bytes (the layout Diesel writes for `Vec<T>`).
    fn write<ST>(&self, out: &mut Output<'_, '_, Pg>) -> serialize::Result
    where
        Pg: HasSqlType<ST>,
    {
        let put_i32 = |out: &mut Output<'_, '_, Pg>, v: i32| out.write_all(&v.to_be_bytes());
        put_i32(out, 1)?; // dimensions
        put_i32(out, 0)?; // flags: no NULLs
        let oid = <Pg as HasSqlType<ST>>::metadata(out.metadata_lookup()).oid()?;
        out.write_all(&oid.to_be_bytes())?;
        put_i32(out, i32::try_from(self.0.len())?)?;
        put_i32(out, 1)?; // lower bound
        for op in &self.0 {
            match op {
                Operand::Value(Value::Int(v)) => {
                    put_i32(out, 8)?;
                    out.write_all(&v.to_be_bytes())?;
                }
                Operand::Value(Value::Float(v)) => {
                    put_i32(out, 8)?;
                    out.write_all(&v.to_be_bytes())?;
                }
                Operand::Value(Value::Text(v) | Value::Uuid(v)) => {
                    put_i32(out, i32::try_from(v.len())?)?;
                    out.write_all(v.as_bytes())?;
                }
                Operand::Value(Value::Bool(v)) => {
                    put_i32(out, 1)?;
                    out.write_all(&[u8::from(*v)])?;
                }
                Operand::Value(Value::Date(d)) => {
                    let days = d.signed_duration_since(pg_epoch().date()).num_days();
                    put_i32(out, 4)?;
                    out.write_all(&i32::try_from(days)?.to_be_bytes())?;
                }
                Operand::Value(Value::Timestamp(t)) => {
                    let micros = t
                        .signed_duration_since(pg_epoch())
                        .num_microseconds()
                        .ok_or("rowguard: timestamp out of PostgreSQL's range")?;
                    put_i32(out, 8)?;
                    out.write_all(&micros.to_be_bytes())?;
                }
                other => return Err(format!("rowguard: {other} cannot be an array element").into()),
            }
        }
        Ok(IsNull::No)
    }
}

impl fmt::Debug for PgArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, op) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{op}")?;
        }
        f.write_str("]")
    }
}

macro_rules! pg_array_to_sql {
    ($($st:ty),+) => {$(
        impl ToSql<sql_types::Array<$st>, Pg> for PgArray {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                self.write::<$st>(out)
            }
        }
    )+};
}

pg_array_to_sql!(
    sql_types::BigInt,
    sql_types::Double,
    sql_types::Text,
    sql_types::Bool,
    sql_types::Date,
    sql_types::Timestamp
);

/// PostgreSQL's epoch for dates and timestamps (2000-01-01 00:00:00).
fn pg_epoch() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// A long `IN` list bound as one JSON array text (SQLite's `json_each`, MySQL's
/// `JSON_TABLE`), written when the statement is bound: a view of the filter's own operands.
#[derive(RefCast)]
#[repr(transparent)]
struct JsonList([Operand]);

impl JsonList {
    /// The list as one JSON bind, if it is long (past [`LONG_LIST`]) and every operand is a
    /// known, non-NULL value (else the `IN` form is kept).
    fn for_long(list: &[Operand]) -> Option<&Self> {
        (list.len() > LONG_LIST
            && list
                .iter()
                .all(|op| matches!(op, Operand::Value(v) if !v.is_null())))
        .then(|| Self::ref_cast(list))
    }

    /// The JSON text. Numbers as numbers, booleans as 1/0 (how SQLite and MySQL store them),
    /// dates and timestamps as the text the backends store and parse (Diesel's SQLite
    /// format), everything else as JSON strings.
    fn json(&self, backend: Backend) -> String {
        use std::fmt::Write as _;
        // Written in place (no string per element): it is built on every execution.
        let mut json = String::with_capacity(self.0.len() * 8 + 2);
        json.push('[');
        for (i, op) in self.0.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let Operand::Value(value) = op else {
                json.push_str("null");
                continue;
            };
            match value {
                Value::Null => json.push_str("null"),
                Value::Int(v) => {
                    let _ = write!(json, "{v}");
                }
                Value::Float(v) => json.push_str(
                    &serde_json::Number::from_f64(*v)
                        .map_or_else(|| "null".into(), |n| n.to_string()),
                ),
                Value::Bool(v) => json.push(if *v { '1' } else { '0' }),
                Value::Text(v) | Value::Uuid(v) => {
                    json.push_str(&serde_json::Value::from(v.as_str()).to_string())
                }
                Value::Date(d) => {
                    let _ = write!(json, "\"{}\"", d.format("%F"));
                }
                Value::Timestamp(t) => {
                    // SQLite compares Diesel's text form ("%F %T%.f", every digit kept);
                    // MySQL binds a single timestamp truncated to microseconds, so the list
                    // is written the same way (its JSON_TABLE would round).
                    let format = if backend == Backend::Mysql {
                        "%F %T%.6f"
                    } else {
                        "%F %T%.f"
                    };
                    let _ = write!(json, "\"{}\"", t.format(format));
                }
            }
        }
        json.push(']');
        json
    }
}

impl fmt::Debug for JsonList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "json list of {} values", self.0.len())
    }
}

impl ToSql<sql_types::Text, diesel::sqlite::Sqlite> for JsonList {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::sqlite::Sqlite>) -> serialize::Result {
        out.set_value(self.json(Backend::Sqlite));
        Ok(IsNull::No)
    }
}

#[cfg(feature = "mysql")]
impl ToSql<sql_types::Text, diesel::mysql::Mysql> for JsonList {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::mysql::Mysql>) -> serialize::Result {
        out.write_all(self.json(Backend::Mysql).as_bytes())?;
        Ok(IsNull::No)
    }
}
