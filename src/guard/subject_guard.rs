//! The [`Guard`]: the authorizer bound to one subject, with scoped reads and checked writes.
//!
//! Why about 600 lines: two fifths are the runnable examples of its public methods; the
//! rest is one read and six write paths that share private helpers (refusal, re-check).

use std::borrow::Cow;
use std::sync::Arc;

use std::fmt;
use std::marker::PhantomData;

use super::access::{Bypass, Declared};
use super::authorizer::{resolved, Authorizer, Question};
use super::columns::{ColumnUpdate, Projection, ReadMask};
use super::decision::{Made, Seen};
use super::explain::Explanation;
use super::relations::{failed_target, target_refusal, usable_checks, ForeignKeyCheck};
use crate::db::{AsConnection, GuardConnection};
use crate::decisions::Kind;
use crate::error::Error;
use crate::model::{Authorizable, ModelQueries};
use crate::rules::{
    compile_document, ColumnAccess, ColumnType, Filter, Operand, Right, Row, SqlFilter, Test,
    TestKind, Value,
};
use crate::scoped::Scoped;
use crate::{AnyConnection, Subject};

/// The authorizer bound to one subject: every read it builds and every write it makes is
/// limited by that subject's rules.
///
/// `C` is the application's connection type (any [`GuardConnection`]: `PgConnection`,
/// `SqliteConnection`, `MysqlConnection`, [`AnyConnection`]), inferred from the first call
/// that passes a connection; read queries come back in that connection's own query types.
pub struct Guard<C = AnyConnection> {
    pub(super) auth: Authorizer,
    /// Shared with the decision log's records (which never copy it).
    pub(super) subject: Arc<Subject>,
    pub(super) bypass: Option<Bypass>,
    pub(super) connection: PhantomData<fn(&mut C)>,
}

impl<C> Clone for Guard<C> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            subject: self.subject.clone(),
            bypass: self.bypass,
            connection: PhantomData,
        }
    }
}

impl<C> fmt::Debug for Guard<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("subject", &self.subject)
            .field("bypass", &self.bypass)
            .finish_non_exhaustive()
    }
}

