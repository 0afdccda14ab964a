//! Allowed commands: what may run as a job, with which parameters, for which roles. Never
//! through a shell: a job is a program and an argument vector.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

use super::JobError;

/// A parameter a caller may pass.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// The whole value must match this regular expression.
    pub pattern: String,
    /// Used when the caller gives none; without it the parameter is required.
    #[serde(default)]
    pub default: Option<String>,
}

/// The permission the seeds give for running the everyday commands.
pub const DEFAULT_RUN_PERMISSION: &str = "jobs.command.run";

/// One allowed command. Its `Debug` output shows the names of its `env` variables, never
/// their values (a command's environment may carry a credential such as `PGPASSWORD`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedCommand {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: String,
    /// Its arguments; `{name}` in an argument is replaced by the parameter `name`.
    #[serde(default)]
    pub args: Vec<String>,
    /// The parameters callers may pass.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    /// The RBAC permission a subject's roles must hold to run it (directly, by inheritance
    /// or by `"*"`), e.g. [`DEFAULT_RUN_PERMISSION`]. Required: a default would hand every
    /// new command to whoever holds it.
    pub permission: String,
    /// Ends the job as `timed_out` after this many seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Environment variables set for this command (on top of the allow-listed ones of the
    /// runner's own environment). `DATABASE_URL` and `ROWGUARD_*` are refused.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Output stored per job, in bytes (default: the runner's `max_output_bytes`).
    #[serde(default)]
    pub max_output_bytes: Option<u64>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

impl std::fmt::Debug for AllowedCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: BTreeMap<&str, &str> = self.env.keys().map(|k| (k.as_str(), "***")).collect();
        f.debug_struct("AllowedCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("params", &self.params)
            .field("permission", &self.permission)
            .field("timeout_secs", &self.timeout_secs)
            .field("env", &env)
            .field("max_output_bytes", &self.max_output_bytes)
            .field("description", &self.description)
            .finish()
    }
}

