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
                        let (reason, rows) = if hidden {
                            // The read denies that reach the stored row, and every read grant.
                            let mut rows =
                                reaching(&access, Right::Read, &seen, attrs, Effect::Deny);
                            let read = |c: &crate::rules::CompiledRules| {
                                c.access(Right::Read).map(|_| Effect::Grant)
                            };
                            rows.extend(rows_where(&access, &read));
                            (Reason::Hidden, rows)
                        } else {
                            deciding(&access, right, &seen, attrs, allowed)
                        };
                        let deciding = Deciding {
                            access: Some(access),
                            rows,
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

/// The positions of the valid rule rows `of` gives an effect for.
fn rows_where(
    access: &ModelAccess,
    of: &dyn Fn(&crate::rules::CompiledRules) -> Option<Effect>,
) -> Vec<(u32, Effect)> {
    access
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, c))| Some((i as u32, of(c.as_ref().ok()?)?)))
        .collect()
}

/// The valid rule rows whose `effect` (a deny or a grant) of `right` reaches the row.
fn reaching<R: Row + ?Sized>(
    access: &ModelAccess,
    right: Right,
    seen: &Seen<'_, R>,
    attrs: &Attributes,
    effect: Effect,
) -> Vec<(u32, Effect)> {
    let deny = effect == Effect::Deny;
    access
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, compiled))| {
            let compiled = compiled.as_ref().ok()?;
            let (said, effect) = if deny {
                (compiled.deny(right)?, Effect::Deny)
            } else {
                (compiled.access(right)?, Effect::Grant)
            };
            reaches(said, seen, attrs).then_some((i as u32, effect))
        })
        .collect()
}

/// Why, and the rule rows behind it (positions in `access.rows`).
fn deciding<R: Row + ?Sized>(
    access: &ModelAccess,
    right: Right,
    seen: &Seen<'_, R>,
    attrs: &Attributes,
    allowed: bool,
) -> (Reason, Vec<(u32, Effect)>) {
    let in_database = matches!(seen, Seen::Database);
    let grants_of =
        |r: Right| move |c: &crate::rules::CompiledRules| c.access(r).map(|_| Effect::Grant);
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
        return (Reason::InvalidRule, invalid);
    }
    // Update and delete need read too: a read deny refuses them as well.
    let needs_read = matches!(right, Right::Update | Right::Delete);
    let mut denies = reaching(access, right, seen, attrs, Effect::Deny);
    if needs_read {
        for deny in reaching(access, Right::Read, seen, attrs, Effect::Deny) {
            if !denies.contains(&deny) {
                denies.push(deny);
            }
        }
    }
    if !denies.is_empty() && !in_database {
        return (Reason::Denied, denies);
    }
    let grants = rows_where(access, &grants_of(right));
    if grants.is_empty() {
        return (Reason::NoGrant, denies);
    }
    if needs_read && !in_database {
        let reached = !reaching(access, right, seen, attrs, Effect::Grant).is_empty();
        let readable = !reaching(access, Right::Read, seen, attrs, Effect::Grant).is_empty();
        if reached && !readable {
            return (Reason::Hidden, rows_where(access, &grants_of(Right::Read)));
        }
    }
    let mut rows = grants;
    rows.extend(denies);
    (Reason::NotReached, rows)
}
