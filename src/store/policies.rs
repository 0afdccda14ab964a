//! `authorization_policies`: one IAM-style policy document per (set type, set value). Every
//! write here validates the document first ([`Policy::parse`]): what the store writes always
//! parses. A DBA's SQL can still store a bad one; [`invalid_policies`] lists those, and the
//! authorizer refuses every policy check of a subject that has one.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::policy::Policy;
use crate::schema::authorization_policies as policies;

use super::{Counts, StoreError};

/// One row of `authorization_policies`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct PolicyRow {
    /// Row id.
    pub id: i64,
    /// Set type name (`roles`, …).
    pub set_type: String,
    /// Set value (`agent`, …).
    pub set_value: String,
    /// The policy document, JSON text.
    pub policy: String,
}

/// A policy to store: for the seeder and [`put_policies`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDefinition {
    /// Set type name.
    pub set_type: String,
    /// Set value.
    pub set_value: String,
    /// The policy document, JSON text.
    pub document: String,
}

impl PolicyDefinition {
    /// How errors name it: `policy roles "agent"`.
    pub fn label(&self) -> String {
        label(&self.set_type, &self.set_value)
    }
}

fn label(set_type: &str, set_value: &str) -> String {
    format!("policy {set_type} \"{set_value}\"")
}

const POLICY_ROW: (
    policies::id,
    policies::set_type,
    policies::set_value,
    policies::policy,
) = (
    policies::id,
    policies::set_type,
    policies::set_value,
    policies::policy,
);

/// Checks a definition before anything is written: a known set type (compared exactly, as
/// the authorizer looks policies up), and a document that parses.
fn validate(definition: &PolicyDefinition, set_types: &[String]) -> Result<(), StoreError> {
    super::check_set_value(|| definition.label(), &definition.set_value)?;
    if !set_types.contains(&definition.set_type) {
        return Err(StoreError::UnknownSetType {
            rule: definition.label(),
            set_type: definition.set_type.clone(),
        });
    }
    Policy::parse(&definition.document).map_err(|source| StoreError::InvalidPolicy {
        policy: definition.label(),
        source,
    })?;
    Ok(())
}

/// Sets the policy of (set type, set value), replacing an existing one. The document is
/// validated first: an invalid one is an error naming the statement and field, and nothing
/// is written. In force at once for every authorizer of this process after the commit.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{put_policy, StoreError};
/// put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Allow", "Action": "server:List",
///     "Resource": "arn:rowguard:default:local:123:server"}]"#)?;
/// assert!(auth.is_allowed(&mut conn, &agent(), "server:List", "arn:rowguard:default:local:123:server")?);
///
/// let err = put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Allow", "Action": "server:List",
///     "Resource": "arn:rowguard:default"}]"#).unwrap_err();
/// assert!(matches!(err, StoreError::InvalidPolicy { .. }));
/// assert_eq!(err.to_string(), r#"policy roles "agent": statement 0, field "Resource": invalid ARN "arn:rowguard:default": it has 2 of the 5 parts after "arn:" (partition:service:region:account:type[/id])"#);
/// // Nothing was written: the first policy is still in force.
/// assert!(auth.is_allowed(&mut conn, &agent(), "server:List", "arn:rowguard:default:local:123:server")?);
/// # Ok(())
/// # }
/// ```
pub fn put_policy(
    conn: &mut dyn StoreConnection,
    set_type: &str,
    set_value: &str,
    document: &str,
) -> Result<(), StoreError> {
    let definition = PolicyDefinition {
        set_type: set_type.to_owned(),
        set_value: set_value.to_owned(),
        document: document.to_owned(),
    };
    put_policies(conn, std::slice::from_ref(&definition)).map(|_| ())
}

