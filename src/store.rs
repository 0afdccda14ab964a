//! Reading and writing rowguard's own tables: model metadata, rule rows, the state version.

use std::sync::Arc;

use diesel::prelude::*;

use crate::db::{on_backend, StoreConnection};
use crate::rules::{
    compile_document, Access, ColumnType, Columns, CompiledRules, Right, RuleError,
};
use crate::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules, authorization_state as state,
};
use crate::DbError;

/// A model as stored in `authorizable_models`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    /// Row id.
    pub id: i64,
    /// Stable name.
    pub name: String,
    /// SQL table.
    pub table_name: String,
    /// Primary key column.
    pub primary_key: String,
    /// Columns rules may use.
    pub columns: Columns,
}

impl StoredModel {
    /// How this stored definition differs from a declared one (the code's), one line per
    /// difference; empty when table, key, and column names and types agree (the order of
    /// columns is free: rules are compiled by name). A model with differences fails closed.
    pub fn differences(&self, table: &str, primary_key: &str, columns: &Columns) -> Vec<String> {
        let mut problems = Vec::new();
        if self.table_name != table {
            problems.push(format!(
                "table \"{}\" is stored, the model declares \"{table}\"",
                self.table_name
            ));
        }
        if self.primary_key != primary_key {
            problems.push(format!(
                "primary key \"{}\" is stored, the model declares \"{primary_key}\"",
                self.primary_key
            ));
        }
        for (name, ty) in columns.iter() {
            match self.columns.get(name) {
                None => problems.push(format!("column \"{name}\" is not stored")),
                Some((_, stored)) if stored != ty => problems.push(format!(
                    "column \"{name}\" is stored as {}, declared as {}",
                    stored.name(),
                    ty.name()
                )),
                Some(_) => {}
            }
        }
        for (name, _) in self.columns.iter() {
            if columns.get(name).is_none() {
                problems.push(format!("stored column \"{name}\" is not declared"));
            }
        }
        problems
    }
}

/// One row of `authorization_rules`, with its set type's name.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct RuleRow {
    /// Row id.
    pub id: i64,
    /// Set type name (`roles`, …).
    pub set_type: String,
    /// Set value (`agent`, …).
    pub set_value: String,
    /// The model's name.
    pub model: String,
    /// The rule document, JSON text.
    pub rules: String,
}

/// The columns a [`RuleRow`] is loaded from (rules joined with set types and models).
const RULE_ROW: (
    rules::id,
    set_types::name,
    rules::authorizable_set_value,
    models::name,
    rules::rules,
) = (
    rules::id,
    set_types::name,
    rules::authorizable_set_value,
    models::name,
    rules::rules,
);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A model's new columns would break rules stored for it (see [`rules_broken_by`]);
    /// nothing was written.
    #[error("refusing to change models whose stored rules depend on what changes (fix those rules first): {}", .0.join("; "))]
    RulesWouldBreak(Vec<String>),
    /// A model's stored `columns` JSON is invalid.
    #[error("model \"{model}\": {source}")]
    BadColumns {
        /// The model.
        model: String,
        /// What is wrong.
        source: RuleError,
    },
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::Db(DbError::Query(e))
    }
}

/// The current `authorization_state.version`.
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let before = rowguard::store::state_version(&mut conn)?;
/// rowguard::store::put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":"*"}"#)?;
/// assert!(rowguard::store::state_version(&mut conn)? > before); // triggers bump it
/// # Ok(())
/// # }
/// ```
pub fn state_version(conn: &mut dyn StoreConnection) -> Result<i64, StoreError> {
    Ok(on_backend!(conn, c => state::table.select(state::version).first(c))?)
}

/// A stored model whose `columns` JSON cannot be used. Only that model fails closed.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenModel {
    /// Its row id.
    pub id: i64,
    /// The model's name.
    pub name: String,
    /// What is wrong with its stored columns.
    pub error: RuleError,
}

