//! Statements as row filters: what a policy grants and denies on a model's rows for one of
//! the four rights (`<model>:Create|Read|Update|Delete`), as the rule language's filters, so
//! that the guard applies them in SQL and in memory exactly as it applies rules.
//!
//! A row is named `arn:<partition>:<service>:<region>:<account>:<model>/<key>`. A statement's
//! resource becomes a test of the row's account column and primary key:
//! `…:123:contacts/*` is `account = 123`, `…:*:contacts/17` is `key = 17`. What a test on
//! one column cannot say exactly (a `?`, or a wildcard inside `<model>/`, or a pattern on a
//! number) is taken the safe way: such a resource grants no row, and denies every row.

use std::sync::Arc;

use super::glob::Pattern as Glob;
use super::model::{names_resources, resource_value, ArnAccount, ModelArn};
use super::{ArnPattern, Effect, Policy};
use crate::rules::{
    merge, Access, ColumnType, Columns, Filter, Merged, Operand, Pattern, Piece, Right, Test,
    TestKind,
};

/// A model as row statements see it.
pub struct RowModel<'a> {
    /// The model's stored name (the resource type and the actions' prefix).
    pub name: &'a str,
    /// Its ARN form.
    pub arn: &'a ModelArn<String>,
    /// The columns filters are compiled against (positions matter).
    pub columns: &'a Columns,
    /// The primary key column.
    pub primary_key: &'a str,
}

/// What a condition on one part of a row's ARN comes to.
enum Part {
    /// Every row.
    Always,
    /// No row.
    Never,
    /// This filter.
    Rows(Filter),
    /// Not expressible exactly.
    Inexact,
}

/// One statement's rows of a model, per right (indexed by `Right as usize`; `None`: the
/// statement does not name that right; `FALSE`: it names none of the model's rows).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRows {
    /// The statement's position in its policy.
    pub index: usize,
    /// Allow or deny.
    pub effect: Effect,
    /// The rows, per right.
    pub rows: [Option<Access>; 4],
}

/// What `statements` grant and deny for `right`, merged as rule rows merge.
pub fn merged(statements: &[StatementRows], right: Right) -> (Merged, Merged) {
    let of = |effect: Effect| {
        merge(
            statements
                .iter()
                .filter(move |s| s.effect == effect)
                .filter_map(move |s| s.rows[right as usize].as_ref()),
        )
    };
    (of(Effect::Allow), of(Effect::Deny))
}

/// The action of `right` on `model`: `contacts:Read`.
pub fn row_action(model: &str, right: Right) -> String {
    let verb = match right {
        Right::Create => "Create",
        Right::Read => "Read",
        Right::Update => "Update",
        Right::Delete => "Delete",
    };
    format!("{model}:{verb}")
}

