//! Role-based access control: roles, permissions, `"*"`, and role inheritance (transitive),
//! loaded from the database and cached like the rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use diesel::prelude::*;

use crate::cache::{Reading, RuleCache, Stamp};
use crate::config::Config;
use crate::db::{on_backend, StoreConnection};
use crate::schema::{permissions, role_inheritance, role_permissions, roles};
use crate::store::{self, StoreError};

/// Errors of the RBAC model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RbacError {
    /// A permission name does not follow the naming rules.
    #[error("invalid permission name \"{name}\": {why}")]
    InvalidPermission {
        /// The name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A role name does not follow the naming rules.
    #[error(
        "invalid role name \"{name}\": use letters, digits, _, - and . (at most 191 characters)"
    )]
    InvalidRole {
        /// The name.
        name: String,
    },
    /// An inheritance names a role that does not exist.
    #[error("There is no role named \"{0}\"")]
    UnknownRole(String),
    /// A role is granted a permission that is not defined.
    #[error("permission \"{permission}\" given to role \"{role}\" is not defined")]
    UnknownPermission {
        /// The role.
        role: String,
        /// The permission.
        permission: String,
    },
    /// Inheritance loops back.
    #[error("role inheritance cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// Checks a permission name: dot-separated segments of lowercase letters, digits and `_`.
///
/// ```
/// use rowguard::rbac::validate_permission_name;
///
/// assert!(validate_permission_name("console.command.reboot").is_ok());
/// assert!(validate_permission_name("Posts.edit").is_err());
/// assert!(validate_permission_name("posts..edit").is_err());
/// ```
pub fn validate_permission_name(name: &str) -> Result<(), RbacError> {
    let fail = |why: &str| {
        Err(RbacError::InvalidPermission {
            name: name.to_owned(),
            why: why.to_owned(),
        })
    };
    if name == "*" {
        return fail("\"*\" is the wildcard for every permission; grant it to a role instead");
    }
    if name.is_empty() || name.len() > 191 {
        return fail("a name has 1 to 191 characters");
    }
    for segment in name.split('.') {
        if segment.is_empty() {
            return fail("empty segment (check for .. or a leading or trailing dot)");
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return fail(&format!(
                "'{c}' is not allowed; segments are lowercase letters, digits and _"
            ));
        }
    }
    Ok(())
}

/// Checks a role name: letters, digits, `_`, `-`, `.`; 1 to 191 characters.
pub fn validate_role_name(name: &str) -> Result<(), RbacError> {
    let ok = !name.is_empty()
        && name.len() <= 191
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RbacError::InvalidRole {
            name: name.to_owned(),
        })
    }
}

/// What a role may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grants {
    /// `"*"`: every permission.
    All,
    /// These permissions.
    Some(BTreeSet<String>),
}

impl Grants {
    /// Whether `permission` is granted.
    pub fn allows(&self, permission: &str) -> bool {
        match self {
            Grants::All => true,
            Grants::Some(set) => set.contains(permission),
        }
    }
}

/// A role as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Role {
    /// Free text.
    pub description: Option<String>,
    /// Holds `"*"`.
    pub all_permissions: bool,
    /// Permissions granted directly.
    pub permissions: BTreeSet<String>,
    /// Roles inherited from.
    pub parents: BTreeSet<String>,
}

/// The whole RBAC model with every role's effective permissions computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacGraph {
    roles: BTreeMap<String, Role>,
    permissions: BTreeMap<String, Option<String>>,
    effective: HashMap<String, Grants>,
}

