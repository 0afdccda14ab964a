//! Enforcement: the [`Authorizer`] (shared: pool, configuration, cache) and the [`Guard`]
//! (one subject) that scopes reads and checks writes.
//!
//! Precedence (DESIGN §10): override → absolute rights → any `"*"` → OR of searches →
//! nothing = deny.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use diesel::{sql_types, Connection, RunQueryDsl};

use crate::cache::RuleCache;
use crate::config::Config;
use crate::error::Error;
use crate::model::Authorizable;
use crate::rules::{
    compile_document, merge, Access, ColumnType, CompiledRules, Filter, KeysQuery, Merged, Operand,
    Right, Row, RuleError, SqlFilter, Test, TestKind, Value,
};
use crate::store::{self, RuleRow, StoredModel};
use crate::{AnyConnection, Backend, Subject};

/// Everything the rules say about one model for one set of subject sets.
#[derive(Debug, Clone)]
pub struct ModelAccess {
    /// The model's stored metadata.
    pub model: Arc<StoredModel>,
    /// The rule rows that apply, each with its validated rules or its error (an invalid
    /// row grants nothing: fail closed; `cargo xtask rules check` lists it).
    pub rows: Vec<(RuleRow, Result<CompiledRules, RuleError>)>,
    merged: [Merged; 4],
    /// Per right, the filter a write must pass: read AND right for update/delete.
    effective: [Arc<Filter>; 4],
}

impl ModelAccess {
    /// A copy sharing no reference count with `self`, for one thread's front cache (so
    /// cloning its `Arc`s on the hot path never touches another core's cache line).
    fn private_copy(&self) -> Self {
        Self {
            effective: self.effective.clone().map(|f| Arc::new((*f).clone())),
            ..self.clone()
        }
    }

    /// The merged access for `right`, before `$subject.*` variables are filled in.
    pub fn merged(&self, right: Right) -> &Merged {
        &self.merged[right as usize]
    }
}

/// Why a decision was made without rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// `ROWGUARD_OVERRIDE_AUTHORIZATION=true`.
    Override,
    /// The subject holds an absolute right.
    AbsoluteRights,
}

/// Stored models by name, as of a cache epoch.
type ModelsByName = Option<(u64, Arc<HashMap<String, Arc<StoredModel>>>)>;

/// Per thread: recent hits of each authorizer (by id), as private copies.
struct FrontEntry {
    epoch: u64,
    model: Box<str>,
    sets: Arc<str>,
    access: Arc<ModelAccess>,
}

/// Entries a thread keeps before starting over (its working set is a few models × subjects).
const FRONT_CAPACITY: usize = 256;

/// Hashes front-cache keys, which are already well-mixed 64-bit hashes: one multiply instead
/// of SipHash (which cost about a fifth of a hit).
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type FrontMap = HashMap<(u64, u64), FrontEntry, std::hash::BuildHasherDefault<KeyHasher>>;

thread_local! {
    static FRONT: std::cell::RefCell<FrontMap> = std::cell::RefCell::new(FrontMap::default());
}

static NEXT_AUTHORIZER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Inner {
    id: u64,
    config: Config,
    cache: RuleCache<ModelAccess>,
    models: Mutex<ModelsByName>,
}

