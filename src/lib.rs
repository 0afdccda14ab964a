//! # rowguard
//!
//! Row-level authorization for [Diesel](https://diesel.rs) applications, with the rules
//! stored in the database: reads get the subject's *read* rule as a SQL `WHERE` filter,
//! writes are checked against *create/update/delete* rules first, and a refused write changes
//! nothing. The README has the guided tour; this is the map.
//!
//! ## Where each concept lives, bottom layer first
//!
//! | Module | One line |
//! |---|---|
//! | [`rules`] | the rule language: parse → validate → filter → merge (grants, denies, column lists) → SQL / in-memory evaluation (no database); relations and the schema rules compile in |
//! | [`policy`] | IAM-style policies: ARNs, actions, Allow/Deny statements and the decision with its deciding statement; models' and rows' ARNs, and statements on rows as the rule language's filters (no database) |
//! | [`db`] | `DATABASE_URL`, [`GuardConnection`] (the application's own Diesel connection), [`AnyConnection`], pools, migrations |
//! | [`schema`] | Diesel tables of rowguard's own tables |
//! | [`config`] | [`Config`]: file and environment settings |
//! | [`store`] | the one owner of rowguard's rule tables: models, relations, rule rows, policies, set types, the version DBAs' edits bump |
//! | [`cache`] | the bounded, version-checked rule cache |
//! | [`subject`] | [`Subject`]: who asks — authorizable sets and `$subject` attributes |
//! | [`model`] | [`Authorizable`], its per-connection [`ModelQueries`], and the [`authorizable!`] macro that implements both |
//! | [`guard`] | [`Authorizer`] (shared) and [`Guard`] (one subject): scoped reads, checked writes (with the foreign-key target check), denies, column lists (hidden in reads, checked in writes), relations protected by the related read rule, policies (stored, merged, cached, on rows), explain |
//! | [`scoped`] | [`Scoped`]: the read query a guard hands out, which can only narrow |
//! | [`error`] | [`Error`]: what a guard call refuses with |
//! | [`decisions`] | the decision log: writes' and checks' decisions, per right (off, denials, sampled, all), queued on the request path and written in batches by a thread of its own |
//! | [`rbac`] | the one owner of the RBAC tables: roles, permissions, inheritance, the permission matrix |
//! | [`seed`] | the seed file format and the atomic, step-by-step seeder (writes through `rbac` and `store`) |
//! | [`rule_tests`] | rule-test files: expected allow/deny decisions run against the stored rules |
//! | `sync` (feature `sync`) | `sync-models`: find `authorizable!` models and their relations (`joinable!`) in a source tree and register them |
//! | `jobs` (feature `jobs`) | allow-listed commands as audited jobs, protected by the same rules |
//! | `testing` (feature `testing`) | a fresh database per test on every backend, for your own tests too |
//!
//! The last three are cargo features, off by default, so an application links neither a
//! Rust parser nor process control nor database-dropping helpers unless it asks: `sync` (syn,
//! walkdir) and `jobs` (nix, uuid) are for tools such as rowguard's `xtask`, which turns all
//! three on; take `testing` as a dev-dependency feature for your own tests. The command-line
//! tool is the `rowguard-cli` crate (binary `rowguard`).
//!
//! The types a guard call takes or returns are re-exported here: [`Right`], [`Filter`],
//! [`Value`], [`SqlFilter`].
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod cache;
pub mod config;
pub mod db;
pub mod decisions;
pub mod error;
pub mod guard;
#[cfg(feature = "jobs")]
pub mod jobs;
pub mod model;
pub mod policy;
pub mod rbac;
pub mod rule_tests;
pub mod rules;
pub mod schema;
pub mod scoped;
pub mod seed;
pub mod store;
pub mod subject;
#[cfg(feature = "sync")]
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Config, ConfigError, DEFAULT_UNIVERSAL_ROLE};
pub use error::Error;
pub use guard::{
    Authorizer, Bypass, ColumnRights, Explanation, ForeignKeyCheck, Guard, ModelAccess, ReadMask,
};
pub use model::{Authorizable, ModelQueries};

// The Diesel the macros' expansions name, whatever the caller calls its own.
#[doc(hidden)]
pub use diesel as __diesel;
pub use scoped::{Masked, Scoped};
pub use subject::Subject;

pub use rules::{Filter, Right, SqlFilter, Value};

pub use db::{
    connect_pool, establish, pending_migrations, run_pending_migrations, AnyConnection, Backend,
    ConnectProblem, ConnectionManager, DatabaseUrl, DbError, GuardConnection, Pool, PoolOptions,
    PooledConnection, StoreConnection, DEFAULT_DATABASE_URL,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
