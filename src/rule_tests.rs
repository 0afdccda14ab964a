//! Rule tests for DBAs: a file of expected decisions (subject, model, right, row, allow or
//! deny), run against the stored rules, so a team keeps its rules under regression tests in
//! its own CI (`rowguard rules test FILE…`).
//!
//! ```json
//! {"tests": [
//!   {"name": "support reads its own jobs",
//!    "subject": {"sets": {"roles": ["support"]}, "attributes": {"id": "alice"}},
//!    "model": "job_executions", "right": "read",
//!    "row": {"user_identifier": "alice"}, "expect": "allow"},
//!   {"subject": {"sets": {"roles": ["support"]}, "attributes": {"id": "alice"}},
//!    "model": "contacts", "right": "update", "key": 17, "expect": "deny"}
//! ]}
//! ```
//!
//! A row is given by its values (`row`: columns not named are NULL; decided in memory, the
//! table need not hold it) or by its primary key (`key`: the stored row of the database
//! tested; a key with no row is an error, never a silent `deny`). The subject is seen as RBAC sees it ([`crate::rbac::Rbac::subject`]:
//! inherited roles, absolute rights by permission) unless `"rbac": false`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::rbac::Rbac;
use crate::rules::{Right, Value};
use crate::{Authorizer, StoreConnection, Subject};

/// Errors of reading a rule-test file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleTestError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid rule-test document.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the JSON path (`tests[2].expect: unknown variant ...`).
        message: String,
    },
}

/// A rule-test file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTestFile {
    /// The cases, run in order.
    pub tests: Vec<RuleTest>,
}

/// One expected decision.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    /// Shown in the report (default: `#N`).
    #[serde(default)]
    pub name: Option<String>,
    /// Who asks.
    pub subject: SubjectSpec,
    /// The model's stored name.
    pub model: String,
    /// `create`, `read`, `update` or `delete`.
    pub right: TestRight,
    /// The row by its column values.
    #[serde(default)]
    pub row: Option<BTreeMap<String, serde_json::Value>>,
    /// The row by primary key (not for `create`).
    #[serde(default)]
    pub key: Option<serde_json::Value>,
    /// The expected decision.
    pub expect: Decision,
}

/// A subject in a rule-test file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    /// Authorizable sets: `{"roles": ["support"], "id": ["alice"]}`.
    #[serde(default)]
    pub sets: BTreeMap<String, Vec<String>>,
    /// Attributes for `$subject.NAME`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Apply RBAC (inherited roles, absolute rights by permission); default true.
    #[serde(default = "yes")]
    pub rbac: bool,
}

fn yes() -> bool {
    true
}

/// A right, as written in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TestRight {
    Create,
    Read,
    Update,
    Delete,
}

impl From<TestRight> for Right {
    fn from(r: TestRight) -> Right {
        match r {
            TestRight::Create => Right::Create,
            TestRight::Read => Right::Read,
            TestRight::Update => Right::Update,
            TestRight::Delete => Right::Delete,
        }
    }
}

/// An expected or actual decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The right is granted for the row.
    Allow,
    /// It is not.
    Deny,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        })
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The case's name, or `#N` (1-based).
    pub label: String,
    /// What the file expects.
    pub expected: Decision,
    /// What the stored rules decide, or why no decision could be made (an unknown model,
    /// a value that does not fit its column: always a failure).
    pub actual: Result<Decision, String>,
}

impl Outcome {
    /// Whether the decision is the expected one.
    pub fn passed(&self) -> bool {
        self.actual.as_ref().is_ok_and(|d| *d == self.expected)
    }
}