impl<C: GuardConnection> Guard<C> {
    /// The subject.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// // Never used with a connection here, so its connection type is named.
    /// let guard: rowguard::Guard = auth.guard(agent());
    /// assert_eq!(guard.subject().set("roles").collect::<Vec<_>>(), ["agent"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// This subject, `M` as declared, and `right`.
    fn question<M: Authorizable>(&self, right: Right) -> Question<'_> {
        Question {
            subject: &self.subject,
            bypass: self.bypass,
            model: M::NAME,
            declared: Some(Declared::of::<M>()),
            right,
        }
    }

    /// The resolved filter for `right` on `M` (read AND right for update/delete), compiled
    /// against `M`'s declared columns.
    fn rule<M: Authorizable>(&self, conn: &mut C, right: Right) -> Result<Arc<Filter>, Error> {
        let question = self.question::<M>(right);
        self.auth
            .decide(conn, question, Arc::new(Filter::True), resolved)
    }

    /// The filter for `right` on `M` (read AND right for update/delete), as SQL. `conn` is
    /// used only on a cache miss or a version check.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let guard = auth.guard(agent());
    /// // Update: read AND update, `$subject.id` filled in.
    /// let sql = guard.filter::<Contact>(&mut conn, Right::Update)?;
    /// assert_eq!(
    ///     sql.debug_sql(rowguard::Backend::Sqlite),
    ///     "(`contacts`.`status` = ? AND `contacts`.`owner_id` = ?) -- binds: [\"open\", 17]"
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn filter<M: Authorizable>(
        &self,
        conn: &mut impl AsConnection<C>,
        right: Right,
    ) -> Result<SqlFilter, Error> {
        self.sql_rule::<M>(conn.as_connection(), right)
    }

    /// [`Guard::filter`] on `C` itself.
    fn sql_rule<M: Authorizable>(&self, conn: &mut C, right: Right) -> Result<SqlFilter, Error> {
        let filter = self.rule::<M>(conn, right)?;
        Ok(SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), filter))
    }

    /// `SELECT * FROM M's table WHERE <read rule>`: add your own filters, order, limit or
    /// count on top (see [`Scoped`]), then load it on the same connection. Whatever is added
    /// is ANDed to the rule; nothing can widen it.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let names: Vec<String> = guard
    ///     .read::<Contact>(&mut conn)?
    ///     .filter(contacts::id.gt(1))      // ANDed to the rule
    ///     .select(contacts::name)
    ///     .load(&mut conn)?;
    /// assert_eq!(names, ["C3"]);           // 2 is closed: not readable
    /// # Ok(())
    /// # }
    /// ```
    pub fn read<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
    ) -> Result<Scoped<<M as ModelQueries<C>>::Query, C>, Error> {
        let (rule, hidden) = self.read_view::<M>(conn.as_connection())?;
        let rule = SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), rule);
        Ok(match hidden {
            None => Scoped::new(M::unguarded_query(rule)),
            // The rule runs on the real table, inside the mask; the query sees its result.
            Some(hidden) => {
                let everything = Arc::new(Filter::True);
                let open = SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), everything);
                Scoped::masked(
                    M::unguarded_query(open),
                    ReadMask::new(hidden, Cow::Borrowed(M::TABLE), rule),
                )
            }
        })
    }

    /// The read rule (variables filled in) and, when column lists hide columns from the
    /// subject, how reads hide them.
    fn read_view<M: Authorizable>(
        &self,
        conn: &mut C,
    ) -> Result<(Arc<Filter>, Option<Arc<Projection>>), Error> {
        if self.bypass.is_some() {
            return Ok((Arc::new(Filter::True), None));
        }
        let declared = Some(Declared::of::<M>());
        let attrs = self.subject.attributes();
        let (rule, hidden) =
            self.auth
                .with_access(conn, &self.subject, M::NAME, declared, |access| {
                    (
                        resolved(&access.effective[Right::Read as usize], attrs),
                        access.columns.hidden(M::NAME),
                    )
                })?;
        let hidden = hidden?;
        if hidden.is_some() {
            plain_table::<M>()?;
        }
        Ok((rule, hidden))
    }

    /// Loads `M`'s rows matching `filter`, with the hidden columns NULL.
    fn load_visible<M: ModelQueries<C>>(
        conn: &mut C,
        hidden: Option<Arc<Projection>>,
        filter: SqlFilter,
    ) -> Result<Vec<M>, Error> {
        Ok(match hidden {
            None => M::unguarded_load(conn, filter)?,
            Some(hidden) => M::unguarded_load_masked(
                conn,
                ReadMask::new(hidden, Cow::Borrowed(M::TABLE), filter),
            )?,
        })
    }

    /// Compiles an application search (rule-language JSON, e.g. `{"status":"=open"}`) on `M`.
    /// A search takes `M`'s own columns; relation conditions belong in rules (where they are
    /// protected by the related model's read rule), so one here is a validation error.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let open = guard.search::<Contact>(r#"{"status":"=open"}"#)?;
    /// assert_eq!(guard.delete_all::<Contact>(&mut conn, Some(open))?, 2);
    /// assert!(guard.search::<Contact>(r#"{"stat":"=open"}"#).is_err()); // unknown column
    /// # Ok(())
    /// # }
    /// ```
    pub fn search<M: Authorizable>(&self, search: &str) -> Result<Filter, Error> {
        let doc = format!(r#"{{"read":{{"search":{search}}}}}"#);
        compile_document(&doc, M::columns())
            .map(|c| c.filter(Right::Read).unwrap_or(Filter::False))
            .map_err(|source| Error::InvalidSearch {
                model: M::NAME.to_owned(),
                source,
            })
    }

    /// May the subject do `right` on `row`? (For update/delete: read AND right.) In memory,
    /// with no query on a cache hit, unless the answer turns on relation conditions: memory
    /// cannot see related rows, so each such condition costs one `SELECT 1 … LIMIT 1` (a
    /// rule its plain conditions already decide costs none). For create and update it also
    /// runs the foreign-key target check the write would (one lookup per non-NULL
    /// belongs-to column), so `can` says yes when the write's checks would pass — except
    /// that it cannot see a column `DEFAULT` an insert fills into a `None` foreign key.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let guard = auth.guard(agent());
    /// let two = contacts::table.find(2).first::<Contact>(&mut conn)?;
    /// assert!(!guard.can(&mut conn, Right::Read, &two)?);     // closed
    /// assert!(guard.can(&mut conn, Right::Create, &two)?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn can<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        right: Right,
        row: &M,
    ) -> Result<bool, Error> {
        let conn = conn.as_connection();
        let question = self.question::<M>(right);
        // A row read under a column list carries NULL where columns are hidden; the rule is
        // decided on their stored values (what a write keeps), read by key, never handed out.
        if let Some(readable) = self.hidden_tested::<M>(conn, right)? {
            let everything = Arc::new(Filter::True);
            if let Some(stored) = M::unguarded_load(conn, at_key::<M>(&everything, &row.key()))?
                .into_iter()
                .next()
            {
                let patched = Patched {
                    row,
                    stored: stored.values(),
                    readable,
                };
                return self
                    .auth
                    .decide_row(conn, question, Some(&self.subject), &patched);
            }
        }
        self.auth
            .decide_row(conn, question, Some(&self.subject), row)
    }

    /// The columns the subject may read, when `right`'s rule tests one it may not (and
    /// `right` acts on stored rows); else `None`.
    fn hidden_tested<M: Authorizable>(
        &self,
        conn: &mut C,
        right: Right,
    ) -> Result<Option<ColumnAccess>, Error> {
        if self.bypass.is_some() || right == Right::Create {
            return Ok(None);
        }
        let declared = Some(Declared::of::<M>());
        self.auth
            .with_access(conn, &self.subject, M::NAME, declared, |access| {
                let readable = access.columns.access(Right::Read);
                let filter = &access.effective[right as usize];
                (*readable != ColumnAccess::All
                    && filter.tests_any_column(&|i| !readable.includes(i)))
                .then(|| readable.clone())
            })
    }

    /// The row with primary key `key`, if the subject may read it.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// assert_eq!(guard.find::<Contact>(&mut conn, 1)?.name, "C1");
    /// assert!(matches!(
    ///     guard.find::<Contact>(&mut conn, 2),
    ///     Err(rowguard::Error::NotFound { .. })
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub fn find<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        key: impl Into<Value>,
    ) -> Result<M, Error> {
        let conn = conn.as_connection();
        let key = key.into();
        let (rule, hidden) = self.read_view::<M>(conn)?;
        Self::load_visible::<M>(conn, hidden, at_key::<M>(&rule, &key))?
            .into_iter()
            .next()
            .ok_or_else(|| not_found::<M>(&key))
    }

    /// Every row the subject may read, narrowed by an optional `search` (see
    /// [`Guard::search`]), in primary key order. The row-level twin of [`Guard::read`]: it
    /// needs no Diesel bounds, so code generic over the connection type can list rows.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let open: Vec<Contact> = guard.load_all(&mut conn, None)?;
    /// assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 3]); // 2 is closed
    /// let named = guard.search::<Contact>(r#"{"name":"=C3"}"#)?;
    /// assert_eq!(guard.load_all::<Contact>(&mut conn, Some(named))?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_all<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        search: Option<Filter>,
    ) -> Result<Vec<M>, Error> {
        let conn = conn.as_connection();
        plain_search::<M>(&search)?;
        self.readable_search::<M>(conn, &search)?;
        let (rule, hidden) = self.read_view::<M>(conn)?;
        Self::load_visible::<M>(conn, hidden, restrict::<M>(&rule, search))
    }

    /// Inserts `row` if the create rule accepts it (search conditions included).
    ///
    /// When a rule column is `None` in `row`, the database may store something else (Diesel
    /// inserts `DEFAULT` for it), so the stored row is checked again in SQL in the same
    /// transaction and a refusal rolls the insert back.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let ada = Contact { id: 4, name: "Ada".into(), status: "open".into(), owner_id: 17 };
    /// guard.insert(&mut conn, &ada)?;
    /// // Without a create rule: refused, nothing written.
    /// let nobody = auth.guard(rowguard::Subject::new());
    /// let bob = Contact { id: 5, name: "Bob".into(), ..ada };
    /// assert!(matches!(nobody.insert(&mut conn, &bob), Err(rowguard::Error::Forbidden { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn insert<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        row: &M,
    ) -> Result<(), Error> {
        let conn = conn.as_connection();
        let result = self.insert_unlogged(conn, row);
        self.note_write(
            conn,
            Right::Create,
            Some(row.key()),
            Some(row),
            &result,
            |_| 1,
        );
        result
    }

    fn insert_unlogged<M: ModelQueries<C>>(&self, conn: &mut C, row: &M) -> Result<(), Error> {
        let (rule, columns, targets) = self.insert_plan::<M>(conn)?;
        if let Some(columns) = &columns {
            // A column the subject may not set must be left to the database (NULL here).
            if let Some(i) = (0..M::columns().len())
                .find(|&i| !columns.writable.includes(i) && !row.cell(i).is_null())
            {
                return Err(forbidden_column::<M>(Right::Create, i));
            }
        }
        // A NULL integer key is the database's to generate, and the columns the subject may
        // not set get their DEFAULT: only the stored row can tell what they hold.
        let key = M::columns().get(M::PRIMARY_KEY);
        let integer_key = matches!(
            key.map(|(_, t)| t),
            Some(ColumnType::Integer | ColumnType::Bigint)
        );
        let generated = (integer_key && row.key().is_null())
            .then(|| key.map(|(i, _)| i))
            .flatten();
        let unknowable =
            |i| Some(i) == generated || columns.as_ref().is_some_and(|c| !c.writable.includes(i));
        let attrs = self.subject.attributes();
        let mut undecided = precheck(&rule, attrs, row, &unknowable)
            .ok_or_else(|| forbidden::<M>(Right::Create))?;
        let mut recheck = undecided || stored_may_differ(row, &rule);
        let mut bound = None;
        if recheck && rule.has_vars() {
            // Asked of the unresolved rule, both questions also see the columns of conditions
            // whose variable cannot be filled in, which resolving makes false: ask the
            // resolved rule, so that such an insert is refused here, never written and
            // rolled back.
            let resolved = bound.insert(resolved(&rule, attrs));
            undecided = precheck(resolved, attrs, row, &unknowable)
                .ok_or_else(|| forbidden::<M>(Right::Create))?;
            recheck = undecided || stored_may_differ(row, resolved);
        }
        // A NULL foreign key in the struct may be stored as the column's DEFAULT: the stored
        // row is checked too, where it can be found (its key is set, or an integer the
        // database generates).
        let defaulted = (!row.key().is_null() || integer_key)
            && targets
                .iter()
                .any(|t| row.value(t.relation.local_index).is_null());
        let write = |conn: &mut C| -> Result<(), Error> {
            self.check_targets::<M>(conn, Right::Create, row, &targets)?;
            row.unguarded_insert(conn)?;
            if recheck || defaulted {
                // A key the database generates is found as the connection's last insert id.
                let key = match row.key() {
                    Value::Null => Value::Int(crate::db::last_insert_id(conn)?),
                    key => key,
                };
                if recheck {
                    let rule = bound.clone().unwrap_or_else(|| resolved(&rule, attrs));
                    if M::unguarded_load(conn, at_key::<M>(&rule, &key))?.is_empty() {
                        return Err(forbidden::<M>(Right::Create));
                    }
                }
                if defaulted {
                    let everything = Arc::new(Filter::True);
                    let stored = M::unguarded_load(conn, at_key::<M>(&everything, &key))?;
                    // Not found (a key the connection cannot report): refused, not passed.
                    let [stored] = stored.as_slice() else {
                        return Err(forbidden::<M>(Right::Create));
                    };
                    self.check_targets::<M>(conn, Right::Create, stored, &targets)?;
                }
            }
            Ok(())
        };
        in_transaction_if(conn, recheck || !targets.is_empty(), write)
    }

    /// Saves `row` (by primary key) if the subject may read and update the stored row, and
    /// the row as stored afterwards still satisfies the same filter (read AND update).
    ///
    /// The new values are checked in memory first. When the struct may not be what gets
    /// stored (a rule column whose value is `None`: Diesel's `AsChangeset` skips such
    /// fields unless the model uses `treat_none_as_null`), the stored row is checked again
    /// in SQL in the same transaction, and a refusal rolls the write back.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let mut one = guard.find::<Contact>(&mut conn, 1)?;
    /// one.name = "Ada".into();
    /// guard.update(&mut conn, &one)?;
    /// // Another owner's contact: the agent may read it but not change it.
    /// let mut three = guard.find::<Contact>(&mut conn, 3)?;
    /// three.owner_id = 99;
    /// assert!(matches!(guard.update(&mut conn, &three), Err(rowguard::Error::Forbidden { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn update<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        row: &M,
    ) -> Result<(), Error> {
        let conn = conn.as_connection();
        let result = self.update_unlogged(conn, row);
        self.note_write(
            conn,
            Right::Update,
            Some(row.key()),
            Some(row),
            &result,
            |_| 1,
        );
        result
    }

    fn update_unlogged<M: ModelQueries<C>>(&self, conn: &mut C, row: &M) -> Result<(), Error> {
        writable::<M>(Right::Update)?;
        let key = row.key();
        let rule = self.rule::<M>(conn, Right::Update)?;
        let columns = self.write_columns::<M>(conn, Right::Update)?;
        if let Some(columns) = &columns {
            columns.check_hidden(row)?;
        }
        // A hidden column keeps its stored value, which the row does not carry: a rule on it
        // is decided in SQL, on the row as stored.
        let unknowable = |i| columns.as_ref().is_some_and(|c| !c.readable.includes(i));
        let Some(undecided) = precheck(&rule, self.subject.attributes(), row, &unknowable) else {
            return Err(self.refusal::<M>(conn, &key, Right::Update));
        };
        let recheck = undecided || stored_may_differ(row, &rule);
        let targets = self.foreign_keys::<M>(conn)?;
        let write = |conn: &mut C| -> Result<(), Error> {
            self.check_targets::<M>(conn, Right::Update, row, &targets)?;
            if write_row(conn, row, &rule, columns.as_ref())? == 0 {
                if let Some(columns) = &columns {
                    columns.changed_readonly(conn, row, &rule)?;
                }
                return Err(self.refusal::<M>(conn, &key, Right::Update));
            }
            if recheck && M::unguarded_load(conn, at_key::<M>(&rule, &key))?.is_empty() {
                return Err(forbidden::<M>(Right::Update));
            }
            Ok(())
        };
        let transactional = recheck || !targets.is_empty() || columns.is_some();
        in_transaction_if(conn, transactional, write)
    }

    /// Deletes the row with primary key `key` if the subject may read and delete it.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// guard.delete::<Contact>(&mut conn, 1)?;
    /// // Closed contacts cannot be read, so their existence is not revealed.
    /// assert!(matches!(
    ///     guard.delete::<Contact>(&mut conn, 2),
    ///     Err(rowguard::Error::NotFound { .. })
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        key: impl Into<Value>,
    ) -> Result<(), Error> {
        let conn = conn.as_connection();
        let key = key.into();
        let result = self.delete_unlogged::<M>(conn, &key);
        self.note_write::<M, _>(conn, Right::Delete, Some(key), None, &result, |_| 1);
        result
    }

    fn delete_unlogged<M: ModelQueries<C>>(&self, conn: &mut C, key: &Value) -> Result<(), Error> {
        writable::<M>(Right::Delete)?;
        let key = key.clone();
        let rule = self.rule::<M>(conn, Right::Delete)?;
        if M::unguarded_delete(conn, at_key::<M>(&rule, &key))? == 0 {
            return Err(self.refusal::<M>(conn, &key, Right::Delete));
        }
        Ok(())
    }

    /// Bulk update, in one transaction: every row matching `search` (or all) that the
    /// subject may read and update is changed by `change`. Nothing is written, and the
    /// result is an error, if `change` changes a primary key (`KeyChanged`), a changed row
    /// would leave the update rule (`Forbidden`), or a row vanished or left the rule meanwhile
    /// (`RowChanged`). Returns the number of rows written. If `change` panics, the
    /// transaction is rolled back before the panic goes on, so the connection never stays
    /// inside it (inside a transaction of yours, only this call's savepoint is rolled back;
    /// with `panic = "abort"` the process ends and the database rolls back on disconnect).
    ///
    /// Like any read-modify-write, the rows are loaded and then written: under PostgreSQL's
    /// READ COMMITTED (and MySQL's UPDATE, which reads the latest row), another session's
    /// change committed in between to a column that keeps the row inside the rule is
    /// overwritten with the values `change` saw. Run it inside your own `SERIALIZABLE` or
    /// `REPEATABLE READ` (PostgreSQL) transaction when that matters.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// let written = guard.update_all::<Contact>(&mut conn, None, |c| c.name.push('!'))?;
    /// assert_eq!(written, 2); // the open ones
    /// // A change that would leave the update rule: nothing is written.
    /// let moved = guard.update_all::<Contact>(&mut conn, None, |c| c.owner_id = 99);
    /// assert!(matches!(moved, Err(rowguard::Error::Forbidden { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_all<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        search: Option<Filter>,
        change: impl FnMut(&mut M),
    ) -> Result<usize, Error> {
        let conn = conn.as_connection();
        let result = self.update_all_unlogged(conn, search, change);
        self.note_write::<M, _>(conn, Right::Update, None, None, &result, |n| *n as u64);
        result
    }

    fn update_all_unlogged<M: ModelQueries<C>>(
        &self,
        conn: &mut C,
        search: Option<Filter>,
        mut change: impl FnMut(&mut M),
    ) -> Result<usize, Error> {
        writable::<M>(Right::Update)?;
        plain_search::<M>(&search)?;
        self.readable_search::<M>(conn, &search)?;
        let rule = self.rule::<M>(conn, Right::Update)?;
        let targets = self.foreign_keys::<M>(conn)?;
        let columns = self.write_columns::<M>(conn, Right::Update)?;
        let unknowable = |i| columns.as_ref().is_some_and(|c| !c.readable.includes(i));
        // The rows as the subject may see them: `change` never meets a hidden value.
        let (_, hidden) = self.read_view::<M>(conn)?;
        let mut panicked = None;
        let written = conn.transaction(|conn| {
            writing(conn)?;
            let mut rows = Self::load_visible::<M>(conn, hidden, restrict::<M>(&rule, search))?;
            let mut recheck = false;
            for row in &mut rows {
                let key = row.key();
                let before = columns.as_ref().map(|_| row.values());
                let changed =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change(row)));
                if let Err(payload) = changed {
                    panicked = Some(payload);
                    // Any error rolls back; this one is never seen (the panic resumes).
                    return Err(forbidden::<M>(Right::Update));
                }
                if row.key() != key {
                    return Err(Error::KeyChanged {
                        model: M::NAME.to_owned(),
                        key: key.to_string(),
                    });
                }
                if let (Some(columns), Some(before)) = (&columns, &before) {
                    columns.check_hidden(row)?;
                    columns.check_unchanged(before, row)?;
                }
                let undecided = precheck(&rule, self.subject.attributes(), row, &unknowable)
                    .ok_or_else(|| forbidden::<M>(Right::Update))?;
                recheck |= undecided || stored_may_differ(row, &rule);
            }
            for row in &rows {
                let key = row.key();
                self.check_targets::<M>(conn, Right::Update, row, &targets)?;
                if write_row(conn, row, &rule, columns.as_ref())? != 1 {
                    return Err(Error::RowChanged {
                        model: M::NAME.to_owned(),
                        key: key.to_string(),
                    });
                }
                if recheck && M::unguarded_load(conn, at_key::<M>(&rule, &key))?.is_empty() {
                    return Err(forbidden::<M>(Right::Update));
                }
            }
            // Each row was written exactly once, or nothing was.
            Ok(rows.len())
        });
        if let Some(payload) = panicked {
            std::panic::resume_unwind(payload);
        }
        written
    }

    /// Bulk delete of the rows matching `search` (or all) that the subject may read and
    /// delete, in one statement. Returns the number deleted.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// assert_eq!(guard.delete_all::<Contact>(&mut conn, None)?, 2);
    /// assert_eq!(contacts::table.count().get_result::<i64>(&mut conn)?, 1); // the closed one
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_all<M: ModelQueries<C>>(
        &self,
        conn: &mut impl AsConnection<C>,
        search: Option<Filter>,
    ) -> Result<usize, Error> {
        let conn = conn.as_connection();
        let result = self.delete_all_unlogged::<M>(conn, search);
        self.note_write::<M, _>(conn, Right::Delete, None, None, &result, |n| *n as u64);
        result
    }

    fn delete_all_unlogged<M: ModelQueries<C>>(
        &self,
        conn: &mut C,
        search: Option<Filter>,
    ) -> Result<usize, Error> {
        writable::<M>(Right::Delete)?;
        plain_search::<M>(&search)?;
        self.readable_search::<M>(conn, &search)?;
        let rule = self.rule::<M>(conn, Right::Delete)?;
        Ok(M::unguarded_delete(conn, restrict::<M>(&rule, search))?)
    }

    /// Explains the decision for `right` on `M`.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let guard = auth.guard(agent());
    /// let text = guard.explain::<Contact>(&mut conn, Right::Read)?.to_string();
    /// assert!(text.contains(r#"roles "agent""#), "{text}");
    /// assert!(text.contains("SQL: WHERE `contacts`.`status` = ?"), "{text}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn explain<M: Authorizable>(
        &self,
        conn: &mut impl AsConnection<C>,
        right: Right,
    ) -> Result<Explanation, Error> {
        let conn = conn.as_connection();
        self.auth.explain(conn, &self.subject, M::NAME, right)
    }

    /// Whether the subject may write each of `columns` of `M` for `right`: create sets a
    /// column, update changes it (a column it may also read). For code that writes chosen
    /// columns itself (as killing a job does); [`Guard::insert`] and [`Guard::update`] check
    /// their rows on their own. `Err(ForbiddenColumn)` names the first that is not allowed.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// rowguard::store::put_rule(&mut conn, "roles", "agent", "contacts",
    ///     r#"{"read":"*","update":"*","columns":{"update":["status"]}}"#)?;
    /// auth.invalidate();
    /// let guard = auth.guard(agent());
    /// guard.check_columns::<Contact>(&mut conn, Right::Update, &["status"])?;
    /// let err = guard.check_columns::<Contact>(&mut conn, Right::Update, &["status", "name"]).unwrap_err();
    /// assert_eq!(err.to_string(), "forbidden: update on contacts: the subject may not write column name");
    /// # Ok(())
    /// # }
    /// ```
    pub fn check_columns<M: Authorizable>(
        &self,
        conn: &mut impl AsConnection<C>,
        right: Right,
        columns: &[&str],
    ) -> Result<(), Error> {
        let conn = conn.as_connection();
        let Some(allowed) = self.write_columns::<M>(conn, right)? else {
            return Ok(());
        };
        for name in columns {
            let index = M::columns().get(name).map(|(i, _)| i);
            if !index.is_some_and(|i| allowed.writable.includes(i)) {
                let refused = Error::ForbiddenColumn {
                    action: right,
                    model: M::NAME.to_owned(),
                    column: (*name).to_owned(),
                };
                if let Some((log, sampled)) = self.auth.log_takes(right, false) {
                    let made = Made {
                        question: self.question::<M>(right),
                        shared: Some(&self.subject),
                        access: None,
                        kind: Kind::Check,
                        key: None,
                        allowed: false,
                        stated: Some(refused.to_string()),
                        hidden: false,
                        count: 1,
                    };
                    self.auth
                        .record::<[Value]>(conn, log, sampled, made, Seen::Database);
                }
                return Err(refused);
            }
        }
        Ok(())
    }

    /// An application search may test only columns the subject may read: one on a hidden
    /// column would tell which rows hold which hidden values.
    fn readable_search<M: Authorizable>(
        &self,
        conn: &mut C,
        search: &Option<Filter>,
    ) -> Result<(), Error> {
        let Some(search) = search else {
            return Ok(());
        };
        if self.bypass.is_some() {
            return Ok(());
        }
        let declared = Some(Declared::of::<M>());
        let readable = self
            .auth
            .with_access(conn, &self.subject, M::NAME, declared, |access| {
                access.columns.access(Right::Read).clone()
            })?;
        match (0..M::columns().len())
            .find(|&i| !readable.includes(i) && search.tests_any_column(&|j| j == i))
        {
            Some(i) => Err(Error::InvalidSearch {
                model: M::NAME.to_owned(),
                source: crate::rules::RuleError::new(
                    crate::rules::RuleErrorKind::UnknownColumn,
                    M::columns().name(i),
                    "the subject may not read this column, so a search may not test it",
                ),
            }),
            None => Ok(()),
        }
    }

    /// What column lists allow a write of `right` (create or update) on `M`: `None` when no
    /// list limits it (or rules do not apply to the subject). Refused while the table has a
    /// column `M` does not declare (the write could set it unchecked).
    fn write_columns<M: Authorizable>(
        &self,
        conn: &mut C,
        right: Right,
    ) -> Result<Option<WriteColumns<M>>, Error> {
        if self.bypass.is_some() {
            return Ok(None);
        }
        let declared = Some(Declared::of::<M>());
        self.auth
            .with_access(conn, &self.subject, M::NAME, declared, |access| {
                WriteColumns::of(access, right)
            })?
    }

    /// What an insert needs from the cache, in one lookup: the create rule (its `$subject`
    /// variables not filled in: the check in memory binds them in place), the columns the
    /// subject may set, and the foreign-key target checks.
    fn insert_plan<M: Authorizable>(&self, conn: &mut C) -> Result<InsertPlan<M>, Error> {
        if self.bypass.is_some() {
            return Ok((Arc::new(Filter::True), None, Vec::new()));
        }
        let declared = Some(Declared::of::<M>());
        self.auth
            .with_access(conn, &self.subject, M::NAME, declared, |access| {
                Ok((
                    access.effective[Right::Create as usize].clone(),
                    WriteColumns::of(access, Right::Create)?,
                    usable_checks(M::NAME, access)?,
                ))
            })?
    }

    /// The foreign-key target checks of `M` (none when rules do not apply to the subject).
    fn foreign_keys<M: Authorizable>(&self, conn: &mut C) -> Result<Vec<ForeignKeyCheck>, Error> {
        if self.bypass.is_some() {
            return Ok(Vec::new());
        }
        let declared = Some(Declared::of::<M>());
        self.auth
            .with_access(conn, &self.subject, M::NAME, declared, |access| {
                usable_checks(M::NAME, access)
            })?
    }

    /// The foreign-key target check: every belongs-to column of `row` set to a non-NULL
    /// value must point at a parent row the subject has the relation's right on (`read` by
    /// default). One indexed lookup per such column.
    fn check_targets<M: Authorizable>(
        &self,
        conn: &mut C,
        action: Right,
        row: &M,
        checks: &[ForeignKeyCheck],
    ) -> Result<(), Error> {
        match failed_target(&self.auth, conn, &self.subject, checks, row)? {
            Some(check) => Err(target_refusal(action, M::NAME, check)),
            None => Ok(()),
        }
    }

    /// Hands a write's decision to the decision log, if it takes it: `result` is the write's,
    /// `count` the rows it wrote.
    fn note_write<M: ModelQueries<C>, T>(
        &self,
        conn: &mut C,
        right: Right,
        key: Option<Value>,
        row: Option<&M>,
        result: &Result<T, Error>,
        count: impl Fn(&T) -> u64,
    ) {
        let outcome = result.as_ref().map(count);
        self.note_outcome::<M>(conn, Kind::Write, right, key, row, outcome, None);
    }

    /// Hands a decision to the decision log, if it takes it. Errors that decide nothing (a
    /// database error, a key changed) are not decisions; a `NotFound` is one only when the
    /// row exists (hidden from the subject). `stated` says why when the rules did not decide
    /// (a super user's kill). Refusals are explained on the row as stored where the database
    /// refused it (a delete; an update whose new values the rules accept).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn note_outcome<M: ModelQueries<C>>(
        &self,
        conn: &mut C,
        kind: Kind,
        right: Right,
        key: Option<Value>,
        row: Option<&M>,
        outcome: Result<u64, &Error>,
        stated: Option<String>,
    ) {
        if self.auth.decision_log().is_none() {
            return;
        }
        let key = key.filter(|k| !k.is_null());
        let stored = |conn: &mut C| -> Option<M> {
            let everything = Arc::new(Filter::True);
            let key = key.as_ref()?;
            M::unguarded_load(conn, at_key::<M>(&everything, key))
                .ok()?
                .into_iter()
                .next()
        };
        let mut seen_stored: Option<M> = None;
        let (allowed, refused, hidden, count) = match outcome {
            // A bulk write that reached nothing because nothing is granted: a refusal.
            Ok(0)
                if row.is_none()
                    && key.is_none()
                    && self.auth.log_takes(right, false).is_some() =>
            {
                let nothing = self
                    .rule::<M>(conn, right)
                    .is_ok_and(|rule| *rule == Filter::False);
                (!nothing, None, false, 0)
            }
            Ok(n) => (true, None, false, n),
            Err(Error::Forbidden { .. }) => {
                if self.auth.log_takes(right, false).is_some()
                    && matches!(right, Right::Update | Right::Delete)
                {
                    let in_memory = row.is_some_and(|r| self.passes(conn, right, r));
                    if right == Right::Delete || in_memory {
                        seen_stored = stored(conn);
                    }
                }
                (false, None, false, 1)
            }
            Err(
                e @ (Error::ForbiddenColumn { .. }
                | Error::ForbiddenTarget { .. }
                | Error::UndeclaredColumn { .. }
                | Error::Immutable { .. }),
            ) => (false, Some(e.to_string()), false, 1),
            Err(Error::NotFound { .. }) => {
                // Only a row that exists was refused; asked only when denials are recorded.
                if self.auth.log_takes(right, false).is_none() {
                    return;
                }
                match stored(conn) {
                    Some(found) => {
                        seen_stored = Some(found);
                        (false, None, true, 1)
                    }
                    None => return,
                }
            }
            Err(_) => return,
        };
        let made = Made {
            question: self.question::<M>(right),
            shared: Some(&self.subject),
            access: None,
            kind,
            key,
            allowed,
            stated: stated.or(refused),
            hidden,
            count,
        };
        let seen = match (&seen_stored, row) {
            (Some(stored), _) => Seen::Row(stored),
            (None, Some(row)) => Seen::Row(row),
            (None, None) => Seen::Database,
        };
        self.auth.note(conn, made, seen);
    }

    /// Whether `row` passes `right`'s rule in memory (relations and hidden columns aside).
    fn passes<M: Authorizable>(&self, conn: &mut C, right: Right, row: &M) -> bool {
        self.rule::<M>(conn, right)
            .is_ok_and(|rule| rule.eval(row) == Some(true))
    }

    /// Why a write of the row at `key` was refused: `NotFound` when the subject may not read
    /// the row (it may not learn that the row exists), `Forbidden` otherwise.
    fn refusal<M: ModelQueries<C>>(&self, conn: &mut C, key: &Value, action: Right) -> Error {
        let readable = self
            .rule::<M>(conn, Right::Read)
            .and_then(|read| Ok(!M::unguarded_load(conn, at_key::<M>(&read, key))?.is_empty()));
        match readable {
            Ok(true) => forbidden::<M>(action),
            Ok(false) => not_found::<M>(key),
            Err(e) => e,
        }
    }
}

