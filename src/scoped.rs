//! The read query a guard hands out ([`Scoped`]): the subject's read rule is fixed in its
//! `WHERE`, and it offers only what narrows, orders, pages, projects or counts. There is no
//! `or_filter`, no `union`, and no way back to the unrestricted query, so no chain of calls on
//! it can return a row outside the rule.

use diesel::backend::Backend;
use diesel::dsl::CountStar;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::methods::{
    DistinctDsl, FilterDsl, LimitDsl, OffsetDsl, OrderDsl, SelectDsl, ThenOrderDsl,
};
use diesel::query_dsl::LoadQuery;
use diesel::{Connection, QueryResult, RunQueryDsl};
use std::marker::PhantomData;

use crate::db::AsConnection;
use crate::guard::ReadMask;
use crate::AnyConnection;

/// A read query restricted by the subject's read rule ([`Guard::read`](crate::Guard::read)),
/// run on the guard's connection type `C`.
///
/// Every method that adds a condition ANDs it to the rule: `filter` narrows, it never widens.
/// Methods that would widen the result (`or_filter`, `union`, joins that replace the
/// `WHERE`) do not exist on this type, and the inner query is never handed out.
///
/// ```
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// # rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
/// # use rowguard::{Authorizer, Config, Subject};
/// # let db = rowguard::testing::TestDatabase::migrated(rowguard::Backend::Sqlite)?;
/// # let mut conn = db.connect()?;
/// # diesel::sql_query("CREATE TABLE notes (id BIGINT PRIMARY KEY, owner_id BIGINT NOT NULL, body TEXT NOT NULL)").execute(&mut conn)?;
/// # diesel::sql_query("INSERT INTO notes VALUES (1, 7, 'a'), (2, 7, 'b'), (3, 8, 'c')").execute(&mut conn)?;
/// let auth = Authorizer::new(Config::default());
/// auth.register::<Note>(&mut conn)?;
/// rowguard::store::put_rule(&mut conn, "id", "7", "notes", r#"{"read":{"search":{"owner_id":"=$subject.id"}}}"#)?;
/// let guard = auth.guard(Subject::new().with_set("id", [7]).with_attribute("id", 7));
///
/// // The caller's filter is ANDed to the rule: note 3 (owner 8) never comes back.
/// let ids: Vec<i64> = guard
///     .read::<Note>(&mut conn)?
///     .filter(notes::id.eq(1).or(notes::id.eq(3)))
///     .select(notes::id)
///     .order(notes::id)
///     .load(&mut conn)?;
/// assert_eq!(ids, [1]);
/// let visible: i64 = guard.read::<Note>(&mut conn)?.count().get_result(&mut conn)?;
/// assert_eq!(visible, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `or_filter` does not compile, so a search form cannot OR the rule away:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// # rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
/// # fn widen(guard: &rowguard::Guard, conn: &mut rowguard::AnyConnection) -> Result<Vec<Note>, Box<dyn std::error::Error>> {
/// let rows: Vec<Note> = guard.read::<Note>(conn)?.or_filter(notes::id.eq(6)).load(conn)?;
/// # Ok(rows) }
/// ```
///
/// Nor does `union` with an unrestricted query:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// # rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
/// # fn widen(guard: &rowguard::Guard, conn: &mut rowguard::AnyConnection) -> Result<Vec<Note>, Box<dyn std::error::Error>> {
/// let rows: Vec<Note> = guard.read::<Note>(conn)?.union(notes::table).load(conn)?;
/// # Ok(rows) }
/// ```
///
/// The same function with `filter` in place of `or_filter` compiles (so the failures above
/// are about the method, not the set-up):
///
/// ```no_run
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// # rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
/// # fn narrow(guard: &rowguard::Guard, conn: &mut rowguard::AnyConnection) -> Result<Vec<Note>, Box<dyn std::error::Error>> {
/// let rows: Vec<Note> = guard.read::<Note>(conn)?.filter(notes::id.eq(6)).load(conn)?;
/// # Ok(rows) }
/// ```
#[must_use = "a scoped query does nothing until it is loaded"]
pub struct Scoped<Q, C = AnyConnection> {
    /// The query as it runs: when columns are hidden from the subject, the rule and the
    /// hiding rendered in front of it (the query itself then carries no rule; see
    /// [`ReadMask`]).
    query: Masked<Q>,
    connection: PhantomData<fn(&mut C)>,
}

impl<Q, C> Scoped<Q, C> {
    /// Only the guard builds one, from a query that already carries the rule.
    pub(crate) fn new(query: Q) -> Self {
        Self {
            query: Masked::new(None, query),
            connection: PhantomData,
        }
    }

    /// Only the guard builds one: `query` on the table that `mask` puts in front of it.
    pub(crate) fn masked(query: Q, mask: ReadMask) -> Self {
        Self {
            query: Masked::new(Some(mask), query),
            connection: PhantomData,
        }
    }

    fn map<R>(self, f: impl FnOnce(Q) -> R) -> Scoped<R, C> {
        let Masked { mask, query } = self.query;
        Scoped {
            query: Masked::new(mask, f(query)),
            connection: PhantomData,
        }
    }

    /// The query as it runs: the mask (if any) in front.
    fn runnable(self) -> Masked<Q> {
        self.query
    }

    /// Adds a condition, ANDed to the rule and to earlier conditions. The condition is put
    /// in parentheses, so even raw SQL with an `OR` (`diesel::dsl::sql("a OR b")`) stays
    /// inside its own `AND` operand.
    pub fn filter<P: Expression>(
        self,
        predicate: P,
    ) -> Scoped<<Q as FilterDsl<Paren<P>>>::Output, C>
    where
        Q: FilterDsl<Paren<P>>,
    {
        self.map(|q| q.filter(Paren(predicate)))
    }

