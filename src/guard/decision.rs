//! Handing decisions to the decision log: whether the log takes one (a load and a branch on
//! the request path), and, for those it takes, the rule rows that decided.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use super::access::{Bypass, Declared, ModelAccess};
use super::authorizer::{Authorizer, Question};
use crate::db::StoreConnection;
use crate::decisions::{Deciding, DecisionLog, Effect, Kind, Pending, Reason};
use crate::rules::{may_deny, Access, Attributes, Right, Row, Value};
use crate::Subject;

/// What a decision was made on.
pub(super) enum Seen<'r, R: ?Sized> {
    /// A row in memory (a check, an insert or update): the deciding rules are those that
    /// reach it.
    Row(&'r R),
    /// Rows the database decided on (a delete, a bulk write): every rule of the right.
    Database,
}

/// A decision as the request path has it.
pub(super) struct Made<'q> {
    pub(super) question: Question<'q>,
    pub(super) shared: Option<&'q Arc<Subject>>,
    /// The cache entry that decided, if the caller still has it.
    pub(super) access: Option<Arc<ModelAccess>>,
    pub(super) kind: Kind,
    pub(super) key: Option<Value>,
    pub(super) allowed: bool,
    /// Set when the reason is not the rules' (a refused column, a foreign-key target, a
    /// super user).
    pub(super) stated: Option<String>,
    /// An update or delete of a row the read rule hides.
    pub(super) hidden: bool,
    pub(super) count: u64,
}

impl Authorizer {
    /// The log, if this decision goes into it, and the share recorded.
    #[inline]
    pub(super) fn log_takes(&self, right: Right, allowed: bool) -> Option<(&DecisionLog, f64)> {
        let log = self.decision_log()?;
        Some((log, log.takes(right, allowed)?))
    }

    /// Records `made` if the log takes it. Never fails the caller: a decision that cannot be
    /// described (its model vanished meanwhile) is recorded without rule rows.
    pub(super) fn note<R: Row + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        made: Made<'_>,
        seen: Seen<'_, R>,
    ) {
        if let Some((log, sampled)) = self.log_takes(made.question.right, made.allowed) {
            self.record(conn, log, sampled, made, seen);
        }
    }

    /// Builds the record of a decision the log took (with the share `sampled`) and hands it
    /// over.
    #[cold]
    #[inline(never)]
    pub(super) fn record<R: Row + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        log: &DecisionLog,
        sampled: f64,
        made: Made<'_>,
        seen: Seen<'_, R>,
    ) {
        if !log.has_room() {
            return;
        }
        let Made {
            question,
            shared,
            access: found,
            kind,
            key,
            allowed,
            stated,
            hidden,
            count,
        } = made;
        let right = question.right;
        let subject = match shared {
            Some(s) => s.clone(),
            None => Arc::new(question.subject.clone()),
        };
        let (reason, deciding, key) = match (question.bypass, stated) {
            (Some(Bypass::Override), _) => (Reason::Override, Deciding::default(), key),
            (Some(Bypass::AbsoluteRights), _) => (Reason::AbsoluteRights, Deciding::default(), key),
            (None, Some(why)) => (Reason::Stated(why), Deciding::default(), key),
            (None, None) => {
                let access = match found {
                    Some(access) => Ok(access),
                    None => self.with_access(
                        conn,
                        question.subject,
                        question.model,
                        question.declared,
                        Arc::clone,
                    ),
                };
                match access {
                    Ok(access) => {
                        let key = key.or_else(|| match &seen {
                            Seen::Row(row) => row_key(&access, question.declared, *row),
                            Seen::Database => None,
                        });
                        let attrs = subject.attributes();
                        let (reason, named) = if hidden {
                            // The read denies that reach the stored row, and every read grant.
                            let mut named =
                                reaching(&access, Right::Read, &seen, attrs, Effect::Deny);
                            named.extend(everything_of(&access, Right::Read, Effect::Grant));
                            (Reason::Hidden, named)
                        } else {
                            deciding(&access, right, &seen, attrs, allowed)
                        };
                        let deciding = Deciding {
                            access: Some(access),
                            rows: named.rows,
                            statements: named.statements,
                            broken_policies: named.broken_policies,
                        };
                        (reason, deciding, key)
                    }
                    Err(e) => (Reason::Stated(e.to_string()), Deciding::default(), key),
                }
            }
        };
        // Named by the access when there is one: no copy of the name per record.
        let model = match deciding.access {
            Some(_) => None,
            None => Some(Cow::Owned(question.model.to_owned())),
        };
        log.push(Pending {
            at: SystemTime::now(),
            subject,
            model,
            right,
            kind,
            key,
            allowed,
            reason,
            deciding,
            sampled,
            count,
        });
    }
}

/// The row's primary key, read from its cells.
fn row_key<R: Row + ?Sized>(
    access: &ModelAccess,
    declared: Option<Declared>,
    row: &R,
) -> Option<Value> {
    let index = match declared {
        Some(d) => d.columns.get(d.primary_key)?.0,
        None => access.model.columns.get(&access.model.primary_key)?.0,
    };
    Some(row.value(index).to_value())
}

