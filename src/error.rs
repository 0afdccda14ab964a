//! The error of the guard API: what application code matches on.

use crate::config::ConfigError;
use crate::rules::{Right, RuleError};
use crate::store::StoreError;
use crate::DbError;

/// Errors of authorized reads and writes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The subject may not do this; nothing was changed.
    #[error("forbidden: {action} on {model}")]
    Forbidden {
        /// The right that was missing.
        action: Right,
        /// The model.
        model: String,
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
    #[error("unknown model \"{0}\": register it (cargo xtask sync-models)")]
    UnknownModel(String),
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
    /// A database error.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
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