/// Shared by the whole application: the configuration and the rule cache. It owns no
/// connection: every call uses the caller's, so it never competes with the application for
/// a pool slot. Cloning is cheap.
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Authorizer {
    /// An authorizer with `config`. With `override_authorization` it says so loudly, once.
    pub fn new(config: Config) -> Self {
        if config.override_authorization {
            let warning = "ROWGUARD_OVERRIDE_AUTHORIZATION is on: rowguard grants EVERYTHING to \
                           EVERYONE. Development only.";
            tracing::error!("{warning}");
            eprintln!("WARNING: {warning}");
        }
        Self {
            inner: Arc::new(Inner {
                id: NEXT_AUTHORIZER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                cache: RuleCache::new(config.cache_size, config.refresh_interval()),
                config,
                models: Mutex::new(None),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A guard for `subject`.
    pub fn guard(&self, subject: Subject) -> Guard {
        Guard {
            auth: self.clone(),
            bypass: self.bypass(&subject),
            subject,
        }
    }

    /// Drops every cached rule (after writing rules through rowguard; direct SQL edits are
    /// noticed through the version within the refresh interval).
    pub fn invalidate(&self) {
        self.inner.cache.invalidate();
    }

    /// Registers or updates a model's metadata from its [`Authorizable`] impl.
    pub fn register<M: Authorizable>(&self, conn: &mut AnyConnection) -> Result<(), Error> {
        store::upsert_model(conn, M::NAME, M::TABLE, M::PRIMARY_KEY, M::columns())?;
        self.invalidate();
        Ok(())
    }

    /// Why rules do not apply to `subject`, if they do not.
    pub fn bypass(&self, subject: &Subject) -> Option<Bypass> {
        if self.inner.config.override_authorization {
            return Some(Bypass::Override);
        }
        self.inner
            .config
            .absolute_rights
            .iter()
            .any(|(set_type, values)| subject.set(set_type).any(|v| values.iter().any(|a| a == v)))
            .then_some(Bypass::AbsoluteRights)
    }

    /// The sets rules are looked up by: the subject's, plus the universal role.
    fn effective_sets(&self, subject: &Subject) -> Vec<(String, Vec<String>)> {
        let mut sets: Vec<(String, Vec<String>)> = subject
            .sets()
            .map(|(t, vs)| (t.to_owned(), vs.iter().cloned().collect()))
            .collect();
        sets.push((
            "universal".into(),
            vec![self.inner.config.universal_role.clone()],
        ));
        sets
    }

    fn refresh(&self, conn: &mut AnyConnection) -> Result<(), Error> {
        if self.inner.cache.version_check_due() {
            let version = store::state_version(conn)?;
            self.inner.cache.observe_version(version);
        }
        Ok(())
    }

    fn model(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        epoch: u64,
    ) -> Result<Arc<StoredModel>, Error> {
        let mut models = self.inner.models.lock().unwrap_or_else(|p| p.into_inner());
        let current = match &*models {
            Some((e, map)) if *e == epoch => map.clone(),
            _ => {
                let map: HashMap<_, _> = store::load_models(conn)?
                    .into_iter()
                    .map(|m| (m.name.clone(), m))
                    .collect();
                let map = Arc::new(map);
                *models = Some((epoch, map.clone()));
                map
            }
        };
        current
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownModel(name.to_owned()))
    }

    /// The rules of `model` for `subject`'s sets: from the cache, or one query on `conn`
    /// (the caller's connection: the authorizer never takes a second one from the pool, so a
    /// pool of N serves N threads).
    pub fn access(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
    ) -> Result<Arc<ModelAccess>, Error> {
        self.with_access(conn, subject, model, Arc::clone)
    }

    /// Runs `f` on what [`Authorizer::access`] returns. On a hit of this thread's front
    /// cache `f` sees the entry in place: no reference count is touched.
    fn with_access<T>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        mut f: impl FnMut(&Arc<ModelAccess>) -> T,
    ) -> Result<T, Error> {
        self.refresh(conn)?;
        let hash = RuleCache::<ModelAccess>::hash(model, subject.sets_hash());
        let sets = subject.sets_key();
        let key = (self.inner.id, hash);
        let epoch_now = self.inner.cache.epoch();
        let front = FRONT.with(|front| {
            let front = front.borrow();
            let e = front.get(&key)?;
            (e.epoch == epoch_now
                && &*e.model == model
                && (Arc::ptr_eq(&e.sets, sets) || e.sets == *sets))
                .then(|| f(&e.access))
        });
        if let Some(answer) = front {
            return Ok(answer);
        }
        let access = self.load_access(conn, subject, model, hash, key, epoch_now)?;
        Ok(f(&access))
    }

    /// A front-cache miss: the shared cache, or one query.
    fn load_access(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        hash: u64,
        key: (u64, u64),
        epoch_now: u64,
    ) -> Result<Arc<ModelAccess>, Error> {
        let sets = subject.sets_key();
        if let Some(hit) = self.inner.cache.get(hash, model, sets) {
            self.remember(key, epoch_now, model, sets, &hit);
            return Ok(hit);
        }
        let epoch = self.inner.cache.epoch();
        let stored = self.model(conn, model, epoch)?;
        let rows = store::load_rules(conn, model, &self.effective_sets(subject))?;
        let rows: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let compiled = compile_document(&row.rules, &stored.columns);
                if let Err(e) = &compiled {
                    tracing::error!(
                        rule = row.id,
                        "rowguard: invalid rule ignored ({} \"{}\" on {}): {e}",
                        row.set_type,
                        row.set_value,
                        row.model
                    );
                }
                (row, compiled)
            })
            .collect();
        let merged = Right::ALL.map(|right| {
            merge(
                rows.iter()
                    .filter_map(|(_, c)| c.as_ref().ok().and_then(|c| c.access(right))),
            )
        });
        let read = merged[Right::Read as usize].to_filter();
        let effective = Right::ALL.map(|right| {
            let own = merged[right as usize].to_filter();
            Arc::new(match right {
                Right::Update | Right::Delete => Filter::And(vec![read.clone(), own]).simplify(),
                _ => own,
            })
        });
        let access = Arc::new(ModelAccess {
            model: stored,
            rows,
            merged,
            effective,
        });
        self.inner.cache.insert(
            hash,
            model,
            subject.sets_key().clone(),
            epoch,
            access.clone(),
        );
        Ok(access)
    }

    /// Keeps a thread-private copy of a shared cache entry.
    fn remember(
        &self,
        key: (u64, u64),
        epoch: u64,
        model: &str,
        sets: &Arc<str>,
        access: &ModelAccess,
    ) {
        FRONT.with(|front| {
            let mut front = front.borrow_mut();
            if front.len() >= FRONT_CAPACITY {
                front.clear();
            }
            front.insert(
                key,
                FrontEntry {
                    epoch,
                    model: model.into(),
                    sets: sets.clone(),
                    access: Arc::new(access.private_copy()),
                },
            );
        });
    }

    /// The filter `subject` may act on for `right` on `model`, variables filled in. For
    /// update and delete it is read AND the right (a row you cannot see you cannot change).
    pub fn filter(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Arc<Filter>, Error> {
        if self.bypass(subject).is_some() {
            return Ok(Arc::new(Filter::True));
        }
        let access = self.access(conn, subject, model)?;
        let filter = &access.effective[right as usize];
        Ok(if filter.has_vars() {
            Arc::new(filter.resolve(subject.attributes()))
        } else {
            filter.clone()
        })
    }

    /// Whether `subject` may do `right` on `row` of `model`, in memory (for update and
    /// delete: read AND the right). Variables are bound in place and a constant rule never
    /// looks at the row, so a cache hit allocates nothing.
    pub fn allows<R: Row + ?Sized>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        right: Right,
        row: &R,
    ) -> Result<bool, Error> {
        self.check(conn, subject, self.bypass(subject), model, right, row)
    }

    /// [`Authorizer::allows`] with the subject's bypass already decided (a guard decides it
    /// once: neither the configuration nor its subject changes).
    fn check<R: Row + ?Sized>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        bypass: Option<Bypass>,
        model: &str,
        right: Right,
        row: &R,
    ) -> Result<bool, Error> {
        if bypass.is_some() {
            return Ok(true);
        }
        self.with_access(conn, subject, model, |access| {
            access.effective[right as usize].matches_with(row, subject.attributes())
        })
    }

    /// The primary keys of `model`'s rows that `subject` may act on for `right`, ascending
    /// (for `cargo xtask rules try`; needs only the stored metadata).
    pub fn permitted_keys(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Vec<Value>, Error> {
        let access = self.access(conn, subject, model)?;
        let filter = self.filter(conn, subject, model, right)?;
        let stored = &access.model;
        let sql = SqlFilter::from_arc(Some(Cow::Owned(stored.table_name.clone())), filter);
        let integer_key = matches!(
            stored.columns.get(&stored.primary_key).map(|(_, t)| t),
            None | Some(ColumnType::Integer | ColumnType::Bigint)
        );
        Ok(if integer_key {
            KeysQuery::<sql_types::BigInt>::new(&stored.table_name, &stored.primary_key, sql)
                .load::<i64>(conn)?
                .into_iter()
                .map(Value::Int)
                .collect()
        } else {
            KeysQuery::<sql_types::Text>::new(&stored.table_name, &stored.primary_key, sql)
                .load::<String>(conn)?
                .into_iter()
                .map(Value::Text)
                .collect()
        })
    }

    /// A full account of a decision, for `cargo xtask rules explain` and debugging.
    pub fn explain(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Explanation, Error> {
        let access = self.access(conn, subject, model)?;
        let filter = self.filter(conn, subject, model, right)?;
        let sql = SqlFilter::from_arc(
            Some(Cow::Owned(access.model.table_name.clone())),
            filter.clone(),
        );
        let where_sql = match conn.backend() {
            Backend::Sqlite => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string(),
            Backend::Postgres => diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string(),
            #[cfg(feature = "mysql")]
            Backend::Mysql => diesel::debug_query::<diesel::mysql::Mysql, _>(&sql).to_string(),
            #[cfg(not(feature = "mysql"))]
            Backend::Mysql => filter.to_string(),
        };
        Ok(Explanation {
            model: model.to_owned(),
            right,
            bypass: self.bypass(subject),
            universal_role: self.inner.config.universal_role.clone(),
            access,
            filter: (*filter).clone(),
            sql: format!("WHERE {where_sql}"),
        })
    }
}

/// An explained decision: contributing rule rows, the merged rule, the SQL.
#[derive(Debug)]
pub struct Explanation {
    /// The model.
    pub model: String,
    /// The right explained.
    pub right: Right,
    /// Set when rules were bypassed.
    pub bypass: Option<Bypass>,
    /// The universal role's value.
    pub universal_role: String,
    /// The rules found.
    pub access: Arc<ModelAccess>,
    /// The final filter, variables filled in.
    pub filter: Filter,
    /// The SQL `WHERE` with its bind values.
    pub sql: String,
}

impl Explanation {
    /// For each contributing rule row: does it let `row` through for this right?
    pub fn why(&self, row: &[Value]) -> Vec<(i64, Option<bool>)> {
        self.access
            .rows
            .iter()
            .map(|(r, compiled)| {
                let verdict = compiled.as_ref().ok().map(|c| match c.access(self.right) {
                    None => false,
                    Some(Access::Everything) => true,
                    Some(Access::Rows(f)) => f.matches(row),
                });
                (r.id, verdict)
            })
            .collect()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {} ({}), right {}",
            self.model, self.access.model.table_name, self.right
        )?;
        match self.bypass {
            Some(Bypass::Override) => writeln!(f, "BYPASS: authorization override is on")?,
            Some(Bypass::AbsoluteRights) => {
                writeln!(f, "BYPASS: the subject holds an absolute right")?
            }
            None => {}
        }
        writeln!(f, "contributing rules:")?;
        if self.access.rows.is_empty() {
            writeln!(f, "  (none: nothing is granted)")?;
        }
        for (row, compiled) in &self.access.rows {
            let universal = if row.set_type == "universal" && row.set_value == self.universal_role {
                " (universal role)"
            } else {
                ""
            };
            write!(
                f,
                "  #{} {} \"{}\"{universal}: ",
                row.id, row.set_type, row.set_value
            )?;
            match compiled {
                Err(e) => writeln!(f, "INVALID, ignored: {e}")?,
                Ok(c) => match c.access(self.right) {
                    None => writeln!(f, "grants no {}", self.right)?,
                    Some(Access::Everything) => writeln!(f, "\"*\" (every row)")?,
                    Some(Access::Rows(filter)) => writeln!(f, "{filter}")?,
                },
            }
        }
        writeln!(f, "merged: {}", self.access.merged(self.right).to_filter())?;
        if matches!(self.right, Right::Update | Right::Delete) {
            writeln!(
                f,
                "effective (read AND {}), subject variables filled in: {}",
                self.right, self.filter
            )?;
        } else {
            writeln!(f, "effective, subject variables filled in: {}", self.filter)?;
        }
        write!(f, "SQL: {}", self.sql)
    }
}

