//! `authorizable_models`: the models' tables, keys and columns, and the check that a change
//! of columns does not break stored rules.

use std::sync::Arc;

use diesel::prelude::*;

use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::policy::ModelArn;
use crate::rules::{
    compile_document, Access, ColumnType, Columns, CompiledRules, Right, RuleError,
};
use crate::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules,
};

use super::StoreError;

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
    /// How policies name the model and its rows.
    pub arn: ModelArn<String>,
}

impl StoredModel {
    /// How this stored definition differs from a declared one (the code's), one line per
    /// difference; empty when table, key, and column names and types agree (the order of
    /// columns is free: rules are compiled by name). A model with differences fails closed.
    pub fn differences<S: AsRef<str>>(
        &self,
        table: &str,
        primary_key: &str,
        columns: &Columns,
        arn: &ModelArn<S>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        if self.arn.to_string() != arn.to_string() {
            problems.push(format!(
                "ARN form {} is stored, the model declares {arn}",
                self.arn
            ));
        }
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
/// # include!("../../docs/doctest_setup.rs");
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
            models::arn,
        ))
        .order(models::name);
    type Row = (i64, String, String, String, String, Option<String>);
    let rows: Vec<Row> = on_backend!(conn, c => query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, name, table_name, primary_key, columns, arn)| {
            let broken = |error| BrokenModel {
                id,
                name: name.clone(),
                error,
            };
            let columns = Columns::from_json(&columns).map_err(broken)?;
            let arn = match arn {
                None => ModelArn::default(),
                // Its parts are checked; its account column is not: a model whose stored
                // columns lost it names no row exactly (its statements grant none and deny
                // all), and a typed caller sees the difference from the code.
                Some(text) => text
                    .parse::<ModelArn<String>>()
                    .and_then(|arn| {
                        arn.validate_parts()
                            .map(|()| arn)
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|e| broken(RuleError::schema(format!("arn: {e}"))))?,
            };
            Ok(Arc::new(StoredModel {
                id,
                name,
                table_name,
                primary_key,
                columns,
                arn,
            }))
        })
        .collect())
}