impl RbacGraph {
    /// Builds and checks the model: every granted permission defined, every inherited role
    /// existing, no inheritance cycle.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use rowguard::rbac::{RbacGraph, Role};
    ///
    /// let mut roles = BTreeMap::new();
    /// roles.insert("viewer".to_string(), Role { permissions: ["posts.view".into()].into(), ..Role::default() });
    /// roles.insert("editor".to_string(), Role {
    ///     permissions: ["posts.edit.own".into()].into(),
    ///     parents: ["viewer".into()].into(),
    ///     ..Role::default()
    /// });
    /// let perms = [("posts.view".to_string(), None), ("posts.edit.own".to_string(), None)].into();
    /// let graph = RbacGraph::new(roles, perms).unwrap();
    /// assert!(graph.role_can(&["editor"], "posts.view"));
    /// assert!(!graph.role_can(&["viewer"], "posts.edit.own"));
    /// ```
    pub fn new(
        roles: BTreeMap<String, Role>,
        permissions: BTreeMap<String, Option<String>>,
    ) -> Result<Self, RbacError> {
        for (name, role) in &roles {
            for p in &role.permissions {
                if !permissions.contains_key(p) {
                    return Err(RbacError::UnknownPermission {
                        role: name.clone(),
                        permission: p.clone(),
                    });
                }
            }
            for parent in &role.parents {
                if !roles.contains_key(parent) {
                    return Err(RbacError::UnknownRole(parent.clone()));
                }
            }
        }
        if let Some(cycle) = find_cycle(&roles) {
            return Err(RbacError::Cycle(cycle));
        }
        let mut effective = HashMap::with_capacity(roles.len());
        for name in roles.keys() {
            resolve(name, &roles, &mut effective);
        }
        Ok(Self {
            roles,
            permissions,
            effective,
        })
    }

    /// The roles, by name.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        &self.roles
    }

    /// The permissions, by name, with their descriptions.
    pub fn permissions(&self) -> &BTreeMap<String, Option<String>> {
        &self.permissions
    }

    /// A role's permissions, inheritance applied (`None` for an unknown role).
    pub fn permissions_of(&self, role: &str) -> Option<&Grants> {
        self.effective.get(role)
    }

    /// Whether any of `roles` holds `permission` (directly, by inheritance or by `"*"`).
    pub fn role_can<R: AsRef<str>>(&self, roles: &[R], permission: &str) -> bool {
        roles.iter().any(|r| {
            self.effective
                .get(r.as_ref())
                .is_some_and(|g| g.allows(permission))
        })
    }
}

fn resolve(
    name: &str,
    roles: &BTreeMap<String, Role>,
    done: &mut HashMap<String, Grants>,
) -> Grants {
    if let Some(g) = done.get(name) {
        return g.clone();
    }
    let role = &roles[name];
    let mut grants = if role.all_permissions {
        Grants::All
    } else {
        Grants::Some(role.permissions.clone())
    };
    for parent in &role.parents {
        match (&mut grants, resolve(parent, roles, done)) {
            (Grants::All, _) => break,
            (g, Grants::All) => *g = Grants::All,
            (Grants::Some(set), Grants::Some(more)) => set.extend(more),
        }
    }
    done.insert(name.to_owned(), grants.clone());
    grants
}