/// The authorizer bound to one subject: every read it builds and every write it makes is
/// limited by that subject's rules.
#[derive(Debug, Clone)]
pub struct Guard {
    auth: Authorizer,
    subject: Subject,
    bypass: Option<Bypass>,
}

impl Guard {
    /// The subject.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The filter for `right` on `M` (read AND right for update/delete), as SQL. `conn` is
    /// used only on a cache miss or a version check.
    pub fn filter<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
    ) -> Result<SqlFilter, Error> {
        let filter = self.auth.filter(conn, &self.subject, M::NAME, right)?;
        Ok(SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), filter))
    }

    /// `SELECT * FROM M's table WHERE <read rule>`, boxed: add your own filters, order and
    /// limit on top, then load it on the same connection.
    pub fn read<M: Authorizable>(&self, conn: &mut AnyConnection) -> Result<M::Query, Error> {
        Ok(M::boxed_query(self.filter::<M>(conn, Right::Read)?))
    }

    /// Compiles an application search (rule-language JSON, e.g. `{"status":"=open"}`) on `M`.
    pub fn search<M: Authorizable>(&self, search: &str) -> Result<Filter, Error> {
        let doc = format!(r#"{{"read":{{"search":{search}}}}}"#);
        compile_document(&doc, M::columns())
            .map(|c| c.filter(Right::Read).unwrap_or(Filter::False))
            .map_err(|source| Error::InvalidSearch {
                model: M::NAME.to_owned(),
                source,
            })
    }

    /// In memory: may the subject do `right` on `row`? (For update/delete: read AND right.)
    pub fn can<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
        row: &M,
    ) -> Result<bool, Error> {
        self.auth
            .check(conn, &self.subject, self.bypass, M::NAME, right, row)
    }

    /// The row with primary key `key`, if the subject may read it.
    pub fn find<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: impl Into<Value>,
    ) -> Result<M, Error> {
        let key = key.into();
        let filter = self.combined::<M>(conn, Right::Read, Some(key_filter::<M>(&key)))?;
        M::load_where(conn, filter)?
            .into_iter()
            .next()
            .ok_or_else(|| not_found::<M>(&key))
    }

    /// Inserts `row` if the create rule accepts it (search conditions included).
    pub fn insert<M: Authorizable>(&self, conn: &mut AnyConnection, row: &M) -> Result<(), Error> {
        if !self.can(conn, Right::Create, row)? {
            return Err(forbidden::<M>(Right::Create));
        }
        row.insert_row(conn)?;
        Ok(())
    }

    /// Saves `row` (by primary key) if the subject may read and update the stored row, and
    /// the new values still satisfy the same filter (read AND update).
    pub fn update<M: Authorizable>(&self, conn: &mut AnyConnection, row: &M) -> Result<(), Error> {
        let key = row.key();
        let rule = self
            .auth
            .filter(conn, &self.subject, M::NAME, Right::Update)?;
        if !rule.matches(row) {
            self.readable::<M>(conn, &key)?;
            return Err(forbidden::<M>(Right::Update));
        }
        if row.update_where(conn, restrict::<M>(&rule, Some(key_filter::<M>(&key))))? == 0 {
            self.readable::<M>(conn, &key)?;
            return Err(forbidden::<M>(Right::Update));
        }
        Ok(())
    }

    /// Deletes the row with primary key `key` if the subject may read and delete it.
    pub fn delete<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: impl Into<Value>,
    ) -> Result<(), Error> {
        let key = key.into();
        let filter = self.combined::<M>(conn, Right::Delete, Some(key_filter::<M>(&key)))?;
        if M::delete_where(conn, filter)? == 0 {
            self.readable::<M>(conn, &key)?;
            return Err(forbidden::<M>(Right::Delete));
        }
        Ok(())
    }

    /// Bulk update: every row matching `search` (or all) that the subject may read and
    /// update is changed by `change`. If any changed row would leave the update rule,
    /// nothing is written and the result is `Forbidden`. Returns the number of rows updated.
    pub fn update_all<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        search: Option<Filter>,
        mut change: impl FnMut(&mut M),
    ) -> Result<usize, Error> {
        let rule = self
            .auth
            .filter(conn, &self.subject, M::NAME, Right::Update)?;
        conn.transaction(|conn| {
            let mut rows = M::load_where(conn, restrict::<M>(&rule, search))?;
            for row in &mut rows {
                change(row);
                if !rule.matches(row) {
                    return Err(forbidden::<M>(Right::Update));
                }
            }
            for row in &rows {
                row.update_where(
                    conn,
                    restrict::<M>(&rule, Some(key_filter::<M>(&row.key()))),
                )?;
            }
            Ok(rows.len())
        })
    }

    /// Bulk delete of the rows matching `search` (or all) that the subject may read and
    /// delete, in one statement. Returns the number deleted.
    pub fn delete_all<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        search: Option<Filter>,
    ) -> Result<usize, Error> {
        let filter = self.combined::<M>(conn, Right::Delete, search)?;
        Ok(M::delete_where(conn, filter)?)
    }

    /// Explains the decision for `right` on `M`.
    pub fn explain<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
    ) -> Result<Explanation, Error> {
        self.auth.explain(conn, &self.subject, M::NAME, right)
    }

    fn combined<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
        extra: Option<Filter>,
    ) -> Result<SqlFilter, Error> {
        let rule = self.auth.filter(conn, &self.subject, M::NAME, right)?;
        Ok(restrict::<M>(&rule, extra))
    }

    /// `Ok` if the row exists and is readable, else `NotFound`.
    fn readable<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: &Value,
    ) -> Result<(), Error> {
        let filter = self.combined::<M>(conn, Right::Read, Some(key_filter::<M>(key)))?;
        if M::load_where(conn, filter)?.is_empty() {
            Err(not_found::<M>(key))
        } else {
            Ok(())
        }
    }
}

/// `rule` AND `extra` (if any), as SQL on `M`'s table.
fn restrict<M: Authorizable>(rule: &Arc<Filter>, extra: Option<Filter>) -> SqlFilter {
    let filter = match extra {
        Some(extra) => Arc::new(Filter::And(vec![(**rule).clone(), extra]).simplify()),
        None => rule.clone(),
    };
    SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), filter)
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
