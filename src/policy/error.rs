//! Errors of the policy language: each names the statement and field, the text, and why.

use thiserror::Error;

/// What is wrong with an ARN, an action or a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An ARN does not have the form `arn:<partition>:<service>:<region>:<account>:<type>[/<id>]`.
    #[error("invalid ARN {text:?}: {why}")]
    Arn {
        /// The ARN as written.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// An action is not `service:Verb` (or `*` in a statement).
    #[error("invalid action {text:?}: {why}")]
    Action {
        /// The action as written.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// A check asked about a wildcard action or resource: a question, not an answer, so it
    /// is refused outright (what the PHP package calls `InvalidArnException`).
    #[error("a check names a wildcard {what} {text:?}: checks take one action on one resource")]
    WildcardCheck {
        /// `action` or `resource`.
        what: &'static str,
        /// The action or ARN as given.
        text: String,
    },
    /// The policy document is not valid JSON, or gives a key twice in one object.
    #[error("policy JSON: {0}")]
    Json(String),
    /// The document or one statement has the wrong shape or a bad field.
    #[error("{}: {why}", location(.statement, .field))]
    Statement {
        /// The statement's position (0-based), `None` for the document itself.
        statement: Option<usize>,
        /// The field (`Effect`, `Action`, `Resource`, …), if one is at fault.
        field: Option<String>,
        /// What is wrong, naming the offending text.
        why: String,
    },
}

fn location(statement: &Option<usize>, field: &Option<String>) -> String {
    match (statement, field) {
        (None, None) => "policy".to_owned(),
        (None, Some(f)) => format!("policy field {f:?}"),
        (Some(i), None) => format!("statement {i}"),
        (Some(i), Some(f)) => format!("statement {i}, field {f:?}"),
    }
}

/// `text` for an error message, cut short: a message names the culprit, it does not repeat a
/// whole document or a megabyte of request.
pub(crate) fn cut(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
