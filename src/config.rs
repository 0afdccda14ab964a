//! Configuration of the authorizer: a file (`rowguard.toml` or `.json`) and environment
//! overrides. A bad value is an error at start-up naming the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The universal role every subject has unless configured otherwise.
pub const DEFAULT_UNIVERSAL_ROLE: &str = "rowguard-universal";

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file (`ROWGUARD_CONFIG`).
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or JSON, or does not have the configuration's shape.
    #[error("{path}: {message}")]
    Syntax {
        /// The file, or `<toml>` for text.
        path: String,
        /// The parser's message on one line.
        message: String,
        /// The TOML or JSON parser's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file parses but a value is invalid (e.g. an allowed command).
    #[error("{path}: {cause}")]
    Parse {
        /// The file, or `<toml>` for text.
        path: String,
        /// What is wrong, with the key.
        cause: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {cause}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        cause: String,
    },
}

/// How rules are applied.
///
/// ```
/// use rowguard::Config;
///
/// let config = Config::from_toml_str(r#"
///     universal_role = "everyone"
///     refresh_interval_ms = 250
///     [absolute_rights]
///     roles = ["admin"]
/// "#).unwrap();
/// assert_eq!(config.universal_role, "everyone");
/// assert_eq!(config.absolute_rights["roles"], ["admin"]);
/// assert!(Config::from_toml_str("refresh_interval_ms = \"soon\"").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The value of set type `universal` every subject has (default `rowguard-universal`).
    pub universal_role: String,
    /// Set type → values that bypass all rules (e.g. `roles = ["admin"]`).
    pub absolute_rights: BTreeMap<String, Vec<String>>,
    /// Development only: disable authorization entirely (logged loudly).
    pub override_authorization: bool,
    /// How often a DBA's direct SQL edits are looked for, in ms (0 = before every check).
    pub refresh_interval_ms: u64,
    /// Most cached (model, subject sets) entries.
    pub cache_size: usize,
    /// The `[jobs]` section, as written: the job runner reads it
    /// (`rowguard::jobs::JobsConfig::from_config`, cargo feature `jobs`). Kept raw here so
    /// that the configuration layer does not depend on the modules above it.
    pub jobs: Section,
    /// The `[server]` section, as written: `rowguard serve` reads it
    /// (`rowguard_server::ServerConfig::from_config`).
    pub server: Section,
    /// The `[decision_log]` section: which decisions are recorded
    /// ([`crate::decisions::DecisionLogConfig`]; off by default).
    pub decision_log: crate::decisions::DecisionLogConfig,
}

/// A section of the configuration file that another module reads (`[jobs]`), kept as
/// written (TOML or JSON alike).
///
/// ```
/// let config = rowguard::Config::from_toml_str("[jobs]\nsuper_users = [\"root\"]")?;
/// assert_eq!(config.jobs.get("super_users").and_then(|v| v.as_array()).map(Vec::len), Some(1));
/// assert!(rowguard::Config::default().jobs.is_empty());
/// # Ok::<(), rowguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "serde_json::Map<String, serde_json::Value>")]
pub struct Section {
    table: serde_json::Map<String, serde_json::Value>,
    /// The file it was read from, for errors.
    origin: Option<String>,
}

impl From<serde_json::Map<String, serde_json::Value>> for Section {
    fn from(table: serde_json::Map<String, serde_json::Value>) -> Self {
        Self {
            table,
            origin: None,
        }
    }
}

impl Section {
    /// The value of `key`, if the section has it.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.table.get(key)
    }

    /// The section has no keys (or was not written).
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Deserializes the section into the reading module's settings; `name` (`"jobs"`)
    /// names it in errors.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, ConfigError> {
        let value = serde_json::Value::Object(self.table.clone());
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut key = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string().trim().replace('\n', " ");
            // An unknown key is its own last segment: name where it sits, not it twice.
            let (parent, last) = key.rsplit_once('.').unwrap_or((".", key.as_str()));
            if message.contains(&format!("`{last}`")) {
                key = parent.to_owned();
            }
            ConfigError::Syntax {
                path: match &self.origin {
                    Some(file) => format!("{file} [{name}]"),
                    None => format!("[{name}]"),
                },
                message: if key == "." {
                    message
                } else {
                    format!("{key}: {message}")
                },
                source: Box::new(inner),
            }
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            universal_role: DEFAULT_UNIVERSAL_ROLE.to_owned(),
            absolute_rights: BTreeMap::new(),
            override_authorization: false,
            refresh_interval_ms: 1_000,
            cache_size: 10_000,
            jobs: Section::default(),
            server: Section::default(),
            decision_log: crate::decisions::DecisionLogConfig::default(),
        }
    }
}