/// Writes policies, each validated first (the first invalid one is an error naming it, and
/// nothing is written); a policy whose document is already stored is left alone.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{put_policies, PolicyDefinition};
/// let policy = PolicyDefinition {
///     set_type: "roles".into(), set_value: "agent".into(),
///     document: r#"[{"Effect": "Deny", "Action": "*", "Resource": "*"}]"#.into(),
/// };
/// assert_eq!(put_policies(&mut conn, &[policy.clone()])?.added, 1);
/// assert_eq!(put_policies(&mut conn, &[policy])?.unchanged, 1);
/// # Ok(())
/// # }
/// ```
pub fn put_policies(
    conn: &mut dyn StoreConnection,
    definitions: &[PolicyDefinition],
) -> Result<Counts, StoreError> {
    write_transaction(conn, |conn| {
        let names = super::set_type_names(conn)?;
        for definition in definitions {
            validate(definition, &names)?;
        }
        let existing: Vec<PolicyRow> =
            on_backend!(conn, c => policies::table.select(POLICY_ROW).load(c))?;
        let existing: HashMap<(&str, &str), &PolicyRow> = existing
            .iter()
            .map(|row| ((row.set_type.as_str(), row.set_value.as_str()), row))
            .collect();
        let mut counts = Counts::default();
        for definition in definitions {
            let key = (definition.set_type.as_str(), definition.set_value.as_str());
            match existing.get(&key) {
                Some(row) if row.policy == definition.document => counts.unchanged += 1,
                Some(row) => {
                    let update = diesel::update(policies::table.find(row.id))
                        .set(policies::policy.eq(&definition.document));
                    on_backend!(conn, c => update.execute(c))?;
                    counts.changed += 1;
                }
                None => {
                    let insert = diesel::insert_into(policies::table).values((
                        policies::set_type.eq(&definition.set_type),
                        policies::set_value.eq(&definition.set_value),
                        policies::policy.eq(&definition.document),
                    ));
                    on_backend!(conn, c => insert.execute(c))?;
                    counts.added += 1;
                }
            }
        }
        Ok(counts)
    })
}

/// The policy stored for (set type, set value), if any.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{get_policy, put_policy};
/// assert!(get_policy(&mut conn, "roles", "agent")?.is_none());
/// put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Deny", "Action": "*", "Resource": "*"}]"#)?;
/// assert!(get_policy(&mut conn, "roles", "agent")?.is_some_and(|row| row.policy.contains("Deny")));
/// # Ok(())
/// # }
/// ```
pub fn get_policy(
    conn: &mut dyn StoreConnection,
    set_type: &str,
    set_value: &str,
) -> Result<Option<PolicyRow>, StoreError> {
    let query = policies::table
        .filter(policies::set_type.eq(set_type))
        .filter(policies::set_value.eq(set_value))
        .select(POLICY_ROW);
    let rows: Vec<PolicyRow> = on_backend!(conn, c => query.load(c))?;
    // MySQL compares ignoring case: only the exact pair counts, as for the authorizer.
    Ok(rows
        .into_iter()
        .find(|row| row.set_type == set_type && row.set_value == set_value))
}

/// Deletes the policy of (set type, set value); whether there was one. In force at once for
/// every authorizer of this process after the commit.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{delete_policy, put_policy};
/// put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Deny", "Action": "*", "Resource": "*"}]"#)?;
/// assert!(delete_policy(&mut conn, "roles", "agent")?);
/// assert!(!delete_policy(&mut conn, "roles", "agent")?); // gone already
/// # Ok(())
/// # }
/// ```
pub fn delete_policy(
    conn: &mut dyn StoreConnection,
    set_type: &str,
    set_value: &str,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let Some(row) = get_policy(conn, set_type, set_value)? else {
            return Ok(false);
        };
        let delete = diesel::delete(policies::table.find(row.id));
        Ok(on_backend!(conn, c => delete.execute(c))? > 0)
    })
}

/// The policies stored for the given (set type, values) pairs, in one query, in id order.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{load_policies, put_policy};
/// put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Deny", "Action": "*", "Resource": "*"}]"#)?;
/// let sets = [("roles".to_string(), vec!["agent".to_string(), "nobody".to_string()])];
/// let rows = load_policies(&mut conn, &sets)?;
/// assert_eq!(rows.len(), 1);
/// assert_eq!(rows[0].set_value, "agent");
/// # Ok(())
/// # }
/// ```
pub fn load_policies(
    conn: &mut dyn StoreConnection,
    sets: &[(String, Vec<String>)],
) -> Result<Vec<PolicyRow>, StoreError> {
    let Some(lookup) = super::SetLookup::new(sets) else {
        return Ok(Vec::new());
    };
    let query = policies::table
        .filter(policies::set_type.eq_any(&lookup.types))
        .filter(policies::set_value.eq_any(&lookup.values))
        .select(POLICY_ROW)
        .order(policies::id);
    let candidates: Vec<PolicyRow> = on_backend!(conn, c => query.load(c))?;
    Ok(candidates
        .into_iter()
        .filter(|row| lookup.has(&row.set_type, &row.set_value))
        .collect())
}

