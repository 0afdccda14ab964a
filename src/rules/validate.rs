//! Validation: a parsed [`RuleDocument`] + a model's [`Columns`] → typed [`Filter`]s.
//! Every value is parsed into its column's type here, once, when the rule is loaded.

use std::sync::Arc;

use super::ast::{Cond, Grant, Op, Operand as AstOperand, RuleDocument, Search, Term};
use super::filter::{CmpOp, Filter, Operand, Pattern, Test, TestKind};
use super::{parse_document, ColumnType, Columns, Right, RuleError, RuleErrorKind, Value};

/// What one right of a validated document grants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    /// `"*"`: every row.
    Everything,
    /// The rows the filter accepts.
    Rows(Filter),
}

/// A validated rule document for one model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompiledRules {
    access: [Option<Access>; 4],
}

impl CompiledRules {
    /// What the document grants for `right` (`None`: nothing).
    pub fn access(&self, right: Right) -> Option<&Access> {
        self.access[right as usize].as_ref()
    }

    /// The filter of `right`: `Filter::True` for `"*"`, `None` when not granted.
    pub fn filter(&self, right: Right) -> Option<Filter> {
        self.access(right).map(|a| match a {
            Access::Everything => Filter::True,
            Access::Rows(f) => f.clone(),
        })
    }
}

/// Parses and validates a rule document for a model in one step.
///
/// ```
/// use rowguard::rules::{compile_document, ColumnType, Columns};
///
/// let cols = Columns::new([("id", ColumnType::Integer)]).unwrap();
/// let err = compile_document(r#"{"read":{"search":{"id":"=1;x"}}}"#, &cols).unwrap_err();
/// assert_eq!(err.to_string(), r#"read.search.id: "=1;x": "x" is not an integer (32-bit)"#);
/// ```
pub fn compile_document(json: &str, columns: &Columns) -> Result<CompiledRules, RuleError> {
    validate(&parse_document(json)?, columns)
}

/// Validates a parsed document against the model's columns.
pub fn validate(doc: &RuleDocument, columns: &Columns) -> Result<CompiledRules, RuleError> {
    let mut out = CompiledRules::default();
    for right in Right::ALL {
        out.access[right as usize] = match doc.grant(right) {
            None => None,
            Some(Grant::Everything) => Some(Access::Everything),
            Some(Grant::Search(search)) => {
                Some(Access::Rows(compile_search(search, columns)?.simplify()))
            }
        };
    }
    Ok(out)
}

fn compile_search(search: &Search, columns: &Columns) -> Result<Filter, RuleError> {
    match search {
        Search::All(parts) => parts
            .iter()
            .map(|p| compile_search(p, columns))
            .collect::<Result<_, _>>()
            .map(Filter::And),
        Search::Any(parts) => parts
            .iter()
            .map(|p| compile_search(p, columns))
            .collect::<Result<_, _>>()
            .map(Filter::Or),
        Search::Cond(cond) => compile_cond(cond, columns),
    }
}

fn compile_cond(cond: &Cond, columns: &Columns) -> Result<Filter, RuleError> {
    let err = |kind, message: String| RuleError::new(kind, &cond.path, message).in_text(&cond.text);
    let (index, ty) = columns.get(&cond.column).ok_or_else(|| {
        err(
            RuleErrorKind::UnknownColumn,
            format!(
                "unknown column \"{}\"; the model's columns are: {}",
                cond.column.escape_debug(),
                columns.names_list()
            ),
        )
    })?;
    let test = |kind| {
        Filter::Test(Test {
            column: Arc::from(cond.column.as_str()),
            index,
            ty,
            kind,
        })
    };
    let op = cond.op;
    let n = cond.values.len();
    let count_error = |expected: &str| {
        err(
            RuleErrorKind::ValueCount,
            format!("{op} takes {expected}, found {n}"),
        )
    };
    if matches!(
        op,
        Op::Lt | Op::Gt | Op::Le | Op::Ge | Op::Between | Op::NotBetween
    ) && !ty.is_ordered()
    {
        return Err(err(
            RuleErrorKind::OperatorType,
            format!("{op} does not apply to {ty} columns; use = or !="),
        ));
    }
    if op.is_word() && ty != ColumnType::Text {
        return Err(err(
            RuleErrorKind::OperatorType,
            format!(
                "{op} applies to text columns only; \"{}\" is {ty}",
                cond.column
            ),
        ));
    }
    let filter = match op {
        Op::Eq | Op::NotEq => {
            let eq = compile_eq(&cond.values, ty, &test, &err)?;
            if op == Op::NotEq {
                Filter::Not(Box::new(eq))
            } else {
                eq
            }
        }
        Op::Lt | Op::Gt | Op::Le | Op::Ge => {
            let [value] = cond.values.as_slice() else {
                return Err(count_error("exactly one value"));
            };
            let cmp = match op {
                Op::Lt => CmpOp::Lt,
                Op::Gt => CmpOp::Gt,
                Op::Le => CmpOp::Le,
                _ => CmpOp::Ge,
            };
            test(TestKind::Compare(cmp, scalar(value, op, ty, &err)?))
        }
        Op::Between | Op::NotBetween => {
            let [low, high] = cond.values.as_slice() else {
                return Err(count_error("exactly two values (low;high)"));
            };
            let between = test(TestKind::Between(
                scalar(low, op, ty, &err)?,
                scalar(high, op, ty, &err)?,
            ));
            if op == Op::NotBetween {
                Filter::Not(Box::new(between))
            } else {
                between
            }
        }
        Op::Contains | Op::StartsWith | Op::EndsWith => {
            let mut alternatives = Vec::with_capacity(n);
            for value in &cond.values {
                let Term::Literal(text) = &value.term else {
                    return Err(err(
                        RuleErrorKind::OperatorType,
                        format!(
                            "\"{}\": {op} takes literal text (no null, % or variables)",
                            value.text
                        ),
                    ));
                };
                Value::parse(ColumnType::Text, text).map_err(|m| err(RuleErrorKind::Value, m))?;
                let pattern = match op {
                    Op::Contains => Pattern::contains(text),
                    Op::StartsWith => Pattern::starts_with(text),
                    _ => Pattern::ends_with(text),
                };
                alternatives.push(test(TestKind::Like(pattern)));
            }
            Filter::Or(alternatives)
        }
    };
    let uses_vars = cond.values.iter().any(|v| matches!(v.term, Term::Var(_)));
    Ok(if uses_vars {
        Filter::Scoped(Box::new(filter))
    } else {
        filter
    })
}

