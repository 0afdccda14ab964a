//! IAM-style policies: statements that allow or deny actions (`server:Delete`) on resources
//! named by ARNs (`arn:rowguard:default:local:123:server/1`).
//!
//! One job per module, as in the rule language: [`arn`] and [`action`] parse and match
//! names, `parse` reads a policy document with named errors, and [`Policy::decide`] is the
//! evaluator. The meaning:
//! - an explicit `Deny` that matches wins over any `Allow`;
//! - otherwise any matching `Allow` allows;
//! - otherwise the answer is no.
//!
//! A check that itself holds a wildcard (`server:*`, `…:server/*`) is an error, never an
//! answer: it asks about many things at once.
//!
//! ```
//! use rowguard::policy::Policy;
//!
//! let policy = Policy::parse(r#"[
//!     {"Effect": "Allow", "Action": "server:List", "Resource": "arn:rowguard:default:local:123:server"},
//!     {"Effect": "Allow", "Action": "server:*", "Resource": "arn:rowguard:default:local:123:server/*"},
//!     {"Effect": "Deny", "Action": "server:Delete", "Resource": "arn:rowguard:default:local:123:server/1"}
//! ]"#)?;
//! assert!(policy.is_allowed("server:List", "arn:rowguard:default:local:123:server")?);
//! assert!(policy.is_allowed("server:Delete", "arn:rowguard:default:local:123:server/2")?);
//! assert!(!policy.is_allowed("server:Delete", "arn:rowguard:default:local:123:server/1")?);
//! assert!(policy.is_allowed("server:List", "arn:rowguard:default:local:123:server/*").is_err());
//! # Ok::<(), rowguard::policy::PolicyError>(())
//! ```

pub mod action;
pub mod arn;
mod error;
mod glob;
mod model;
mod parse;
mod rows;
#[cfg(test)]
mod tests;

use std::fmt;

pub use action::{check_action, ActionPattern};
pub(crate) use arn::unseen;
pub use arn::{Arn, ArnPattern};
pub use error::PolicyError;
pub(crate) use model::subject_attribute;
pub use model::{ArnAccount, ModelArn, DEFAULT_ACCOUNT};
pub use parse::{may_deny, MAX_POLICY_BYTES};
pub use rows::{merged as merged_rows, row_action, RowModel, StatementRows};

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants what the statement names (unless a `Deny` also names it).
    Allow,
    /// Refuses what the statement names, whatever allows it.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// One statement: an effect on some actions on some resources. Statements come from
/// [`Policy::parse`] only, so each has been validated (at least one action and one resource,
/// a `Sid` of letters and digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    actions: Vec<ActionPattern>,
    resources: Vec<ArnPattern>,
}

impl Statement {
    /// The statement's optional name (`Sid`), shown by explanations.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Allow or deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The actions it names (at least one).
    pub fn actions(&self) -> &[ActionPattern] {
        &self.actions
    }

    /// The resources it names (at least one).
    pub fn resources(&self) -> &[ArnPattern] {
        &self.resources
    }

    /// Whether the statement names `action` (checked by the caller) on `resource`.
    fn applies(&self, action: &str, resource: &Arn) -> bool {
        self.actions.iter().any(|a| a.matches(action))
            && self.resources.iter().any(|r| r.matches(resource))
    }
}

/// A list of statements. Policies of several sets (a subject's roles and groups) merge by
/// putting their statements together: the meaning above makes that a union of grants, with
/// every set's denies kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Why a check came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The statement at this position denies it (and denies win).
    Denied(usize),
    /// The statement at this position allows it, and none denies it.
    Allowed(usize),
    /// No statement names it.
    NoMatch,
}

/// The answer to a check, with the statement that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Which statement decided, if any.
    pub reason: Reason,
}

