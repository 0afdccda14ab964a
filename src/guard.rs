//! Enforcement: the [`Authorizer`] (shared: pool, configuration, cache) and the [`Guard`]
//! (one subject) that scopes reads and checks writes.
//!
//! Precedence: override → absolute rights → any `"*"` → OR of searches →
//! nothing = deny.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use diesel::{sql_types, Connection, RunQueryDsl};

use crate::cache::{Reading, RuleCache, Stamp};
use crate::config::Config;
use crate::error::Error;
use crate::model::Authorizable;
use crate::rules::{
    compile_document, merge, Access, ColumnType, Columns, CompiledRules, Filter, KeysQuery, Merged,
    Operand, Right, Row, RuleError, SqlFilter, Test, TestKind, Value,
};
use crate::scoped::Scoped;
use crate::store::{self, BrokenModel, RuleRow, StoredModel};
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
    /// The address of the declared [`Columns`] the rules were compiled against (their
    /// positions are the model's `cell` indexes), or 0 when compiled against the stored
    /// columns (name-only callers such as `rules try`).
    compiled_for: usize,
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

/// Stored models by name, as of a cache stamp.
type ModelsByName = Option<(
    Stamp,
    Arc<HashMap<String, Result<Arc<StoredModel>, BrokenModel>>>,
)>;

/// What a typed caller (a guard call on an [`Authorizable`] model) declares about the model:
/// rules are compiled against these columns, by name, whatever order the stored copy has.
#[derive(Clone, Copy)]
struct Declared {
    table: &'static str,
    primary_key: &'static str,
    columns: &'static Columns,
}

impl Declared {
    fn of<M: Authorizable>() -> Self {
        Self {
            table: M::TABLE,
            primary_key: M::PRIMARY_KEY,
            columns: M::columns(),
        }
    }

    fn address(self) -> usize {
        std::ptr::from_ref(self.columns) as usize
    }

    /// Whether the stored definition agrees with this one (names, types, table, key; the
    /// order of columns may differ). Disagreement is an error naming the model: rules
    /// written against the stored columns may not mean what they say on this model.
    fn check(self, stored: &StoredModel) -> Result<(), Error> {
        let problems = stored.differences(self.table, self.primary_key, self.columns);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::ModelMismatch {
                model: stored.name.clone(),
                detail: problems.join("; "),
            })
        }
    }
}

/// Per thread: recent hits of each authorizer (by id), as private copies.
struct FrontEntry {
    stamp: Stamp,
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

    /// Reads the version when a check is due; returns what it read.
    fn refresh(&self, conn: &mut AnyConnection) -> Result<Option<i64>, Error> {
        if !self.inner.cache.version_check_due() {
            return Ok(None);
        }
        let reading = Reading::now(conn);
        let version = store::state_version(conn)?;
        self.inner.cache.observe_version(version, reading);
        Ok(Some(version))
    }

    /// The stored model `name`, read at `stamp` (whose version was read on `conn` just
    /// before, so the models are at least that new).
    fn model(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        stamp: Stamp,
    ) -> Result<Arc<StoredModel>, Error> {
        let mut models = self.inner.models.lock().unwrap_or_else(|p| p.into_inner());
        let current = match &*models {
            Some((s, map)) if *s == stamp => map.clone(),
            _ => {
                let map: HashMap<_, _> = store::load_models(conn)?
                    .into_iter()
                    .map(|m| match m {
                        Ok(m) => (m.name.clone(), Ok(m)),
                        Err(broken) => (broken.name.clone(), Err(broken)),
                    })
                    .collect();
                let map = Arc::new(map);
                if self.inner.cache.is_current(stamp) {
                    *models = Some((stamp, map.clone()));
                }
                map
            }
        };
        match current.get(name) {
            Some(Ok(model)) => Ok(model.clone()),
            Some(Err(broken)) => Err(store::StoreError::from(broken.clone()).into()),
            None => Err(Error::UnknownModel {
                model: name.to_owned(),
                known: {
                    let mut names: Vec<&str> = current.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    names.join(", ")
                },
            }),
        }
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
        self.with_access(conn, subject, model, None, Arc::clone)
    }