/// Registers (or updates) a model's table, primary key, columns and ARN form (checked: an
/// account column it does not have is [`StoreError::BadArn`]). A change of columns
/// that stored rules depend on is refused with [`StoreError::RulesWouldBreak`] and writes
/// nothing (see [`rules_broken_by`]).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::{ColumnType, Columns};
/// let columns = Columns::new([("id", ColumnType::Bigint), ("title", ColumnType::Text)])?;
/// let arn = rowguard::policy::ModelArn::DEFAULT;
/// rowguard::store::upsert_model(&mut conn, "notes", "notes", "id", &columns, &arn)?;
/// // Dropping `status` would break the agent's read rule: refused, nothing written.
/// let fewer = Columns::new([("id", ColumnType::Bigint), ("name", ColumnType::Text)])?;
/// let err = rowguard::store::upsert_model(&mut conn, "contacts", "contacts", "id", &fewer, &arn);
/// assert!(matches!(err, Err(rowguard::store::StoreError::RulesWouldBreak(_))));
/// # Ok(())
/// # }
/// ```
pub fn upsert_model<S: AsRef<str>>(
    conn: &mut dyn StoreConnection,
    name: &str,
    table_name: &str,
    primary_key: &str,
    columns: &Columns,
    arn: &ModelArn<S>,
) -> Result<(), StoreError> {
    let json = columns.to_json();
    arn.validate(columns).map_err(|e| StoreError::BadArn {
        model: name.to_owned(),
        source: e,
    })?;
    // The defaults are stored as NULL: a model that declares nothing reads as before.
    let arn = (!arn.is_default()).then(|| arn.to_string());
    write_transaction(conn, |conn| {
        // Unchanged: no write (it would be a history entry and a version bump, which
        // throws away every process's cache, on each start of a service that registers).
        let stored: Option<(String, String, String, Option<String>)> = on_backend!(conn, c => models::table
            .filter(models::name.eq(name))
            .select((models::table_name, models::primary_key, models::column_types, models::arn))
            .first(c)
            .optional())?;
        // JSON compared as values: MySQL's JSON type keeps its own layout of the text.
        let same_json = |a: &str, b: &str| {
            a == b
                || serde_json::from_str::<serde_json::Value>(a).is_ok_and(|x| {
                    serde_json::from_str::<serde_json::Value>(b).is_ok_and(|y| x == y)
                })
        };
        if let Some((table, key, types, stored_arn)) = &stored {
            let same_arn = match (stored_arn, &arn) {
                (None, None) => true,
                (Some(a), Some(b)) => same_json(a, b),
                _ => false,
            };
            if table == table_name && key == primary_key && same_json(types, &json) && same_arn {
                return Ok(());
            }
        }
        let mut broken = rules_broken_by(conn, name, columns)?;
        // Rules of other models reach this one's columns through relations.
        for other in broken_elsewhere(conn, name, table_name, primary_key, columns)? {
            if !broken.contains(&other) {
                broken.push(other);
            }
        }
        if !broken.is_empty() {
            return Err(StoreError::RulesWouldBreak(broken));
        }
        on_backend!(conn, c => {
            let updated = diesel::update(models::table.filter(models::name.eq(name)))
                .set((
                    models::table_name.eq(table_name),
                    models::primary_key.eq(primary_key),
                    models::column_types.eq(&json),
                    models::arn.eq(&arn),
                ))
                .execute(c)?;
            if updated == 0 {
                diesel::insert_into(models::table)
                    .values((
                        models::name.eq(name),
                        models::table_name.eq(table_name),
                        models::primary_key.eq(primary_key),
                        models::column_types.eq(&json),
                        models::arn.eq(&arn),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
    })
}

/// The stored rules (of any model) that would stop compiling if `name` had these table, key
/// and columns: relation conditions of other models reach its columns.
fn broken_elsewhere(
    conn: &mut dyn StoreConnection,
    name: &str,
    table_name: &str,
    primary_key: &str,
    columns: &Columns,
) -> Result<Vec<String>, StoreError> {
    let before: Vec<Arc<StoredModel>> = load_models(conn)?.into_iter().flatten().collect();
    let (relations, _) = super::load_relations(conn)?;
    let mut after: Vec<Arc<StoredModel>> =
        before.iter().filter(|m| m.name != name).cloned().collect();
    after.push(Arc::new(StoredModel {
        id: 0,
        name: name.to_owned(),
        table_name: table_name.to_owned(),
        primary_key: primary_key.to_owned(),
        columns: columns.clone(),
        arn: ModelArn::default(),
    }));
    let old = super::schema_of(&before, relations.clone(), &mut Vec::new());
    let new = super::schema_of(&after, relations, &mut Vec::new());
    super::rules_broken_by_schema(conn, &old, &new)
}

/// How many rule rows the model with row id `model_id` has.
pub fn rule_count(conn: &mut dyn StoreConnection, model_id: i64) -> Result<i64, StoreError> {
    let query = rules::table
        .filter(rules::authorizable_model_id.eq(model_id))
        .count();
    Ok(on_backend!(conn, c => query.get_result(c))?)
}

/// Deletes the model `name`; refused with [`StoreError::ModelHasRules`] while rule rows
/// use it, and with [`StoreError::BadRelation`] while relations start or end at it (checked here, not left to a foreign key a SQLite connection may not enforce).
pub fn delete_model(conn: &mut dyn StoreConnection, name: &str) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let count = rules::table
            .inner_join(models::table)
            .filter(models::name.eq(name))
            .count();
        let rules: i64 = on_backend!(conn, c => count.get_result(c))?;
        if rules > 0 {
            return Err(StoreError::ModelHasRules {
                model: name.to_owned(),
                rules,
            });
        }
        let (relations, _) = super::load_relations(conn)?;
        let using: Vec<String> = relations
            .iter()
            .filter(|(owner, r)| owner == name || r.target_model == name)
            .map(|(owner, r)| format!("{owner}.{}", r.name))
            .collect();
        if !using.is_empty() {
            return Err(StoreError::BadRelation(format!(
                "model \"{name}\" is still used by relations ({}); remove them first",
                using.join(", ")
            )));
        }
        let delete = diesel::delete(models::table.filter(models::name.eq(name)));
        Ok(on_backend!(conn, c => delete.execute(c))?)
    })
}

/// The rules stored for `model` that its new `columns` would break, each as
/// `"model set_type/set_value: why"`: a column a rule uses is gone, or has another type (a
/// text comparison is not a number comparison; integer and bigint are alike). Rules that do
/// not compile against the stored columns already are `rules check`'s business, not a
/// reason to refuse.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
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