/// Every stored policy, in set type and value order.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// assert!(rowguard::store::all_policies(&mut conn)?.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn all_policies(conn: &mut dyn StoreConnection) -> Result<Vec<PolicyRow>, StoreError> {
    let query = policies::table.select(POLICY_ROW).order((
        policies::set_type,
        policies::set_value,
        policies::id,
    ));
    Ok(on_backend!(conn, c => query.load(c))?)
}

/// A stored policy that does not parse (written with SQL), or whose set type is not one
/// rowguard knows exactly (MySQL's foreign key ignores case: `ROLES` is stored, and never
/// looked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPolicy {
    /// The row.
    pub row: PolicyRow,
    /// What is wrong with it.
    pub error: String,
}

/// The stored policies that are invalid.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use diesel::connection::SimpleConnection;
/// // A DBA's SQL: JSON (the database checks that much), but not a policy.
/// conn.batch_execute(r#"INSERT INTO authorization_policies (set_type, set_value, policy)
///                       VALUES ('roles', 'agent', '[{"Effect": "Allow"}]')"#)?;
/// let bad = rowguard::store::invalid_policies(&mut conn)?;
/// assert_eq!(bad.len(), 1);
/// assert_eq!(bad[0].error, r#"statement 0, field "Action": missing (one string or a list of them)"#);
/// # Ok(())
/// # }
/// ```
pub fn invalid_policies(conn: &mut dyn StoreConnection) -> Result<Vec<InvalidPolicy>, StoreError> {
    let names = super::set_type_names(conn)?;
    Ok(all_policies(conn)?
        .into_iter()
        .filter_map(|row| {
            let error = if names.contains(&row.set_type) {
                Policy::parse(&row.policy).err()?.to_string()
            } else {
                format!("there is no set type named \"{}\"", row.set_type)
            };
            Some(InvalidPolicy { row, error })
        })
        .collect())
}

/// What in `policy` is aimed at a stored model but cannot work as written: a statement on
/// `<model>:Create|Read|Update|Delete` whose resource names none of its rows, or no column
/// test says exactly (see [`RowModel::lint`](crate::policy::RowModel::lint)). What
/// `policies set` warns about (and `--strict` refuses).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::policy::Policy;
/// let typo = Policy::parse(r#"[{"Effect": "Deny", "Action": "contacts:Read",
///     "Resource": "arn:rowguard:defualt:local:*:contacts/3"}]"#)?;
/// let problems = rowguard::store::policy_problems(&mut conn, &typo)?;
/// assert_eq!(problems.len(), 1);
/// assert!(problems[0].starts_with("statement 0, resource"));
/// # Ok(())
/// # }
/// ```
pub fn policy_problems(
    conn: &mut dyn StoreConnection,
    policy: &Policy,
) -> Result<Vec<String>, StoreError> {
    let models = super::load_models(conn)?;
    Ok(problems_with(&models, policy))
}

/// [`policy_problems`] of every stored policy that parses (the models read once): each
/// with its row. What `policies check` warns about.
pub fn stored_policy_problems(
    conn: &mut dyn StoreConnection,
) -> Result<Vec<(PolicyRow, String)>, StoreError> {
    let models = super::load_models(conn)?;
    let mut out = Vec::new();
    for row in all_policies(conn)? {
        if let Ok(policy) = Policy::parse(&row.policy) {
            for problem in problems_with(&models, &policy) {
                out.push((row.clone(), problem));
            }
        }
    }
    Ok(out)
}

fn problems_with(
    models: &[Result<std::sync::Arc<super::StoredModel>, super::BrokenModel>],
    policy: &Policy,
) -> Vec<String> {
    models
        .iter()
        .flatten()
        .flat_map(|model| {
            crate::policy::RowModel {
                name: &model.name,
                arn: &model.arn,
                columns: &model.columns,
                primary_key: &model.primary_key,
            }
            .lint(policy)
        })
        .collect()
}

/// How many policies use set type `name` (compared as the database compares).
pub(crate) fn policies_using_set_type(
    conn: &mut dyn StoreConnection,
    name: &str,
) -> Result<i64, StoreError> {
    let query = policies::table.filter(policies::set_type.eq(name)).count();
    Ok(on_backend!(conn, c => query.get_result(c))?)
}

/// Deletes every policy (the seeder's `--fresh`); how many.
pub(crate) fn clear_policies(conn: &mut dyn StoreConnection) -> Result<usize, StoreError> {
    Ok(on_backend!(conn, c => diesel::delete(policies::table).execute(c))?)
}
