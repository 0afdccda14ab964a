//! A decision written out: contributing rule rows and policy statements, the merged rule,
//! the SQL.

use std::fmt;
use std::sync::Arc;

use super::access::{Bypass, ModelAccess};
use crate::rules::{may_deny, Access, Filter, Merged, Right, Value};

/// An explained decision: contributing rule rows, the merged rule, the SQL.
#[derive(Debug)]
pub struct Explanation {
    /// The model.
    pub model: String,
    /// The right explained.
    pub right: Right,
    /// Set when rules were bypassed.
    pub bypass: Option<Bypass>,
    /// The universal role's value.
    pub universal_role: String,
    /// The rules found.
    pub access: Arc<ModelAccess>,
    /// The final filter, variables filled in.
    pub filter: Filter,
    /// The SQL `WHERE` with its bind values.
    pub sql: String,
}

impl Explanation {
    /// For each contributing rule row: does it let `row` through for this right?
    pub fn why(&self, row: &[Value]) -> Vec<(i64, Option<bool>)> {
        self.access
            .rows
            .iter()
            .map(|(r, compiled)| {
                // Through when this row grants it and its deny is FALSE (TRUE or unknown,
                // a NULL, refuses).
                let verdict = compiled.as_ref().ok().map(|c| {
                    let granted = match c.access(self.right) {
                        None => false,
                        Some(Access::Everything) => true,
                        Some(Access::Rows(f)) => f.matches(row),
                    };
                    let denied = match c.deny(self.right) {
                        None => false,
                        Some(Access::Everything) => true,
                        Some(Access::Rows(f)) => f.eval(row) != Some(false),
                    };
                    granted && !denied
                });
                (r.id, verdict)
            })
            .collect()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {} ({}), right {}",
            self.model, self.access.model.table_name, self.right
        )?;
        match self.bypass {
            Some(Bypass::Override) => writeln!(f, "BYPASS: authorization override is on")?,
            Some(Bypass::AbsoluteRights) => {
                writeln!(f, "BYPASS: the subject holds an absolute right")?
            }
            None => {}
        }
        writeln!(f, "contributing rules:")?;
        if self.access.rows.is_empty() {
            if self.access.policy_rows.is_empty() {
                writeln!(f, "  (none: nothing is granted)")?;
            } else {
                writeln!(f, "  (none)")?;
            }
        }
        for (row, compiled) in &self.access.rows {
            let universal = if row.set_type == "universal" && row.set_value == self.universal_role {
                " (universal role)"
            } else {
                ""
            };
            write!(
                f,
                "  #{} {} \"{}\"{universal}: ",
                row.id, row.set_type, row.set_value
            )?;
            match compiled {
                Err(e) if may_deny(&row.rules) => {
                    writeln!(f, "INVALID, refuses everything (it may hold a deny): {e}")?
                }
                Err(e) => writeln!(f, "INVALID, ignored: {e}")?,
                Ok(c) => {
                    match c.access(self.right) {
                        None => write!(f, "grants no {}", self.right)?,
                        Some(Access::Everything) => write!(f, "\"*\" (every row)")?,
                        Some(Access::Rows(filter)) => write!(f, "{filter}")?,
                    }
                    match c.deny(self.right) {
                        None => writeln!(f)?,
                        Some(Access::Everything) => writeln!(f, "; denies \"*\" (every row)")?,
                        Some(Access::Rows(filter)) => writeln!(f, "; denies {filter}")?,
                    }
                }
            }
        }
        let statements: Vec<_> = self
            .access
            .policy_rows
            .iter()
            .filter_map(|(origin, s)| {
                Some((origin, s.effect, s.rows[self.right as usize].as_ref()?))
            })
            .collect();
        if !statements.is_empty() || !self.access.broken_policies.is_empty() {
            writeln!(f, "contributing policy statements:")?;
        }
        for (origin, effect, rows) in statements {
            let verb = match effect {
                crate::policy::Effect::Allow => "grants",
                crate::policy::Effect::Deny => "denies",
            };
            match rows {
                Access::Everything => writeln!(f, "  {origin}: {verb} every row")?,
                Access::Rows(Filter::False) => writeln!(
                    f,
                    "  {origin}: {verb} no row (its resources name none exactly)"
                )?,
                Access::Rows(filter) => writeln!(f, "  {origin}: {verb} {filter}")?,
            }
        }
        for broken in &self.access.broken_policies {
            let effect = if broken.refuses {
                "INVALID, refuses everything (it may hold a Deny)"
            } else {
                "INVALID, ignored"
            };
            writeln!(
                f,
                "  policy {} \"{}\": {effect}: {}",
                broken.set_type, broken.set_value, broken.error
            )?;
        }
        writeln!(f, "merged: {}", self.access.merged(self.right).to_filter())?;
        let denied = self.access.denied(self.right);
        if *denied != Merged::Nothing {
            writeln!(
                f,
                "denied (wins over every grant; NULL counts as denied): {}",
                denied.to_filter()
            )?;
        }
        if matches!(self.right, Right::Update | Right::Delete)
            && *self.access.denied(Right::Read) != Merged::Nothing
        {
            writeln!(
                f,
                "denied read (applies too): {}",
                self.access.denied(Right::Read).to_filter()
            )?;
        }
        if self.bypass.is_none() {
            let rights = &self.access.columns;
            let columns = &self.access.model.columns;
            let hidden = rights.hidden_names();
            if !hidden.is_empty() {
                writeln!(f, "hidden columns (NULL in reads): {}", hidden.join(", "))?;
            }
            if matches!(self.right, Right::Create | Right::Update) {
                if let Some(names) = rights.names(self.right, columns) {
                    let what = if self.right == Right::Update {
                        "columns it may change (also readable)"
                    } else {
                        "columns it may set"
                    };
                    writeln!(f, "{what}: {}", list_or_none(&names))?;
                }
            }
            if let Some(column) = rights.hidden_not_null() {
                writeln!(
                    f,
                    "reads refused: hidden column {column} is NOT NULL in the database"
                )?;
            }
        }
        if !self.access.related.is_empty() {
            write!(f, "related read rules (protection):")?;
            for (i, r) in self.access.related.iter().enumerate() {
                let sep = if i == 0 { " " } else { "; " };
                write!(f, "{sep}{}: {}", r.model, r.filter)?;
                if r.rule_ids.is_empty() && r.statements == 0 {
                    write!(
                        f,
                        " (no read rule or statement for this subject: nothing there is readable)"
                    )?;
                } else {
                    let ids: Vec<String> = r.rule_ids.iter().map(|id| format!("#{id}")).collect();
                    if !ids.is_empty() {
                        write!(f, " (rules {})", ids.join(", "))?;
                    }
                    if r.statements > 0 {
                        write!(f, " ({} policy statement(s))", r.statements)?;
                    }
                }
                if r.incomplete {
                    write!(f, " (a rule there is invalid)")?;
                }
            }
            writeln!(f)?;
        }
        if matches!(self.right, Right::Create | Right::Update) && self.bypass.is_none() {
            for check in &self.access.foreign_keys {
                let right = match check.right {
                    Right::Create => "read and create".to_owned(),
                    other => other.to_string(),
                };
                writeln!(
                    f,
                    "foreign-key target check: a non-NULL {} must point at a {} row the subject may {right}",
                    check.relation.local_column, check.relation.target_model
                )?;
            }
            for broken in &self.access.broken_relations {
                writeln!(f, "writes refused: unusable {broken}")?;
            }
        }
        if self.access.cut {
            writeln!(
                f,
                "relation chain cut at depth {} (rules reach each other in a cycle): \
                 beyond it nothing is granted",
                crate::rules::MAX_PROTECTED_DEPTH
            )?;
        }
        if matches!(self.right, Right::Update | Right::Delete) {
            writeln!(
                f,
                "effective (read AND {}), subject variables filled in: {}",
                self.right, self.filter
            )?;
        } else {
            writeln!(f, "effective, subject variables filled in: {}", self.filter)?;
        }
        write!(f, "SQL: {}", self.sql)
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}
