//! The [`Authorizer`]: shared by the whole application; loads, caches and decides.
//!
//! Why about 580 lines: a third of them are the runnable examples of its public methods;
//! loading, caching and deciding share the private `with_access` path and its cache keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use diesel::{sql_types, RunQueryDsl};

use super::access::{merge_rows, reach, with_policies, Bypass, Declared, ModelAccess};
use super::columns::{ColumnRights, Projection, ReadMask, RowsQuery, SampleQuery};
use super::decision::{Made, Seen};
use super::explain::Explanation;
use super::front;
use super::policies::{BrokenPolicy, SubjectPolicy};
use super::relations::{
    decide_for_row, failed_target, foreign_key_checks, target_refusal, usable_checks, PolicyScope,
    Protector,
};
use super::subject_guard::Guard;
use crate::cache::{Reading, RuleCache, Stamp};
use crate::config::Config;
use crate::db::{on_backend, GuardConnection, StoreConnection};
use crate::decisions::{DecisionError, DecisionLog, Kind};
use crate::error::Error;
use crate::model::Authorizable;
use crate::rules::{
    compile_document_in, ColumnType, Filter, KeysQuery, Right, Row, Schema, SqlFilter, Value,
};
use crate::store::{self, BrokenModel, StoredModel};
use crate::Subject;

/// Stored models by name and the schema rules are compiled in, as of a cache stamp.
type ModelsByName = Option<(Stamp, Arc<Catalog>)>;

/// The stored models (usable or not) and the schema of the usable ones with their relations.
pub(super) struct Catalog {
    pub(super) models: HashMap<String, Result<Arc<StoredModel>, BrokenModel>>,
    pub(super) schema: Schema,
    /// Stored relations that do not fit (rules using them fail closed; writes to their
    /// model are refused, since their foreign-key target check cannot run).
    broken: Vec<store::BrokenRelation>,
}

