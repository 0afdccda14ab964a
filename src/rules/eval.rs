//! In-memory evaluation of a [`Filter`] against a row, with SQL's three-valued logic, so
//! `can(action, &row)` and write checks agree with the SQL rendering.

use std::cmp::Ordering;

use super::filter::{CmpOp, Filter, Operand, TestKind};
use super::Value;

/// A row: the model's column values, in the order of its [`Columns`](super::Columns).
pub trait Row {
    /// The value of the column at `index` ([`Value::Null`] for NULL).
    fn value(&self, index: usize) -> &Value;
}

impl Row for [Value] {
    fn value(&self, index: usize) -> &Value {
        self.get(index).unwrap_or(&Value::Null)
    }
}

impl Row for Vec<Value> {
    fn value(&self, index: usize) -> &Value {
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
        match self {
            Filter::True => Some(true),
            Filter::False => Some(false),
            Filter::And(children) => {
                let mut result = Some(true);
                for c in children {
                    match c.eval(row) {
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
                    match c.eval(row) {
                        Some(true) => return Some(true),
                        None => result = None,
                        Some(false) => {}
                    }
                }
                result
            }
            Filter::Not(x) => x.eval(row).map(|b| !b),
            Filter::Scoped(x) => x.eval(row),
            Filter::Test(test) => {
                let cell = row.value(test.index);
                if let TestKind::IsNull = test.kind {
                    return Some(cell.is_null());
                }
                if cell.is_null() {
                    return None;
                }
                match &test.kind {
                    TestKind::In(ops) => {
                        let mut result = Some(false);
                        for op in ops {
                            match compare(cell, op) {
                                Some(Ordering::Equal) => return Some(true),
                                None => result = None,
                                Some(_) => {}
                            }
                        }
                        result
                    }
                    TestKind::Compare(op, x) => compare(cell, x).map(|o| match op {
                        CmpOp::Lt => o.is_lt(),
                        CmpOp::Gt => o.is_gt(),
                        CmpOp::Le => o.is_le(),
                        CmpOp::Ge => o.is_ge(),
                    }),
                    TestKind::Between(lo, hi) => {
                        let low = compare(cell, lo).map(Ordering::is_ge);
                        let high = compare(cell, hi).map(Ordering::is_le);
                        match (low, high) {
                            (Some(false), _) | (_, Some(false)) => Some(false),
                            (Some(true), Some(true)) => Some(true),
                            _ => None,
                        }
                    }
                    TestKind::Like(pattern) => match cell {
                        Value::Text(text) => Some(pattern.matches(text)),
                        _ => None,
                    },
                    TestKind::IsNull => Some(false),
                }
            }
        }
    }

    /// Whether the filter accepts `row` (SQL `WHERE` semantics: only TRUE passes).
    pub fn matches<R: Row + ?Sized>(&self, row: &R) -> bool {
        self.eval(row) == Some(true)
    }
}

fn compare(cell: &Value, op: &Operand) -> Option<Ordering> {
    match op {
        Operand::Value(v) => cell.sql_cmp(v),
        Operand::Var(_) => None,
    }
}
