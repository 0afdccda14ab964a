//! Writing the RBAC tables: permissions, roles, grants, inheritance. Each function makes the
//! tables hold what it is given (inserting and updating, never deleting, except [`clear`])
//! and says how many rows it added, changed or found as wanted. Run them inside one
//! transaction (the seeder does): they check names, unknown references and cycles, and
//! return an error after which the caller rolls back.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use serde::Deserialize;

use super::{find_cycle, validate_permission_name, validate_role_name, RbacError, Role};
use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::schema::{permissions, role_inheritance, role_permissions, roles};
use crate::store::{upsert_named_rows, Counts, Named};
use crate::DbError;

/// A role to write: its permissions (`"*"` for all) and the roles it inherits from. The
/// seed file's `roles` entries have this shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// The role's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Permission names, or `"*"` for every permission.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles whose permissions this one inherits.
    #[serde(default)]
    pub inherits: Vec<String>,
}

/// Errors of the RBAC writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A name is invalid, a reference unknown, or inheritance would have a cycle.
    #[error(transparent)]
    Rbac(#[from] RbacError),
    /// A query failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for WriteError {
    fn from(e: diesel::result::Error) -> Self {
        WriteError::Db(e.into())
    }
}

/// Deletes every grant, inheritance, role and permission; returns the rows deleted.
pub fn clear(conn: &mut dyn StoreConnection) -> Result<usize, WriteError> {
    write_transaction(conn, |conn| {
        Ok(on_backend!(conn, c => {
            let mut deleted = diesel::delete(role_inheritance::table).execute(c)?;
            deleted += diesel::delete(role_permissions::table).execute(c)?;
            deleted += diesel::delete(roles::table).execute(c)?;
            deleted + diesel::delete(permissions::table).execute(c)?
        }))
    })
}

/// Adds the permissions that are missing and updates descriptions that differ (a permission
/// given without a description keeps its stored one).
///
/// ```
/// # let mut conn = rowguard::establish(&rowguard::DatabaseUrl::parse(":memory:")?)?;
/// # rowguard::run_pending_migrations(&mut conn)?;
/// use rowguard::rbac::write::upsert_permissions;
/// use rowguard::store::Named;
/// let run = Named { name: "jobs.run".into(), description: None };
/// assert_eq!(upsert_permissions(&mut conn, &[run.clone()])?.added, 1);
/// assert_eq!(upsert_permissions(&mut conn, &[run])?.unchanged, 1);
/// let bad = Named { name: "Jobs Run".into(), description: None };
/// assert!(upsert_permissions(&mut conn, &[bad]).is_err()); // nothing written
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn upsert_permissions(
    conn: &mut dyn StoreConnection,
    items: &[Named],
) -> Result<Counts, WriteError> {
    write_transaction(conn, |conn| {
        for item in items {
            validate_permission_name(&item.name)?;
        }
        Ok(upsert_named_rows!(conn, items, permissions))
    })
}

/// Adds the roles that are missing and updates the `"*"` flag and descriptions that differ.
/// Grants and inheritance are [`grant_permissions`]' and [`inherit`]'s.
pub fn upsert_roles(
    conn: &mut dyn StoreConnection,
    definitions: &[RoleDefinition],
) -> Result<Counts, WriteError> {
    write_transaction(conn, |conn| {
        let query = roles::table.select((roles::name, roles::description, roles::all_permissions));
        let existing: Vec<(String, Option<String>, bool)> = on_backend!(conn, c => query.load(c))?;
        let existing: HashMap<String, (Option<String>, bool)> =
            existing.into_iter().map(|(n, d, a)| (n, (d, a))).collect();
        let mut counts = Counts::default();
        for role in definitions {
            validate_role_name(&role.name)?;
            let all = role.permissions.iter().any(|p| p == "*");
            match existing.get(&role.name) {
                None => {
                    let insert = diesel::insert_into(roles::table).values((
                        roles::name.eq(&role.name),
                        roles::description.eq(&role.description),
                        roles::all_permissions.eq(all),
                    ));
                    on_backend!(conn, c => insert.execute(c))?;
                    counts.added += 1;
                }
                Some((description, stored_all))
                    if *stored_all != all
                        || (role.description.is_some() && *description != role.description) =>
                {
                    let description = role.description.clone().or_else(|| description.clone());
                    let update = diesel::update(roles::table.filter(roles::name.eq(&role.name)))
                        .set((
                            roles::description.eq(description),
                            roles::all_permissions.eq(all),
                        ));
                    on_backend!(conn, c => update.execute(c))?;
                    counts.changed += 1;
                }
                Some(_) => counts.unchanged += 1,
            }
        }
        Ok(counts)
    })
}

