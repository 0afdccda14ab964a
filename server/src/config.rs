//! The `[server]` section of the configuration.

use std::time::Duration;

use serde::Deserialize;

/// Settings of `rowguard serve` (the `[server]` section of `rowguard.toml`).
///
/// ```
/// use rowguard_server::ServerConfig;
///
/// let config = rowguard::Config::from_toml_str("[server]\ntoken_ttl_secs = 600")?;
/// let server = ServerConfig::from_config(&config)?;
/// assert_eq!(server.token_ttl_secs, 600);
/// assert_eq!(server.bind, "127.0.0.1:8080");
///
/// let typo = rowguard::Config::from_toml_str("[server]\ntoken_tl_secs = 600")?;
/// assert!(ServerConfig::from_config(&typo).unwrap_err().to_string().contains("token_tl_secs"));
/// # Ok::<(), rowguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`--bind` overrides).
    pub bind: String,
    /// Lifetime of a token when the login does not ask for one, in seconds.
    pub token_ttl_secs: u64,
    /// Longest lifetime a login may ask for (`expires_in`), in seconds.
    pub token_ttl_max_secs: u64,
    /// Mark the session cookie `Secure` (set it when clients reach the service over HTTPS,
    /// for example behind a TLS proxy).
    pub secure_cookie: bool,
    /// Behind a reverse proxy: count failed logins by the last address of `X-Forwarded-For`
    /// (which the proxy must set) instead of the proxy's own address. Never set it without a
    /// proxy that overwrites the header: clients could pick their own address.
    pub trust_forwarded_for: bool,
    /// Failed logins are counted over this window, in seconds.
    pub login_window_secs: u64,
    /// Failed logins for one user name within the window before logins for it are refused
    /// (429) until the window has passed.
    pub login_max_failures_per_name: u32,
    /// The same for one client address.
    pub login_max_failures_per_address: u32,
    /// Largest request body, in bytes (larger: 413, nothing read further).
    pub max_body_bytes: usize,
    /// Longest `wait_ms` a job start may ask for.
    pub job_wait_max_ms: u64,
    /// Longest `wait_ms` of an output long poll (at least 1000: `rowguard jobs --remote`
    /// asks for 1000).
    pub long_poll_max_ms: u64,
    /// How often a follower (long poll, event stream) looks for new output, in ms.
    pub output_poll_ms: u64,
    /// Most jobs per page of the history.
    pub page_size_max: i64,
    /// Database connections of this instance (the job runner has 4 more of its own).
    pub pool_size: u32,
    /// Event streams and long polls open at once; more are answered 503.
    pub max_streams: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            token_ttl_secs: 8 * 3600,
            token_ttl_max_secs: 30 * 24 * 3600,
            secure_cookie: false,
            trust_forwarded_for: false,
            login_window_secs: 300,
            login_max_failures_per_name: 5,
            login_max_failures_per_address: 20,
            max_body_bytes: 256 * 1024,
            job_wait_max_ms: 60_000,
            long_poll_max_ms: 30_000,
            output_poll_ms: 100,
            page_size_max: 500,
            pool_size: 16,
            max_streams: 512,
        }
    }
}

impl ServerConfig {
    /// The `[server]` section of `config`, validated.
    pub fn from_config(config: &rowguard::Config) -> Result<Self, rowguard::ConfigError> {
        let server: Self = config.server.parse("server")?;
        server
            .validate()
            .map_err(|cause| rowguard::ConfigError::Parse {
                path: "[server]".into(),
                cause,
            })?;
        Ok(server)
    }

    /// Checks the settings that would make the service unusable or unsafe.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_ttl_secs == 0 || self.token_ttl_secs > self.token_ttl_max_secs {
            return Err(format!(
                "token_ttl_secs ({}) must be between 1 and token_ttl_max_secs ({})",
                self.token_ttl_secs, self.token_ttl_max_secs
            ));
        }
        let bound = |name: &str, value: u64, low: u64, high: u64| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("{name} ({value}) must be from {low} to {high}"))
            }
        };
        bound(
            "token_ttl_max_secs",
            self.token_ttl_max_secs,
            1,
            10 * 365 * 24 * 3600,
        )?;
        bound("login_window_secs", self.login_window_secs, 1, 24 * 3600)?;
        bound("job_wait_max_ms", self.job_wait_max_ms, 0, 3_600_000)?;
        bound("long_poll_max_ms", self.long_poll_max_ms, 1000, 300_000)?;
        bound("output_poll_ms", self.output_poll_ms, 1, 60_000)?;
        bound(
            "max_body_bytes",
            self.max_body_bytes as u64,
            1024,
            64 * 1024 * 1024,
        )?;
        if self.login_max_failures_per_name == 0 || self.login_max_failures_per_address == 0 {
            return Err("login_max_failures_per_name and _per_address must be at least 1".into());
        }
        bound("page_size_max", self.page_size_max as u64, 1, 10_000)?;
        bound("pool_size", u64::from(self.pool_size), 1, 1_000)?;
        bound("max_streams", self.max_streams as u64, 1, 100_000)?;
        Ok(())
    }

    pub(crate) fn login_window(&self) -> Duration {
        Duration::from_secs(self.login_window_secs)
    }
}
