//! What every handler shares: the pool, the authorizer, RBAC, the job runner, the settings.

use std::sync::Arc;

use rowguard::jobs::{JobsConfig, Runner};
use rowguard::rbac::Rbac;
use rowguard::{Authorizer, Pool, PooledConnection};

use crate::throttle::Throttle;
use crate::{ApiError, ServerConfig};

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
    /// Verified against when the user does not exist, so that an unknown name costs what a
    /// wrong password costs.
    pub decoy_hash: String,
}

impl Service {
    /// A service on `pool`: `auth` decides rows, `jobs` configures the runner, which runs
    /// jobs as instance `instance_id` (see [`rowguard::jobs::instance_id_from_file`]).
    /// Registers the job model with `auth`.
    pub fn new(
        pool: Pool,
        auth: Authorizer,
        config: ServerConfig,
        jobs: JobsConfig,
        instance_id: String,
    ) -> Result<Self, ApiError> {
        let mut conn = pool.get()?;
        auth.register::<rowguard::jobs::JobExecution>(&mut conn)?;
        drop(conn);
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(ApiError::internal)?;
        let decoy_hash = crate::users::hash_password(&format!("{secret:?}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                rbac: Rbac::new(auth.config()),
                runner: Runner::new(pool.clone(), auth.clone(), jobs, instance_id),
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

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The job runner of this instance.
    pub fn runner(&self) -> &Runner {
        &self.inner.runner
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