/// Ids by name.
type Ids = HashMap<String, i64>;

/// Role and permission ids by name.
fn ids(conn: &mut dyn StoreConnection) -> Result<(Ids, Ids), WriteError> {
    let roles_query = roles::table.select((roles::name, roles::id));
    let permissions_query = permissions::table.select((permissions::name, permissions::id));
    let roles: Vec<(String, i64)> = on_backend!(conn, c => roles_query.load(c))?;
    let permissions: Vec<(String, i64)> = on_backend!(conn, c => permissions_query.load(c))?;
    Ok((
        roles.into_iter().collect(),
        permissions.into_iter().collect(),
    ))
}

/// Grants each role the permissions it lists (besides `"*"`); the roles and permissions
/// must exist.
pub fn grant_permissions(
    conn: &mut dyn StoreConnection,
    definitions: &[RoleDefinition],
) -> Result<Counts, WriteError> {
    write_transaction(conn, |conn| {
        let (role_ids, perm_ids) = ids(conn)?;
        let query = role_permissions::table
            .select((role_permissions::role_id, role_permissions::permission_id));
        let existing: Vec<(i64, i64)> = on_backend!(conn, c => query.load(c))?;
        let existing: HashSet<(i64, i64)> = existing.into_iter().collect();
        let mut counts = Counts::default();
        for role in definitions {
            let &role_id = role_ids
                .get(&role.name)
                .ok_or_else(|| RbacError::UnknownRole(role.name.clone()))?;
            for permission in role.permissions.iter().filter(|p| *p != "*") {
                let &perm_id =
                    perm_ids
                        .get(permission)
                        .ok_or_else(|| RbacError::UnknownPermission {
                            role: role.name.clone(),
                            permission: permission.clone(),
                        })?;
                if existing.contains(&(role_id, perm_id)) {
                    counts.unchanged += 1;
                } else {
                    let insert = diesel::insert_into(role_permissions::table).values((
                        role_permissions::role_id.eq(role_id),
                        role_permissions::permission_id.eq(perm_id),
                    ));
                    on_backend!(conn, c => insert.execute(c))?;
                    counts.added += 1;
                }
            }
        }
        Ok(counts)
    })
}

/// Makes each role inherit the roles it lists. The whole graph after the change (what is
/// stored plus what is given) must have no cycle, or nothing is written.
pub fn inherit(
    conn: &mut dyn StoreConnection,
    definitions: &[RoleDefinition],
) -> Result<Counts, WriteError> {
    write_transaction(conn, |conn| {
        let (role_ids, _) = ids(conn)?;
        let names: HashMap<i64, String> = role_ids.iter().map(|(n, id)| (*id, n.clone())).collect();
        let query = role_inheritance::table
            .select((role_inheritance::role_id, role_inheritance::parent_role_id));
        let existing: Vec<(i64, i64)> = on_backend!(conn, c => query.load(c))?;
        let existing: HashSet<(i64, i64)> = existing.into_iter().collect();
        let mut graph: BTreeMap<String, Role> = role_ids
            .keys()
            .map(|n| (n.clone(), Role::default()))
            .collect();
        for (child, parent) in &existing {
            if let (Some(c), Some(p)) = (names.get(child), names.get(parent)) {
                graph
                    .entry(c.clone())
                    .or_default()
                    .parents
                    .insert(p.clone());
            }
        }
        let mut wanted = BTreeSet::new();
        for role in definitions {
            let &child_id = role_ids
                .get(&role.name)
                .ok_or_else(|| RbacError::UnknownRole(role.name.clone()))?;
            for parent in &role.inherits {
                let &parent_id = role_ids
                    .get(parent)
                    .ok_or_else(|| RbacError::UnknownRole(parent.clone()))?;
                graph
                    .entry(role.name.clone())
                    .or_default()
                    .parents
                    .insert(parent.clone());
                wanted.insert((child_id, parent_id));
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            return Err(RbacError::Cycle(cycle).into());
        }
        let mut counts = Counts::default();
        for (child, parent) in wanted {
            if existing.contains(&(child, parent)) {
                counts.unchanged += 1;
            } else {
                let insert = diesel::insert_into(role_inheritance::table).values((
                    role_inheritance::role_id.eq(child),
                    role_inheritance::parent_role_id.eq(parent),
                ));
                on_backend!(conn, c => insert.execute(c))?;
                counts.added += 1;
            }
        }
        Ok(counts)
    })
}
