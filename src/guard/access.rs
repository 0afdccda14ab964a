//! What the rules say about one model for one subject's sets, and what a typed caller
//! declares about the model.

use std::sync::Arc;

use crate::error::Error;
use crate::model::Authorizable;
use crate::rules::{
    allowed, may_deny, merge, Columns, CompiledRules, Filter, Merged, Right, RuleError,
};
use crate::store::{RuleRow, StoredModel};

/// Everything the rules say about one model for one set of subject sets.
#[derive(Debug, Clone)]
pub struct ModelAccess {
    /// The model's stored metadata.
    pub model: Arc<StoredModel>,
    /// The rule rows that apply, each with its validated rules or its error (an invalid
    /// row grants nothing: fail closed; `cargo xtask rules check` lists it).
    pub rows: Vec<(RuleRow, Result<CompiledRules, RuleError>)>,
    pub(super) merged: [Merged; 4],
    pub(super) denied: [Merged; 4],
    /// Per right, the filter a write must pass: read AND right for update/delete; relation
    /// conditions protected by the related models' read rules.
    pub(super) effective: [Arc<Filter>; 4],
    /// The related models' read rules that protection pulled in (as merged), by model.
    pub related: super::relations::RelatedReads,
    /// Whether a chain of relation conditions was cut at
    /// [`MAX_PROTECTED_DEPTH`](crate::rules::MAX_PROTECTED_DEPTH) (it grants less there).
    pub cut: bool,
    /// The foreign-key target checks of writes (belongs-to relations with a check right).
    pub foreign_keys: Vec<super::relations::ForeignKeyCheck>,
    /// The model's stored relations that do not fit and may be belongs-to (each with why).
    /// Writes to the model are refused while there are any: their foreign-key target check
    /// cannot run.
    pub broken_relations: Vec<String>,
    /// What the subject's column lists allow (create, read, update).
    pub columns: super::columns::ColumnRights,
    /// The subject's policy statements that name rows of the model for one of the four
    /// rights (`<model>:Read` …), with their policies; their grants and denies are part of
    /// `merged` and `denied`.
    pub policy_rows: Vec<(
        super::policies::StatementOrigin,
        crate::policy::StatementRows,
    )>,
    /// The subject's stored policies that do not parse (one that may hold a `Deny` denies
    /// every row).
    pub broken_policies: Vec<super::policies::BrokenPolicy>,
    /// The address of the declared [`Columns`] the rules were compiled against (their
    /// positions are the model's `cell` indexes), or 0 when compiled against the stored
    /// columns (name-only callers such as `rules try`).
    pub(super) compiled_for: usize,
}

impl ModelAccess {
    /// A copy sharing no reference count with `self`, for one thread's front cache (so
    /// cloning its `Arc`s on the hot path never touches another core's cache line).
    pub(super) fn private_copy(&self) -> Self {
        Self {
            effective: self.effective.clone().map(|f| Arc::new((*f).clone())),
            ..self.clone()
        }
    }

    /// The merged access for `right`, before `$subject.*` variables are filled in.
    pub fn merged(&self, right: Right) -> &Merged {
        &self.merged[right as usize]
    }

    /// The merged denies for `right` (the union over the rule rows, as for grants).
    pub fn denied(&self, right: Right) -> &Merged {
        &self.denied[right as usize]
    }
}

/// The rule rows of one decision, each with what it compiled to.
pub(super) type CompiledRows<'a> =
    &'a [(crate::store::RuleRow, Result<CompiledRules, RuleError>)];

/// Per right, the union of the rows' grants and the union of their denies. A row that does not
/// compile grants nothing, and denies everything when it might hold a deny
/// ([`may_deny`]): what it refuses cannot be known, so it refuses all.
pub(super) fn merge_rows(rows: CompiledRows<'_>) -> ([Merged; 4], [Merged; 4]) {
    let unknown_deny = rows
        .iter()
        .any(|(row, compiled)| compiled.is_err() && may_deny(&row.rules));
    let valid = || rows.iter().filter_map(|(_, c)| c.as_ref().ok());
    let grants = Right::ALL.map(|right| merge(valid().filter_map(|c| c.access(right))));
    let denies = Right::ALL.map(|right| {
        if unknown_deny {
            Merged::Everything
        } else {
            merge(valid().filter_map(|c| c.deny(right)))
        }
    });
    (grants, denies)
}

/// Adds the subject's policy statements on the model's rows to the rules' grants and
/// denies (a broken policy that may deny denies every row).
pub(super) fn with_policies(
    (grants, denies): ([Merged; 4], [Merged; 4]),
    statements: &[crate::policy::StatementRows],
    refused: bool,
) -> ([Merged; 4], [Merged; 4]) {
    let mut grants = grants;
    let mut denies = denies;
    for right in Right::ALL {
        let (granted, denied) = crate::policy::merged_rows(statements, right);
        let i = right as usize;
        grants[i] = grants[i].union(&granted);
        denies[i] = if refused {
            Merged::Everything
        } else {
            denies[i].union(&denied)
        };
    }
    (grants, denies)
}

/// The rows `right` reaches: the grants minus the denies (see [`allowed`]).
pub(super) fn reach(grants: &[Merged; 4], denies: &[Merged; 4], right: Right) -> Filter {
    allowed(&grants[right as usize], &denies[right as usize])
}

/// Why a decision was made without rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// `ROWGUARD_OVERRIDE_AUTHORIZATION=true`.
    Override,
    /// The subject holds an absolute right.
    AbsoluteRights,
}

/// What a typed caller (a guard call on an [`Authorizable`] model) declares about the model:
/// rules are compiled against these columns, by name, whatever order the stored copy has.
#[derive(Clone, Copy)]
pub(super) struct Declared {
    table: &'static str,
    pub(super) primary_key: &'static str,
    pub(super) columns: &'static Columns,
    arn: crate::policy::ModelArn<&'static str>,
}

impl Declared {
    pub(super) fn of<M: Authorizable>() -> Self {
        Self {
            table: M::TABLE,
            primary_key: M::PRIMARY_KEY,
            columns: M::columns(),
            arn: M::ARN,
        }
    }

    pub(super) fn address(self) -> usize {
        std::ptr::from_ref(self.columns) as usize
    }

    /// Whether the stored definition agrees with this one (names, types, table, key; the
    /// order of columns may differ). Disagreement is an error naming the model: rules
    /// written against the stored columns may not mean what they say on this model.
    pub(super) fn check(self, stored: &StoredModel) -> Result<(), Error> {
        let problems = stored.differences(self.table, self.primary_key, self.columns, &self.arn);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::ModelMismatch {
                model: stored.name.clone(),
                detail: problems.join("; "),
            })
        }
    }
}
