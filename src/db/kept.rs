//! A guarded `UPDATE` kept prepared, where Diesel's own would be prepared anew each time.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::result::{EmptyChangeset, Error as DieselError};
use diesel::QueryResult;

use crate::rules::SqlFilter;

/// `UPDATE <table> SET <changeset> WHERE <filter>`: what `diesel::update(table.filter(f))
/// .set(row)` renders, as a statement the connection keeps prepared, keyed by its SQL text.
///
/// Diesel prepares every `UPDATE` anew: a changeset may leave out `None` fields, so one
/// query type can stand for several SQL texts, and Diesel keys statements by type where it
/// can. Here the key is always the SQL text and its bind types, which tells those apart, so
/// the statement is safe to keep. That saves SQLite's parse, PostgreSQL's parse and plan and
/// MySQL's prepare round trip on every guarded update. What the filter cannot keep (a long
/// `IN` list, a statement per length) is still prepared per call. The changeset is the
/// model's own typed one (`AsChangeset`); `new` does not check that it belongs to the table,
/// which is why this is for `authorizable!`'s generated code (it checks), not for direct use.
///
/// ```
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, body -> Text } }
/// use diesel::query_source::QuerySource;
/// use rowguard::db::KeptUpdate;
/// use rowguard::rules::{Filter, SqlFilter};
///
/// let mut conn = diesel::SqliteConnection::establish(":memory:")?;
/// diesel::sql_query("CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
///     .execute(&mut conn)?;
/// diesel::sql_query("INSERT INTO notes VALUES (1, 'old')").execute(&mut conn)?;
/// let update = KeptUpdate::new(
///     notes::table.from_clause(),
///     notes::body.eq("new").as_changeset(),
///     SqlFilter::new(Some("notes"), Filter::True),
/// );
/// assert_eq!(update.execute(&mut conn)?, 1);
/// assert_eq!(notes::table.select(notes::body).first::<String>(&mut conn)?, "new");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(hidden)]
#[derive(Debug)]
pub struct KeptUpdate<F, V> {
    from: F,
    values: V,
    filter: SqlFilter,
}

impl<F, V> KeptUpdate<F, V> {
    /// `UPDATE from SET values WHERE filter`.
    pub fn new(from: F, values: V, filter: SqlFilter) -> Self {
        Self {
            from,
            values,
            filter,
        }
    }
}

impl<F, V, DB> QueryFragment<DB> for KeptUpdate<F, V>
where
    DB: Backend,
    F: QueryFragment<DB>,
    V: QueryFragment<DB>,
    SqlFilter: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // As Diesel's own UPDATE: nothing to set is an error, not `UPDATE t SET WHERE …`.
        if self.values.is_noop(out.backend())? {
            return Err(DieselError::QueryBuilderError(Box::new(EmptyChangeset)));
        }
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.values.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// Keyed by the SQL text (and bind types), never by type: see [`KeptUpdate`].
impl<F, V> QueryId for KeptUpdate<F, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<F, V, Conn> RunQueryDsl<Conn> for KeptUpdate<F, V> {}
