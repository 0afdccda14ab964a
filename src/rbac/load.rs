//! Reading the RBAC tables, and the cached model an application asks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use diesel::prelude::*;

use super::{Grants, RbacError, RbacGraph, Role};
use crate::cache::{Reading, RuleCache, Stamp};
use crate::config::Config;
use crate::db::{on_backend, StoreConnection};
use crate::schema::{permissions, role_inheritance, role_permissions, roles};
use crate::store::{self, StoreError};

/// Errors loading the RBAC model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RbacLoadError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored model is inconsistent (a DBA's edit).
    #[error(transparent)]
    Rbac(#[from] RbacError),
}

impl From<diesel::result::Error> for RbacLoadError {
    fn from(e: diesel::result::Error) -> Self {
        RbacLoadError::Store(e.into())
    }
}

/// Reads the RBAC model from the database (four queries).
pub fn load(conn: &mut dyn StoreConnection) -> Result<RbacGraph, RbacLoadError> {
    type Rows = (
        Vec<(i64, String, Option<String>, bool)>,
        Vec<(i64, String, Option<String>)>,
        Vec<(i64, i64)>,
        Vec<(i64, i64)>,
    );
    let (role_rows, perm_rows, grants, inheritance): Rows = on_backend!(conn, c => (
        roles::table
            .select((
                roles::id,
                roles::name,
                roles::description,
                roles::all_permissions,
            ))
            .load(c)?,
        permissions::table
            .select((permissions::id, permissions::name, permissions::description))
            .load(c)?,
        role_permissions::table
            .select((role_permissions::role_id, role_permissions::permission_id))
            .load(c)?,
        role_inheritance::table
            .select((role_inheritance::role_id, role_inheritance::parent_role_id))
            .load(c)?,
    ));
    let role_names: HashMap<i64, &str> = role_rows
        .iter()
        .map(|(id, n, _, _)| (*id, n.as_str()))
        .collect();
    let perm_names: HashMap<i64, &str> = perm_rows
        .iter()
        .map(|(id, n, _)| (*id, n.as_str()))
        .collect();
    let mut roles: BTreeMap<String, Role> = role_rows
        .iter()
        .map(|(_, name, description, all)| {
            (
                name.clone(),
                Role {
                    description: description.clone(),
                    all_permissions: *all,
                    ..Role::default()
                },
            )
        })
        .collect();
    for (role, perm) in grants {
        if let (Some(r), Some(p)) = (role_names.get(&role), perm_names.get(&perm)) {
            if let Some(role) = roles.get_mut(*r) {
                role.permissions.insert((*p).to_owned());
            }
        }
    }
    for (role, parent) in inheritance {
        if let (Some(r), Some(p)) = (role_names.get(&role), role_names.get(&parent)) {
            if let Some(role) = roles.get_mut(*r) {
                role.parents.insert((*p).to_owned());
            }
        }
    }
    let permissions = perm_rows.into_iter().map(|(_, n, d)| (n, d)).collect();
    Ok(RbacGraph::new(roles, permissions)?)
}

/// The RBAC model for an application: loaded once, refreshed when
/// `authorization_state.version` changes (checked at most once per refresh interval).
pub struct Rbac {
    cache: RuleCache<RbacGraph>,
    key: Arc<str>,
}

impl Rbac {
    /// An RBAC reader with the authorizer's refresh interval.
    pub fn new(config: &Config) -> Self {
        Self {
            cache: RuleCache::new(1, config.refresh_interval()),
            key: Arc::from(""),
        }
    }

    /// The current model, from the cache or the database.
    pub fn graph(&self, conn: &mut dyn StoreConnection) -> Result<Arc<RbacGraph>, RbacLoadError> {
        let checked = if self.cache.version_check_due() {
            let reading = Reading::now(conn);
            let version = store::state_version(conn)?;
            self.cache.observe_version(version, reading);
            Some(version)
        } else {
            None
        };
        let hash = RuleCache::<RbacGraph>::hash("rbac", 0);
        if let Some((_, graph)) = self.cache.get(hash, "rbac", &self.key) {
            return Ok(graph);
        }
        // The version before the rows (see the rule cache; unless this call just read it):
        // never stamped newer than read.
        let reading = Reading::now(conn);
        let epoch = self.cache.epoch();
        let version = match checked {
            Some(version) => version,
            None => {
                let version = store::state_version(conn)?;
                self.cache.observe_version(version, reading);
                version
            }
        };
        let graph = Arc::new(load(conn)?);
        let stamp = Stamp { epoch, version };
        self.cache.insert(
            hash,
            "rbac",
            self.key.clone(),
            (stamp, reading),
            graph.clone(),
        );
        Ok(graph)
    }

    /// Drops the cached model (after writing RBAC rows through rowguard).
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// A role's permissions, inheritance applied.
    pub fn permissions_of(
        &self,
        conn: &mut dyn StoreConnection,
        role: &str,
    ) -> Result<Option<Grants>, RbacLoadError> {
        Ok(self.graph(conn)?.permissions_of(role).cloned())
    }

    /// The subject as RBAC sees it ([`RbacGraph::subject`]): inherited roles added to its
    /// `roles` set, absolute rights if its roles hold [`super::ABSOLUTE_RIGHTS`].
    pub fn subject(
        &self,
        conn: &mut dyn StoreConnection,
        subject: crate::Subject,
    ) -> Result<crate::Subject, RbacLoadError> {
        Ok(self.graph(conn)?.subject(subject))
    }

    /// Whether any of `roles` holds `permission`.
    pub fn role_can<R: AsRef<str>>(
        &self,
        conn: &mut dyn StoreConnection,
        roles: &[R],
        permission: &str,
    ) -> Result<bool, RbacLoadError> {
        Ok(self.graph(conn)?.role_can(roles, permission))
    }
}
