//! The decision log: who was allowed or refused what, by which rule rows.
//!
//! Per right ([`Mode`]: off, denials, sampled, all), the decisions of guarded writes
//! (`Guard::insert`, `update`, `delete`, `update_all`, `delete_all`) and of explicit checks
//! (`Guard::can`, `Authorizer::allows`) are recorded in `authorization_decisions`: the
//! subject, the model, the right, the row's key, allowed or denied, why, and the rule rows
//! that decided. Scoped reads are filtered, not decided, and are not recorded.
//!
//! The request path only appends a small record to its thread's buffer
//! ([`crate::Authorizer::log_decisions`] starts the writer, on a connection of its own); the
//! writer takes every buffer each `flush_ms`, renders and inserts the records a batch per
//! statement, off the request path, and deletes rows past the retention limit. Decisions a
//! full buffer has no room for, or that a failed write lost, are counted and recorded as a
//! `lost` row: a gap is never silent.
//!
//! - `settings`: the `[decision_log]` section ([`DecisionLogConfig`], [`Mode`]);
//! - `record`: what the request path hands over;
//! - `writer`: the threads' buffers and the writer thread ([`DecisionLog`]);
//! - `read`: reading the log back ([`decisions`]).

mod read;
mod record;
mod sample;
mod settings;
mod writer;

pub use self::read::{authorization_decisions, decisions, DecisionEntry, DecisionQuery};
pub(crate) use self::record::{Deciding, Effect, Kind, Pending, Reason};
pub use self::settings::{DecisionLogConfig, Mode, MAX_BATCH, MAX_RETENTION_DAYS, MAX_ROWS};
pub use self::writer::DecisionLog;

/// Errors of the decision log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The log's own connection could not be opened.
    #[error("decision log: {0}")]
    Connect(#[from] crate::DbError),
    /// The database has no `authorization_decisions` table.
    #[error(
        "decision log: the table authorization_decisions does not exist; run rowguard migrate"
    )]
    NoTable,
    /// An in-memory SQLite database is private to its connection: the log's own connection
    /// would write somewhere nobody reads.
    #[error("decision log: an in-memory SQLite database cannot be logged to (the log writes on a connection of its own); use a database file")]
    InMemory,
    /// The authorizer already has a log.
    #[error("decision log: this authorizer already logs its decisions")]
    AlreadyStarted,
    /// A `[decision_log]` value is out of range.
    #[error("decision log: [decision_log] {0}")]
    Settings(String),
    /// The writer failed or stopped.
    #[error("decision log: {0}")]
    Writer(String),
    /// A query failed.
    #[error("decision log: {0}")]
    Query(#[from] diesel::result::Error),
}
