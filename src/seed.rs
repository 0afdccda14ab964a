//! The seeder: loads `seeds/*.json` (set types, permissions, roles with their permissions and
//! inheritance, rules, policies) in one transaction, step by step, all or nothing.
//!
//! A seed file (every key optional):
//! ```json
//! {
//!   "set_types":   ["teams", {"name": "regions", "description": "…"}],
//!   "permissions": ["jobs.run", {"name": "jobs.kill", "description": "…"}],
//!   "roles": [{"name": "devops", "description": "…", "permissions": ["jobs.run", "jobs.kill"],
//!              "inherits": ["support"]},
//!             {"name": "admin", "permissions": ["*"]}],
//!   "rules": [{"set_type": "roles", "set_value": "support", "model": "contacts",
//!              "rules": {"read": {"search": {"owner_id": "=$subject.id"}}}}],
//!   "policies": [{"set_type": "roles", "set_value": "support",
//!                 "policy": [{"Effect": "Allow", "Action": "server:List", "Resource": "*"}]}]
//! }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::Deserialize;

use crate::rbac::{self, RbacError};
use crate::rules::RuleError;
use crate::store::{self, StoreError};
use crate::AnyConnection;

pub use crate::rbac::write::RoleDefinition as RoleSeed;
pub use crate::store::{Counts, Named, BUILT_IN_SET_TYPES};

/// A rule row in a seed file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSeed {
    /// The set type (`roles`, …).
    pub set_type: String,
    /// The set value; numbers are accepted and converted.
    pub set_value: SetValue,
    /// The model's stored name.
    pub model: String,
    /// The rule document (a key given twice in one object is an error).
    #[serde(deserialize_with = "crate::rules::deserialize_strict")]
    pub rules: serde_json::Value,
}

/// A policy in a seed file: one IAM-style policy document per (set type, set value).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySeed {
    /// The set type (`roles`, …).
    pub set_type: String,
    /// The set value; numbers are accepted and converted.
    pub set_value: SetValue,
    /// The policy: a list of statements or `{"Version": …, "Statement": […]}` (a key given
    /// twice in one object is an error).
    #[serde(deserialize_with = "crate::rules::deserialize_strict")]
    pub policy: serde_json::Value,
}

/// A set value written as a string or a number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SetValue {
    /// A string.
    Text(String),
    /// A number.
    Number(serde_json::Number),
}

impl SetValue {
    /// The value as stored.
    pub fn as_string(&self) -> String {
        match self {
            SetValue::Text(s) => s.clone(),
            SetValue::Number(n) => n.to_string(),
        }
    }
}

/// One seed file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    /// Extra set types.
    #[serde(default)]
    pub set_types: Vec<Named>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<Named>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleSeed>,
    /// Rule rows.
    #[serde(default)]
    pub rules: Vec<RuleSeed>,
    /// Policies.
    #[serde(default)]
    pub policies: Vec<PolicySeed>,
}

/// All seed files together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seed {
    /// The files, in load order.
    pub files: Vec<String>,
    /// Everything they define.
    pub content: SeedFile,
}

/// The seeder's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `--fresh`: remove everything seeded before.
    Clear,
    /// Set types.
    SetTypes,
    /// Permissions.
    Permissions,
    /// Roles (with their `"*"`).
    Roles,
    /// Role → permission grants.
    RolePermissions,
    /// Role inheritance.
    RoleInheritance,
    /// Rule rows.
    Rules,
    /// Policies.
    Policies,
}

impl Step {
    /// Every step, in order (`Clear` runs only with `--fresh`).
    pub const ALL: [Step; 8] = [
        Step::Clear,
        Step::SetTypes,
        Step::Permissions,
        Step::Roles,
        Step::RolePermissions,
        Step::RoleInheritance,
        Step::Rules,
        Step::Policies,
    ];

    /// The step's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::Clear => "clear previous seed (--fresh)",
            Step::SetTypes => "set types",
            Step::Permissions => "permissions",
            Step::Roles => "roles",
            Step::RolePermissions => "role permissions",
            Step::RoleInheritance => "role inheritance",
            Step::Rules => "rules",
            Step::Policies => "policies",
        }
    }
}

/// A line of the step report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// How long it took.
    pub duration: Duration,
    /// What it did, or why it failed.
    pub outcome: Result<Counts, String>,
}

