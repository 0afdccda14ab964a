//! What every handler shares: the pool, the authorizer, RBAC, the job runner, the settings.

use std::sync::Arc;

use rowguard::jobs::Runner;
use rowguard::rbac::Rbac;
use rowguard::{Authorizer, Pool, PooledConnection};

use crate::throttle::Throttle;
use crate::{ApiError, ServeError, ServerConfig};

/// Password checks that may run at once; more wait their turn.
const LOGINS_AT_ONCE: usize = 4;

/// The service of one instance; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub pool: Pool,
    pub auth: Authorizer,
    pub rbac: Rbac,
    pub runner: Runner,
    pub config: ServerConfig,
    pub throttle: Throttle,
    /// Bounds the argon2id checks running at once (each takes 19 MiB and a core).
    pub logins: std::sync::Arc<tokio::sync::Semaphore>,
    /// Open event streams and long polls: each polls the database, so they are bounded.
    pub streams: std::sync::Arc<tokio::sync::Semaphore>,
    /// Verified against when the user does not exist, so that an unknown name costs what a
    /// wrong password costs.
    pub decoy_hash: String,
}

/// Longest wait for a turn at password work ([`Service::password_work`]).
pub(crate) const PASSWORD_QUEUE: std::time::Duration = std::time::Duration::from_secs(10);

impl Service {
    /// A service answering requests with connections of `pool`; `auth` decides rows, and
    /// `runner` runs this instance's jobs. Give the runner a pool of its own
    /// ([`Service::runner_pool`]): a burst of requests must not keep it from storing output
    /// and heartbeats. Registers the job model with `auth`.
    pub fn new(
        pool: Pool,
        auth: Authorizer,
        config: ServerConfig,
        runner: Runner,
    ) -> Result<Self, ServeError> {
        config
            .validate()
            .map_err(|e| ServeError::Setup(format!("[server]: {e}")))?;
        let mut conn = pool.get().map_err(ServeError::Pool)?;
        auth.register::<rowguard::jobs::JobExecution>(&mut conn)
            .map_err(ServeError::Register)?;
        drop(conn);
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| ServeError::Setup(e.to_string()))?;
        let decoy_hash = crate::users::hash_password(&format!("{secret:?}"))
            .map_err(|e| ServeError::Setup(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                rbac: Rbac::new(auth.config()),
                runner,
                logins: Arc::new(tokio::sync::Semaphore::new(LOGINS_AT_ONCE)),
                streams: Arc::new(tokio::sync::Semaphore::new(config.max_streams)),
                throttle: Throttle::new(
                    config.login_window(),
                    config.login_max_failures_per_name,
                    config.login_max_failures_per_address,
                ),
                pool,
                auth,
                config,
                decoy_hash,
            }),
        })
    }

    /// A pool for the job runner of an instance serving `url`: a few connections of its own.
    pub fn runner_pool(url: &rowguard::DatabaseUrl) -> Result<Pool, rowguard::DbError> {
        rowguard::connect_pool(
            url,
            rowguard::PoolOptions {
                max_size: 4,
                ..rowguard::PoolOptions::default()
            },
        )
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The job runner of this instance.
    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    /// Runs `work` on tokio's blocking pool without a connection (for calls that take their
    /// own, like the runner's: holding one while they wait for another could exhaust the
    /// pool).
    pub(crate) async fn blocking_alone<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, ApiError> + Send + 'static,
    {
        let service = self.clone();
        tokio::task::spawn_blocking(move || work(&service.inner))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs password work (an argon2id hash or check: 19 MiB and a core each) on the
    /// blocking pool, a few at a time, never holding a database connection; waits at most
    /// [`PASSWORD_QUEUE`] for a turn, then answers 503 busy. The turn moves into the work: a
    /// client that hangs up cannot free it early.
    pub(crate) async fn password_work<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, ApiError> + Send + 'static,
    {
        let permit =
            tokio::time::timeout(PASSWORD_QUEUE, self.inner.logins.clone().acquire_owned())
                .await
                .map_err(|_| {
                    ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "too many password checks at once; try again in a moment",
                    )
                })?
                .map_err(ApiError::internal)?;
        self.blocking_alone(move |inner| {
            let _permit = permit;
            work(inner)
        })
        .await
    }

    /// Runs `work` with a pooled connection on tokio's blocking pool: Diesel is synchronous,
    /// and the async workers must never wait on a query.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut PooledConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let service = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = service.inner.pool.get()?;
            work(&service.inner, &mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }
}
