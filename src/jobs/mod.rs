//! Job execution (README: *Jobs*): allow-listed commands run as audited jobs, protected by the
//! same rules as every other model.

mod commands;
mod model;
mod output_log;
pub mod process;
mod queries;
mod runner;
mod supervise;
mod watcher;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use self::commands::{AllowedCommand, ParamSpec, DEFAULT_RUN_PERMISSION};
pub use self::model::{
    job_executions, job_output, JobExecution, JobStatus, OutputChunk, UnknownJobStatus,
    KILL_COLUMNS,
};
pub use self::queries::{follow, list, output, output_page, request_kill};
pub use self::runner::{instance_id_from_file, Runner};

/// Settings of the job runner (the `[jobs]` section of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Allowed commands by name (`ROWGUARD_ALLOWED_COMMANDS`, JSON, replaces them).
    pub commands: BTreeMap<String, AllowedCommand>,
    /// User identifiers that may kill any running job.
    pub super_users: Vec<String>,
    /// Wait after SIGINT before SIGTERM, in ms.
    pub sigterm_after_ms: u64,
    /// Wait after SIGTERM before SIGKILL, in ms.
    pub sigkill_after_ms: u64,
    /// How often an instance heartbeats and looks for kill requests, in ms.
    pub poll_interval_ms: u64,
    /// A running job whose instance has not heartbeated for this long is marked failed.
    pub dead_after_ms: u64,
    /// Where an instance keeps its persistent id.
    pub instance_id_file: String,
    /// Variables of the runner's own environment that jobs receive; everything else is
    /// withheld (jobs start from an empty environment). `DATABASE_URL` and `ROWGUARD_*`
    /// never pass, even when listed.
    pub env_allow: Vec<String>,
    /// Output stored per job, in bytes, unless a command sets its own; the rest is read and
    /// dropped, and a line says so.
    pub max_output_bytes: u64,
}

impl JobsConfig {
    /// Whether `subject`'s roles allow `command` by RBAC: it is configured, its permission is
    /// defined in `rbac`, and one of the roles holds it.
    pub fn roles_allow(
        &self,
        command: &str,
        subject: &crate::Subject,
        rbac: &crate::rbac::RbacGraph,
    ) -> bool {
        let Some(allowed) = self.commands.get(command) else {
            return false;
        };
        let roles: Vec<&str> = subject.set("roles").collect();
        rbac.permissions().contains_key(&allowed.permission) && allowed.allows(rbac, &roles)
    }

    /// What `policies try` answers for any action, the commands' settings known: `jobs:Run`
    /// by [`JobsConfig::run_decision`], anything else by
    /// [`Authorizer::try_decision`](crate::Authorizer::try_decision).
    pub fn try_decision(
        &self,
        auth: &crate::Authorizer,
        conn: &mut dyn crate::db::StoreConnection,
        subject: &crate::Subject,
        action: &str,
        resource: &str,
        rbac: &crate::rbac::RbacGraph,
    ) -> Result<crate::guard::PolicyDecision, crate::Error> {
        if action.eq_ignore_ascii_case("jobs:Run") {
            self.run_decision(auth, conn, subject, resource, rbac)
        } else {
            auth.try_decision(conn, subject, action, resource, rbac)
        }
    }

    /// `jobs:Run` on `resource` (a command's ARN, `arn:rowguard:jobs:<region>:<account>:
    /// command/<name>`) decided as a start decides it: the statements (absolute rights do not
    /// bypass them), then the command's permission by the roles. What `policies try`
    /// answers for `jobs:Run`.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::jobs::JobsConfig;
    /// let rbac = rowguard::rbac::load(&mut conn)?;
    /// let jobs = JobsConfig::default(); // no command configured
    /// let arn = "arn:rowguard:jobs:local:default:command/backup";
    /// let d = jobs.run_decision(&auth, &mut conn, &agent(), arn, &rbac)?;
    /// assert!(!d.allowed);
    /// assert!(d.to_string().ends_with("and the subject's roles do not grant it"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_decision(
        &self,
        auth: &crate::Authorizer,
        conn: &mut dyn crate::db::StoreConnection,
        subject: &crate::Subject,
        resource: &str,
        rbac: &crate::rbac::RbacGraph,
    ) -> Result<crate::guard::PolicyDecision, crate::Error> {
        let arn = crate::policy::Arn::parse(resource)?;
        let command = match (arn.service(), arn.resource_type(), arn.id()) {
            ("jobs", "command", Some(name)) => Some(name),
            _ => None,
        };
        let roles_allow = command.is_some_and(|c| self.roles_allow(c, subject, rbac));
        auth.rbac_decision(conn, subject, "jobs:Run", &arn, roles_allow)
    }
}