impl From<BrokenModel> for StoreError {
    fn from(b: BrokenModel) -> Self {
        StoreError::BadColumns {
            model: b.name,
            source: b.error,
        }
    }
}

/// Every stored model; one whose stored columns are invalid comes back as a [`BrokenModel`]
/// and does not stop the others from loading.
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let models = rowguard::store::load_models(&mut conn)?;
/// let contacts = models.iter().flatten().find(|m| m.name == "contacts").unwrap();
/// assert_eq!((contacts.table_name.as_str(), contacts.primary_key.as_str()), ("contacts", "id"));
/// # Ok(())
/// # }
/// ```
pub fn load_models(
    conn: &mut dyn StoreConnection,
) -> Result<Vec<Result<Arc<StoredModel>, BrokenModel>>, StoreError> {
    let query = models::table
        .select((
            models::id,
            models::name,
            models::table_name,
            models::primary_key,
            models::column_types,
        ))
        .order(models::name);
    let rows: Vec<(i64, String, String, String, String)> = on_backend!(conn, c => query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, name, table_name, primary_key, columns)| {
            let columns = Columns::from_json(&columns).map_err(|error| BrokenModel {
                id,
                name: name.clone(),
                error,
            })?;
            Ok(Arc::new(StoredModel {
                id,
                name,
                table_name,
                primary_key,
                columns,
            }))
        })
        .collect())
}