static NEXT_AUTHORIZER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Inner {
    id: u64,
    config: Config,
    cache: RuleCache<ModelAccess>,
    /// Subjects' merged policies, kept fresh like the rules.
    policies: RuleCache<super::policies::SubjectPolicy>,
    models: Mutex<ModelsByName>,
    decisions: std::sync::OnceLock<DecisionLog>,
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
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let auth = rowguard::Authorizer::new(rowguard::Config::default());
    /// assert_eq!(auth.config().cache_size, 10_000);
    /// # Ok(())
    /// # }
    /// ```
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
                policies: RuleCache::new(config.cache_size, config.refresh_interval()),
                config,
                models: Mutex::new(None),
                decisions: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The configuration in force.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// assert!(!auth.config().override_authorization);
    /// # Ok(())
    /// # }
    /// ```
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A guard for `subject`.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let guard = auth.guard(agent());
    /// assert_eq!(guard.read::<Contact>(&mut conn)?.count().get_result::<i64>(&mut conn)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn guard<C: GuardConnection>(&self, subject: Subject) -> Guard<C> {
        Guard {
            auth: self.clone(),
            bypass: self.bypass(&subject),
            subject: Arc::new(subject),
            connection: std::marker::PhantomData,
        }
    }

    /// Starts recording decisions as the configuration's `[decision_log]` says, written by a
    /// thread of its own on a connection of its own to `url` (the application's database).
    /// Returns `false`, starting nothing, when every right's mode is `off`. Errors: the
    /// database cannot be reached, has no `authorization_decisions` table (run migrations), is
    /// an in-memory SQLite database, or this authorizer already logs.
    ///
    /// The request path only appends a small record to its thread's buffer; when that is full
    /// the decision is counted and the count recorded as a `lost` row. Dropping the last clone
    /// of the authorizer writes what is buffered; a process that dies loses at most the
    /// decisions of the last `flush_ms`.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (_, mut conn) = setup()?;
    /// # let dir = std::env::temp_dir().join(format!("rowguard-doc-log-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let url = rowguard::DatabaseUrl::parse(&format!("sqlite://{}", dir.join("app.db").display()))?;
    /// # let mut conn = rowguard::db::establish(&url)?;
    /// # rowguard::run_pending_migrations(&mut conn)?;
    /// let mut config = rowguard::Config::default();
    /// config.decision_log.apply_spec("denials")?;
    /// let auth = rowguard::Authorizer::new(config);
    /// assert!(auth.log_decisions(&url)?);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn log_decisions(&self, url: &crate::DatabaseUrl) -> Result<bool, Error> {
        let settings = &self.inner.config.decision_log;
        if !settings.is_on() {
            return Ok(false);
        }
        if self.inner.decisions.get().is_some() {
            return Err(DecisionError::AlreadyStarted.into());
        }
        let log = DecisionLog::start(url, settings)?;
        self.inner
            .decisions
            .set(log)
            .map_err(|_| DecisionError::AlreadyStarted)?;
        Ok(true)
    }

    /// Writes every decision recorded so far (by any thread, before this call); returns the
    /// error if that write failed (its decisions are then counted as `lost`). Nothing to do
    /// without a log. Call it at shutdown when the authorizer lives in a `static` (never
    /// dropped).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// auth.flush_decisions()?; // no log started: nothing to write
    /// # Ok(())
    /// # }
    /// ```
    pub fn flush_decisions(&self) -> Result<(), Error> {
        match self.inner.decisions.get() {
            Some(log) => Ok(log.flush()?),
            None => Ok(()),
        }
    }

    /// [`Authorizer::flush_decisions`], then the retention limit (`retention_days`,
    /// `max_rows`), which a process running the log otherwise applies once a minute after its
    /// first minute.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// auth.prune_decisions()?; // no log started: nothing to do
    /// # Ok(())
    /// # }
    /// ```
    pub fn prune_decisions(&self) -> Result<(), Error> {
        match self.inner.decisions.get() {
            Some(log) => Ok(log.prune()?),
            None => Ok(()),
        }
    }

    /// The running decision log, if any.
    #[inline]
    pub(super) fn decision_log(&self) -> Option<&DecisionLog> {
        self.inner.decisions.get()
    }

    /// Drops every cached rule (after writing rules through rowguard; direct SQL edits are
    /// noticed through the version within the refresh interval).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// auth.invalidate(); // the next call reads the rules again
    /// # Ok(())
    /// # }
    /// ```
    pub fn invalidate(&self) {
        self.inner.cache.invalidate();
        self.inner.policies.invalidate();
    }

    /// The cache of subjects' policies (see `policies`).
    pub(super) fn policy_cache(&self) -> &RuleCache<super::policies::SubjectPolicy> {
        &self.inner.policies
    }

    /// Registers or updates a model's metadata from its [`Authorizable`] impl.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// auth.register::<Contact>(&mut conn)?; // again: nothing changes
    /// let known = rowguard::store::load_models(&mut conn)?;
    /// assert!(known.iter().flatten().any(|m| m.name == "contacts"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn register<M: Authorizable>(&self, conn: &mut dyn StoreConnection) -> Result<(), Error> {
        store::upsert_model(
            conn,
            M::NAME,
            M::TABLE,
            M::PRIMARY_KEY,
            M::columns(),
            &M::ARN,
        )?;
        self.invalidate();
        Ok(())
    }

    /// Why rules do not apply to `subject`, if they do not.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let mut config = rowguard::Config::default();
    /// config.absolute_rights.insert("roles".into(), vec!["admin".into()]);
    /// let auth = rowguard::Authorizer::new(config);
    /// let admin = rowguard::Subject::new().with_set("roles", ["admin"]);
    /// assert_eq!(auth.bypass(&admin), Some(rowguard::Bypass::AbsoluteRights));
    /// assert_eq!(auth.bypass(&agent()), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn bypass(&self, subject: &Subject) -> Option<Bypass> {
        if self.inner.config.override_authorization {
            return Some(Bypass::Override);
        }
        if subject.has_absolute_rights() {
            return Some(Bypass::AbsoluteRights);
        }
        self.inner
            .config
            .absolute_rights
            .iter()
            .any(|(set_type, values)| subject.set(set_type).any(|v| values.iter().any(|a| a == v)))
            .then_some(Bypass::AbsoluteRights)
    }

    /// The sets rules are looked up by: the subject's, plus the universal role.
    pub(super) fn effective_sets(&self, subject: &Subject) -> Vec<(String, Vec<String>)> {
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

    /// Records a version read in both caches (rules and policies), so that they go stale
    /// together and a guard's read and `is_allowed` never disagree about a change.
    pub(super) fn observe_version(&self, version: i64, reading: Reading) {
        self.inner.cache.observe_version(version, reading);
        self.inner.policies.observe_version(version, reading);
    }

    /// Reads the version when a check is due; returns what it read.
    pub(super) fn refresh(&self, conn: &mut dyn StoreConnection) -> Result<Option<i64>, Error> {
        if !self.inner.cache.version_check_due() {
            return Ok(None);
        }
        let reading = Reading::now(conn);
        let version = store::state_version(conn)?;
        self.observe_version(version, reading);
        Ok(Some(version))
    }

    /// The stored models and schema, read at `stamp` (whose version was read on `conn` just
    /// before, so they are at least that new).
    pub(super) fn catalog(
        &self,
        conn: &mut dyn StoreConnection,
        stamp: Stamp,
        reading: Reading,
    ) -> Result<Arc<Catalog>, Error> {
        let mut models = self.inner.models.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, catalog)) = &*models {
            if *s == stamp && !reading.dirty {
                return Ok(catalog.clone());
            }
        }
        let loaded = store::load_models(conn)?;
        let names = store::model_names(&loaded);
        let (relations, mut broken) = store::load_relations_named(conn, &names)?;
        let usable: Vec<Arc<StoredModel>> = loaded.iter().flatten().cloned().collect();
        let schema = store::schema_of(&usable, relations, &mut broken);
        for b in &broken {
            tracing::error!(
                "rowguard: relation \"{}\" of {} ignored (rules using it grant nothing): {}",
                b.name,
                b.model,
                b.error
            );
        }
        let catalog = Arc::new(Catalog {
            models: loaded
                .into_iter()
                .map(|m| match m {
                    Ok(m) => (m.name.clone(), Ok(m)),
                    Err(broken) => (broken.name.clone(), Err(broken)),
                })
                .collect(),
            schema,
            broken,
        });
        if self.inner.cache.is_current(stamp) && !reading.dirty {
            *models = Some((stamp, catalog.clone()));
        }
        Ok(catalog)
    }

    /// The stored model `name` in `catalog`.
    fn model(catalog: &Catalog, name: &str) -> Result<Arc<StoredModel>, Error> {
        match catalog.models.get(name) {
            Some(Ok(model)) => Ok(model.clone()),
            Some(Err(broken)) => Err(store::StoreError::from(broken.clone()).into()),
            None => Err(Error::UnknownModel {
                model: name.to_owned(),
                known: {
                    let mut names: Vec<&str> = catalog.models.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    names.join(", ")
                },
            }),
        }
    }

    /// The rules of `model` for `subject`'s sets: from the cache, or one query on `conn`
    /// (the caller's connection: the authorizer never takes a second one from the pool, so a
    /// pool of N serves N threads).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let access = auth.access(&mut conn, &agent(), "contacts")?;
    /// assert_eq!(access.rows.len(), 1);
    /// assert_eq!(access.model.table_name, "contacts");
    /// # Ok(())
    /// # }
    /// ```
    pub fn access(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
    ) -> Result<Arc<ModelAccess>, Error> {
        self.with_access(conn, subject, model, None, Arc::clone)
    }

    /// Runs `f` on what [`Authorizer::access`] returns. On a hit of this thread's front
    /// cache `f` sees the entry in place: no reference count is touched.
    pub(super) fn with_access<T>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        declared: Option<Declared>,
        mut f: impl FnMut(&Arc<ModelAccess>) -> T,
    ) -> Result<T, Error> {
        // A transaction of the caller's that wrote rowguard's tables reads what may never
        // commit: it neither uses nor fills any cache.
        let dirty = crate::db::dirty(conn);
        let checked = if dirty { None } else { self.refresh(conn)? };
        let wanted = declared.map_or(0, Declared::address);
        // Typed and name-only callers get entries of their own (column positions differ), so
        // one never evicts the other (the target check asks for parents by name).
        let sets_hash = subject.sets_hash() ^ (wanted as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let hash = RuleCache::<ModelAccess>::hash(model, sets_hash);
        let sets = subject.sets_key();
        let key = (self.inner.id, hash);
        let front = (!dirty)
            .then(|| {
                front::with_entry(key, |e| {
                    (self.inner.cache.is_current(e.stamp)
                        && e.access.compiled_for == wanted
                        && &*e.model == model
                        && (Arc::ptr_eq(&e.sets, sets) || e.sets == *sets))
                        .then(|| f(&e.access))
                })
            })
            .flatten();
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
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        declared: Option<Declared>,
        hash: u64,
        key: (u64, u64),
        checked: Option<i64>,
    ) -> Result<Arc<ModelAccess>, Error> {
        let sets = subject.sets_key();
        let wanted = declared.map_or(0, Declared::address);
        let reading = Reading::now(conn);
        let cached = if reading.dirty {
            None
        } else {
            self.inner.cache.get(hash, model, sets)
        };
        if let Some((stamp, hit)) = cached {
            // Positions differ between declared and stored columns: only the same kind fits.
            if hit.compiled_for == wanted {
                front::remember(key, stamp, model, sets, &hit);
                return Ok(hit);
            }
        }
        // The version first (unless this call just read it), then the rules: on the same
        // connection they come from the same snapshot or a newer one, never an older one, so
        // an entry is never stamped newer than its rules.
        let epoch = self.inner.cache.epoch();
        let version = match checked {
            Some(v) => v,
            None => {
                let v = store::state_version(conn)?;
                self.observe_version(v, reading);
                v
            }
        };
        let stamp = Stamp { epoch, version };
        let catalog = self.catalog(conn, stamp, reading)?;
        let stored = Self::model(&catalog, model)?;
        let columns = match declared {
            Some(d) => {
                d.check(&stored)?;
                d.columns
            }
            None => &stored.columns,
        };
        let lookup = self.effective_sets(subject);
        let rows = store::load_rules(conn, model, &lookup)?;
        // Read here, in the rules' snapshot, rather than through the policy cache: the entry
        // is stamped with this snapshot's version.
        let policy = SubjectPolicy::of(store::load_policies(conn, &lookup)?);
        let rows: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let compiled = compile_document_in(&row.rules, columns, &catalog.schema, model);
                if let Err(e) = &compiled {
                    tracing::error!(
                        rule = row.id,
                        "rowguard: invalid rule ignored ({:?} {:?} on {}): {e}",
                        row.set_type,
                        row.set_value,
                        row.model
                    );
                }
                (row, compiled)
            })
            .collect();
        let row_model = crate::policy::RowModel {
            name: model,
            arn: &stored.arn,
            columns,
            primary_key: &stored.primary_key,
        };
        let statements = row_model.statements(&policy.policy);
        let refused = BrokenPolicy::refusing(&policy.broken).is_some();
        let (merged, denied) = with_policies(merge_rows(&rows), &statements, refused);
        let policy_rows = statements
            .into_iter()
            .map(|s| (policy.origins[s.index].clone(), s))
            .collect();
        let valid: Vec<&crate::rules::CompiledRules> =
            rows.iter().filter_map(|(_, c)| c.as_ref().ok()).collect();
        let column_rights = ColumnRights::of(conn, model, &stored.table_name, columns, &valid)?;
        let read = reach(&merged, &denied, Right::Read);
        // Relation conditions carry the related model's read rule for the same subject.
        let scope = PolicyScope {
            policy: &policy.policy,
            refused,
            broken: !policy.broken.is_empty(),
            models: &catalog.models,
        };
        let mut protector = Protector::new(conn, &catalog.schema, &lookup, scope);
        let mut effective = Vec::with_capacity(Right::ALL.len());
        for right in Right::ALL {
            let own = reach(&merged, &denied, right);
            let filter = match right {
                Right::Update | Right::Delete => Filter::And(vec![read.clone(), own]),
                _ => own,
            };
            let filter = if filter.has_relations() {
                protector.protect(&filter.simplify())?
            } else {
                filter
            };
            effective.push(Arc::new(filter.simplify()));
        }
        let cut = protector.cut;
        let related = protector.related();
        let foreign_keys = foreign_key_checks(&catalog.schema, model, columns);
        let broken_relations = catalog
            .broken
            .iter()
            // A has-many carries no target check; anything else might.
            .filter(|b| b.model == model && b.kind != Some(crate::rules::RelationKind::HasMany))
            .map(|b| format!("relation \"{}\": {}", b.name, b.error))
            .collect();
        let effective: [Arc<Filter>; 4] = std::array::from_fn(|i| effective[i].clone());
        let access = Arc::new(ModelAccess {
            model: stored,
            rows,
            merged,
            denied,
            effective,
            related,
            cut,
            foreign_keys,
            broken_relations,
            columns: column_rights,
            policy_rows,
            broken_policies: policy.broken,
            compiled_for: wanted,
        });
        // Not stored (and used for this call only) when read in an older snapshot.
        self.inner
            .cache
            .insert(hash, model, sets.clone(), (stamp, reading), access.clone());
        Ok(access)
    }

    /// The filter `subject` may act on for `right` on `model`, variables filled in. For
    /// update and delete it is read AND the right (a row you cannot see you cannot change).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let filter = auth.filter(&mut conn, &agent(), "contacts", Right::Delete)?;
    /// assert_eq!(filter.to_string(), "(status = 'open' AND owner_id = 17)");
    /// # Ok(())
    /// # }
    /// ```
    pub fn filter(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Arc<Filter>, Error> {
        let question = self.question(subject, model, right);
        self.decide(conn, question, Arc::new(Filter::True), resolved)
    }

    /// A question by model name (the stored columns), the bypass decided for `subject`.
    fn question<'a>(&self, subject: &'a Subject, model: &'a str, right: Right) -> Question<'a> {
        Question {
            subject,
            bypass: self.bypass(subject),
            model,
            declared: None,
            right,
        }
    }

    /// The one decision behind [`Authorizer::filter`], [`Authorizer::allows`] and the
    /// guard's calls: `bypassed` when rules do not apply to the subject, else `f` on the
    /// effective filter (read AND right for update/delete) and the subject's attributes.
    pub(super) fn decide<T>(
        &self,
        conn: &mut dyn StoreConnection,
        question: Question<'_>,
        bypassed: T,
        mut f: impl FnMut(&Arc<Filter>, &crate::rules::Attributes) -> T,
    ) -> Result<T, Error> {
        let Question {
            subject,
            bypass,
            model,
            declared,
            right,
        } = question;
        if bypass.is_some() {
            return Ok(bypassed);
        }
        self.with_access(conn, subject, model, declared, |access| {
            f(&access.effective[right as usize], subject.attributes())
        })
    }

    /// Whether `subject` may do `right` on `row` of `model`, in memory (for update and
    /// delete: read AND the right); relation conditions the rest of the rule does not decide
    /// cost one query each, and for create and update the foreign-key target check runs as
    /// the write would (see [`Guard::can`]). `row`'s cells are in the order of the model's *stored*
    /// columns (as `rules try` builds them); for a value of an [`Authorizable`] type use
    /// [`Guard::can`], which compiles against the type's declared columns. Variables are
    /// bound in place and a constant rule never looks at the row, so a cache hit allocates
    /// nothing.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::{Right, Value};
    /// // Cells in the stored column order: id, name, status, owner_id.
    /// let row = [Value::Int(9), Value::from("C9"), Value::from("open"), Value::Int(17)];
    /// assert!(auth.allows(&mut conn, &agent(), "contacts", Right::Update, &row[..])?);
    /// let other = [Value::Int(9), Value::from("C9"), Value::from("open"), Value::Int(5)];
    /// assert!(!auth.allows(&mut conn, &agent(), "contacts", Right::Update, &other[..])?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn allows<R: Row + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
        row: &R,
    ) -> Result<bool, Error> {
        self.decide_row(conn, self.question(subject, model, right), None, row)
    }

    /// The one decision on a row behind [`Authorizer::allows`] and [`Guard::can`]: in memory
    /// where that decides (no query on a cache hit), else in the database (relation
    /// conditions memory cannot see); for create and update also the foreign-key target check
    /// the write would run.
    /// The decision goes to the decision log if it takes it (`shared`: the guard's subject,
    /// which the record then shares instead of copying).
    pub(super) fn decide_row<R: Row + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        question: Question<'_>,
        shared: Option<&Arc<Subject>>,
        row: &R,
    ) -> Result<bool, Error> {
        let (allowed, access, refusal) = self.decide_row_unlogged(conn, question, row)?;
        // Checked before anything is built: an allowed check under "denials" costs this.
        if let Some((log, sampled)) = self.log_takes(question.right, allowed) {
            let made = Made {
                question,
                shared,
                access,
                kind: Kind::Check,
                key: None,
                allowed,
                stated: refusal,
                hidden: false,
                count: 1,
            };
            self.record(conn, log, sampled, made, Seen::Row(row));
        }
        Ok(allowed)
    }

    /// The decision; the cache entry that refused in memory when the decision log will
    /// record the refusal (so that naming its rule rows needs no second lookup); the refusal
    /// of a foreign-key target, when that decided.
    fn decide_row_unlogged<R: Row + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        question: Question<'_>,
        row: &R,
    ) -> Result<RowDecision, Error> {
        let Question {
            subject,
            bypass,
            model,
            declared,
            right,
        } = question;
        if bypass.is_some() {
            return Ok((true, None, None));
        }
        let logs_denials = self
            .decision_log()
            .is_some_and(|log| log.takes(right, false).is_some());
        let attrs = subject.attributes();
        let writes = matches!(right, Right::Create | Right::Update);
        // One cache lookup, in place, for the answer in memory (`None`: only the database can
        // tell) and whether the target check applies. Small values out: every check runs this.
        let (answer, checked, kept) =
            self.with_access(conn, subject, model, declared, |access| {
                let filter = &access.effective[right as usize];
                let answer = match filter.eval_with(row, attrs) {
                    Some(answer) => Some(answer),
                    // Kleene logic: a definite answer stays when an unknown becomes known, so only
                    // an unknown on a filter with relations asks the database.
                    None if filter.has_relations() => None,
                    None => Some(false),
                };
                let checked = writes
                    && (!access.foreign_keys.is_empty() || !access.broken_relations.is_empty());
                let kept = (logs_denials && answer == Some(false)).then(|| access.clone());
                (answer, checked, kept)
            })?;
        if kept.is_some() {
            return Ok((false, kept, None));
        }
        let allowed = match answer {
            Some(answer) => answer,
            None => {
                let filter = self.with_access(conn, subject, model, declared, |access| {
                    access.effective[right as usize].clone()
                })?;
                decide_for_row(conn, &filter, attrs, row)?.matches(row)
            }
        };
        if !allowed || !checked {
            return Ok((allowed, None, None));
        }
        let checks = self.with_access(conn, subject, model, declared, |access| {
            usable_checks(model, access)
        })??;
        Ok(match failed_target(self, conn, subject, &checks, row)? {
            Some(check) => {
                let refusal = target_refusal(right, model, check).to_string();
                (false, None, Some(refusal))
            }
            None => (true, None, None),
        })
    }

    /// The primary keys of `model`'s rows that `subject` may act on for `right`, ascending
    /// (for `cargo xtask rules try`; needs only the stored metadata).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::{Right, Value};
    /// let keys = auth.permitted_keys(&mut conn, &agent(), "contacts", Right::Read)?;
    /// assert_eq!(keys, [Value::Int(1), Value::Int(3)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn permitted_keys(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Vec<Value>, Error> {
        let (access, sql, _) = self.listing(conn, subject, model, right)?;
        let stored = &access.model;
        let integer_key = matches!(
            stored.columns.get(&stored.primary_key).map(|(_, t)| t),
            None | Some(ColumnType::Integer | ColumnType::Bigint)
        );
        let (table, key) = (&stored.table_name, &stored.primary_key);
        Ok(if integer_key {
            let keys = KeysQuery::<sql_types::BigInt>::new(table, key, sql);
            on_backend!(conn, c => keys.load::<i64>(c))?
                .into_iter()
                .map(Value::Int)
                .collect()
        } else {
            let keys = KeysQuery::<sql_types::Text>::new(table, key, sql);
            on_backend!(conn, c => keys.load::<String>(c))?
                .into_iter()
                .map(Value::Text)
                .collect()
        })
    }

    /// The rows of `model` that `subject` may act on for `right`, ascending by key, each as a
    /// JSON object of the model's stored columns; a column the subject may not read is `null`
    /// (computed in SQL, as the guard's reads hide it). For `cargo xtask rules try --json
    /// --columns`; values are the database's JSON forms (a SQLite or MySQL bool is 0 or 1).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// rowguard::store::put_rule(&mut conn, "roles", "viewer", "contacts",
    ///     r#"{"read":{"search":{"id":"=1"}},"columns":{"read":["id","name","status","owner_id"]}}"#)?;
    /// let viewer = rowguard::Subject::new().with_set("roles", ["viewer"]);
    /// let rows = auth.permitted_rows(&mut conn, &viewer, "contacts", Right::Read)?;
    /// assert_eq!(rows, [serde_json::json!({"id": 1, "name": "C1", "status": "open", "owner_id": 17})]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn permitted_rows(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Vec<serde_json::Value>, Error> {
        let (access, rule, hidden) = self.listing(conn, subject, model, right)?;
        let stored = &access.model;
        let table: Cow<'static, str> = Cow::Owned(stored.table_name.clone());
        let (mask, filter) = match hidden {
            Some(hidden) => (
                Some(ReadMask::new(hidden, table.clone(), rule)),
                SqlFilter::from_arc(Some(table), Arc::new(Filter::True)),
            ),
            None => (None, rule),
        };
        let query = RowsQuery {
            mask,
            table: stored.table_name.clone(),
            key: stored.primary_key.clone(),
            columns: stored.columns.iter().map(|(n, _)| n.to_owned()).collect(),
            filter,
        };
        let texts: Vec<String> = on_backend!(conn, c => query.load(c))?;
        texts
            .iter()
            .map(|t| {
                serde_json::from_str(t)
                    .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)).into())
            })
            .collect()
    }

    /// The first `limit` rows of `model` by key, each as stored (every column, whatever
    /// `subject` may see) with whether `subject` may act on it for `right`, decided in SQL by
    /// the same filter the guard uses. For explaining a decision on sample data (the
    /// service's explain): whoever calls it reads the rows unfiltered.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let sample = auth.sample(&mut conn, &agent(), "contacts", Right::Read, 2)?;
    /// let verdicts: Vec<(i64, bool)> = sample.iter()
    ///     .map(|(row, allowed)| (row["id"].as_i64().unwrap_or(0), *allowed)).collect();
    /// assert_eq!(verdicts, [(1, true), (2, false)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn sample(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
        limit: u32,
    ) -> Result<Vec<(serde_json::Value, bool)>, Error> {
        let (access, verdict, _) = self.listing(conn, subject, model, right)?;
        let stored = &access.model;
        let query = SampleQuery {
            table: stored.table_name.clone(),
            key: stored.primary_key.clone(),
            columns: stored.columns.iter().map(|(n, _)| n.to_owned()).collect(),
            verdict,
            limit,
        };
        let rows: Vec<(String, String)> = on_backend!(conn, c => query.load(c))?;
        rows.iter()
            .map(|(text, allowed)| {
                let row = serde_json::from_str(text)
                    .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
                Ok((row, allowed == "y"))
            })
            .collect()
    }

    /// What the name-only listings (`permitted_keys`, `permitted_rows`) start from: the
    /// model's access, `right`'s filter as SQL on its table, and how reads hide columns
    /// (refused, as the guard's reads are, when a hidden column cannot be NULL).
    fn listing(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        model: &str,
        right: Right,
    ) -> Result<Listing, Error> {
        let access = self.access(conn, subject, model)?;
        let filter = self.filter(conn, subject, model, right)?;
        let hidden = match self.bypass(subject) {
            Some(_) => None,
            None => access.columns.hidden(model)?,
        };
        let table = Cow::Owned(access.model.table_name.clone());
        Ok((access, SqlFilter::from_arc(Some(table), filter), hidden))
    }

    /// A full account of a decision, for `cargo xtask rules explain` and debugging.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rules::Right;
    /// let explained = auth.explain(&mut conn, &agent(), "contacts", Right::Update)?;
    /// assert_eq!(explained.sql, "WHERE (`contacts`.`status` = ? AND `contacts`.`owner_id` = ?) -- binds: [\"open\", 17]");
    /// # Ok(())
    /// # }
    /// ```
    pub fn explain(
        &self,
        conn: &mut dyn StoreConnection,
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
        let where_sql = sql.debug_sql(conn.backend());
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

/// A model's access, a right's filter as SQL, and how reads hide columns ([`Authorizer`]'s
/// name-only listings).
type Listing = (Arc<ModelAccess>, SqlFilter, Option<Arc<Projection>>);

/// What a decision is about: whose, which model (and, for typed callers, its declaration),
/// which right.
/// A decision on a row: allowed; the cache entry that refused in memory (kept for the
/// decision log); the refusal of a foreign-key target, when that decided.
type RowDecision = (bool, Option<Arc<ModelAccess>>, Option<String>);

#[derive(Clone, Copy)]
pub(super) struct Question<'a> {
    pub(super) subject: &'a Subject,
    /// Decided once per subject (a guard keeps it).
    pub(super) bypass: Option<Bypass>,
    pub(super) model: &'a str,
    pub(super) declared: Option<Declared>,
    pub(super) right: Right,
}

/// The filter with `$subject` variables filled in (shared, not copied, when it has none).
pub(super) fn resolved(filter: &Arc<Filter>, attrs: &crate::rules::Attributes) -> Arc<Filter> {
    if filter.has_vars() {
        Arc::new(filter.resolve(attrs))
    } else {
        filter.clone()
    }
}