/// The in-memory check of a write: `None` when `rule` refuses `row`, `Some(true)` when only
/// the database can tell (relation conditions, or a test of a column in `unknowable`: the
/// write is then checked in SQL, in its transaction, on the row as stored), `Some(false)`
/// when it is accepted.
fn precheck<M: Authorizable>(
    rule: &Filter,
    attrs: &crate::rules::Attributes,
    row: &M,
    unknowable: &dyn Fn(usize) -> bool,
) -> Option<bool> {
    // A column whose value the row does not carry (hidden from the subject, or left to the
    // database's DEFAULT): memory cannot decide a rule on it.
    if rule.tests_any_column(&unknowable) {
        return Some(true);
    }
    match rule.eval_with(row, attrs) {
        Some(true) => Some(false),
        None if rule.has_relations() => Some(true),
        _ => None,
    }
}

/// An application search must not reach through relations: its `EXISTS` would not carry the
/// related model's read rule, and so could tell the subject about rows it cannot read.
fn plain_search<M: Authorizable>(search: &Option<Filter>) -> Result<(), Error> {
    if search.as_ref().is_some_and(Filter::has_relations) {
        return Err(Error::InvalidSearch {
            model: M::NAME.to_owned(),
            source: crate::rules::RuleError::new(
                crate::rules::RuleErrorKind::UnknownRelation,
                "",
                "an application search takes the model's own columns; relation conditions \
                 belong in rules, where the related model's read rule protects them",
            ),
        });
    }
    Ok(())
}