impl RuleTestFile {
    /// Parses a file's text; errors name the JSON path of the problem.
    ///
    /// ```
    /// use rowguard::rule_tests::RuleTestFile;
    /// let err = RuleTestFile::parse("t.json", r#"{"tests":[{"subject":{},"model":"m","right":"read","key":1,"expect":"yes"}]}"#)
    ///     .unwrap_err().to_string();
    /// assert!(err.starts_with("t.json: tests[0].expect: unknown variant `yes`"), "{err}");
    /// ```
    pub fn parse(path: &str, text: &str) -> Result<Self, RuleTestError> {
        let parse_error = |message: String| RuleTestError::Parse {
            path: path.to_owned(),
            message,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let file: RuleTestFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            if at == "." {
                parse_error(inner.to_string())
            } else {
                parse_error(format!("{at}: {inner}"))
            }
        })?;
        for (i, case) in file.tests.iter().enumerate() {
            let which = |why: &str| parse_error(format!("tests[{i}]: {why}"));
            match (&case.row, &case.key) {
                (Some(_), Some(_)) => return Err(which("give either row or key, not both")),
                (None, None) => return Err(which("give the row: row (values) or key")),
                (None, Some(_)) if case.right == TestRight::Create => {
                    return Err(which("create is about a new row: give row, not key"))
                }
                _ => {}
            }
        }
        Ok(file)
    }

    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Self, RuleTestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RuleTestError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text)
    }

    /// Runs every case against the stored rules.
    ///
    /// ```
    /// # include!("../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::rule_tests::{Decision, RuleTestFile};
    /// // The agent may update its own open contacts (owner 17 is $subject.id).
    /// let file = RuleTestFile::parse("t.json", r#"{"tests": [
    ///   {"subject": {"sets": {"roles": ["agent"]}, "attributes": {"id": "17"}}, "model": "contacts",
    ///    "right": "update", "row": {"status": "open", "owner_id": 17}, "expect": "allow"},
    ///   {"subject": {"sets": {"roles": ["agent"]}, "attributes": {"id": "17"}}, "model": "contacts",
    ///    "right": "read", "key": 2, "expect": "allow"},
    ///   {"subject": {"sets": {"roles": ["agent"]}}, "model": "contacts",
    ///    "right": "read", "key": 99, "expect": "deny"}
    /// ]}"#)?;
    /// let outcomes = file.run(&auth, &mut conn);
    /// assert!(outcomes[0].passed());
    /// // Contact 2 is closed: the agent may not read it, so the second case fails.
    /// assert_eq!(outcomes[1].actual, Ok(Decision::Deny));
    /// // No contact 99: an error, never a deny that tests nothing.
    /// assert_eq!(outcomes[2].actual, Err("model contacts has no row with key 99".into()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn run(&self, auth: &Authorizer, conn: &mut dyn StoreConnection) -> Vec<Outcome> {
        let rbac = Rbac::new(auth.config());
        self.tests
            .iter()
            .enumerate()
            .map(|(i, case)| Outcome {
                label: case.name.clone().unwrap_or_else(|| format!("#{}", i + 1)),
                expected: case.expect,
                actual: decide(auth, &rbac, conn, case),
            })
            .collect()
    }
}

fn decide(
    auth: &Authorizer,
    rbac: &Rbac,
    conn: &mut dyn StoreConnection,
    case: &RuleTest,
) -> Result<Decision, String> {
    let mut subject = Subject::new();
    for (set_type, values) in &case.subject.sets {
        subject.add_set(set_type, values);
    }
    for (name, value) in &case.subject.attributes {
        subject = subject.with_attribute(name, value);
    }
    if case.subject.rbac {
        subject = rbac.subject(conn, subject).map_err(|e| e.to_string())?;
    }
    let right = Right::from(case.right);
    let allowed = if let Some(row) = &case.row {
        let access = auth
            .access(conn, &subject, &case.model)
            .map_err(|e| e.to_string())?;
        let columns = &access.model.columns;
        if let Some(unknown) = row.keys().find(|c| columns.get(c).is_none()) {
            return Err(format!(
                "model {} has no column \"{unknown}\" (columns: {})",
                case.model,
                columns.names_list()
            ));
        }
        let mut cells = Vec::with_capacity(columns.len());
        for (name, ty) in columns.iter() {
            cells.push(match row.get(name) {
                None | Some(serde_json::Value::Null) => Value::Null,
                Some(v) => {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Value::parse(ty, &text).map_err(|e| format!("column \"{name}\": {e}"))?
                }
            });
        }
        auth.allows(conn, &subject, &case.model, right, &cells)
            .map_err(|e| e.to_string())?
    } else {
        let text = match case.key.as_ref() {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            other => return Err(format!("key must be an integer or a string, not {other:?}")),
        };
        let access = auth
            .access(conn, &subject, &case.model)
            .map_err(|e| e.to_string())?;
        let stored = &access.model;
        // The key as its column reads it (a UUID in any case, an integer written as text);
        // the listed keys come back as integers or text, read with the same type.
        let ty = stored.columns.get(&stored.primary_key).map(|(_, ty)| ty);
        let read = |text: &str| match ty {
            Some(ty) => Value::parse(ty, text),
            None => Ok(Value::Text(text.to_owned())),
        };
        let key = read(&text).map_err(|e| format!("key {text} of model {}: {e}", case.model))?;
        let same = |k: &Value| {
            let k = match k {
                Value::Text(t) => read(t).unwrap_or_else(|_| k.clone()),
                other => other.clone(),
            };
            k.sql_cmp(&key) == Some(std::cmp::Ordering::Equal)
        };
        // A key with no row would be decided `deny` without testing anything.
        let every_row = Subject::new().with_absolute_rights();
        let exists = auth
            .permitted_keys(conn, &every_row, &case.model, Right::Read)
            .map_err(|e| e.to_string())?
            .iter()
            .any(same);
        if !exists {
            return Err(format!("model {} has no row with key {text}", case.model));
        }
        auth.permitted_keys(conn, &subject, &case.model, right)
            .map_err(|e| e.to_string())?
            .iter()
            .any(same)
    };
    Ok(if allowed {
        Decision::Allow
    } else {
        Decision::Deny
    })
}