/// The default [`JobsConfig::max_output_bytes`]: 16 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 16 * 1024 * 1024;

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            commands: BTreeMap::new(),
            super_users: Vec::new(),
            sigterm_after_ms: 3_000,
            sigkill_after_ms: 3_000,
            poll_interval_ms: 250,
            dead_after_ms: 10_000,
            instance_id_file: ".rowguard-instance-id".into(),
            env_allow: ["PATH", "HOME", "LANG", "LC_ALL", "TZ"]
                .map(String::from)
                .to_vec(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

impl JobsConfig {
    /// The job runner's settings for this process: the `[jobs]` section of `config` (see
    /// [`Config::load`](crate::Config::load)), then `ROWGUARD_ALLOWED_COMMANDS` and
    /// `ROWGUARD_INSTANCE_ID_FILE` from the environment, validated.
    ///
    /// ```
    /// use rowguard::{jobs::JobsConfig, Config};
    ///
    /// let config = Config::from_toml_str(r#"
    ///     [jobs]
    ///     super_users = ["root"]
    ///     [jobs.commands.greet]
    ///     program = "echo"
    ///     permission = "jobs.command.run"
    /// "#)?;
    /// let jobs = JobsConfig::from_config_with_env(&config, |_| None)?;
    /// assert_eq!((jobs.super_users.len(), jobs.commands["greet"].program.as_str()), (1, "echo"));
    ///
    /// let typo = Config::from_toml_str("[jobs]\nsuper_user = [\"root\"]")?;
    /// let err = JobsConfig::from_config_with_env(&typo, |_| None).unwrap_err().to_string();
    /// assert!(err.starts_with("[jobs]: unknown field `super_user`"), "{err}");
    /// # Ok::<(), rowguard::ConfigError>(())
    /// ```
    pub fn from_config(config: &crate::Config) -> Result<Self, crate::ConfigError> {
        Self::from_config_with_env(config, |name| std::env::var(name).ok())
    }

    /// [`JobsConfig::from_config`] with the environment read through `get`.
    pub fn from_config_with_env(
        config: &crate::Config,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::ConfigError> {
        let mut jobs: Self = config.jobs.parse("jobs")?;
        jobs.validate().map_err(|cause| crate::ConfigError::Parse {
            path: "[jobs]".into(),
            cause,
        })?;
        jobs.apply_env(get)?;
        Ok(jobs)
    }

    /// Applies `ROWGUARD_ALLOWED_COMMANDS` (JSON object: name → command, replaces
    /// `[jobs.commands]`) and `ROWGUARD_INSTANCE_ID_FILE`, read through `get`.
    pub fn apply_env(
        &mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(), crate::ConfigError> {
        use crate::ConfigError;
        if let Some(v) = get("ROWGUARD_ALLOWED_COMMANDS") {
            let commands = serde_json::from_str(&v).map_err(|e| ConfigError::Env {
                name: "ROWGUARD_ALLOWED_COMMANDS",
                cause: format!(
                    "expected a JSON object like {{\"greet\":{{\"program\":\"echo\",\"permission\":\"jobs.command.run\"}}}}: {e}"
                ),
            })?;
            let jobs = JobsConfig {
                commands,
                ..self.clone()
            };
            jobs.validate().map_err(|cause| ConfigError::Env {
                name: "ROWGUARD_ALLOWED_COMMANDS",
                cause,
            })?;
            *self = jobs;
        }
        if let Some(v) = get("ROWGUARD_INSTANCE_ID_FILE") {
            self.instance_id_file = v;
        }
        Ok(())
    }

    /// Checks every command.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(secret) = self
            .env_allow
            .iter()
            .find(|n| process::is_secret_variable(n))
        {
            return Err(format!(
                "env_allow may not list {secret} (DATABASE_URL and ROWGUARD_* never reach a job)"
            ));
        }
        self.commands
            .iter()
            .try_for_each(|(name, c)| c.validate(name))
    }
}

/// Errors of the job runner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The command is not in the allow list.
    #[error("command \"{command}\" is not allowed (allowed: {allowed})")]
    UnknownCommand {
        /// The name asked for.
        command: String,
        /// The allowed names.
        allowed: String,
    },
    /// A policy statement denies `jobs:Run` on the command (or a broken policy may).
    #[error("command \"{command}\" is refused by a policy: {decision}")]
    PolicyDenied {
        /// The command.
        command: String,
        /// The decision, naming the statement and its policy.
        decision: String,
    },
    /// None of the subject's roles holds the command's permission.
    #[error("command \"{command}\" needs permission \"{permission}\", which roles [{roles}] do not hold")]
    RoleNotAllowed {
        /// The command.
        command: String,
        /// The permission it needs.
        permission: String,
        /// The subject's roles.
        roles: String,
    },
    /// The command's permission is not defined in the RBAC tables (a typo, or seeds not
    /// loaded): only a role with `"*"` could run it, which is never what was meant.
    #[error("command \"{command}\" needs permission \"{permission}\", which is not defined; define it (seeds' permissions) and grant it to roles")]
    UndefinedPermission {
        /// The command.
        command: String,
        /// The permission it names.
        permission: String,
    },
    /// The RBAC model could not be loaded.
    #[error(transparent)]
    Rbac(#[from] crate::rbac::RbacLoadError),
    /// A parameter is unknown, missing or does not match its pattern.
    #[error("command \"{command}\": parameter \"{parameter}\" {why}")]
    BadParameter {
        /// The command.
        command: String,
        /// The parameter.
        parameter: String,
        /// What is wrong.
        why: String,
    },
    /// Jobs record who started them.
    #[error("the subject has no `id` attribute; jobs record who started and killed them")]
    NoUserIdentifier,
    /// Only running jobs can be killed.
    #[error("job {uuid} is not running (status {status})")]
    NotRunning {
        /// The job.
        uuid: String,
        /// Its status.
        status: JobStatus,
    },
    /// A kill was already requested.
    #[error("a kill of job {uuid} is already in progress (requested by {by})")]
    KillInProgress {
        /// The job.
        uuid: String,
        /// Who asked first.
        by: String,
    },
    /// The program could not be started (the job is recorded as failed).
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The allowed command's program.
        program: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file that keeps this instance's id could not be read or written.
    #[error("instance id file {path}: {source}")]
    InstanceId {
        /// `jobs.instance_id_file`.
        path: String,
        /// The I/O error (an empty file is `InvalidData`).
        source: std::io::Error,
    },
    /// Writing a job's output to the caller failed (a closed pipe, say).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    /// Authorization (Forbidden, NotFound) or the database.
    #[error(transparent)]
    Guard(#[from] crate::Error),
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        JobError::Guard(e.into())
    }
}

impl From<r2d2::Error> for JobError {
    fn from(e: r2d2::Error) -> Self {
        JobError::Guard(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::JobsConfig;
    use crate::Config;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_overrides_and_their_errors() {
        let config = Config::default();
        let err = JobsConfig::from_config_with_env(
            &config,
            env(&[("ROWGUARD_ALLOWED_COMMANDS", "{not json")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "environment variable ROWGUARD_ALLOWED_COMMANDS: expected a JSON object"
            ),
            "{err}"
        );
        let err = JobsConfig::from_config_with_env(
            &config,
            env(&[(
                "ROWGUARD_ALLOWED_COMMANDS",
                r#"{"x":{"program":"echo","args":["{p}"],"permission":"jobs.command.run"}}"#,
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("uses undeclared parameter {p}"), "{err}");
        let jobs = JobsConfig::from_config_with_env(
            &config,
            env(&[
                (
                    "ROWGUARD_ALLOWED_COMMANDS",
                    r#"{"greet":{"program":"echo","permission":"jobs.command.run"}}"#,
                ),
                ("ROWGUARD_INSTANCE_ID_FILE", "/tmp/id"),
            ]),
        )
        .unwrap();
        assert_eq!(jobs.commands["greet"].program, "echo");
        assert_eq!(jobs.instance_id_file, "/tmp/id");
    }

    #[test]
    fn a_json_file_with_nulls_loads() {
        let dir = std::env::temp_dir().join(format!("rowguard-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rowguard.json");
        std::fs::write(
            &path,
            r#"{"refresh_interval_ms": 5, "jobs": {"commands": {"g": {"program": "echo",
                "permission": "jobs.command.run", "timeout_secs": null, "description": null}}}}"#,
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        let jobs = JobsConfig::from_config_with_env(&config, |_| None).unwrap();
        assert_eq!(jobs.commands["g"].timeout_secs, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_section_names_the_section_and_the_key() {
        let config = Config::from_toml_str("[jobs]\nenv_allow = [\"DATABASE_URL\"]").expect("toml");
        let err = JobsConfig::from_config_with_env(&config, |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("[jobs]: env_allow may not list DATABASE_URL"),
            "{err}"
        );
        let config = Config::from_toml_str("[jobs]\nsigterm_after_ms = \"soon\"").expect("toml");
        let err = JobsConfig::from_config_with_env(&config, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("[jobs]:") && err.contains("soon"), "{err}");
        // A typo inside a command names the command and the key.
        let config =
            Config::from_toml_str("[jobs.commands.greet]\nprogram = \"echo\"\nrole = [\"x\"]")
                .expect("toml");
        let err = JobsConfig::from_config_with_env(&config, |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("commands.greet") && err.contains("unknown field `role`"),
            "{err}"
        );
    }
}