/// Errors of the seeder. After any of them the database is as it was before.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The seed folder or a seed file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The folder or file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The seed folder holds no `*.json` file (a wrong `--dir`, most likely).
    #[error("no seed files (*.json) in {dir}")]
    NoFiles {
        /// The folder.
        dir: String,
    },
    /// A seed file is not a valid seed document (JSON syntax, shape, unknown keys).
    #[error("{path}: {source}")]
    Json {
        /// The seed file that does not parse.
        path: String,
        /// The JSON parser's error, with line and column.
        source: serde_json::Error,
    },
    /// A name is defined twice, in one file or across files.
    #[error("{path}: {cause}")]
    Parse {
        /// The file with the second definition.
        path: String,
        /// Which name, and where it was first defined.
        cause: String,
    },
    /// A step failed; the message names the item.
    #[error("{message}")]
    Step {
        /// The step.
        step: Step,
        /// What is wrong.
        message: String,
    },
    /// A role or permission is invalid, unknown, or inheritance has a cycle.
    #[error("{source}")]
    Rbac {
        /// The step that found it.
        step: Step,
        /// What RBAC says.
        source: RbacError,
    },
    /// A seeded rule (or a model's stored columns) does not compile.
    #[error("{item}: {source}")]
    Rule {
        /// The rule (set type, value, model) or model.
        item: String,
        /// The rule language's error, with its path.
        source: RuleError,
    },
    /// A database error.
    #[error(transparent)]
    Db(#[from] crate::DbError),
}

impl SeedError {
    /// The step that failed, for errors raised by a step (`None` for reading and parsing
    /// the files, and for the database).
    pub fn step(&self) -> Option<Step> {
        match self {
            SeedError::Step { step, .. } | SeedError::Rbac { step, .. } => Some(*step),
            SeedError::Rule { .. } => Some(Step::Rules),
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for SeedError {
    fn from(e: diesel::result::Error) -> Self {
        SeedError::Db(e.into())
    }
}

/// Seeder options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedOptions {
    /// Remove the roles, permissions, grants, inheritance, rules and non-built-in set types
    /// present before, so the database holds exactly the seed. Without it, rows the seed
    /// files do not mention (a DBA's own rules, say) are kept.
    pub fresh: bool,
    /// Testing: fail right after this step has written, to prove the rollback.
    #[doc(hidden)]
    pub fail_after: Option<Step>,
}

/// Reads every `*.json` in `dir`, in file-name order; a folder without one is an error (a
/// wrong `--dir` must not seed nothing and report success).
///
/// ```
/// let empty = std::env::temp_dir().join(format!("rowguard-no-seeds-{}", std::process::id()));
/// std::fs::create_dir_all(&empty)?;
/// let err = rowguard::seed::load_dir(&empty).unwrap_err().to_string();
/// assert!(err.starts_with("no seed files (*.json) in "), "{err}");
/// std::fs::remove_dir_all(&empty)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_dir(dir: &Path) -> Result<Seed, SeedError> {
    let read_error = |path: &Path, source: std::io::Error| SeedError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read_error(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(SeedError::NoFiles {
            dir: dir.display().to_string(),
        });
    }
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
        files.push((path.display().to_string(), text));
    }
    Seed::parse(files)
}

impl Seed {
    /// Parses `(file name, JSON text)` pairs into one seed; a name defined twice (in one file
    /// or across files) is an error naming both places.
    ///
    /// ```
    /// use rowguard::seed::Seed;
    /// let one = |text: &str| Seed::parse(vec![("a.json".into(), text.into())]);
    /// assert_eq!(one(r#"{"permissions": ["jobs.run"]}"#)?.content.permissions.len(), 1);
    /// let err = one("[1, 2]").unwrap_err().to_string();
    /// assert!(err.starts_with("a.json: a seed file is one JSON object"), "{err}");
    /// let err = one(r#"{"permissions": ["x", "x"]}"#).unwrap_err().to_string();
    /// assert!(err.contains("permission \"x\" is defined twice"), "{err}");
    /// # Ok::<(), rowguard::seed::SeedError>(())
    /// ```
    pub fn parse(files: Vec<(String, String)>) -> Result<Self, SeedError> {
        let mut seed = Seed::default();
        let mut seen: HashMap<(&'static str, String), String> = HashMap::new();
        for (path, text) in files {
            // The shape first: "invalid type: integer 1, expected a sequence" for a file that
            // is an array says nothing a newcomer can act on.
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                if !value.is_object() {
                    return Err(SeedError::Parse {
                        path,
                        cause: "a seed file is one JSON object with the keys set_types, \
                                permissions, roles, rules and policies (each optional), not an \
                                array or a single value"
                            .into(),
                    });
                }
            }
            let file: SeedFile = serde_json::from_str(&text).map_err(|source| SeedError::Json {
                path: path.clone(),
                source,
            })?;
            let mut check = |kind: &'static str, name: String| match seen
                .insert((kind, name.clone()), path.clone())
            {
                Some(first) => Err(SeedError::Parse {
                    path: path.clone(),
                    cause: format!("{kind} \"{name}\" is defined twice (also in {first})"),
                }),
                None => Ok(()),
            };
            for t in &file.set_types {
                check("set type", t.name.clone())?;
            }
            for p in &file.permissions {
                check("permission", p.name.clone())?;
            }
            for r in &file.roles {
                check("role", r.name.clone())?;
            }
            for r in &file.rules {
                check(
                    "rule",
                    format!("{}/{}/{}", r.set_type, r.set_value.as_string(), r.model),
                )?;
            }
            seed.content.set_types.extend(file.set_types);
            seed.content.permissions.extend(file.permissions);
            seed.content.roles.extend(file.roles);
            for p in &file.policies {
                check(
                    "policy",
                    format!("{}/{}", p.set_type, p.set_value.as_string()),
                )?;
            }
            seed.content.rules.extend(file.rules);
            seed.content.policies.extend(file.policies);
            seed.files.push(path);
        }
        Ok(seed)
    }
}

