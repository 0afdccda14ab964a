//! Relations at decision time: protecting relation conditions with the related model's own
//! read rule, deciding them for one row in the database, and the foreign-key target check.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use diesel::RunQueryDsl;

use crate::db::{on_backend, StoreConnection};
use crate::error::Error;
use crate::rules::{
    compile_document_in, AnyRowQuery, Attributes, Exists, Filter, Right, Row, Schema, SqlFilter,
    Value, MAX_PROTECTED_DEPTH, MAX_PROTECTED_EXISTS,
};
use crate::store;

/// A related model's read rule that protection pulled into a decision: what `rules explain`
/// lists.
#[derive(Debug, Clone)]
pub struct RelatedRead {
    /// The related model.
    pub model: String,
    /// Its merged read rule for the subject (before it is itself protected).
    pub filter: Arc<Filter>,
    /// What it grants before its denies: what a negation through it counts, so that a deny
    /// on the related model only ever takes access away.
    pub granted: Arc<Filter>,
    /// The rule rows it comes from (empty, with no statement either: nothing there is
    /// readable).
    pub rule_ids: Vec<i64>,
    /// How many of the subject's policy statements name its rows for reading.
    pub statements: usize,
    /// Whether one of those rows, or one of the subject's policies, does not parse (then,
    /// under a negation, every related row counts as readable).
    pub incomplete: bool,
}

/// The related read rules of one decision, by model name.
pub type RelatedReads = Vec<RelatedRead>;

/// Adds, to every relation condition, the related model's read rule for the same subject
/// (recursively): a rule can never reveal anything about rows the subject cannot read.
pub(super) struct Protector<'a> {
    pub(super) conn: &'a mut dyn StoreConnection,
    pub(super) schema: &'a Schema,
    pub(super) sets: &'a [(String, Vec<String>)],
    /// The subject's policies: their statements on a related model's rows count in its read
    /// rule as they do in the model's own.
    policies: PolicyScope<'a>,
    /// Unprotected read filters already loaded, by model.
    reads: HashMap<String, RelatedRead>,
    /// Whether a chain of relations was cut at [`MAX_PROTECTED_DEPTH`] or
    /// [`MAX_PROTECTED_EXISTS`].
    pub(super) cut: bool,
    /// How many `EXISTS` this protection has built.
    expansions: usize,
}

/// What protection needs of the subject's policies: the merged policy, whether a broken one
/// refuses everything, and the stored models (for their ARN forms).
pub(super) struct PolicyScope<'a> {
    pub(super) policy: &'a crate::policy::Policy,
    pub(super) refused: bool,
    /// Whether some policy of the subject does not parse (its grants on a related model are
    /// unknown: under a negation every related row then counts as readable).
    pub(super) broken: bool,
    pub(super) models: &'a HashMap<String, Result<Arc<store::StoredModel>, store::BrokenModel>>,
}

impl<'a> Protector<'a> {
    pub(super) fn new(
        conn: &'a mut dyn StoreConnection,
        schema: &'a Schema,
        sets: &'a [(String, Vec<String>)],
        policies: PolicyScope<'a>,
    ) -> Self {
        Self {
            conn,
            schema,
            sets,
            policies,
            reads: HashMap::new(),
            cut: false,
            expansions: 0,
        }
    }

    /// `filter` with every relation condition protected. A chain deeper than
    /// [`MAX_PROTECTED_DEPTH`] (rules that reach each other in a cycle) is cut so that the
    /// filter grants less, never more: the cut condition becomes false where it grants and
    /// true under a negation (so `NOT EXISTS` on it denies).
    pub(super) fn protect(&mut self, filter: &Filter) -> Result<Filter, Error> {
        self.expansions = 0;
        self.walk(filter, 0, true)
    }