impl AllowedCommand {
    /// Checks the parameter patterns compile, every `{name}` is declared, and no secret
    /// variable is passed.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if let Some(secret) = self
            .env
            .keys()
            .find(|n| super::process::is_secret_variable(n))
        {
            return Err(format!(
                "command \"{name}\": env may not set {secret} (DATABASE_URL and ROWGUARD_* never reach a job)"
            ));
        }
        for (param, spec) in &self.params {
            Regex::new(&format!("^(?:{})$", spec.pattern)).map_err(|e| {
                format!("command \"{name}\", parameter \"{param}\": bad pattern: {e}")
            })?;
        }
        for arg in &self.args {
            for placeholder in placeholders(arg) {
                if !self.params.contains_key(placeholder) {
                    return Err(format!("command \"{name}\": argument \"{arg}\" uses undeclared parameter {{{placeholder}}}"));
                }
            }
        }
        Ok(())
    }

    /// Whether any of `roles` holds the command's permission in `rbac` (inheritance and
    /// `"*"` applied).
    pub fn allows<R: AsRef<str>>(&self, rbac: &crate::rbac::RbacGraph, roles: &[R]) -> bool {
        rbac.role_can(roles, &self.permission)
    }

    /// The argument vector for `params`: unknown, missing and non-matching parameters are
    /// errors naming the parameter. Values are substituted as whole text, never interpreted.
    pub fn argv(
        &self,
        name: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, JobError> {
        if let Some(unknown) = params.keys().find(|p| !self.params.contains_key(*p)) {
            return Err(JobError::BadParameter {
                command: name.to_owned(),
                parameter: unknown.clone(),
                why: format!(
                    "not a parameter of this command (it takes: {})",
                    if self.params.is_empty() {
                        "none".to_owned()
                    } else {
                        self.params.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            });
        }
        let mut values = BTreeMap::new();
        for (param, spec) in &self.params {
            let value = params.get(param).or(spec.default.as_ref()).ok_or_else(|| {
                JobError::BadParameter {
                    command: name.to_owned(),
                    parameter: param.clone(),
                    why: "is required".into(),
                }
            })?;
            let re = Regex::new(&format!("^(?:{})$", spec.pattern)).map_err(|e| {
                JobError::BadParameter {
                    command: name.to_owned(),
                    parameter: param.clone(),
                    why: format!("bad pattern: {e}"),
                }
            })?;
            if !re.is_match(value) {
                return Err(JobError::BadParameter {
                    command: name.to_owned(),
                    parameter: param.clone(),
                    why: format!("\"{value}\" does not match {}", spec.pattern),
                });
            }
            values.insert(param.as_str(), value.as_str());
        }
        Ok(self
            .args
            .iter()
            .map(|arg| substitute(arg, &values))
            .collect())
    }
}

/// Replaces each `{name}` of the template `arg` with its value, in one pass over the
/// template: a value is never scanned again, so one parameter's text cannot become another
/// parameter's placeholder.
fn substitute(arg: &str, values: &BTreeMap<&str, &str>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if values.contains_key(name) => {
                out.push_str(values[name]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn placeholders(arg: &str) -> impl Iterator<Item = &str> {
    arg.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greet() -> AllowedCommand {
        serde_json::from_str(
            r#"{"program":"echo","args":["hello","{name}"],"params":{"name":{"pattern":".*"}},"permission":"jobs.command.run"}"#,
        )
        .unwrap()
    }

    #[test]
    fn parameters_are_substituted_literally() {
        let p = BTreeMap::from([("name".to_string(), "; rm -rf / $(id) `id`".to_string())]);
        assert_eq!(
            greet().argv("greet", &p).unwrap(),
            ["hello", "; rm -rf / $(id) `id`"]
        );
    }

    #[test]
    fn parameter_errors_name_the_parameter() {
        let mut cmd = greet();
        cmd.params.get_mut("name").unwrap().pattern = "[a-z]+".into();
        let err = |p: &[(&str, &str)]| {
            let p = p
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            cmd.argv("greet", &p).unwrap_err().to_string()
        };
        assert_eq!(
            err(&[]),
            "command \"greet\": parameter \"name\" is required"
        );
        assert_eq!(
            err(&[("name", "Bob")]),
            "command \"greet\": parameter \"name\" \"Bob\" does not match [a-z]+"
        );
        assert_eq!(
            err(&[("name", "bob"), ("x", "1")]),
            "command \"greet\": parameter \"x\" not a parameter of this command (it takes: name)"
        );
    }

    #[test]
    fn parameters_are_substituted_once() {
        let cmd: AllowedCommand = serde_json::from_str(
            r#"{"program":"echo","args":["{a}-{b}","{{b}}"],"params":{"a":{"pattern":".*"},"b":{"pattern":"[a-z]+"}},"permission":"jobs.other"}"#,
        )
        .unwrap();
        let p = BTreeMap::from([
            ("a".to_string(), "x{b}".to_string()),
            ("b".to_string(), "ok".to_string()),
        ]);
        // `a`'s value keeps its literal "{b}": it is not a placeholder of the template.
        assert_eq!(cmd.argv("c", &p).unwrap(), ["x{b}-ok", "{ok}"]);
    }

    #[test]
    fn debug_output_hides_env_values() {
        let mut cmd = greet();
        cmd.env.insert("PGPASSWORD".into(), "S3cr3tPw".into());
        let shown = format!("{cmd:?}");
        assert!(
            shown.contains("PGPASSWORD") && !shown.contains("S3cr3tPw"),
            "{shown}"
        );
    }

    #[test]
    fn commands_may_not_pass_secrets() {
        let mut cmd = greet();
        cmd.env.insert("DATABASE_URL".into(), "postgres://x".into());
        assert!(cmd.validate("greet").unwrap_err().contains("DATABASE_URL"));
        cmd.env.clear();
        cmd.env
            .insert("ROWGUARD_OVERRIDE_AUTHORIZATION".into(), "true".into());
        assert!(cmd.validate("greet").is_err());
    }

    #[test]
    fn permissions_and_validation() {
        use crate::rbac::{RbacGraph, Role};
        let role = |perms: &[&str], all: bool, parents: &[&str]| Role {
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            all_permissions: all,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            ..Role::default()
        };
        let roles = [
            (
                "support".to_string(),
                role(&[DEFAULT_RUN_PERMISSION], false, &[]),
            ),
            ("devops".to_string(), role(&[], false, &["support"])),
            ("admin".to_string(), role(&[], true, &[])),
            ("sales".to_string(), role(&[], false, &[])),
        ];
        let perms = [(DEFAULT_RUN_PERMISSION.to_string(), None)];
        let rbac = RbacGraph::new(roles.into(), perms.into()).unwrap();
        assert_eq!(greet().permission, DEFAULT_RUN_PERMISSION);
        for (roles, allowed) in [
            ("support", true),
            ("devops", true),
            ("admin", true),
            ("sales", false),
            ("nobody", false),
        ] {
            assert_eq!(greet().allows(&rbac, &[roles]), allowed, "{roles}");
        }
        let legacy = serde_json::from_str::<AllowedCommand>(r#"{"program":"x","roles":["*"]}"#);
        assert!(legacy
            .unwrap_err()
            .to_string()
            .contains("unknown field `roles`"));
        let unsaid = serde_json::from_str::<AllowedCommand>(r#"{"program":"x"}"#);
        assert!(unsaid
            .unwrap_err()
            .to_string()
            .contains("missing field `permission`"));
        let mut bad = greet();
        bad.args.push("{nope}".into());
        assert!(bad
            .validate("greet")
            .unwrap_err()
            .contains("undeclared parameter {nope}"));
    }
}
