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

    /// Whether any of `roles` holds `permission` (directly, by inheritance or by `"*"`;
    /// [`super::ABSOLUTE_RIGHTS`] only by name, see [`RbacGraph::has_absolute_rights`]).
    pub fn role_can<R: AsRef<str>>(&self, roles: &[R], permission: &str) -> bool {
        if permission == super::ABSOLUTE_RIGHTS {
            return self.has_absolute_rights(roles);
        }
        roles.iter().any(|r| {
            self.effective
                .get(r.as_ref())
                .is_some_and(|g| g.allows(permission))
        })
    }
}

impl RbacGraph {
    /// `roles` and every role they inherit from, transitively (names that are not roles
    /// are kept as given: a rule row may name them).
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use rowguard::rbac::{RbacGraph, Role};
    /// let mut roles = BTreeMap::new();
    /// roles.insert("support".to_string(), Role::default());
    /// roles.insert("devops".to_string(), Role { parents: ["support".into()].into(), ..Role::default() });
    /// let graph = RbacGraph::new(roles, BTreeMap::new()).unwrap();
    /// let all: Vec<String> = graph.with_inherited(&["devops"]).into_iter().collect();
    /// assert_eq!(all, ["devops", "support"]);
    /// ```
    pub fn with_inherited<R: AsRef<str>>(&self, roles: &[R]) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        let mut todo: Vec<&str> = roles.iter().map(AsRef::as_ref).collect();
        while let Some(role) = todo.pop() {
            if all.insert(role.to_owned()) {
                if let Some(r) = self.roles.get(role) {
                    todo.extend(r.parents.iter().map(String::as_str));
                }
            }
        }
        all
    }

    /// Whether one of `roles`, or a role they inherit from, is granted
    /// [`super::ABSOLUTE_RIGHTS`] by name. `"*"` alone does not count: a role with every
    /// application permission does not silently stop being subject to row rules.
    pub fn has_absolute_rights<R: AsRef<str>>(&self, roles: &[R]) -> bool {
        self.grants_absolute_rights(&self.with_inherited(roles))
    }

    /// Whether one of `all` (roles with their inherited ones) is granted absolute rights.
    fn grants_absolute_rights(&self, all: &BTreeSet<String>) -> bool {
        all.iter().any(|r| {
            self.roles
                .get(r)
                .is_some_and(|role| role.permissions.contains(super::ABSOLUTE_RIGHTS))
        })
    }

    /// The subject as RBAC sees it: its `roles` set with every inherited role added (so
    /// the rule rows of `support` apply to `devops`, which inherits it), and absolute
    /// rights when [`RbacGraph::has_absolute_rights`] (granted by name; `"*"` alone does not).
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use rowguard::rbac::{RbacGraph, Role, ABSOLUTE_RIGHTS};
    /// use rowguard::Subject;
    /// let mut roles = BTreeMap::new();
    /// roles.insert("support".to_string(), Role::default());
    /// roles.insert("devops".to_string(), Role { parents: ["support".into()].into(), ..Role::default() });
    /// roles.insert("admin".to_string(), Role {
    ///     all_permissions: true,
    ///     permissions: [ABSOLUTE_RIGHTS.to_string()].into(),
    ///     ..Role::default()
    /// });
    /// roles.insert("owner".to_string(), Role { parents: ["admin".into()].into(), ..Role::default() });
    /// roles.insert("superuser".to_string(), Role { all_permissions: true, ..Role::default() });
    /// let perms = [(ABSOLUTE_RIGHTS.to_string(), None)].into();
    /// let graph = RbacGraph::new(roles, perms).unwrap();
    ///
    /// let devops = graph.subject(Subject::new().with_set("roles", ["devops"]));
    /// assert_eq!(devops.set("roles").collect::<Vec<_>>(), ["devops", "support"]);
    /// assert!(!devops.has_absolute_rights());
    /// let roles = |r: &str| Subject::new().with_set("roles", [r]);
    /// assert!(graph.subject(roles("admin")).has_absolute_rights());   // granted by name
    /// assert!(graph.subject(roles("owner")).has_absolute_rights());   // inherited
    /// assert!(!graph.subject(roles("superuser")).has_absolute_rights()); // "*" alone: no
    /// assert!(!graph.role_can(&["superuser"], ABSOLUTE_RIGHTS) && graph.role_can(&["owner"], ABSOLUTE_RIGHTS));
    /// ```
    pub fn subject(&self, subject: crate::Subject) -> crate::Subject {
        let given: Vec<String> = subject.set("roles").map(str::to_owned).collect();
        let all = self.with_inherited(&given);
        let absolute = self.grants_absolute_rights(&all);
        let subject = if all.len() > given.len() {
            subject.with_set("roles", all)
        } else {
            subject
        };
        if absolute {
            subject.with_absolute_rights()
        } else {
            subject
        }
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