impl RowModel<'_> {
    /// The rows `policy` grants and denies for `right`, merged as rule rows merge.
    ///
    /// ```
    /// use rowguard::policy::{ModelArn, Policy, RowModel};
    /// use rowguard::rules::{ColumnType, Columns, Merged, Right};
    ///
    /// let columns = Columns::new([("id", ColumnType::Bigint), ("team_id", ColumnType::Bigint)])?;
    /// let arn = ModelArn::DEFAULT.with_account_column("team_id").to_owned();
    /// let model = RowModel { name: "contacts", arn: &arn, columns: &columns, primary_key: "id" };
    /// let policy = Policy::parse(r#"[
    ///     {"Effect": "Allow", "Action": "contacts:Read", "Resource": "arn:rowguard:default:local:123:contacts/*"},
    ///     {"Effect": "Deny", "Action": "contacts:*", "Resource": "arn:rowguard:default:local:*:contacts/17"}
    /// ]"#)?;
    /// let (grants, denies) = model.access(&policy, Right::Read);
    /// assert_eq!(grants.to_filter().to_string(), "team_id = 123");
    /// assert_eq!(denies.to_filter().to_string(), "id = 17");
    /// assert_eq!(model.access(&policy, Right::Delete).0, Merged::Nothing);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access(&self, policy: &Policy, right: Right) -> (Merged, Merged) {
        merged(&self.statements(policy), right)
    }

    /// Each statement of `policy` that names some of the model's rows for one of the four
    /// rights, with those rows per right.
    pub fn statements(&self, policy: &Policy) -> Vec<StatementRows> {
        let actions = Right::ALL.map(|right| row_action(self.name, right));
        policy
            .statements()
            .iter()
            .enumerate()
            .filter_map(|(index, statement)| {
                let effect = statement.effect();
                let deny = effect == Effect::Deny;
                // Create also takes the model itself (`…:<account>:contacts`): a new row has
                // no key yet, so "create contacts in account 3" names the account only.
                let (mut rows_of, mut created) = (None, None);
                let rows = Right::ALL.map(|right| {
                    let action = &actions[right as usize];
                    if !statement.actions().iter().any(|a| a.matches(action)) {
                        return None;
                    }
                    let create = right == Right::Create;
                    let slot = if create { &mut created } else { &mut rows_of };
                    slot.get_or_insert_with(|| self.resources(statement.resources(), deny, create))
                        .clone()
                });
                rows.iter().any(Option::is_some).then_some(StatementRows {
                    index,
                    effect,
                    rows,
                })
            })
            .collect()
    }

    /// The rows any of `resources` names (`FALSE`: none); `create`: the model itself names
    /// every key.
    fn resources(&self, resources: &[ArnPattern], deny: bool, create: bool) -> Option<Access> {
        // Always `Some`: the statement names the right.
        let rows: Vec<Filter> = resources
            .iter()
            .map(|r| match self.resource(r, create) {
                Part::Always => Filter::True,
                Part::Never => Filter::False,
                Part::Rows(f) => f,
                // The safe side: grant nothing, deny everything.
                Part::Inexact => {
                    if deny {
                        Filter::True
                    } else {
                        Filter::False
                    }
                }
            })
            .collect();
        // A statement that names the right but no row stays listed (it grants nothing, and
        // `rules explain` says so rather than hiding it).
        match Filter::Or(rows).simplify() {
            Filter::True => Some(Access::Everything),
            filter => Some(Access::Rows(filter)),
        }
    }

    /// What in `policy` is aimed at this model (an action `<model>:…`) but cannot work as
    /// written, one line each: a resource that names none of its rows (a partition, service,
    /// region, type, account or key that its ARNs never have: `contacts/017`, an account
    /// `abc` on an integer column), or one that no test on one column says exactly (an
    /// `Allow` of it grants no row, a `Deny` of it denies every row). For `policies set` to
    /// warn about, since such a statement is valid but is most likely a typo.
    ///
    /// ```
    /// use rowguard::policy::{ModelArn, Policy, RowModel};
    /// use rowguard::rules::{ColumnType, Columns};
    ///
    /// let columns = Columns::new([("id", ColumnType::Bigint), ("owner_id", ColumnType::Bigint)])?;
    /// let arn = ModelArn::DEFAULT.with_account_column("owner_id").to_owned();
    /// let model = RowModel { name: "contacts", arn: &arn, columns: &columns, primary_key: "id" };
    /// let policy = Policy::parse(r#"[{"Effect": "Deny", "Action": "contacts:Read",
    ///     "Resource": "arn:rowguard:defualt:local:*:contacts/3"}]"#)?;
    /// assert_eq!(model.lint(&policy), [
    ///     r#"statement 0, resource "arn:rowguard:defualt:local:*:contacts/3": names no row of model contacts (its rows are arn:rowguard:default:local:<owner_id>:contacts/<id>)"#
    /// ]);
    /// // The model itself names rows for Create only: a Read of it names none.
    /// let model_itself = Policy::parse(r#"[{"Effect": "Deny", "Action": ["contacts:Read"],
    ///     "Resource": "arn:rowguard:default:local:*:contacts"}]"#)?;
    /// assert_eq!(model.lint(&model_itself).len(), 1);
    /// let create = Policy::parse(r#"[{"Effect": "Allow", "Action": "contacts:Create",
    ///     "Resource": "arn:rowguard:default:local:17:contacts"}]"#)?;
    /// assert!(model.lint(&create).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lint(&self, policy: &Policy) -> Vec<String> {
        let prefix = format!("{}:", self.name.to_ascii_lowercase());
        let account = match self.arn.account() {
            ArnAccount::Column(c) => format!("<{c}>"),
            ArnAccount::Fixed(a) => a.to_owned(),
        };
        let form = format!(
            "arn:{}:{}:{}:{account}:{}/<{}>",
            self.arn.partition, self.arn.service, self.arn.region, self.name, self.primary_key
        );
        let mut out = Vec::new();
        for (i, statement) in policy.statements().iter().enumerate() {
            let aimed = statement
                .actions()
                .iter()
                .any(|a| a.as_str().to_ascii_lowercase().starts_with(&prefix));
            if !aimed {
                continue;
            }
            let names = |right: Right| {
                let action = row_action(self.name, right);
                statement.actions().iter().any(|a| a.matches(&action))
            };
            let create = names(Right::Create);
            let others = [Right::Read, Right::Update, Right::Delete]
                .into_iter()
                .any(names);
            for resource in statement.resources() {
                // The model itself names rows for Create only.
                let never = (!others || matches!(self.resource(resource, false), Part::Never))
                    && (!create || matches!(self.resource(resource, true), Part::Never))
                    && (create || others);
                let why = match self.resource(resource, false) {
                    _ if never => {
                        format!("names no row of model {} (its rows are {form})", self.name)
                    }
                    Part::Inexact => format!(
                        "no test on one column of model {} says it exactly: an Allow of it grants no row, a Deny of it denies every row",
                        self.name
                    ),
                    _ => continue,
                };
                out.push(format!("statement {i}, resource \"{resource}\": {why}"));
            }
        }
        out
    }

    /// Whether this model's rows can be named by ARNs at all (a primary key of an integer,
    /// text or UUID type, and an account column of one too); if not, no statement grants
    /// one of them, and a statement that could name them denies them all.
    fn nameable(&self) -> bool {
        let typed = |column: &str| {
            self.columns
                .get(column)
                .is_some_and(|(_, t)| names_resources(t))
        };
        typed(self.primary_key)
            && match self.arn.account() {
                ArnAccount::Column(c) => typed(c),
                ArnAccount::Fixed(_) => true,
            }
    }

    /// The rows one resource pattern names.
    fn resource(&self, pattern: &ArnPattern, create: bool) -> Part {
        let Some(parts) = pattern.parts() else {
            return Part::Always;
        };
        let [partition, service, region, account, resource] = parts;
        let fixed = [
            (partition, self.arn.partition.as_str()),
            (service, self.arn.service.as_str()),
            (region, self.arn.region.as_str()),
        ];
        if fixed.iter().any(|(p, part)| !p.matches(part, false)) {
            return Part::Never;
        }
        let account = match self.arn.account() {
            ArnAccount::Fixed(a) if account.matches(a, false) => Part::Always,
            ArnAccount::Fixed(_) => Part::Never,
            // `*` names a row whatever its account, none (NULL) too.
            ArnAccount::Column(c) => self.column_part(c, account),
        };
        let key = self.key_part(resource, create);
        if !self.nameable() && !matches!((&account, &key), (Part::Never, _) | (_, Part::Never)) {
            return Part::Inexact;
        }
        match (account, key) {
            (Part::Never, _) | (_, Part::Never) => Part::Never,
            (Part::Inexact, _) | (_, Part::Inexact) => Part::Inexact,
            (Part::Always, other) | (other, Part::Always) => other,
            (Part::Rows(a), Part::Rows(k)) => Part::Rows(Filter::And(vec![a, k])),
        }
    }

    /// The rows whose `<model>/<key>` the resource part names (`create`: `<model>` alone
    /// names every key too).
    fn key_part(&self, resource: &Glob, create: bool) -> Part {
        let text = resource.as_str();
        if text == "*" || (create && resource.matches(self.name, false)) {
            return Part::Always;
        }
        let prefix = format!("{}/", self.name);
        let literal_end = text.find(['*', '?']).unwrap_or(text.len());
        let literal = &text[..literal_end];
        if literal.len() >= prefix.len() {
            if !literal.starts_with(&prefix) {
                return Part::Never;
            }
            let key = Glob::new(&text[prefix.len()..]);
            return self.column_part(self.primary_key, &key);
        }
        // A wildcard inside `<model>/` (`con*`, `*/17`) may match; a literal this short
        // (the model itself: `contacts`) names no row.
        if literal_end < text.len() && prefix.starts_with(literal) {
            Part::Inexact
        } else {
            Part::Never
        }
    }

    /// The rows whose `column`'s ARN text `pattern` matches.
    fn column_part(&self, column: &str, pattern: &Glob) -> Part {
        let Some((_, ty)) = self.columns.get(column) else {
            return Part::Inexact;
        };
        if !names_resources(ty) {
            // Such a column's values have no ARN text: no pattern names them exactly.
            return Part::Inexact;
        }
        let text = pattern.as_str();
        if text == "*" {
            return Part::Always;
        }
        if !text.contains(['*', '?']) {
            return match resource_value(ty, text) {
                Some(value) => {
                    Part::Rows(self.test(column, TestKind::In(vec![Operand::Value(value)])))
                }
                None => Part::Never,
            };
        }
        if ty != ColumnType::Text || text.contains('?') {
            return Part::Inexact;
        }
        let mut pieces = Vec::new();
        for (i, piece) in text.split('*').enumerate() {
            if i > 0 {
                pieces.push(Piece::Wildcard);
            }
            if !piece.is_empty() {
                pieces.push(Piece::Text(piece.to_owned()));
            }
        }
        Part::Rows(self.test(column, TestKind::Like(Pattern::new(pieces))))
    }

    /// A test on `column`.
    fn test(&self, column: &str, kind: TestKind) -> Filter {
        let Some((index, ty)) = self.columns.get(column) else {
            return Filter::False;
        };
        Filter::Test(Test {
            column: Arc::from(column),
            index,
            ty,
            kind,
        })
    }
}
