//! Role-based access control: roles, permissions, `"*"`, and role inheritance (transitive),
//! loaded from the database and cached like the rules. This module owns the RBAC tables
//! (`roles`, `permissions`, `role_permissions`, `role_inheritance`): the seeder writes them
//! through [`write`](mod@write).

mod graph;
mod load;
mod matrix;
pub mod write;

pub use self::graph::{find_cycle, Grants, RbacGraph, Role};
pub use self::load::{load, Rbac, RbacLoadError};
pub use self::matrix::Matrix;

/// The permission that bypasses every row rule: a subject one of whose roles is granted it
/// by name (directly or by inheritance; `"*"` alone does not) gets absolute rights from
/// [`Rbac::subject`].
pub const ABSOLUTE_RIGHTS: &str = "rowguard.absolute_rights";

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
    // A policy names a key as the action `rowguard:<name>`, which is at most 128 bytes.
    if name.is_empty() || name.len() > 119 {
        return fail(
            "a name has 1 to 119 characters (a policy names it rowguard:<name>, at most 128)",
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

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
        // `rowguard:<name>` must fit an action's 128 bytes.
        assert!(validate_permission_name(&"a".repeat(119)).is_ok());
        assert!(validate_permission_name(&"a".repeat(120)).is_err());
        assert!(validate_role_name("support-2nd.line").is_ok());
        assert!(validate_role_name("bad role").is_err());
    }
}