impl Policy {
    /// Reads a policy: a list of statements, or `{"Version": …, "Statement": […]}` (one
    /// statement or a list). Each statement is
    /// `{"Sid"?: …, "Effect": "Allow"|"Deny", "Action": …, "Resource": …}`, with one string or
    /// a list of strings for `Action` and `Resource`. Errors name the statement and field:
    ///
    /// ```
    /// use rowguard::policy::Policy;
    ///
    /// let bad = Policy::parse(r#"[{"Effect": "Allow", "Action": "server:List",
    ///                              "Resource": "arn:rowguard:default:local:123:server"},
    ///                             {"Effect": "allow", "Action": "server:List", "Resource": "*"}]"#);
    /// assert_eq!(
    ///     bad.unwrap_err().to_string(),
    ///     r#"statement 1, field "Effect": expected "Allow" or "Deny", found "allow""#
    /// );
    /// ```
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        parse::parse(json)
    }

    /// The statements, in order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The statements of all `policies`, in order: the policy of a subject with several sets.
    pub fn merge<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Policy {
        Policy {
            statements: policies
                .into_iter()
                .flat_map(|p| p.statements.iter().cloned())
                .collect(),
        }
    }

    /// The policy as a JSON document (`{"Version": "2012-10-17", "Statement": [...]}`, lists
    /// always), which [`Policy::parse`] reads back to the same policy.
    pub fn to_json(&self) -> serde_json::Value {
        let strings = |items: Vec<&str>| serde_json::Value::from(items);
        let statements: Vec<serde_json::Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut object = serde_json::Map::new();
                if let Some(sid) = &s.sid {
                    object.insert("Sid".into(), sid.as_str().into());
                }
                object.insert("Effect".into(), s.effect.to_string().into());
                object.insert(
                    "Action".into(),
                    strings(s.actions.iter().map(ActionPattern::as_str).collect()),
                );
                object.insert(
                    "Resource".into(),
                    strings(s.resources.iter().map(ArnPattern::as_str).collect()),
                );
                object.into()
            })
            .collect();
        serde_json::json!({"Version": "2012-10-17", "Statement": statements})
    }

    /// The decision on `action` (checked with [`check_action`]) on `resource`: the first
    /// matching `Deny`, else the first matching `Allow`, else no.
    pub fn decide(&self, action: &str, resource: &Arn) -> Result<Decision, PolicyError> {
        check_action(action)?;
        let mut allowed_by = None;
        for (i, statement) in self.statements.iter().enumerate() {
            if !statement.applies(action, resource) {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Ok(Decision {
                        allowed: false,
                        reason: Reason::Denied(i),
                    })
                }
                Effect::Allow => {
                    allowed_by.get_or_insert(i);
                }
            }
        }
        Ok(match allowed_by {
            Some(i) => Decision {
                allowed: true,
                reason: Reason::Allowed(i),
            },
            None => Decision {
                allowed: false,
                reason: Reason::NoMatch,
            },
        })
    }

    /// Whether `action` is allowed on the resource named by the ARN `resource`. A wildcard in
    /// either is [`PolicyError::WildcardCheck`]; a malformed one names what is wrong.
    pub fn is_allowed(&self, action: &str, resource: &str) -> Result<bool, PolicyError> {
        Ok(self.decide(action, &Arn::parse(resource)?)?.allowed)
    }

    /// The decision in words, naming the deciding statement (by `Sid` when it has one).
    ///
    /// ```
    /// use rowguard::policy::{Arn, Policy};
    ///
    /// let policy = Policy::parse(r#"{"Statement": {"Sid": "NoDeletes", "Effect": "Deny",
    ///                               "Action": "server:Delete", "Resource": "*"}}"#)?;
    /// let arn: Arn = "arn:rowguard:default:local:1:server/1".parse()?;
    /// assert_eq!(
    ///     policy.explain("server:Delete", &arn)?,
    ///     "denied: statement 0 (NoDeletes) denies server:Delete on arn:rowguard:default:local:1:server/1"
    /// );
    /// # Ok::<(), rowguard::policy::PolicyError>(())
    /// ```
    pub fn explain(&self, action: &str, resource: &Arn) -> Result<String, PolicyError> {
        let decision = self.decide(action, resource)?;
        let name = |i: usize| match &self.statements[i].sid {
            Some(sid) => format!("statement {i} ({sid})"),
            None => format!("statement {i}"),
        };
        Ok(match decision.reason {
            Reason::Denied(i) => format!("denied: {} denies {action} on {resource}", name(i)),
            Reason::Allowed(i) => format!(
                "allowed: {} allows {action} on {resource}, and no statement denies it",
                name(i)
            ),
            Reason::NoMatch => format!("denied: no statement names {action} on {resource}"),
        })
    }
}
