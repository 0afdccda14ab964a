//! Serving: bind, answer until SIGINT or SIGTERM, then stop taking connections.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rowguard::jobs::{instance_id_from_file, JobError, JobsConfig, Runner};
use rowguard::{connect_pool, Authorizer, Config, DatabaseUrl, PoolOptions};

use crate::{router, ServerConfig, Service};

/// Open requests (a live output stream, a long poll) get this long to finish after a
/// shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

/// What `rowguard serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database.
    pub url: DatabaseUrl,
    /// The configuration (`[server]`, `[jobs]`, rules settings).
    pub config: Config,
    /// Overrides `[server] bind`.
    pub bind: Option<String>,
}

/// Errors of starting the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration.
    #[error(transparent)]
    Config(#[from] rowguard::ConfigError),
    /// The database.
    #[error(transparent)]
    Db(#[from] rowguard::DbError),
    /// The job runner's set-up (the instance id file).
    #[error(transparent)]
    Jobs(#[from] JobError),
    /// No connection for the set-up.
    #[error("no database connection: {0}")]
    Pool(r2d2::Error),
    /// The job model could not be registered (a database without rowguard's tables, say).
    #[error("cannot register the job model (has `rowguard migrate` run?): {0}")]
    Register(rowguard::Error),
    /// The service could not be set up.
    #[error("{0}")]
    Setup(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr} (expected HOST:PORT, e.g. 127.0.0.1:8080): {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime or the connection loop.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Serves `service` on `listener` until `shutdown` completes (with the client's address
/// available to the login throttle).
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(service).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Says at start-up which commands the service runs, and which of them nobody can run (a
/// permission that RBAC does not define): better in the log now than as a 403 later.
fn warn_about_commands(service: &Service) {
    let commands = &service.runner().config().commands;
    if commands.is_empty() {
        tracing::warn!(
            "no [jobs.commands] configured (rowguard.toml or ROWGUARD_ALLOWED_COMMANDS): no job can be started"
        );
        return;
    }
    let names: Vec<&str> = commands.keys().map(String::as_str).collect();
    tracing::info!("commands: {}", names.join(", "));
    let graph = service
        .inner
        .pool
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| rowguard::rbac::load(&mut *conn).map_err(|e| e.to_string()));
    match graph {
        Ok(graph) => {
            for (name, c) in commands {
                if !graph.permissions().contains_key(&c.permission) {
                    tracing::warn!(
                        "command \"{name}\" needs permission \"{}\", which is not defined (seeds' permissions): nobody can run it",
                        c.permission
                    );
                }
            }
        }
        Err(e) => tracing::warn!("cannot check the commands' permissions: {e}"),
    }
}

async fn signal() {
    let interrupt = Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    let terminate = Box::pin(async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    });
    futures_util::future::select(interrupt, terminate).await;
}

/// `rowguard serve`: connects, sets up the service (the job model, this instance's runner),
/// binds, calls `ready` with the bound address, and serves until SIGINT or SIGTERM.
pub fn run(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let server = ServerConfig::from_config(&options.config)?;
    let jobs = JobsConfig::from_config(&options.config)?;
    let instance = instance_id_from_file(&jobs.instance_id_file)?;
    let pool = connect_pool(
        &options.url,
        PoolOptions {
            max_size: server.pool_size,
            ..PoolOptions::default()
        },
    )?;
    let addr = options.bind.clone().unwrap_or_else(|| server.bind.clone());
    let auth = Authorizer::new(options.config.clone());
    auth.log_decisions(&options.url)
        .map_err(|e| ServeError::Setup(e.to_string()))?;
    let runner = Runner::new(
        Service::runner_pool(&options.url)?,
        auth.clone(),
        jobs,
        instance,
    );
    let service = Service::new(pool, auth.clone(), server, runner)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.clone(),
                source,
            })?;
        warn_about_commands(&service);
        ready(listener.local_addr()?);
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let running = tokio::spawn(serve(listener, service.clone(), async move {
            stopped.notified().await;
        }));
        signal().await;
        tracing::info!("shutting down");
        stop.notify_one();
        // Streams of running jobs would hold the shutdown open; they get DRAIN to end.
        let _ = tokio::time::timeout(DRAIN, running).await;
        // The jobs this instance runs end with it, killed as a kill would (and recorded so).
        let runner = service.clone();
        let stopped = tokio::task::spawn_blocking(move || {
            let config = runner.runner().config();
            let escalation = config.sigterm_after_ms + config.sigkill_after_ms + 2_000;
            let stopped = runner.runner().stop_jobs(
                "rowguard serve (shutdown)",
                Duration::from_millis(escalation),
            );
            runner.runner().shutdown();
            stopped
        })
        .await;
        match stopped {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!("stopped {n} running job(s)"),
            Ok(Err(e)) => tracing::error!("could not stop the running jobs: {e}"),
            Err(e) => tracing::error!("could not stop the running jobs: {e}"),
        }
        Ok(())
    });
    // Blocking work still running (a long poll's read, say) is not waited for beyond DRAIN.
    runtime.shutdown_timeout(DRAIN);
    // What the decision log holds is written now, not left to whichever clone goes last.
    if let Err(e) = auth.flush_decisions() {
        tracing::error!("{e}");
    }
    served
}
