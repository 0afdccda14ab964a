//! In-memory evaluation of a [`Filter`] against a row, with SQL's three-valued logic, so
//! `can(action, &row)` and write checks agree with the SQL rendering.
//!
//! Two entry points: [`Filter::eval`] for a filter whose variables are already resolved, and
//! [`Filter::eval_with`], which binds `$subject.*` variables in place. The second is what
//! checks use: it gives the same answer as `resolve` then `eval` without copying the filter.

use std::cmp::Ordering;

use super::filter::{Attributes, CmpOp, Filter, Operand, Test, TestKind};
use super::{Value, ValueRef};

/// A row: the model's column values, in the order of its [`Columns`](super::Columns).
/// Every [`Authorizable`](crate::Authorizable) model is one (its cells are borrowed, not
/// copied), and so is a slice of [`Value`]s.
pub trait Row {
    /// The value of the column at `index` ([`ValueRef::Null`] for NULL or no such column).
    fn value(&self, index: usize) -> ValueRef<'_>;
}

impl Row for [Value] {
    #[inline]
    fn value(&self, index: usize) -> ValueRef<'_> {
        self.get(index).map_or(ValueRef::Null, Value::borrowed)
    }
}

impl Row for Vec<Value> {
    #[inline]
    fn value(&self, index: usize) -> ValueRef<'_> {
        self.as_slice().value(index)
    }
}

impl Filter {
    /// SQL truth value of the filter on `row`: `Some(true)`, `Some(false)`, or `None` (NULL).
    /// Variables must be resolved first; an unresolved one counts as NULL.
    ///
    /// ```
    /// use rowguard::rules::{compile_document, ColumnType, Columns, Right, Value};
    ///
    /// let cols = Columns::new([("id", ColumnType::Integer)]).unwrap();
    /// let rules = compile_document(r#"{"update":{"search":{"id":"=!2"}}}"#, &cols).unwrap();
    /// let filter = rules.filter(Right::Update).unwrap();
    /// assert!(filter.matches(&vec![Value::Int(1)]));
    /// assert!(!filter.matches(&vec![Value::Int(2)]));
    /// assert_eq!(filter.eval(&vec![Value::Null]), None); // NULL <> 2 is NULL
    /// ```
    pub fn eval<R: Row + ?Sized>(&self, row: &R) -> Option<bool> {
        self.eval_in(row, &Scope::Unbound, true)
    }

    /// Whether the filter accepts `row` (SQL `WHERE` semantics: only TRUE passes).
    pub fn matches<R: Row + ?Sized>(&self, row: &R) -> bool {
        self.eval(row) == Some(true)
    }

    /// Like [`Filter::eval`] on `self.resolve(attrs)`, without building the resolved filter:
    /// `$subject.*` variables are read from `attrs` as the tests meet them. A condition whose
    /// variable is missing or does not parse as its column's type is false as a whole (true
    /// under a `NOT`, as in a deny: either way the filter grants less).
    ///
    /// ```
    /// use rowguard::rules::{compile_document, Attributes, ColumnType, Columns, Right, Value};
    ///
    /// let cols = Columns::new([("owner_id", ColumnType::Bigint)]).unwrap();
    /// let doc = r#"{"update":{"search":{"owner_id":"!=$subject.id"}}}"#;
    /// let filter = compile_document(doc, &cols).unwrap().filter(Right::Update).unwrap();
    /// let row = vec![Value::Int(17)];
    /// assert_eq!(filter.eval_with(&row, &Attributes::new().with("id", 17)), Some(false));
    /// assert_eq!(filter.eval_with(&row, &Attributes::new().with("id", 18)), Some(true));
    /// // No attribute: the condition fails closed, even under `!=`.
    /// assert_eq!(filter.eval_with(&row, &Attributes::new()), Some(false));
    /// ```
    pub fn eval_with<R: Row + ?Sized>(&self, row: &R, attrs: &Attributes) -> Option<bool> {
        self.eval_in(row, &Scope::Outside(attrs), true)
    }

    /// Whether the filter accepts `row`, variables bound from `attrs` ([`Filter::eval_with`]).
    pub fn matches_with<R: Row + ?Sized>(&self, row: &R, attrs: &Attributes) -> bool {
        self.eval_with(row, attrs) == Some(true)
    }

