//! # rowguard
//!
//! Row-level authorization for [Diesel](https://diesel.rs) applications, with the rules
//! stored in the database. See the README for the full picture.
//!
//! This crate is organised one concept per module; the public API is re-exported here.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod guard;
pub mod jobs;
pub mod model;
pub mod rbac;
pub mod rules;
pub mod schema;
pub mod scoped;
pub mod seed;
pub mod store;
pub mod subject;
pub mod sync;
pub mod testing;

pub use config::{Config, ConfigError, DEFAULT_UNIVERSAL_ROLE};
pub use error::Error;
pub use guard::{Authorizer, Bypass, Explanation, Guard, ModelAccess};
pub use model::Authorizable;
pub use scoped::Scoped;
pub use subject::Subject;

pub use db::{
    connect_pool, establish, pending_migrations, run_pending_migrations, AnyConnection, Backend,
    ConnectProblem, ConnectionManager, DatabaseUrl, DbError, Pool, PoolOptions, PooledConnection,
    DEFAULT_DATABASE_URL,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
