//! Writing many rows of rowguard's rule tables at once (the seeder's set types and rules):
//! each function makes the table hold what it is given and counts what it did, in one
//! transaction of its own (a savepoint inside the caller's): an error names the item and
//! nothing of that call is written.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Deserialize;

use super::{load_models, StoreError, BUILT_IN_SET_TYPES};
use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::rules::{compile_document_in, is_identifier};
use crate::schema::{authorizable_set_types as set_types, authorization_rules as rules};

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Rows inserted.
    pub added: usize,
    /// Rows updated (or, for a clear, deleted).
    pub changed: usize,
    /// Rows already as wanted.
    pub unchanged: usize,
}

/// A name with an optional description (a set type, a permission): written `"name"` or
/// `{"name": …, "description": …}` in a seed file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "NamedRepr")]
pub struct Named {
    /// The name.
    pub name: String,
    /// The description, if given.
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NamedRepr {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        description: Option<String>,
    },
}

impl From<NamedRepr> for Named {
    fn from(r: NamedRepr) -> Self {
        match r {
            NamedRepr::Name(name) => Named {
                name,
                description: None,
            },
            NamedRepr::Full { name, description } => Named { name, description },
        }
    }
}

/// What writing `items` into a table of names and descriptions takes, given what it
/// holds (`existing`: name → description): the rows to insert, the rows whose description to
/// update (a name given without a description keeps its stored one), and how many are
/// already as wanted. The set-type and permission tables share it.
#[doc(hidden)]
pub fn plan_named<'a>(
    items: &'a [Named],
    existing: &HashMap<String, Option<String>>,
) -> (Vec<&'a Named>, Vec<&'a Named>, usize) {
    let (mut add, mut change, mut unchanged) = (Vec::new(), Vec::new(), 0);
    for item in items {
        match existing.get(&item.name) {
            None => add.push(item),
            Some(stored) if item.description.is_some() && *stored != item.description => {
                change.push(item)
            }
            Some(_) => unchanged += 1,
        }
    }
    (add, change, unchanged)
}

/// Writes `items` into a table of names and descriptions (`set_types`, `permissions`) and
/// counts what it did, per [`plan_named`]. One text for both tables, expanded in the module
/// that owns each (the columns' Diesel types differ, so a function would need Diesel's
/// generic bounds).
macro_rules! upsert_named_rows {
    ($conn:expr, $items:expr, $table:ident) => {{
        let query = $table::table.select(($table::name, $table::description));
        let existing: Vec<(String, Option<String>)> =
            $crate::db::on_backend!($conn, c => query.load(c))?;
        let (add, change, unchanged) =
            $crate::store::plan_named($items, &existing.into_iter().collect());
        for item in &add {
            let insert = diesel::insert_into($table::table).values((
                $table::name.eq(&item.name),
                $table::description.eq(&item.description),
            ));
            $crate::db::on_backend!($conn, c => insert.execute(c))?;
        }
        for item in &change {
            let update = diesel::update($table::table.filter($table::name.eq(&item.name)))
                .set($table::description.eq(&item.description));
            $crate::db::on_backend!($conn, c => update.execute(c))?;
        }
        $crate::store::Counts {
            added: add.len(),
            changed: change.len(),
            unchanged,
        }
    }};
}
pub(crate) use upsert_named_rows;

/// A rule row to write: (set type, set value, model) and its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDefinition {
    /// The set type (`roles`, …).
    pub set_type: String,
    /// The set value (`agent`, …).
    pub set_value: String,
    /// The model's stored name.
    pub model: String,
    /// The rule document, JSON text.
    pub document: String,
}

impl RuleDefinition {
    /// How errors name it: `rule roles "agent" on contacts`.
    pub fn label(&self) -> String {
        format!(
            "rule {} \"{}\" on {}",
            self.set_type, self.set_value, self.model
        )
    }
}

/// Deletes every policy, every rule row and every set type that is not built in; returns the
/// rows deleted.
pub fn clear_rules_and_set_types(conn: &mut dyn StoreConnection) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let policies = super::clear_policies(conn)?;
        Ok(policies
            + on_backend!(conn, c => {
                let deleted = diesel::delete(rules::table).execute(c)?;
                deleted
                    + diesel::delete(set_types::table.filter(set_types::name.ne_all(BUILT_IN_SET_TYPES)))
                        .execute(c)?
            }))
    })
}

/// Adds the set types that are missing and updates descriptions that differ. A name must be
/// an identifier (letters, digits and `_`, not starting with a digit).
pub fn upsert_set_types(
    conn: &mut dyn StoreConnection,
    items: &[Named],
) -> Result<Counts, StoreError> {
    write_transaction(conn, |conn| {
        if let Some(bad) = items.iter().find(|t| !is_identifier(&t.name)) {
            return Err(StoreError::BadSetTypeName(bad.name.clone()));
        }
        Ok(upsert_named_rows!(conn, items, set_types))
    })
}