impl Config {
    /// Parses TOML.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let value: toml::Value = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: "<toml>".into(),
            message: e.message().to_owned(),
            source: Box::new(e),
        })?;
        Self::from_value(value, "<toml>")?.checked("<toml>")
    }

    /// The configuration in a parsed file: a value of the wrong shape is named by its key
    /// (`decision_log.mode: unknown variant …`).
    fn from_value<'de, D>(value: D, path: &str) -> Result<Self, ConfigError>
    where
        D: serde::Deserializer<'de>,
        D::Error: Send + Sync + 'static,
    {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string().trim().replace('\n', " ");
            ConfigError::Syntax {
                path: path.to_owned(),
                message: if key == "." || message.contains(&format!("`{key}`")) {
                    message
                } else {
                    format!("{key}: {message}")
                },
                source: Box::new(inner),
            }
        })
    }

    /// `self`, or the error naming the key whose value is out of range.
    fn checked(self, path: &str) -> Result<Self, ConfigError> {
        match self.decision_log.problem() {
            Some(problem) => Err(ConfigError::Parse {
                path: path.to_owned(),
                cause: format!("[decision_log] {problem}"),
            }),
            None => Ok(self),
        }
    }

    /// Reads a `.toml` or `.json` file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let syntax = |source: Box<dyn std::error::Error + Send + Sync>| ConfigError::Syntax {
            path: shown.clone(),
            message: source.to_string().trim().replace('\n', " "),
            source,
        };
        // Syntax first (with its line), then the shape (with the key).
        let mut config = if path.extension().is_some_and(|e| e == "json") {
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| syntax(e.into()))?;
            Self::from_value(value, &shown)?
        } else {
            let value: toml::Value = toml::from_str(&text).map_err(|e| syntax(e.into()))?;
            Self::from_value(value, &shown)?
        };
        config.jobs.origin = Some(shown.clone());
        config.server.origin = Some(shown.clone());
        config.checked(&shown)
    }

    /// The configuration for this process: the file named by `ROWGUARD_CONFIG`, else
    /// `rowguard.toml` or `rowguard.json` in the working directory if present, else the
    /// defaults; then the environment overrides ([`Config::apply_env`]).
    pub fn load() -> Result<Self, ConfigError> {
        let file = match std::env::var("ROWGUARD_CONFIG") {
            Ok(path) if !path.is_empty() => Some(path.into()),
            _ => ["rowguard.toml", "rowguard.json"]
                .iter()
                .map(std::path::PathBuf::from)
                .find(|p| p.exists()),
        };
        let mut config = match file {
            Some(path) => Self::from_file(&path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies `ROWGUARD_UNIVERSAL_ROLE`, `ROWGUARD_ABSOLUTE_RIGHTS` (JSON object),
    /// `ROWGUARD_OVERRIDE_AUTHORIZATION` (`true`/`false`), `ROWGUARD_REFRESH_INTERVAL_MS`
    /// `ROWGUARD_CACHE_SIZE` and `ROWGUARD_DECISION_LOG` (see
    /// [`crate::decisions::DecisionLogConfig::apply_spec`]), read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("ROWGUARD_UNIVERSAL_ROLE") {
            if v.trim().is_empty() {
                return Err(ConfigError::Env {
                    name: "ROWGUARD_UNIVERSAL_ROLE",
                    cause: "empty".into(),
                });
            }
            self.universal_role = v;
        }
        if let Some(v) = get("ROWGUARD_ABSOLUTE_RIGHTS") {
            self.absolute_rights = serde_json::from_str(&v).map_err(|e| ConfigError::Env {
                name: "ROWGUARD_ABSOLUTE_RIGHTS",
                cause: format!("expected a JSON object like {{\"roles\":[\"admin\"]}}: {e}"),
            })?;
        }
        if let Some(v) = get("ROWGUARD_OVERRIDE_AUTHORIZATION") {
            self.override_authorization = match v.trim() {
                "true" | "1" => true,
                "false" | "0" | "" => false,
                other => {
                    return Err(ConfigError::Env {
                        name: "ROWGUARD_OVERRIDE_AUTHORIZATION",
                        cause: format!("\"{other}\" is not true or false"),
                    })
                }
            };
        }
        let number = |name: &'static str, v: String| {
            v.trim().parse::<u64>().map_err(|_| ConfigError::Env {
                name,
                cause: format!("\"{v}\" is not a whole number"),
            })
        };
        if let Some(v) = get("ROWGUARD_REFRESH_INTERVAL_MS") {
            self.refresh_interval_ms = number("ROWGUARD_REFRESH_INTERVAL_MS", v)?;
        }
        if let Some(v) = get("ROWGUARD_CACHE_SIZE") {
            self.cache_size = number("ROWGUARD_CACHE_SIZE", v)? as usize;
        }
        if let Some(v) = get("ROWGUARD_DECISION_LOG") {
            self.decision_log
                .apply_spec(&v)
                .map_err(|cause| ConfigError::Env {
                    name: "ROWGUARD_DECISION_LOG",
                    cause,
                })?;
        }
        Ok(())
    }

    /// The refresh interval as a duration.
    pub fn refresh_interval(&self) -> Duration {
        Duration::from_millis(self.refresh_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_their_errors() {
        let mut c = Config::default();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        c.apply_env(env(&[
            ("ROWGUARD_OVERRIDE_AUTHORIZATION", "true"),
            ("ROWGUARD_ABSOLUTE_RIGHTS", r#"{"roles":["root"]}"#),
            ("ROWGUARD_REFRESH_INTERVAL_MS", "0"),
        ]))
        .unwrap();
        assert!(c.override_authorization);
        assert_eq!(c.absolute_rights["roles"], ["root"]);
        assert_eq!(c.refresh_interval_ms, 0);
        let err = c
            .apply_env(env(&[("ROWGUARD_ABSOLUTE_RIGHTS", "[1]")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ROWGUARD_ABSOLUTE_RIGHTS"),
            "{err}"
        );
        let err = c
            .apply_env(env(&[("ROWGUARD_OVERRIDE_AUTHORIZATION", "yes")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"yes\" is not true or false"), "{err}");
    }

    #[test]
    fn decision_log_settings_and_their_errors() {
        use crate::decisions::Mode;
        let c =
            Config::from_toml_str("[decision_log]\nmode = \"sampled\"\ndelete = \"all\"").unwrap();
        assert_eq!(
            c.decision_log.modes(),
            [Mode::Sampled, Mode::Sampled, Mode::Sampled, Mode::All]
        );
        assert!(!Config::default().decision_log.is_on());
        let err = Config::from_toml_str("[decision_log]\nmode = \"some\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown variant `some`") && err.contains("decision_log.mode"),
            "{err}"
        );
        let err = Config::from_toml_str("[decision_log]\nmode = true")
            .unwrap_err()
            .to_string();
        assert!(err.contains("decision_log.mode"), "{err}");
        for (toml, key) in [
            ("sample = 0.0", "sample = 0"),
            ("batch = 5000", "batch = 5000"),
            ("queue = 0", "queue = 0"),
            ("flush_ms = 0", "flush_ms = 0"),
            ("max_rows = 2000000000000", "max_rows = 2000000000000"),
            ("retention_days = 100000", "retention_days = 100000"),
        ] {
            let err = Config::from_toml_str(&format!("[decision_log]\n{toml}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("[decision_log] {key}")), "{err}");
        }
        let err = Config::from_toml_str("[decision_log]\nretain = 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `retain`"), "{err}");
        let mut c = Config::default();
        c.apply_env(|n| (n == "ROWGUARD_DECISION_LOG").then(|| "denials,read=all".into()))
            .unwrap();
        assert_eq!(
            c.decision_log.modes(),
            [Mode::Denials, Mode::All, Mode::Denials, Mode::Denials]
        );
        let err = c
            .apply_env(|n| (n == "ROWGUARD_DECISION_LOG").then(|| "update=most".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ROWGUARD_DECISION_LOG: \"most\" is not"),
            "{err}"
        );
        // A bad value changes nothing.
        assert_eq!(
            c.decision_log.mode_of(crate::rules::Right::Update),
            Mode::Denials
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml_str("universal_rol = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `universal_rol`"), "{err}");
    }
}