    /// Orders the rows (replacing an earlier order).
    pub fn order<O: diesel::Expression>(self, order: O) -> Scoped<Q::Output, C>
    where
        Q: OrderDsl<O>,
    {
        self.map(|q| q.order(order))
    }

    /// Alias of [`Scoped::order`], as in Diesel.
    pub fn order_by<O: diesel::Expression>(self, order: O) -> Scoped<Q::Output, C>
    where
        Q: OrderDsl<O>,
    {
        self.order(order)
    }

    /// Adds a further ordering.
    pub fn then_order_by<O: diesel::Expression>(self, order: O) -> Scoped<Q::Output, C>
    where
        Q: ThenOrderDsl<O>,
    {
        self.map(|q| q.then_order_by(order))
    }

    /// At most `limit` rows.
    pub fn limit(self, limit: i64) -> Scoped<Q::Output, C>
    where
        Q: LimitDsl,
    {
        self.map(|q| q.limit(limit))
    }

    /// Skips `offset` rows.
    pub fn offset(self, offset: i64) -> Scoped<Q::Output, C>
    where
        Q: OffsetDsl,
    {
        self.map(|q| q.offset(offset))
    }

    /// Selects columns or expressions of the visible rows (aggregates included: they are
    /// computed over the visible rows only).
    pub fn select<S: diesel::Expression>(self, selection: S) -> Scoped<Q::Output, C>
    where
        Q: SelectDsl<S>,
    {
        self.map(|q| q.select(selection))
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(self) -> Scoped<Q::Output, C>
    where
        Q: DistinctDsl,
    {
        self.map(|q| q.distinct())
    }

    /// `SELECT COUNT(*)` of the visible rows; load it with [`Scoped::get_result`] as `i64`.
    pub fn count(self) -> Scoped<Q::Output, C>
    where
        Q: SelectDsl<CountStar>,
    {
        self.map(|q| q.select(diesel::dsl::count_star()))
    }

    /// Runs the query and returns every row.
    pub fn load<'q, U>(self, conn: &mut impl AsConnection<C>) -> QueryResult<Vec<U>>
    where
        C: Connection,
        Masked<Q>: LoadQuery<'q, C, U>,
    {
        RunQueryDsl::load(self.runnable(), conn.as_connection())
    }

    /// Runs the query and returns every row (Diesel's name).
    pub fn get_results<'q, U>(self, conn: &mut impl AsConnection<C>) -> QueryResult<Vec<U>>
    where
        C: Connection,
        Masked<Q>: LoadQuery<'q, C, U>,
    {
        self.load(conn)
    }

    /// Runs the query and returns the first row; `NotFound` if there is none.
    pub fn get_result<'q, U>(self, conn: &mut impl AsConnection<C>) -> QueryResult<U>
    where
        C: Connection,
        Masked<Q>: LoadQuery<'q, C, U>,
    {
        RunQueryDsl::get_result(self.runnable(), conn.as_connection())
    }

    /// The first row (`LIMIT 1`); `NotFound` if there is none.
    pub fn first<'q, U>(self, conn: &mut impl AsConnection<C>) -> QueryResult<U>
    where
        C: Connection,
        Q: LimitDsl,
        Masked<<Q as LimitDsl>::Output>: LoadQuery<'q, C, U>,
    {
        self.limit(1).get_result(conn)
    }
}

/// The SQL of a scoped query, for your own query fragments (an `EXPLAIN` wrapper, as the
/// benchmarks use): it carries the rule (and the hiding of columns) wherever it goes.
impl<Q: QueryFragment<DB>, DB: Backend, C> QueryFragment<DB> for Scoped<Q, C>
where
    ReadMask: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }
}

impl<Q: QueryId, C> QueryId for Scoped<Q, C> {
    type QueryId = ();
    // The mask's text depends on the subject's columns.
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// A query as the guard runs it: [`ReadMask`]'s prefix, when columns are hidden, then the
/// query. Built by [`Scoped`]'s and the guard's loads; it has no other use.
#[derive(Debug)]
pub struct Masked<Q> {
    mask: Option<ReadMask>,
    query: Q,
}

impl<Q> Masked<Q> {
    /// `query` with `mask` in front (none: the query as it is). For
    /// [`authorizable!`](crate::authorizable)'s generated loads.
    #[doc(hidden)]
    pub fn new(mask: Option<ReadMask>, query: Q) -> Self {
        Self { mask, query }
    }
}

impl<Q: Query> Query for Masked<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Masked<Q>
where
    ReadMask: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if let Some(mask) = &self.mask {
            mask.walk_ast(pass.reborrow())?;
        }
        self.query.walk_ast(pass)
    }
}

impl<Q> QueryId for Masked<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, C> RunQueryDsl<C> for Masked<Q> {}

/// An expression in parentheses: how [`Scoped::filter`] keeps a caller's condition inside its
/// own operand of the `AND` with the rule, whatever SQL the condition renders.
#[derive(Debug, Clone, Copy)]
pub struct Paren<P>(P);

impl<P: Expression> Expression for Paren<P> {
    type SqlType = P::SqlType;
}

impl<P: AppearsOnTable<QS> + Expression, QS> AppearsOnTable<QS> for Paren<P> {}

impl<P: SelectableExpression<QS> + Expression, QS> SelectableExpression<QS> for Paren<P> {}

impl<P: ValidGrouping<G>, G> ValidGrouping<G> for Paren<P> {
    type IsAggregate = P::IsAggregate;
}

impl<P: QueryId> QueryId for Paren<P> {
    type QueryId = Paren<P::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = P::HAS_STATIC_QUERY_ID;
}

impl<P: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Paren<P> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}