/// `=` lists: any of the plain values (literals, variables, patterns, null), and none of the
/// `!` values.
fn compile_eq(
    values: &[AstOperand],
    ty: ColumnType,
    test: &dyn Fn(TestKind) -> Filter,
    err: &dyn Fn(RuleErrorKind, String) -> RuleError,
) -> Result<Filter, RuleError> {
    let mut include_in = Vec::new();
    let mut include_other = Vec::new();
    let mut exclude = Vec::new();
    for value in values {
        let (filter_in, filter) = match &value.term {
            Term::Null => (None, Some(test(TestKind::IsNull))),
            Term::Var(name) => (Some(Operand::Var(name.clone())), None),
            Term::Literal(text) => (
                Some(Operand::Value(
                    Value::parse(ty, text).map_err(|m| err(RuleErrorKind::Value, m))?,
                )),
                None,
            ),
            Term::Pattern(pieces) => {
                if ty != ColumnType::Text {
                    return Err(err(
                        RuleErrorKind::OperatorType,
                        format!(
                            "\"{}\": % patterns apply to text columns only; write \\% for a \
                             literal %",
                            value.text
                        ),
                    ));
                }
                let pattern = Pattern::new(pieces.clone());
                for piece in pattern.pieces() {
                    if let super::ast::Piece::Text(t) = piece {
                        Value::parse(ColumnType::Text, t)
                            .map_err(|m| err(RuleErrorKind::Value, m))?;
                    }
                }
                (None, Some(test(TestKind::Like(pattern))))
            }
        };
        match (value.negated, filter_in, filter) {
            (false, Some(op), _) => include_in.push(op),
            (false, None, Some(f)) => include_other.push(f),
            (true, Some(op), _) => {
                exclude.push(Filter::Not(Box::new(test(TestKind::In(vec![op])))))
            }
            (true, None, Some(f)) => exclude.push(Filter::Not(Box::new(f))),
            (_, None, None) => {}
        }
    }
    let mut parts = Vec::with_capacity(1 + exclude.len());
    if !include_in.is_empty() || !include_other.is_empty() {
        let mut any = Vec::with_capacity(1 + include_other.len());
        if !include_in.is_empty() {
            any.push(test(TestKind::In(include_in)));
        }
        any.extend(include_other);
        parts.push(Filter::Or(any));
    }
    parts.extend(exclude);
    Ok(Filter::And(parts))
}

/// A single value for a comparison operator: a literal or a variable.
fn scalar(
    value: &AstOperand,
    op: Op,
    ty: ColumnType,
    err: &dyn Fn(RuleErrorKind, String) -> RuleError,
) -> Result<Operand, RuleError> {
    match &value.term {
        Term::Literal(text) => Value::parse(ty, text)
            .map(Operand::Value)
            .map_err(|m| err(RuleErrorKind::Value, m)),
        Term::Var(name) => Ok(Operand::Var(name.clone())),
        Term::Null => Err(err(
            RuleErrorKind::OperatorType,
            format!("{op} cannot compare with null; use =null or =!null"),
        )),
        Term::Pattern(_) => Err(err(
            RuleErrorKind::OperatorType,
            format!(
                "\"{}\": {op} takes no % pattern; write \\% for a literal %",
                value.text
            ),
        )),
    }
}