    /// `positive` is false under an odd number of `NOT`s: there a condition with an unusable
    /// variable is true (as [`Filter::resolve`] makes it), so the whole still grants less.
    fn eval_in<R: Row + ?Sized>(&self, row: &R, scope: &Scope<'_>, positive: bool) -> Option<bool> {
        match self {
            Filter::True => Some(true),
            Filter::False => Some(false),
            Filter::And(children) => {
                let mut result = Some(true);
                for c in children {
                    match c.eval_in(row, scope, positive) {
                        Some(false) => return Some(false),
                        None => result = None,
                        Some(true) => {}
                    }
                }
                result
            }
            Filter::Or(children) => {
                let mut result = Some(false);
                for c in children {
                    match c.eval_in(row, scope, positive) {
                        Some(true) => return Some(true),
                        None => result = None,
                        Some(false) => {}
                    }
                }
                result
            }
            Filter::Not(x) => x.eval_in(row, scope, !positive).map(|b| !b),
            Filter::Scoped(x) => match scope {
                Scope::Unbound => x.eval_in(row, scope, positive),
                Scope::Outside(attrs) | Scope::Bound(attrs) => {
                    if x.vars_usable(attrs) {
                        x.eval_in(row, &Scope::Bound(attrs), positive)
                    } else {
                        Some(!positive)
                    }
                }
            },
            Filter::Test(test) => eval_test(test, row.value(test.index), scope),
            // Only the database knows related rows: unknown here, so it never grants.
            Filter::Exists(_) => None,
        }
    }

    /// Whether every variable under this (scoped) filter can be bound from `attrs`: the
    /// same conditions under which [`Filter::resolve`] substitutes instead of failing.
    fn vars_usable(&self, attrs: &Attributes) -> bool {
        match self {
            Filter::And(c) | Filter::Or(c) => c.iter().all(|f| f.vars_usable(attrs)),
            Filter::Not(x) | Filter::Scoped(x) => x.vars_usable(attrs),
            Filter::True | Filter::False => true,
            Filter::Exists(e) => e.filter.vars_usable(attrs),
            Filter::Test(t) => {
                let one = |op: &Operand| match op {
                    Operand::Var(name) => attrs.bind_one(name, t.ty).is_some(),
                    Operand::Value(_) => true,
                };
                match &t.kind {
                    TestKind::In(ops) => ops.iter().all(|op| match op {
                        Operand::Var(name) => attrs.bind_list(name, t.ty).is_some(),
                        Operand::Value(_) => true,
                    }),
                    TestKind::Compare(_, x) => one(x),
                    TestKind::Between(lo, hi) => one(lo) && one(hi),
                    TestKind::Like(_) | TestKind::IsNull => true,
                }
            }
        }
    }
}

/// Where variables come from while evaluating.
enum Scope<'a> {
    /// [`Filter::eval`]: variables are unresolved and count as NULL.
    Unbound,
    /// [`Filter::eval_with`], outside any scoped condition: a variable here was not meant to
    /// be filled in (`resolve` leaves it), so it counts as NULL.
    Outside(&'a Attributes),
    /// Inside a scoped condition whose variables all bind.
    Bound(&'a Attributes),
}

#[inline]
fn eval_test(test: &Test, cell: ValueRef<'_>, scope: &Scope<'_>) -> Option<bool> {
    if let TestKind::IsNull = test.kind {
        return Some(cell.is_null());
    }
    if cell.is_null() {
        return None;
    }
    let cmp = |op: &Operand| compare(cell, op, test, scope);
    match &test.kind {
        TestKind::In(ops) => {
            let mut result = Some(false);
            for op in ops {
                let found = match (op, scope) {
                    // A multi-valued attribute in a list stands for all its values.
                    (Operand::Var(name), Scope::Bound(attrs)) => attrs
                        .bind_list(name, test.ty)
                        .map_or(Some(false), |values| any_equal(cell, values)),
                    _ => cmp(op).map(Ordering::is_eq),
                };
                match found {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        TestKind::Compare(op, x) => cmp(x).map(|o| match op {
            CmpOp::Lt => o.is_lt(),
            CmpOp::Gt => o.is_gt(),
            CmpOp::Le => o.is_le(),
            CmpOp::Ge => o.is_ge(),
        }),
        TestKind::Between(lo, hi) => {
            let low = cmp(lo).map(Ordering::is_ge);
            let high = cmp(hi).map(Ordering::is_le);
            match (low, high) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            }
        }
        TestKind::Like(pattern) => match cell {
            ValueRef::Text(text) => Some(pattern.matches(text)),
            _ => None,
        },
        TestKind::IsNull => Some(false),
    }
}

/// `cell IN (values…)` for the values of one attribute.
#[inline]
fn any_equal<'v>(cell: ValueRef<'_>, values: impl Iterator<Item = ValueRef<'v>>) -> Option<bool> {
    let mut result = Some(false);
    for v in values {
        match cell.sql_cmp(v) {
            Some(Ordering::Equal) => return Some(true),
            None => result = None,
            Some(_) => {}
        }
    }
    result
}

#[inline]
fn compare(cell: ValueRef<'_>, op: &Operand, test: &Test, scope: &Scope<'_>) -> Option<Ordering> {
    match (op, scope) {
        (Operand::Value(v), _) => cell.sql_cmp_value(v),
        (Operand::Var(name), Scope::Bound(attrs)) => cell.sql_cmp(attrs.bind_one(name, test.ty)?),
        (Operand::Var(_), _) => None,
    }
}