/// `Err(Immutable)` for an update or delete of an append-only model.
fn writable<M: Authorizable>(action: Right) -> Result<(), Error> {
    if M::IMMUTABLE {
        Err(Error::Immutable {
            action,
            model: M::NAME.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Whether the row as stored after a write may differ from `row` in a column `rule` looks
/// at: a `NULL` cell may be a `None` that Diesel's `AsChangeset` skips (the stored value
/// stays) or that an insert leaves to the column's default, so only SQL can tell what the
/// rule sees. Columns the rule does not test never cost the re-check.
fn stored_may_differ<M: Authorizable>(row: &M, rule: &Filter) -> bool {
    rule.tests_any_column(&|i| row.cell(i).is_null())
}

/// `rule` AND the primary key is `key`, as SQL on `M`'s table.
fn at_key<M: Authorizable>(rule: &Arc<Filter>, key: &Value) -> SqlFilter {
    restrict::<M>(rule, Some(key_filter::<M>(key)))
}

/// Runs `write` on `conn`, in a transaction when `transactional` (a refusal then rolls back
/// what `write` already wrote); otherwise as it is (one statement needs none).
fn in_transaction_if<C: GuardConnection, T>(
    conn: &mut C,
    transactional: bool,
    write: impl FnOnce(&mut C) -> Result<T, Error>,
) -> Result<T, Error> {
    if transactional {
        conn.transaction(|conn| {
            writing(conn)?;
            write(conn)
        })
    } else {
        write(conn)
    }
}

/// Takes SQLite's write lock at the start of a transaction that reads before it writes:
/// otherwise another connection's commit in between (the decision log's writer, a second
/// pool connection) fails the write at once with "database is locked", which the busy
/// timeout cannot wait out.
fn writing<C: GuardConnection>(conn: &mut C) -> Result<(), Error> {
    Ok(crate::db::lock_for_writing(conn)?)
}

/// `rule` AND `extra` (if any), as SQL on `M`'s table.
fn restrict<M: Authorizable>(rule: &Arc<Filter>, extra: Option<Filter>) -> SqlFilter {
    let sql = SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), rule.clone());
    match extra {
        Some(extra) => sql.and(extra),
        None => sql,
    }
}

fn key_filter<M: Authorizable>(key: &Value) -> Filter {
    let (index, ty) = M::columns()
        .get(M::PRIMARY_KEY)
        .unwrap_or((0, ColumnType::Bigint));
    Filter::Test(Test {
        column: Arc::from(M::PRIMARY_KEY),
        index,
        ty,
        kind: TestKind::In(vec![Operand::Value(key.clone())]),
    })
}

fn forbidden<M: Authorizable>(action: Right) -> Error {
    Error::Forbidden {
        action,
        model: M::NAME.to_owned(),
    }
}

fn not_found<M: Authorizable>(key: &Value) -> Error {
    Error::NotFound {
        model: M::NAME.to_owned(),
        key: key.to_string(),
    }
}

/// Column lists are enforced on `M`'s table by its name ([`Authorizable::TABLE`]): refused
/// when Diesel names it otherwise (a schema, `sql_name`).
fn plain_table<M: Authorizable>() -> Result<(), Error> {
    if M::__plain_table() {
        return Ok(());
    }
    Err(Error::ModelMismatch {
        model: M::NAME.to_owned(),
        detail: format!(
            "Diesel does not name its table plainly \"{}\" (a schema or sql_name), so column \
             lists cannot be enforced on it",
            M::TABLE
        ),
    })
}

fn forbidden_column<M: Authorizable>(action: Right, index: usize) -> Error {
    Error::ForbiddenColumn {
        action,
        model: M::NAME.to_owned(),
        column: M::columns().name(index).to_owned(),
    }
}

/// What column lists allow an update (or create) of `M` for the subject.
struct WriteColumns<M> {
    /// What the write may set or change (for update: only what it may also read).
    writable: ColumnAccess,
    /// What the subject may read.
    readable: ColumnAccess,
    model: PhantomData<fn() -> M>,
}

/// The create rule (unresolved), the column limits and the foreign-key checks of an insert.
type InsertPlan<M> = (Arc<Filter>, Option<WriteColumns<M>>, Vec<ForeignKeyCheck>);

impl<M: Authorizable> WriteColumns<M> {
    /// The limits `access` sets on `right` (`None`: every column).
    fn of(access: &super::ModelAccess, right: Right) -> Result<Option<Self>, Error> {
        let rights = &access.columns;
        if !rights.limits(right) {
            return Ok(None);
        }
        rights.check_declared(right, M::NAME)?;
        plain_table::<M>()?;
        Ok(Some(WriteColumns {
            writable: rights.access(right).clone(),
            readable: rights.access(Right::Read).clone(),
            model: PhantomData,
        }))
    }

    /// A column the subject may not read must come back as a read showed it: NULL.
    /// (Comparing it with the stored value would let the subject guess it.)
    fn check_hidden(&self, row: &M) -> Result<(), Error> {
        match (0..M::columns().len())
            .find(|&i| !self.readable.includes(i) && !row.cell(i).is_null())
        {
            Some(i) => Err(forbidden_column::<M>(Right::Update, i)),
            None => Ok(()),
        }
    }

    /// A column the subject may read but not change must keep its value from `before`.
    fn check_unchanged(&self, before: &[Value], row: &M) -> Result<(), Error> {
        match (0..M::columns().len()).find(|&i| {
            self.readable.includes(i)
                && !self.writable.includes(i)
                && before.get(i).map(Value::borrowed) != Some(row.cell(i))
        }) {
            Some(i) => Err(forbidden_column::<M>(Right::Update, i)),
            None => Ok(()),
        }
    }

    /// After an update matched no row: names a readable column the row would change that
    /// the subject may not, if that is why (the stored row read inside the write's
    /// transaction, never handed out).
    fn changed_readonly<C: GuardConnection>(
        &self,
        conn: &mut C,
        row: &M,
        rule: &Arc<Filter>,
    ) -> Result<(), Error>
    where
        M: ModelQueries<C>,
    {
        let stored = M::unguarded_load(conn, at_key::<M>(rule, &row.key()))?;
        match stored.first() {
            Some(stored) => self.check_unchanged(&stored.values(), row),
            None => Ok(()),
        }
    }

    /// The `SET` list (the writable columns, from `row`) and the condition that every
    /// readable column it may not change still holds `row`'s value.
    fn statement(&self, row: &M, rule: &Arc<Filter>) -> ColumnUpdate {
        let columns = M::columns();
        let mut sets = Vec::new();
        let mut unchanged = Vec::new();
        for (i, (name, ty)) in columns.iter().enumerate() {
            let value = row.cell(i).to_value();
            if self.writable.includes(i) {
                sets.push((column_name::<M>(i), ty, value));
            } else if self.readable.includes(i) {
                let kind = if value.is_null() {
                    TestKind::IsNull
                } else {
                    TestKind::In(vec![Operand::Value(value)])
                };
                unchanged.push(Filter::Test(Test {
                    column: Arc::from(name),
                    index: i,
                    ty,
                    kind,
                }));
            }
        }
        let key = key_filter::<M>(&row.key());
        let filter = Filter::And([vec![(**rule).clone(), key], unchanged].concat()).simplify();
        ColumnUpdate {
            table: M::TABLE,
            sets,
            filter: SqlFilter::new(Some(M::TABLE), filter),
        }
    }
}

/// The declared name of `M`'s column `index`, for the life of the program.
fn column_name<M: Authorizable>(index: usize) -> &'static str {
    M::columns().name(index)
}

/// Writes `row` over the stored row at its key if `rule` holds there: every field (Diesel's
/// changeset) when no column list limits the update, else only the columns it may change
/// (and only while the others it may read still hold `row`'s values). Returns the rows
/// written (0 or 1).
fn write_row<M: ModelQueries<C>, C: GuardConnection>(
    conn: &mut C,
    row: &M,
    rule: &Arc<Filter>,
    columns: Option<&WriteColumns<M>>,
) -> Result<usize, Error> {
    let Some(columns) = columns else {
        return Ok(row.unguarded_update(conn, at_key::<M>(rule, &row.key()))?);
    };
    let update = columns.statement(row, rule);
    if update.sets.is_empty() {
        // Nothing it may change: the write is a no-op where the row qualifies.
        return Ok(M::unguarded_load(conn, update.filter)?.len());
    }
    let conn: &mut dyn crate::db::StoreConnection = conn;
    Ok(crate::db::on_backend!(conn, c => diesel::RunQueryDsl::execute(update, c))?)
}

/// A row as a write would keep it: the given row's readable cells, the stored row's others.
struct Patched<'a, M> {
    row: &'a M,
    stored: Vec<Value>,
    readable: ColumnAccess,
}

impl<M: Authorizable> Row for Patched<'_, M> {
    fn value(&self, index: usize) -> crate::rules::ValueRef<'_> {
        if self.readable.includes(index) {
            self.row.cell(index)
        } else {
            self.stored
                .get(index)
                .map_or(crate::rules::ValueRef::Null, Value::borrowed)
        }
    }
}
