//! `authorization_rules`: one rule document per (set type, set value, model).

use diesel::prelude::*;

use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules,
};

use super::StoreError;

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

/// Sets the rule document of (set type, set value, model), replacing an existing one. The
/// document is stored as given; validate it first (the seeder and the guard do).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
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
    super::check_set_value(
        || format!("rule {set_type} \"{set_value}\" on {model}"),
        set_value,
    )?;
    // In force at once for every authorizer of this process after the commit (inside a
    // transaction of the caller's: after the next version check, or note it yourself).
    write_transaction(conn, |conn| {
        on_backend!(conn, c => {
            let type_id: i64 = set_types::table
                .filter(set_types::name.eq(set_type))
                .select(set_types::id)
                .first(c)?;
            let model_id: i64 = models::table
                .filter(models::name.eq(model))
                .select(models::id)
                .first(c)?;
            let target = rules::table
                .filter(rules::authorizable_set_type_id.eq(type_id))
                .filter(rules::authorizable_set_value.eq(set_value))
                .filter(rules::authorizable_model_id.eq(model_id));
            let updated = diesel::update(target)
                .set(rules::rules.eq(document))
                .execute(c)?;
            if updated == 0 {
                diesel::insert_into(rules::table)
                    .values((
                        rules::authorizable_set_type_id.eq(type_id),
                        rules::authorizable_set_value.eq(set_value),
                        rules::authorizable_model_id.eq(model_id),
                        rules::rules.eq(document),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
    })
}

/// The rule rows of `model` for the given (set type, values) pairs, in one query.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
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
    let Some(lookup) = super::SetLookup::new(sets) else {
        return Ok(Vec::new());
    };
    let query = rules::table
        .inner_join(set_types::table)
        .inner_join(models::table)
        .filter(models::name.eq(model))
        .filter(set_types::name.eq_any(&lookup.types))
        .filter(rules::authorizable_set_value.eq_any(&lookup.values))
        .select(RULE_ROW)
        .order(rules::id);
    let candidates: Vec<RuleRow> = on_backend!(conn, c => query.load(c))?;
    Ok(candidates
        .into_iter()
        .filter(|row| lookup.has(&row.set_type, &row.set_value))
        .collect())
}

/// Every rule row (for `rules check`).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
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

/// Validates every stored rule against its model's columns and relations; returns the bad
/// ones.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
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
    let models = super::load_models(conn)?;
    let (schema, _) = super::load_schema(conn)?;
    let model = |name: &str| {
        models.iter().find(|m| match m {
            Ok(m) => m.name == name,
            Err(broken) => broken.name == name,
        })
    };
    Ok(all_rules(conn)?
        .into_iter()
        .filter_map(|row| {
            let error = match model(&row.model) {
                Some(Ok(stored)) => crate::rules::compile_document_in(
                    &row.rules,
                    &stored.columns,
                    &schema,
                    &row.model,
                )
                .err()
                .map(|e| e.to_string()),
                Some(Err(broken)) => {
                    Some(format!("the model's columns are invalid: {}", broken.error))
                }
                None => Some("the model is not registered".into()),
            }?;
            Some(InvalidRule { row, error })
        })
        .collect())
}

/// Deletes the rule row of (set type, set value, model), by name; returns whether there was
/// one. In force at once for every authorizer of this process after the commit.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::delete_rule;
/// assert!(delete_rule(&mut conn, "roles", "agent", "contacts")?);
/// assert!(!delete_rule(&mut conn, "roles", "agent", "contacts")?); // gone already
/// // The agent's rule no longer grants anything.
/// assert_eq!(auth.guard(agent()).read::<Contact>(&mut conn)?.count().get_result::<i64>(&mut conn)?, 0);
/// # Ok(())
/// # }
/// ```
pub fn delete_rule(
    conn: &mut dyn StoreConnection,
    set_type: &str,
    set_value: &str,
    model: &str,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let ids = rules::table
            .inner_join(set_types::table)
            .inner_join(models::table)
            .filter(set_types::name.eq(set_type))
            .filter(rules::authorizable_set_value.eq(set_value))
            .filter(models::name.eq(model))
            .select(rules::id);
        let found: Vec<i64> = on_backend!(conn, c => ids.load(c))?;
        let deleted = on_backend!(conn, c => diesel::delete(rules::table.filter(rules::id.eq_any(&found))).execute(c))?;
        Ok(deleted > 0)
    })
}

/// A rule row whose set type or model row is gone (possible where foreign keys are not
/// enforced, such as a DBA's `sqlite3` shell): it can never apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanRule {
    /// Row id.
    pub id: i64,
    /// The set value.
    pub set_value: String,
    /// What is missing, e.g. `set type #7` or `model #3`.
    pub missing: String,
}

/// The rule rows whose set type or model no longer exists.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// assert!(rowguard::store::orphan_rules(&mut conn)?.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn orphan_rules(conn: &mut dyn StoreConnection) -> Result<Vec<OrphanRule>, StoreError> {
    let query = rules::table
        .left_join(set_types::table)
        .left_join(models::table)
        .filter(set_types::id.is_null().or(models::id.is_null()))
        .select((
            rules::id,
            rules::authorizable_set_value,
            rules::authorizable_set_type_id,
            set_types::id.nullable(),
            rules::authorizable_model_id,
            models::id.nullable(),
        ))
        .order(rules::id);
    // (rule id, set value, set type id, its row's id, model id, its row's id)
    type Row = (i64, String, i64, Option<i64>, i64, Option<i64>);
    let rows: Vec<Row> = on_backend!(conn, c => query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, set_value, type_id, t, model_id, m)| {
            let mut missing = Vec::new();
            if t.is_none() {
                missing.push(format!("set type #{type_id}"));
            }
            if m.is_none() {
                missing.push(format!("model #{model_id}"));
            }
            OrphanRule {
                id,
                set_value,
                missing: missing.join(" and "),
            }
        })
        .collect())
}
