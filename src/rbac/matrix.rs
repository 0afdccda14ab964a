//! The role × permission matrix for a terminal.

use super::{RbacError, RbacGraph};

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
            Some(role) if graph.roles().contains_key(role) => vec![role.to_owned()],
            Some(role) => return Err(RbacError::UnknownRole(role.to_owned())),
            None => graph.roles().keys().cloned().collect(),
        };
        let rows = graph
            .permissions()
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