/// Registers (or updates) a model's table, primary key and columns. A change of columns
/// that stored rules depend on is refused with [`StoreError::RulesWouldBreak`] and writes
/// nothing (see [`rules_broken_by`]).
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::{ColumnType, Columns};
/// let columns = Columns::new([("id", ColumnType::Bigint), ("title", ColumnType::Text)])?;
/// rowguard::store::upsert_model(&mut conn, "notes", "notes", "id", &columns)?;
/// // Dropping `status` would break the agent's read rule: refused, nothing written.
/// let fewer = Columns::new([("id", ColumnType::Bigint), ("name", ColumnType::Text)])?;
/// let err = rowguard::store::upsert_model(&mut conn, "contacts", "contacts", "id", &fewer);
/// assert!(matches!(err, Err(rowguard::store::StoreError::RulesWouldBreak(_))));
/// # Ok(())
/// # }
/// ```
pub fn upsert_model(
    conn: &mut dyn StoreConnection,
    name: &str,
    table_name: &str,
    primary_key: &str,
    columns: &Columns,
) -> Result<(), StoreError> {
    let json = columns.to_json();
    on_backend!(conn, c => c.transaction(|conn| {
        let broken = rules_broken_by(conn, name, columns)?;
        if !broken.is_empty() {
            return Err(StoreError::RulesWouldBreak(broken));
        }
        let updated = diesel::update(models::table.filter(models::name.eq(name)))
            .set((
                models::table_name.eq(table_name),
                models::primary_key.eq(primary_key),
                models::column_types.eq(&json),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(models::table)
                .values((
                    models::name.eq(name),
                    models::table_name.eq(table_name),
                    models::primary_key.eq(primary_key),
                    models::column_types.eq(&json),
                ))
                .execute(conn)?;
        }
        Ok::<_, StoreError>(())
    }))?;
    crate::cache::note_store_write();
    Ok(())
}

/// The rules stored for `model` that its new `columns` would break, each as
/// `"model set_type/set_value: why"`: a column a rule uses is gone, or has another type (a
/// text comparison is not a number comparison; integer and bigint are alike). Rules that do
/// not compile against the stored columns already are `rules check`'s business, not a
/// reason to refuse.
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::{ColumnType, Columns};
/// let retyped = Columns::new([
///     ("id", ColumnType::Bigint),
///     ("name", ColumnType::Text),
///     ("status", ColumnType::Text),
///     ("owner_id", ColumnType::Text), // was bigint; the agent's rules compare it
/// ])?;
/// let broken = rowguard::store::rules_broken_by(&mut conn, "contacts", &retyped)?;
/// assert_eq!(
///     broken,
///     [r#"contacts roles/agent: column "owner_id" would change type from bigint to text"#]
/// );
/// # Ok(())
/// # }
/// ```
pub fn rules_broken_by(
    conn: &mut dyn StoreConnection,
    model: &str,
    columns: &Columns,
) -> Result<Vec<String>, StoreError> {
    let query = rules::table
        .inner_join(set_types::table)
        .inner_join(models::table)
        .filter(models::name.eq(model))
        .select((
            set_types::name,
            rules::authorizable_set_value,
            rules::rules,
            models::column_types,
        ))
        .order((set_types::name, rules::authorizable_set_value));
    let stored: Vec<(String, String, String, String)> = on_backend!(conn, c => query.load(c))?;
    let mut broken = Vec::new();
    for (set_type, value, doc, old_columns) in stored {
        let Ok(old) = Columns::from_json(&old_columns) else {
            continue;
        };
        let Ok(compiled) = compile_document(&doc, &old) else {
            continue;
        };
        let why = match compile_document(&doc, columns) {
            Err(e) => e.to_string(),
            Ok(_) => match retyped_column(&compiled, &old, columns) {
                Some((name, was, now)) => {
                    format!("column \"{name}\" would change type from {was} to {now}")
                }
                None => continue,
            },
        };
        broken.push(format!("{model} {set_type}/{value}: {why}"));
    }
    Ok(broken)
}

/// The first column `compiled` tests whose type differs between `old` and `new`.
fn retyped_column(
    compiled: &CompiledRules,
    old: &Columns,
    new: &Columns,
) -> Option<(String, ColumnType, ColumnType)> {
    let integer = |t: ColumnType| matches!(t, ColumnType::Integer | ColumnType::Bigint);
    old.iter().enumerate().find_map(|(i, (name, was))| {
        let (_, now) = new.get(name)?;
        if now == was || (integer(now) && integer(was)) {
            return None;
        }
        let tested = Right::ALL.iter().any(|right| {
            matches!(compiled.access(*right), Some(Access::Rows(f)) if f.tests_any_column(&|j| j == i))
        });
        tested.then(|| (name.to_owned(), was, now))
    })
}

/// Sets the rule document of (set type, set value, model), replacing an existing one. The
/// document is stored as given; validate it first (the seeder and the guard do).
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::Right;
/// rowguard::store::put_rule(&mut conn, "roles", "agent", "contacts", r#"{"read":"*"}"#)?;
/// // In force at once: the agent now reads the closed contact too.
/// let guard = auth.guard(agent());
/// assert_eq!(guard.read::<Contact>(&mut conn)?.count().get_result::<i64>(&mut conn)?, 3);
/// let two = guard.find::<Contact>(&mut conn, 2)?;
/// // The document replaced the agent's whole rule: no update right any more.
/// assert!(!guard.can(&mut conn, Right::Update, &two)?);
/// # Ok(())
/// # }
/// ```
pub fn put_rule(
    conn: &mut dyn StoreConnection,
    set_type: &str,
    set_value: &str,
    model: &str,
    document: &str,
) -> Result<(), StoreError> {
    on_backend!(conn, c => c.transaction(|conn| {
        let type_id: i64 = set_types::table
            .filter(set_types::name.eq(set_type))
            .select(set_types::id)
            .first(conn)?;
        let model_id: i64 = models::table
            .filter(models::name.eq(model))
            .select(models::id)
            .first(conn)?;
        let target = rules::table
            .filter(rules::authorizable_set_type_id.eq(type_id))
            .filter(rules::authorizable_set_value.eq(set_value))
            .filter(rules::authorizable_model_id.eq(model_id));
        let updated = diesel::update(target)
            .set(rules::rules.eq(document))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(rules::table)
                .values((
                    rules::authorizable_set_type_id.eq(type_id),
                    rules::authorizable_set_value.eq(set_value),
                    rules::authorizable_model_id.eq(model_id),
                    rules::rules.eq(document),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))?;
    // In force at once for every authorizer of this process (after the commit, when the
    // caller's connection is not inside a transaction of its own; else after the next
    // version check).
    crate::cache::note_store_write();
    Ok(())
}

/// The rule rows of `model` for the given (set type, values) pairs, in one query.
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let sets = [("roles".to_string(), vec!["agent".to_string(), "nobody".to_string()])];
/// let rows = rowguard::store::load_rules(&mut conn, "contacts", &sets)?;
/// assert_eq!(rows.len(), 1);
/// assert_eq!((rows[0].set_type.as_str(), rows[0].set_value.as_str()), ("roles", "agent"));
/// # Ok(())
/// # }
/// ```
pub fn load_rules(
    conn: &mut dyn StoreConnection,
    model: &str,
    sets: &[(String, Vec<String>)],
) -> Result<Vec<RuleRow>, StoreError> {
    let type_names: Vec<&str> = sets.iter().map(|(t, _)| t.as_str()).collect();
    let values: Vec<&str> = sets
        .iter()
        .flat_map(|(_, vs)| vs.iter().map(String::as_str))
        .collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let query = rules::table
        .inner_join(set_types::table)
        .inner_join(models::table)
        .filter(models::name.eq(model))
        .filter(set_types::name.eq_any(&type_names))
        .filter(rules::authorizable_set_value.eq_any(&values))
        .select(RULE_ROW)
        .order(rules::id);
    let candidates: Vec<RuleRow> = on_backend!(conn, c => query.load(c))?;
    // The query matched types and values independently; keep the exact pairs.
    Ok(candidates
        .into_iter()
        .filter(|row| {
            sets.iter()
                .any(|(t, vs)| *t == row.set_type && vs.contains(&row.set_value))
        })
        .collect())
}

/// Every rule row (for `rules check`).
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let rows = rowguard::store::all_rules(&mut conn)?;
/// assert!(rows.iter().any(|r| r.model == "contacts" && r.set_value == "agent"));
/// # Ok(())
/// # }
/// ```
pub fn all_rules(conn: &mut dyn StoreConnection) -> Result<Vec<RuleRow>, StoreError> {
    let query = rules::table
        .inner_join(set_types::table)
        .inner_join(models::table)
        .select(RULE_ROW)
        .order(rules::id);
    Ok(on_backend!(conn, c => query.load(c))?)
}

/// A stored rule row that does not validate against its model.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRule {
    /// The row.
    pub row: RuleRow,
    /// What is wrong with it.
    pub error: String,
}

/// Validates every stored rule against its model's columns; returns the bad ones.
///
/// ```
/// # include!("../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// // A DBA's typo, written with SQL or through put_rule (which stores what it is given).
/// rowguard::store::put_rule(&mut conn, "roles", "typo", "contacts", r#"{"read":{"search":{"idd":"=1"}}}"#)?;
/// let bad = rowguard::store::invalid_rules(&mut conn)?;
/// assert_eq!(bad.len(), 1);
/// assert!(bad[0].error.contains(r#"unknown column "idd""#), "{}", bad[0].error);
/// # Ok(())
/// # }
/// ```
pub fn invalid_rules(conn: &mut dyn StoreConnection) -> Result<Vec<InvalidRule>, StoreError> {
    let mut columns = std::collections::HashMap::new();
    let query = models::table.select((models::name, models::column_types));
    let rows: Vec<(String, String)> = on_backend!(conn, c => query.load(c))?;
    for (name, json) in rows {
        columns.insert(name, Columns::from_json(&json));
    }
    Ok(all_rules(conn)?
        .into_iter()
        .filter_map(|row| {
            let error = match columns.get(&row.model) {
                Some(Ok(cols)) => crate::rules::compile_document(&row.rules, cols)
                    .err()
                    .map(|e| e.to_string()),
                Some(Err(e)) => Some(format!("the model's columns are invalid: {e}")),
                None => Some("the model is not registered".into()),
            }?;
            Some(InvalidRule { row, error })
        })
        .collect())
}
