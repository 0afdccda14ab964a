//! The error of the guard API: what application code matches on.

use crate::rules::{Right, RuleError};
use crate::store::StoreError;
use crate::DbError;

/// Errors of authorized reads and writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The subject may not do this; nothing was changed.
    #[error("forbidden: {action} on {model}")]
    Forbidden {
        /// The right that was missing.
        action: Right,
        /// The model.
        model: String,
    },
    /// A written row's foreign key points at a parent row the subject may not read (or lacks
    /// the relation's configured right on; or that does not exist: which of the two is not
    /// revealed). Nothing was changed.
    #[error("forbidden: {action} on {model}: {column} points at a {target_model} row the subject may not {right}")]
    ForbiddenTarget {
        /// The write refused (create or update).
        action: Right,
        /// The model written.
        model: String,
        /// The relation (belongs-to) whose target was refused.
        relation: String,
        /// Its foreign-key column.
        column: String,
        /// The parent model.
        target_model: String,
        /// The right needed on the parent.
        right: Right,
    },
    /// A write sets or changes a column the subject may not write (a `"columns"` list);
    /// nothing was changed.
    #[error("forbidden: {action} on {model}: the subject may not write column {column}")]
    ForbiddenColumn {
        /// The write refused (create or update).
        action: Right,
        /// The model.
        model: String,
        /// The column.
        column: String,
    },
    /// A column the subject may not read cannot come back as NULL (it is `NOT NULL` in the
    /// database), so reads of the model fail closed for this subject. `rules check` lists it.
    #[error("model {model}: column {column} is hidden from this subject but NOT NULL in the database, so its rows cannot be read with it as NULL; make the column nullable or let the subject read it")]
    HiddenColumnNotNull {
        /// The model.
        model: String,
        /// The column.
        column: String,
    },
    /// A column list limits writes of the model, but its table has a column the model does
    /// not declare, so the write could set it unchecked; declare it in `authorizable!`.
    #[error("forbidden: {action} on {model}: a column list limits it, but column {column} of the table is not declared in authorizable!, so the write cannot be checked")]
    UndeclaredColumn {
        /// The write refused (create or update).
        action: Right,
        /// The model.
        model: String,
        /// The undeclared column.
        column: String,
    },
    /// No such row, or one the subject cannot read (existence is not revealed).
    #[error("not found: {model} {key}")]
    NotFound {
        /// The model.
        model: String,
        /// The key asked for.
        key: String,
    },
    /// The model is not in `authorizable_models`.
    #[error(
        "unknown model \"{model}\": register it (rowguard sync-models); registered models: {known}"
    )]
    UnknownModel {
        /// The name asked for.
        model: String,
        /// The registered models' names, comma-separated (empty if none).
        known: String,
    },
    /// The model's stored definition (`authorizable_models`) disagrees with the Rust type:
    /// its rules may not mean what they say, so the model fails closed until it is synced.
    #[error("model \"{model}\": the stored definition disagrees with the code ({detail}); run rowguard sync-models")]
    ModelMismatch {
        /// The model.
        model: String,
        /// Each disagreement.
        detail: String,
    },
    /// The model's rows are only inserted through the guard (an audit table).
    #[error(
        "forbidden: {model} rows cannot be {action}d through the guard (the table is append-only)"
    )]
    Immutable {
        /// The write refused (update or delete).
        action: Right,
        /// The model.
        model: String,
    },
    /// A bulk update's change altered a row's primary key; nothing was written.
    #[error("{model} {key}: a bulk update may not change the primary key; nothing was written")]
    KeyChanged {
        /// The model.
        model: String,
        /// The row's key before the change.
        key: String,
    },
    /// A row changed or vanished while a bulk update wrote it; nothing was written.
    #[error("{model} {key} was changed or removed during the update; nothing was written")]
    RowChanged {
        /// The model.
        model: String,
        /// The row's key.
        key: String,
    },
    /// A search given by the application does not validate.
    #[error("invalid search for {model}: {source}")]
    InvalidSearch {
        /// The model.
        model: String,
        /// The rule-language error.
        source: RuleError,
    },
    /// Reading rowguard's tables failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A policy check names a wildcard, or an ARN or action that is malformed.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// A database error.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The decision log could not start or write.
    #[error(transparent)]
    Decisions(#[from] crate::decisions::DecisionError),
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Db(DbError::Query(e))
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Db(DbError::from(e))
    }
}