    /// Runs `f` on what [`Authorizer::access`] returns. On a hit of this thread's front
    /// cache `f` sees the entry in place: no reference count is touched.
    fn with_access<T>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        declared: Option<Declared>,
        mut f: impl FnMut(&Arc<ModelAccess>) -> T,
    ) -> Result<T, Error> {
        let checked = self.refresh(conn)?;
        let hash = RuleCache::<ModelAccess>::hash(model, subject.sets_hash());
        let sets = subject.sets_key();
        let key = (self.inner.id, hash);
        let wanted = declared.map_or(0, Declared::address);
        let front = FRONT.with(|front| {
            let front = front.borrow();
            let e = front.get(&key)?;
            (self.inner.cache.is_current(e.stamp)
                && e.access.compiled_for == wanted
                && &*e.model == model
                && (Arc::ptr_eq(&e.sets, sets) || e.sets == *sets))
                .then(|| f(&e.access))
        });
        if let Some(answer) = front {
            return Ok(answer);
        }
        let access = self.load_access(conn, subject, model, declared, hash, key, checked)?;
        Ok(f(&access))
    }

    /// A front-cache miss: the shared cache, or one query.
    #[allow(clippy::too_many_arguments)]
    fn load_access(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        declared: Option<Declared>,
        hash: u64,
        key: (u64, u64),
        checked: Option<i64>,
    ) -> Result<Arc<ModelAccess>, Error> {
        let sets = subject.sets_key();
        let wanted = declared.map_or(0, Declared::address);
        if let Some((stamp, hit)) = self.inner.cache.get(hash, model, sets) {
            // Positions differ between declared and stored columns: only the same kind fits.
            if hit.compiled_for == wanted {
                self.remember(key, stamp, model, sets, &hit);
                return Ok(hit);
            }
        }
        // The version first (unless this call just read it), then the rules: on the same
        // connection they come from the same snapshot or a newer one, never an older one, so
        // an entry is never stamped newer than its rules.
        let reading = Reading::now(conn);
        let epoch = self.inner.cache.epoch();
        let version = match checked {
            Some(v) => v,
            None => {
                let v = store::state_version(conn)?;
                self.inner.cache.observe_version(v, reading);
                v
            }
        };
        let stamp = Stamp { epoch, version };
        let stored = self.model(conn, model, stamp)?;
        let columns = match declared {
            Some(d) => {
                d.check(&stored)?;
                d.columns
            }
            None => &stored.columns,
        };
        let rows = store::load_rules(conn, model, &self.effective_sets(subject))?;
        let rows: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let compiled = compile_document(&row.rules, columns);
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
            compiled_for: wanted,
        });
        // Not stored (and used for this call only) when read in an older snapshot.
        self.inner
            .cache
            .insert(hash, model, sets.clone(), (stamp, reading), access.clone());
        Ok(access)
    }

    /// Keeps a thread-private copy of a shared cache entry.
    fn remember(
        &self,
        key: (u64, u64),
        stamp: Stamp,
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
                    stamp,
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
        self.resolved_filter(conn, subject, self.bypass(subject), model, None, right)
    }

    /// [`Authorizer::filter`] with the bypass decided and, for typed callers, the declared
    /// model.
    fn resolved_filter(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        bypass: Option<Bypass>,
        model: &str,
        declared: Option<Declared>,
        right: Right,
    ) -> Result<Arc<Filter>, Error> {
        if bypass.is_some() {
            return Ok(Arc::new(Filter::True));
        }
        self.with_access(conn, subject, model, declared, |access| {
            let filter = &access.effective[right as usize];
            if filter.has_vars() {
                Arc::new(filter.resolve(subject.attributes()))
            } else {
                filter.clone()
            }
        })
    }

    /// Whether `subject` may do `right` on `row` of `model`, in memory (for update and
    /// delete: read AND the right). `row`'s cells are in the order of the model's *stored*
    /// columns (as `rules try` builds them); for a value of an [`Authorizable`] type use
    /// [`Guard::can`], which compiles against the type's declared columns. Variables are
    /// bound in place and a constant rule never looks at the row, so a cache hit allocates
    /// nothing.
    pub fn allows<R: Row + ?Sized>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        model: &str,
        right: Right,
        row: &R,
    ) -> Result<bool, Error> {
        self.check(conn, subject, self.bypass(subject), model, None, right, row)
    }

    /// [`Authorizer::allows`] with the subject's bypass already decided (a guard decides it
    /// once: neither the configuration nor its subject changes).
    #[allow(clippy::too_many_arguments)]
    fn check<R: Row + ?Sized>(
        &self,
        conn: &mut AnyConnection,
        subject: &Subject,
        bypass: Option<Bypass>,
        model: &str,
        declared: Option<Declared>,
        right: Right,
        row: &R,
    ) -> Result<bool, Error> {
        if bypass.is_some() {
            return Ok(true);
        }
        self.with_access(conn, subject, model, declared, |access| {
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

    /// The resolved filter for `right` on `M` (read AND right for update/delete), compiled
    /// against `M`'s declared columns.
    fn rule<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
    ) -> Result<Arc<Filter>, Error> {
        self.auth.resolved_filter(
            conn,
            &self.subject,
            self.bypass,
            M::NAME,
            Some(Declared::of::<M>()),
            right,
        )
    }

    /// The filter for `right` on `M` (read AND right for update/delete), as SQL. `conn` is
    /// used only on a cache miss or a version check.
    pub fn filter<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
    ) -> Result<SqlFilter, Error> {
        let filter = self.rule::<M>(conn, right)?;
        Ok(SqlFilter::from_arc(Some(Cow::Borrowed(M::TABLE)), filter))
    }

    /// `SELECT * FROM M's table WHERE <read rule>`: add your own filters, order, limit or
    /// count on top (see [`Scoped`]), then load it on the same connection. Whatever is added
    /// is ANDed to the rule; nothing can widen it.
    pub fn read<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Scoped<M::Query>, Error> {
        Ok(Scoped::new(M::boxed_query(
            self.filter::<M>(conn, Right::Read)?,
        )))
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
        self.auth.check(
            conn,
            &self.subject,
            self.bypass,
            M::NAME,
            Some(Declared::of::<M>()),
            right,
            row,
        )
    }

    /// The row with primary key `key`, if the subject may read it.
    pub fn find<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: impl Into<Value>,
    ) -> Result<M, Error> {
        let key = key.into();
        let rule = self.rule::<M>(conn, Right::Read)?;
        M::load_where(conn, at_key::<M>(&rule, &key))?
            .into_iter()
            .next()
            .ok_or_else(|| not_found::<M>(&key))
    }

    /// Inserts `row` if the create rule accepts it (search conditions included).
    ///
    /// When a rule column is `None` in `row`, the database may store something else (Diesel
    /// inserts `DEFAULT` for it), so the stored row is checked again in SQL in the same
    /// transaction and a refusal rolls the insert back.
    pub fn insert<M: Authorizable>(&self, conn: &mut AnyConnection, row: &M) -> Result<(), Error> {
        // One copy of the rule for the check in memory and the one in SQL.
        let rule = self.rule::<M>(conn, Right::Create)?;
        if !rule.matches(row) {
            return Err(forbidden::<M>(Right::Create));
        }
        let recheck = stored_may_differ(row, &rule);
        let write = |conn: &mut AnyConnection| -> Result<(), Error> {
            row.insert_row(conn)?;
            if recheck {
                // A key the database generates is found as the connection's last insert id.
                let key = match row.key() {
                    Value::Null => Value::Int(crate::db::last_insert_id(conn)?),
                    key => key,
                };
                if M::load_where(conn, at_key::<M>(&rule, &key))?.is_empty() {
                    return Err(forbidden::<M>(Right::Create));
                }
            }
            Ok(())
        };
        in_transaction_if(conn, recheck, write)
    }

    /// Saves `row` (by primary key) if the subject may read and update the stored row, and
    /// the row as stored afterwards still satisfies the same filter (read AND update).
    ///
    /// The new values are checked in memory first. When the struct may not be what gets
    /// stored (a rule column whose value is `None`: Diesel's `AsChangeset` skips such
    /// fields unless the model uses `treat_none_as_null`), the stored row is checked again
    /// in SQL in the same transaction, and a refusal rolls the write back.
    pub fn update<M: Authorizable>(&self, conn: &mut AnyConnection, row: &M) -> Result<(), Error> {
        writable::<M>(Right::Update)?;
        let key = row.key();
        let rule = self.rule::<M>(conn, Right::Update)?;
        if !rule.matches(row) {
            self.readable::<M>(conn, &key)?;
            return Err(forbidden::<M>(Right::Update));
        }
        let recheck = stored_may_differ(row, &rule);
        let write = |conn: &mut AnyConnection| -> Result<(), Error> {
            if row.update_where(conn, at_key::<M>(&rule, &key))? == 0 {
                self.readable::<M>(conn, &key)?;
                return Err(forbidden::<M>(Right::Update));
            }
            if recheck && M::load_where(conn, at_key::<M>(&rule, &key))?.is_empty() {
                return Err(forbidden::<M>(Right::Update));
            }
            Ok(())
        };
        in_transaction_if(conn, recheck, write)
    }

    /// Deletes the row with primary key `key` if the subject may read and delete it.
    pub fn delete<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: impl Into<Value>,
    ) -> Result<(), Error> {
        writable::<M>(Right::Delete)?;
        let key = key.into();
        let rule = self.rule::<M>(conn, Right::Delete)?;
        if M::delete_where(conn, at_key::<M>(&rule, &key))? == 0 {
            self.readable::<M>(conn, &key)?;
            return Err(forbidden::<M>(Right::Delete));
        }
        Ok(())
    }

    /// Bulk update, in one transaction: every row matching `search` (or all) that the
    /// subject may read and update is changed by `change`. Nothing is written, and the
    /// result is an error, if `change` changes a primary key (`KeyChanged`), a changed row
    /// would leave the update rule (`Forbidden`), or a row was changed or removed by
    /// someone else meanwhile (`RowChanged`). Returns the number of rows written.
    pub fn update_all<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        search: Option<Filter>,
        mut change: impl FnMut(&mut M),
    ) -> Result<usize, Error> {
        writable::<M>(Right::Update)?;
        let rule = self.rule::<M>(conn, Right::Update)?;
        conn.transaction(|conn| {
            let mut rows = M::load_where(conn, restrict::<M>(&rule, search))?;
            let mut recheck = false;
            for row in &mut rows {
                let key = row.key();
                change(row);
                if row.key() != key {
                    return Err(Error::KeyChanged {
                        model: M::NAME.to_owned(),
                        key: key.to_string(),
                    });
                }
                if !rule.matches(row) {
                    return Err(forbidden::<M>(Right::Update));
                }
                recheck |= stored_may_differ(row, &rule);
            }
            for row in &rows {
                let key = row.key();
                if row.update_where(conn, at_key::<M>(&rule, &key))? != 1 {
                    return Err(Error::RowChanged {
                        model: M::NAME.to_owned(),
                        key: key.to_string(),
                    });
                }
                if recheck && M::load_where(conn, at_key::<M>(&rule, &key))?.is_empty() {
                    return Err(forbidden::<M>(Right::Update));
                }
            }
            // Each row was written exactly once, or nothing was.
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
        writable::<M>(Right::Delete)?;
        let rule = self.rule::<M>(conn, Right::Delete)?;
        Ok(M::delete_where(conn, restrict::<M>(&rule, search))?)
    }

    /// Explains the decision for `right` on `M`.
    pub fn explain<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        right: Right,
    ) -> Result<Explanation, Error> {
        self.auth.explain(conn, &self.subject, M::NAME, right)
    }

    /// `Ok` if the row exists and is readable, else `NotFound` (after a refused write:
    /// whether the subject may learn that the row exists).
    fn readable<M: Authorizable>(
        &self,
        conn: &mut AnyConnection,
        key: &Value,
    ) -> Result<(), Error> {
        let read = self.rule::<M>(conn, Right::Read)?;
        if M::load_where(conn, at_key::<M>(&read, key))?.is_empty() {
            Err(not_found::<M>(key))
        } else {
            Ok(())
        }
    }
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
fn in_transaction_if<T>(
    conn: &mut AnyConnection,
    transactional: bool,
    write: impl FnOnce(&mut AnyConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    if transactional {
        conn.transaction(write)
    } else {
        write(conn)
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