/// Whether one rule row's grant or deny may reach the row (`true` when only the database
/// could tell, through a relation).
fn reaches<R: Row + ?Sized>(access: &Access, seen: &Seen<'_, R>, attrs: &Attributes) -> bool {
    match (access, seen) {
        (Access::Everything, _) | (_, Seen::Database) => true,
        (Access::Rows(filter), Seen::Row(row)) => filter.eval_with(*row, attrs) != Some(false),
    }
}

/// The rule rows and policy statements named with a decision (positions in the access's
/// `rows` and `policy_rows`).
#[derive(Debug, Default)]
struct Named {
    rows: Vec<(u32, Effect)>,
    statements: Vec<(u32, Effect)>,
    broken_policies: bool,
}

impl Named {
    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.statements.is_empty() && !self.broken_policies
    }

    /// Adds `other`'s, each once.
    fn extend(&mut self, other: Named) {
        for row in other.rows {
            if !self.rows.contains(&row) {
                self.rows.push(row);
            }
        }
        for statement in other.statements {
            if !self.statements.contains(&statement) {
                self.statements.push(statement);
            }
        }
        self.broken_policies |= other.broken_policies;
    }
}

/// What one valid rule row or statement says of `right` with `effect` (a grant or a deny).
fn said<'a>(
    right: Right,
    effect: Effect,
) -> (
    impl Fn(&'a crate::rules::CompiledRules) -> Option<&'a Access>,
    impl Fn(&'a crate::policy::StatementRows) -> Option<&'a Access>,
) {
    let deny = effect == Effect::Deny;
    let rule = move |c: &'a crate::rules::CompiledRules| {
        if deny {
            c.deny(right)
        } else {
            c.access(right)
        }
    };
    let statement = move |s: &'a crate::policy::StatementRows| {
        let wanted = if deny {
            crate::policy::Effect::Deny
        } else {
            crate::policy::Effect::Allow
        };
        (s.effect == wanted)
            .then(|| s.rows[right as usize].as_ref())
            .flatten()
    };
    (rule, statement)
}

/// The valid rule rows and the statements whose `effect` (a deny or a grant) of `right`
/// passes `keep`.
fn named_where(
    access: &ModelAccess,
    right: Right,
    effect: Effect,
    keep: &dyn Fn(&Access) -> bool,
) -> Named {
    let (rule, statement) = said(right, effect);
    let rows = access
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, c))| {
            let said = rule(c.as_ref().ok()?)?;
            keep(said).then_some((i as u32, effect))
        })
        .collect();
    let statements = access
        .policy_rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, s))| {
            let said = statement(s)?;
            keep(said).then_some((i as u32, effect))
        })
        .collect();
    Named {
        rows,
        statements,
        broken_policies: false,
    }
}

/// Every valid rule row and statement with `effect` of `right`.
fn everything_of(access: &ModelAccess, right: Right, effect: Effect) -> Named {
    named_where(access, right, effect, &|_| true)
}

/// The valid rule rows and statements whose `effect` (a deny or a grant) of `right` reaches
/// the row.
fn reaching<R: Row + ?Sized>(
    access: &ModelAccess,
    right: Right,
    seen: &Seen<'_, R>,
    attrs: &Attributes,
    effect: Effect,
) -> Named {
    named_where(access, right, effect, &|said| reaches(said, seen, attrs))
}

/// Why, and the rule rows and statements behind it.
fn deciding<R: Row + ?Sized>(
    access: &ModelAccess,
    right: Right,
    seen: &Seen<'_, R>,
    attrs: &Attributes,
    allowed: bool,
) -> (Reason, Named) {
    let in_database = matches!(seen, Seen::Database);
    if allowed {
        let reason = if in_database {
            Reason::GrantedInDatabase
        } else {
            Reason::Granted
        };
        return (reason, reaching(access, right, seen, attrs, Effect::Grant));
    }
    let invalid: Vec<(u32, Effect)> = access
        .rows
        .iter()
        .enumerate()
        .filter(|(_, (row, compiled))| compiled.is_err() && may_deny(&row.rules))
        .map(|(i, _)| (i as u32, Effect::Invalid))
        .collect();
    if !invalid.is_empty() {
        let named = Named {
            rows: invalid,
            ..Named::default()
        };
        return (Reason::InvalidRule, named);
    }
    if access.broken_policies.iter().any(|b| b.refuses) {
        let named = Named {
            broken_policies: true,
            ..Named::default()
        };
        return (Reason::InvalidPolicy, named);
    }
    // Update and delete need read too: a read deny refuses them as well.
    let needs_read = matches!(right, Right::Update | Right::Delete);
    let mut denies = reaching(access, right, seen, attrs, Effect::Deny);
    if needs_read {
        denies.extend(reaching(access, Right::Read, seen, attrs, Effect::Deny));
    }
    if !denies.is_empty() && !in_database {
        return (Reason::Denied, denies);
    }
    let mut grants = everything_of(access, right, Effect::Grant);
    if grants.is_empty() {
        return (Reason::NoGrant, denies);
    }
    if needs_read && !in_database {
        let reached = !reaching(access, right, seen, attrs, Effect::Grant).is_empty();
        let readable = !reaching(access, Right::Read, seen, attrs, Effect::Grant).is_empty();
        if reached && !readable {
            return (
                Reason::Hidden,
                everything_of(access, Right::Read, Effect::Grant),
            );
        }
    }
    grants.extend(denies);
    (Reason::NotReached, grants)
}
