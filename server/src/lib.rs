//! rowguard's HTTP service (`rowguard serve`): users with argon2id passwords, revocable
//! tokens, and a JSON API for jobs, rules and permissions, every endpoint behind one RBAC
//! permission key and every job read and write behind the guard.
//!
//! Run it with `rowguard serve` (or `cargo xtask serve`), or mount [`router`] in an
//! application's own axum router:
//!
//! ```no_run
//! use rowguard::jobs::{instance_id_from_file, JobsConfig, Runner};
//! use rowguard::{connect_pool, Authorizer, Config, DatabaseUrl, PoolOptions};
//! use rowguard_server::{router, Service, ServerConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load()?;
//! let url = DatabaseUrl::parse("rowguard.sqlite3")?;
//! let auth = Authorizer::new(config.clone());
//! let jobs = JobsConfig::from_config(&config)?;
//! let instance = instance_id_from_file(&jobs.instance_id_file)?;
//! let runner = Runner::new(Service::runner_pool(&url)?, auth.clone(), jobs, instance);
//! let pool = connect_pool(&url, PoolOptions::default())?;
//! let service = Service::new(pool, auth, ServerConfig::from_config(&config)?, runner)?;
//! let app: axum::Router = axum::Router::new().nest("/rowguard", router(service));
//! # Ok(()) }
//! ```
//!
//! Several instances on one PostgreSQL or MariaDB database act as one service: tokens are
//! looked up in the database on every request, and kills go through the job table.

#![warn(missing_docs)]

mod auth;
mod config;
mod console;
mod error;
mod routes;
mod serve;
mod state;
mod throttle;
pub mod tokens;
pub mod users;

pub use auth::{Caller, Via, CSRF_HEADER, SESSION_COOKIE};
pub use config::ServerConfig;
pub use error::ApiError;
pub use routes::{router, ENDPOINTS};
pub use serve::{run, serve, ServeError, ServeOptions};
pub use state::Service;