/// Deletes set type `name`; whether it existed. A built-in set type, or one that rule rows or
/// policies still use, is an error and nothing is deleted.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{delete_set_type, upsert_set_types, Named, StoreError};
/// upsert_set_types(&mut conn, &[Named { name: "teams".into(), description: None }])?;
/// assert!(delete_set_type(&mut conn, "teams")?);
/// assert!(!delete_set_type(&mut conn, "teams")?); // gone already
/// assert!(matches!(delete_set_type(&mut conn, "roles"), Err(StoreError::BuiltInSetType(_))));
/// # Ok(())
/// # }
/// ```
pub fn delete_set_type(conn: &mut dyn StoreConnection, name: &str) -> Result<bool, StoreError> {
    // Compared as MySQL would compare it (case and trailing blanks ignored), and only
    // identifiers: `ROLES` must not slip past the check to match `roles` in SQL.
    if !is_identifier(name) {
        return Err(StoreError::BadSetTypeName(name.to_owned()));
    }
    if BUILT_IN_SET_TYPES
        .iter()
        .any(|b| b.eq_ignore_ascii_case(name))
    {
        return Err(StoreError::BuiltInSetType(name.to_owned()));
    }
    write_transaction(conn, |conn| {
        let used = rules::table
            .inner_join(set_types::table)
            .filter(set_types::name.eq(name))
            .count();
        let used: i64 = on_backend!(conn, c => used.get_result(c))?;
        if used > 0 {
            return Err(StoreError::SetTypeHasRules {
                set_type: name.to_owned(),
                rules: used,
            });
        }
        let policies = super::policies_using_set_type(conn, name)?;
        if policies > 0 {
            return Err(StoreError::SetTypeHasPolicies {
                set_type: name.to_owned(),
                policies,
            });
        }
        let delete = diesel::delete(set_types::table.filter(set_types::name.eq(name)));
        Ok(on_backend!(conn, c => delete.execute(c))? > 0)
    })
}

/// Writes rule rows: each document is compiled against its model's stored columns first
/// (an invalid one is an error naming the rule); a row whose document is already stored is
/// left alone.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{put_rules, RuleDefinition, StoreError};
/// let rule = |doc: &str| RuleDefinition {
///     set_type: "roles".into(), set_value: "sales".into(), model: "contacts".into(),
///     document: doc.into(),
/// };
/// assert_eq!(put_rules(&mut conn, &[rule(r#"{"read":"*"}"#)])?.added, 1);
/// assert_eq!(put_rules(&mut conn, &[rule(r#"{"read":"*"}"#)])?.unchanged, 1);
/// let err = put_rules(&mut conn, &[rule(r#"{"read":{"search":{"nope":"=1"}}}"#)]).unwrap_err();
/// assert!(matches!(err, StoreError::InvalidRule { .. }), "{err}");
/// # Ok(())
/// # }
/// ```
pub fn put_rules(
    conn: &mut dyn StoreConnection,
    definitions: &[RuleDefinition],
) -> Result<Counts, StoreError> {
    write_transaction(conn, |conn| {
        let types_query = set_types::table.select((set_types::name, set_types::id));
        let type_ids: Vec<(String, i64)> = on_backend!(conn, c => types_query.load(c))?;
        let type_ids: HashMap<String, i64> = type_ids.into_iter().collect();
        let models = load_models(conn)?;
        let (schema, _) = super::load_schema(conn)?;
        let existing_query = rules::table.select((
            rules::authorizable_set_type_id,
            rules::authorizable_set_value,
            rules::authorizable_model_id,
            rules::id,
            rules::rules,
        ));
        let existing: Vec<(i64, String, i64, i64, String)> =
            on_backend!(conn, c => existing_query.load(c))?;
        let existing: HashMap<(i64, String, i64), (i64, String)> = existing
            .into_iter()
            .map(|(t, v, m, id, r)| ((t, v, m), (id, r)))
            .collect();
        let mut counts = Counts::default();
        for rule in definitions {
            super::check_set_value(|| rule.label(), &rule.set_value)?;
            let &type_id =
                type_ids
                    .get(&rule.set_type)
                    .ok_or_else(|| StoreError::UnknownSetType {
                        rule: rule.label(),
                        set_type: rule.set_type.clone(),
                    })?;
            let model = models
                .iter()
                .find_map(|m| match m {
                    Ok(m) if m.name == rule.model => Some(Ok(m)),
                    Err(broken) if broken.name == rule.model => Some(Err(broken.clone())),
                    _ => None,
                })
                .ok_or_else(|| StoreError::UnknownModel {
                    rule: rule.label(),
                    model: rule.model.clone(),
                })??;
            compile_document_in(&rule.document, &model.columns, &schema, &rule.model).map_err(
                |source| StoreError::InvalidRule {
                    rule: rule.label(),
                    source,
                },
            )?;
            match existing.get(&(type_id, rule.set_value.clone(), model.id)) {
                Some((_, stored)) if *stored == rule.document => counts.unchanged += 1,
                Some((id, _)) => {
                    let update =
                        diesel::update(rules::table.find(*id)).set(rules::rules.eq(&rule.document));
                    on_backend!(conn, c => update.execute(c))?;
                    counts.changed += 1;
                }
                None => {
                    let insert = diesel::insert_into(rules::table).values((
                        rules::authorizable_set_type_id.eq(type_id),
                        rules::authorizable_set_value.eq(&rule.set_value),
                        rules::authorizable_model_id.eq(model.id),
                        rules::rules.eq(&rule.document),
                    ));
                    on_backend!(conn, c => insert.execute(c))?;
                    counts.added += 1;
                }
            }
        }
        Ok(counts)
    })
}