    fn walk(&mut self, filter: &Filter, depth: usize, positive: bool) -> Result<Filter, Error> {
        Ok(match filter {
            Filter::And(c) => Filter::And(
                c.iter()
                    .map(|x| self.walk(x, depth, positive))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Or(c) => Filter::Or(
                c.iter()
                    .map(|x| self.walk(x, depth, positive))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Not(x) => Filter::Not(Box::new(self.walk(x, depth, !positive)?)),
            Filter::Scoped(x) => Filter::Scoped(Box::new(self.walk(x, depth, positive)?)),
            Filter::Exists(e) => {
                // Each protected EXISTS copies the related read rule, which may hold several
                // more: the count caps what one rule can grow into.
                if depth >= MAX_PROTECTED_DEPTH || self.expansions >= MAX_PROTECTED_EXISTS {
                    self.cut = true;
                    return Ok(if positive {
                        Filter::False
                    } else {
                        Filter::True
                    });
                }
                self.expansions += 1;
                // EXISTS is monotone in its subquery: the polarity carries inside.
                let conditions = self.walk(&e.filter, depth + 1, positive)?;
                let (read, complete) = self.read_of(&e.target_model)?;
                // A related rule row that does not compile grants nothing on its own model;
                // under a negation that would widen this one, so there every related row
                // counts as readable.
                // And under a negation its denies are left out: hiding a denied row there
                // would make the negation true, a deny granting access.
                let guard = if positive {
                    self.walk(&read.filter, depth + 1, positive)?
                } else if complete {
                    self.walk(&read.granted, depth + 1, positive)?
                } else {
                    Filter::True
                };
                // Simplifying the EXISTS simplifies its subquery (and folds an empty one).
                Filter::Exists(Box::new(Exists {
                    filter: Filter::And(vec![conditions, guard]),
                    ..(**e).clone()
                }))
                .simplify()
            }
            other => other.clone(),
        })
    }

    /// The merged read rule of `model` for the subject's sets (invalid rows grant nothing),
    /// and whether every row compiled.
    fn read_of(&mut self, model: &str) -> Result<(RelatedRead, bool), Error> {
        if let Some(read) = self.reads.get(model) {
            return Ok((read.clone(), !read.incomplete));
        }
        let read = match self.schema.model(model) {
            None => RelatedRead {
                model: model.to_owned(),
                filter: Arc::new(Filter::False),
                granted: Arc::new(Filter::False),
                rule_ids: Vec::new(),
                statements: 0,
                incomplete: true,
            },
            Some(m) => {
                let rows: Vec<_> = store::load_rules(self.conn, model, self.sets)?
                    .into_iter()
                    .map(|row| {
                        let compiled =
                            compile_document_in(&row.rules, &m.columns, self.schema, model);
                        (row, compiled)
                    })
                    .collect();
                let incomplete = rows.iter().any(|(_, c)| c.is_err()) || self.policies.broken;
                // A model whose stored row is unusable has no ARN form to go by: the
                // defaults (its statements then name rows only by key, or inexactly).
                let arn = match self.policies.models.get(model) {
                    Some(Ok(stored)) => stored.arn.clone(),
                    _ => crate::policy::ModelArn::default(),
                };
                let row_model = crate::policy::RowModel {
                    name: model,
                    arn: &arn,
                    columns: &m.columns,
                    primary_key: &m.primary_key,
                };
                let statements: Vec<_> = row_model
                    .statements(self.policies.policy)
                    .into_iter()
                    .filter(|s| s.rows[Right::Read as usize].is_some())
                    .collect();
                let (grants, denies) = super::access::with_policies(
                    super::access::merge_rows(&rows),
                    &statements,
                    self.policies.refused,
                );
                RelatedRead {
                    model: model.to_owned(),
                    filter: Arc::new(super::access::reach(&grants, &denies, Right::Read)),
                    granted: Arc::new(grants[Right::Read as usize].to_filter()),
                    rule_ids: rows.iter().map(|(r, _)| r.id).collect(),
                    statements: statements.len(),
                    incomplete,
                }
            }
        };
        let answer = (read.clone(), !read.incomplete);
        self.reads.insert(model.to_owned(), read);
        Ok(answer)
    }

    /// The read rules pulled in, by model name.
    pub(super) fn related(self) -> RelatedReads {
        let mut out: RelatedReads = self.reads.into_values().collect();
        out.sort_by(|a, b| a.model.cmp(&b.model));
        out
    }
}

/// `filter` (variables resolved) with every outermost relation condition decided in the
/// database for `row`: one `SELECT 1 … LIMIT 1` per condition. What is left is decided in
/// memory as usual.
pub(super) fn decide_for_row<R: Row + ?Sized>(
    conn: &mut dyn StoreConnection,
    filter: &Filter,
    attrs: &Attributes,
    row: &R,
) -> Result<Filter, Error> {
    let resolved = filter.resolve(attrs);
    resolved.map_relations(&mut |e: &Exists| {
        let value = row.value(e.local_index).to_value();
        related_row_exists(conn, e, &value, &e.filter).map(|yes| {
            if yes {
                Filter::True
            } else {
                Filter::False
            }
        })
    })
}

/// Whether a row of `e`'s target whose related column equals `value` satisfies `filter`.
pub(super) fn related_row_exists(
    conn: &mut dyn StoreConnection,
    e: &Exists,
    value: &Value,
    filter: &Filter,
) -> Result<bool, Error> {
    if value.is_null() {
        return Ok(false);
    }
    let table = e.target_table.to_string();
    let sql = SqlFilter::from_arc(Some(Cow::Owned(table.clone())), Arc::new(filter.clone()));
    let query =
        AnyRowQuery::new(&table, sql).with_key(&e.target_column, e.target_type, value.clone());
    let found: Vec<i32> = on_backend!(conn, c => query.load(c))?;
    Ok(!found.is_empty())
}

/// A belongs-to whose target a written row must point at (the foreign-key target check).
#[derive(Debug, Clone)]
pub struct ForeignKeyCheck {
    /// The relation, with an empty condition: only its columns and target are used.
    pub relation: Exists,
    /// The right needed on the parent.
    pub right: Right,
}

/// The foreign-key target checks of `model` (its belongs-to relations with a check right),
/// with column positions in `columns`.
pub(super) fn foreign_key_checks(
    schema: &Schema,
    model: &str,
    columns: &crate::rules::Columns,
) -> Vec<ForeignKeyCheck> {
    let Some(owner) = schema.model(model) else {
        return Vec::new();
    };
    owner
        .relations
        .iter()
        .filter(|r| r.kind == crate::rules::RelationKind::BelongsTo)
        .filter_map(|r| {
            let right = r.check?;
            let (local_index, _) = columns.get(&r.local_column)?;
            let target = schema.model(&r.target_model)?;
            let (_, target_type) = target.columns.get(&r.target_column)?;
            Some(ForeignKeyCheck {
                relation: Exists::of(
                    r,
                    &owner.table,
                    local_index,
                    &target.table,
                    target_type,
                    Filter::True,
                ),
                right,
            })
        })
        .collect()
}

/// The first of `checks` that `row` fails: a non-NULL belongs-to column pointing at a parent
/// row the subject lacks the relation's right on (create: read and create), or at none.
/// One lookup per non-NULL column.
/// The refusal of `action` on `model` because `check`'s target failed.
pub(super) fn target_refusal(action: Right, model: &str, check: &ForeignKeyCheck) -> Error {
    let relation = &check.relation;
    Error::ForbiddenTarget {
        action,
        model: model.to_owned(),
        relation: relation.relation.to_string(),
        column: relation.local_column.to_string(),
        target_model: relation.target_model.to_string(),
        right: check.right,
    }
}

pub(super) fn failed_target<'c, R: Row + ?Sized>(
    auth: &super::Authorizer,
    conn: &mut dyn StoreConnection,
    subject: &crate::Subject,
    checks: &'c [ForeignKeyCheck],
    row: &R,
) -> Result<Option<&'c ForeignKeyCheck>, Error> {
    for check in checks {
        let relation = &check.relation;
        let value = row.value(relation.local_index).to_value();
        if value.is_null() {
            continue;
        }
        let target = &relation.target_model;
        // Update and delete include read already; create does not, and a parent the subject
        // cannot read must not be linked to (nor its existence tested).
        let parent = match check.right {
            Right::Create => {
                let read = auth.filter(conn, subject, target, Right::Read)?;
                let create = auth.filter(conn, subject, target, Right::Create)?;
                Arc::new(Filter::And(vec![(*read).clone(), (*create).clone()]))
            }
            right => auth.filter(conn, subject, target, right)?,
        };
        if !related_row_exists(conn, relation, &value, &parent)? {
            return Ok(Some(check));
        }
    }
    Ok(None)
}

/// The foreign-key target checks of a model as cached, or the error that refuses its writes
/// while one of its relations is unusable.
pub(super) fn usable_checks(
    model: &str,
    access: &super::ModelAccess,
) -> Result<Vec<ForeignKeyCheck>, Error> {
    if access.broken_relations.is_empty() {
        Ok(access.foreign_keys.clone())
    } else {
        Err(Error::Store(crate::store::StoreError::BadRelation(
            format!(
                "writes to {model} are refused until its relations are fixed \
             (rowguard sync-models; rules check lists them): {}",
                access.broken_relations.join("; ")
            ),
        )))
    }
}