fn step_error(step: Step, message: impl Into<String>) -> SeedError {
    SeedError::Step {
        step,
        message: message.into(),
    }
}

/// Applies `seed` in one transaction, reporting each step to `report` as it finishes. On
/// any error everything is rolled back and the failed step is reported with its message.
pub fn apply(
    conn: &mut AnyConnection,
    seed: &Seed,
    options: SeedOptions,
    report: &mut dyn FnMut(&StepReport),
) -> Result<Vec<StepReport>, SeedError> {
    let mut reports = Vec::new();
    let mut panicked = None;
    // Inside the caller's transaction the commit is the caller's: caches learn of the
    // write at their next version check, not before the commit (see write_transaction).
    let nested = crate::db::in_transaction(conn);
    let applied = conn.transaction(|conn| {
        crate::db::lock_for_writing(conn)?;
        for step in Step::ALL {
            if step == Step::Clear && !options.fresh {
                continue;
            }
            let started = Instant::now();
            let result = run_step(conn, seed, step).and_then(|counts| {
                if options.fail_after == Some(step) {
                    Err(step_error(
                        step,
                        format!("injected failure after step {}", step.name()),
                    ))
                } else {
                    Ok(counts)
                }
            });
            let line = StepReport {
                step,
                duration: started.elapsed(),
                outcome: result.as_ref().map(|c| *c).map_err(|e| e.to_string()),
            };
            // A panicking report must not leave the transaction open: roll back, then panic.
            let reported = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report(&line)));
            if let Err(payload) = reported {
                panicked = Some(payload);
                return Err(step_error(step, "the report callback panicked"));
            }
            reports.push(line);
            result?;
        }
        Ok(reports)
    });
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    applied.inspect(|_| {
        if !nested {
            crate::cache::note_store_write();
        }
    })
}

/// One step, through the module that owns its tables (`rbac` for the RBAC tables, `store`
/// for set types and rules); errors get the step's context.
fn run_step(conn: &mut AnyConnection, seed: &Seed, step: Step) -> Result<Counts, SeedError> {
    let content = &seed.content;
    let rbac_error = |e: rbac::write::WriteError| match e {
        rbac::write::WriteError::Rbac(source) => SeedError::Rbac { step, source },
        rbac::write::WriteError::Db(e) => SeedError::Db(e),
    };
    match step {
        Step::Clear => {
            let changed = rbac::write::clear(conn).map_err(rbac_error)?
                + store::clear_rules_and_set_types(conn).map_err(|e| store_error(step, e))?;
            Ok(Counts {
                changed,
                ..Counts::default()
            })
        }
        Step::SetTypes => {
            store::upsert_set_types(conn, &content.set_types).map_err(|e| store_error(step, e))
        }
        Step::Permissions => {
            rbac::write::upsert_permissions(conn, &content.permissions).map_err(rbac_error)
        }
        Step::Roles => rbac::write::upsert_roles(conn, &content.roles).map_err(rbac_error),
        Step::RolePermissions => {
            rbac::write::grant_permissions(conn, &content.roles).map_err(rbac_error)
        }
        Step::RoleInheritance => rbac::write::inherit(conn, &content.roles).map_err(rbac_error),
        Step::Rules => {
            let definitions = content
                .rules
                .iter()
                .map(|rule| {
                    let document = serde_json::to_string(&rule.rules)
                        .map_err(|e| step_error(step, format!("rule on {}: {e}", rule.model)))?;
                    Ok(store::RuleDefinition {
                        set_type: rule.set_type.clone(),
                        set_value: rule.set_value.as_string(),
                        model: rule.model.clone(),
                        document,
                    })
                })
                .collect::<Result<Vec<_>, SeedError>>()?;
            store::put_rules(conn, &definitions).map_err(|e| store_error(step, e))
        }
        Step::Policies => {
            let definitions = content
                .policies
                .iter()
                .map(|p| store::PolicyDefinition {
                    set_type: p.set_type.clone(),
                    set_value: p.set_value.as_string(),
                    document: p.policy.to_string(),
                })
                .collect::<Vec<_>>();
            store::put_policies(conn, &definitions).map_err(|e| store_error(step, e))
        }
    }
}

/// A store error in a step: rule language errors keep their type, the rest their message.
fn store_error(step: Step, e: StoreError) -> SeedError {
    match e {
        StoreError::InvalidRule { rule, source } => SeedError::Rule { item: rule, source },
        StoreError::BadColumns { model, source } => SeedError::Rule {
            item: format!("model \"{model}\""),
            source,
        },
        StoreError::Db(e) => SeedError::Db(e),
        other => step_error(step, other.to_string()),
    }
}
