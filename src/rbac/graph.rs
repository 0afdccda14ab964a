//! The RBAC model in memory: roles with their effective permissions, inheritance resolved.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::RbacError;

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