/// The first inheritance cycle found, as `a -> b -> a`.
pub fn find_cycle(roles: &BTreeMap<String, Role>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        roles: &'a BTreeMap<String, Role>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|p| *p == name).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        path.push(name);
        if let Some(role) = roles.get(name) {
            for parent in &role.parents {
                if let Some(cycle) = visit(parent, roles, marks, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for name in roles.keys() {
        if let Some(cycle) = visit(name, roles, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

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

/// The role × permission matrix (✔ / ·), inheritance applied, for a terminal.
///
/// ```
/// use std::collections::BTreeMap;
/// use rowguard::rbac::{Matrix, RbacGraph, Role};
///
/// let roles = [("admin".to_string(), Role { all_permissions: true, ..Role::default() })].into();
/// let perms = [("jobs.run".to_string(), None)].into();
/// let graph = RbacGraph::new(roles, perms).unwrap();
/// let text = Matrix::new(&graph, None).unwrap().to_string();
/// assert!(text.contains("jobs.run") && text.contains('✔'));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    roles: Vec<String>,
    rows: Vec<(String, Vec<bool>)>,
}

impl Matrix {
    /// The matrix of every role, or of `only` (an unknown role is an error).
    pub fn new(graph: &RbacGraph, only: Option<&str>) -> Result<Self, RbacError> {
        let roles: Vec<String> = match only {
            Some(role) if graph.roles.contains_key(role) => vec![role.to_owned()],
            Some(role) => return Err(RbacError::UnknownRole(role.to_owned())),
            None => graph.roles.keys().cloned().collect(),
        };
        let rows = graph
            .permissions
            .keys()
            .map(|p| {
                let cells = roles.iter().map(|r| graph.role_can(&[r], p)).collect();
                (p.clone(), cells)
            })
            .collect();
        Ok(Self { roles, rows })
    }
}

impl std::fmt::Display for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self
            .rows
            .iter()
            .map(|(p, _)| p.chars().count())
            .max()
            .unwrap_or(0)
            .max("permission".len());
        write!(f, "{:<first$}", "permission")?;
        for r in &self.roles {
            write!(f, "  {r}")?;
        }
        writeln!(f)?;
        for (permission, cells) in &self.rows {
            write!(f, "{permission:<first$}")?;
            for (role, allowed) in self.roles.iter().zip(cells) {
                let width = role.chars().count();
                let mark = if *allowed { "✔" } else { "·" };
                write!(f, "  {mark:^width$}")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "{} role(s), {} permission(s)",
            self.roles.len(),
            self.rows.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(perms: &[&str], parents: &[&str]) -> Role {
        Role {
            permissions: perms.iter().map(|s| s.to_string()).collect(),
            parents: parents.iter().map(|s| s.to_string()).collect(),
            all_permissions: perms.contains(&"*"),
            ..Role::default()
        }
    }

    fn graph(roles: &[(&str, Role)]) -> Result<RbacGraph, RbacError> {
        let perms = ["a.x", "b.y", "c.z", "d.w"]
            .iter()
            .map(|p| (p.to_string(), None))
            .collect();
        let mut roles: BTreeMap<String, Role> = roles
            .iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect();
        for r in roles.values_mut() {
            r.permissions.remove("*");
        }
        RbacGraph::new(roles, perms)
    }

    #[test]
    fn chains_and_diamonds_resolve() {
        // top <- left, right <- bottom (a diamond), plus a chain bottom <- leaf.
        let g = graph(&[
            ("top", role(&["a.x"], &[])),
            ("left", role(&["b.y"], &["top"])),
            ("right", role(&["c.z"], &["top"])),
            ("bottom", role(&[], &["left", "right"])),
            ("leaf", role(&["d.w"], &["bottom"])),
        ])
        .unwrap();
        let expect: BTreeSet<String> = ["a.x", "b.y", "c.z", "d.w"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(g.permissions_of("leaf"), Some(&Grants::Some(expect)));
        assert!(g.role_can(&["bottom"], "a.x"));
        assert!(!g.role_can(&["top"], "b.y"));
        assert!(!g.role_can(&["nobody"], "a.x"));
    }

    #[test]
    fn wildcard_is_inherited() {
        let g = graph(&[
            ("admin", role(&["*"], &[])),
            ("root", role(&[], &["admin"])),
        ])
        .unwrap();
        assert_eq!(g.permissions_of("root"), Some(&Grants::All));
        assert!(g.role_can(&["root"], "anything.at.all"));
    }

    #[test]
    fn cycles_unknown_roles_and_permissions_are_named() {
        let err = graph(&[
            ("a", role(&[], &["b"])),
            ("b", role(&[], &["c"])),
            ("c", role(&[], &["a"])),
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "role inheritance cycle: a -> b -> c -> a");
        let err = graph(&[("self", role(&[], &["self"]))]).unwrap_err();
        assert_eq!(err.to_string(), "role inheritance cycle: self -> self");
        let err = graph(&[("user", role(&[], &["useree"]))]).unwrap_err();
        assert_eq!(err.to_string(), "There is no role named \"useree\"");
        let err = graph(&[("user", role(&["posts.edit"], &[]))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "permission \"posts.edit\" given to role \"user\" is not defined"
        );
    }

    #[test]
    fn permission_names() {
        for good in [
            "posts",
            "posts.edit.own",
            "console.command.reboot",
            "a1.b_2",
        ] {
            assert!(validate_permission_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "*",
            "Posts",
            "posts..edit",
            ".posts",
            "posts.",
            "posts.edit-own",
            "posts edit",
            "posts.*",
        ] {
            assert!(validate_permission_name(bad).is_err(), "{bad}");
        }
        assert!(validate_role_name("support-2nd.line").is_ok());
        assert!(validate_role_name("bad role").is_err());
    }
}
