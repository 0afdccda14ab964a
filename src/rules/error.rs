//! Errors of the rule language: each names where (the path inside the document), the
//! offending text, and why.

use std::fmt;

/// What kind of mistake a [`RuleError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// The document is not valid JSON.
    Json,
    /// A key of the document is not `create`, `read`, `update` or `delete`.
    UnknownRight,
    /// A right is neither `"*"` nor `{"search": …}`, or a search has the wrong shape.
    Shape,
    /// A condition string does not follow the grammar (operator, escapes, variables).
    Syntax,
    /// The operator is not one of rowguard's.
    UnknownOperator,
    /// The column is not declared for the model.
    UnknownColumn,
    /// The operator does not apply to the column's type (or to `null`, `%`, `!`).
    OperatorType,
    /// The operator got the wrong number of values.
    ValueCount,
    /// A value does not parse as the column's type.
    Value,
    /// The model's column metadata itself is wrong.
    Schema,
    /// A condition names a relation the model does not have.
    UnknownRelation,
    /// A path crosses more relations than [`MAX_RELATION_DEPTH`](super::MAX_RELATION_DEPTH).
    RelationDepth,
    /// A deny uses a relation condition (denies take the model's own columns).
    RelationInDeny,
}

/// A rule-language error, e.g. `read.search.id: "=1;x": "x" is not an integer (32-bit)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The kind of mistake.
    pub kind: RuleErrorKind,
    /// Where in the document: `read.search.||[1].status`; empty for the document itself.
    pub path: String,
    /// The condition text as written, when the error is inside one.
    pub text: Option<String>,
    /// Why it is wrong and what was expected.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(kind: RuleErrorKind, path: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.to_owned(),
            text: None,
            message: message.into(),
        }
    }

    pub(crate) fn in_text(mut self, text: &str) -> Self {
        self.text = Some(text.to_owned());
        self
    }

    pub(crate) fn schema(message: impl Into<String>) -> Self {
        Self::new(RuleErrorKind::Schema, "", message)
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        if let Some(text) = &self.text {
            write!(f, "\"{}\": ", text.escape_debug())?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}
