//! What every command shares: the database URL, `--strict`, warnings, and the subject of
//! `--as`/`--attr` as RBAC sees it.

use std::process::ExitCode;

use rowguard::{AnyConnection, DatabaseUrl, Subject};

use crate::commands::CommandResult;
use crate::suggest;

/// Options every command takes, before or after the command's name.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Database URL: a SQLite path or sqlite://PATH, postgres://…/DB, mysql://…/DB
    /// (default: DATABASE_URL, else rowguard.sqlite3).
    #[arg(long, env = "DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Treat warnings (a name that matches nothing, a rule that grants nothing) as errors.
    #[arg(long, global = true)]
    pub strict: bool,
}

impl GlobalArgs {
    /// The URL given, else [`rowguard::DEFAULT_DATABASE_URL`].
    pub fn url(&self) -> Result<DatabaseUrl, rowguard::DbError> {
        match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => DatabaseUrl::parse(url),
            _ => DatabaseUrl::parse(rowguard::DEFAULT_DATABASE_URL),
        }
    }
}

/// Shared state of one command run.
pub struct Context {
    global: GlobalArgs,
    warnings: usize,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Self {
        Self {
            global: global.clone(),
            warnings: 0,
        }
    }

    /// Whether `--strict` is on (a command that cannot take back a write checks first).
    pub fn strict(&self) -> bool {
        self.global.strict
    }

    /// Prints `warning: …`; under `--strict` the command then fails.
    pub fn warn(&mut self, message: impl std::fmt::Display) {
        // Warnings quote stored names and documents: control characters shown escaped.
        eprintln!(
            "warning: {}",
            crate::commands::safe_lines(&message.to_string())
        );
        self.warnings += 1;
    }

    /// Under `--strict`, an error once anything warned: for a command about to write.
    pub fn stop_if_strict(&self) -> Result<(), Box<dyn std::error::Error>> {
        if self.global.strict && self.warnings > 0 {
            return Err(format!(
                "{} warning(s), and --strict makes them errors; nothing written",
                self.warnings
            )
            .into());
        }
        Ok(())
    }

    /// The command's exit code, or an error if it warned under `--strict`.
    pub fn finish(&self, code: ExitCode) -> CommandResult {
        if self.global.strict && self.warnings > 0 {
            return Err(format!(
                "{} warning(s), and --strict makes them errors",
                self.warnings
            )
            .into());
        }
        Ok(code)
    }

    /// The database URL. Every command must persist or read something that lasts, so an
    /// in-memory SQLite database is refused.
    pub fn url(&self) -> Result<DatabaseUrl, Box<dyn std::error::Error>> {
        let url = self.global.url()?;
        if url.is_in_memory() {
            let typed = self
                .global
                .database_url
                .as_deref()
                .unwrap_or_default()
                .trim();
            return Err(format!(
                "{typed} is an in-memory database: it would vanish when this command ends; give a file path or a server URL"
            )
            .into());
        }
        Ok(url)
    }

    /// A connection to an existing database (a SQLite file that does not exist is an error,
    /// not a new empty database).
    pub fn connect(&self) -> Result<AnyConnection, Box<dyn std::error::Error>> {
        let url = self.url()?;
        if let Some(path) = url.sqlite_path() {
            if !path.exists() {
                return Err(format!(
                    "no SQLite database at {}: run `rowguard migrate` to create it, or give --database-url",
                    path.display()
                )
                .into());
            }
        }
        Ok(rowguard::establish(&url)?)
    }

    /// A connection that may create the SQLite file (for `migrate`); says when it did.
    pub fn connect_creating(
        &self,
    ) -> Result<(DatabaseUrl, AnyConnection), Box<dyn std::error::Error>> {
        let url = self.url()?;
        let new_file = url.sqlite_path().filter(|p| !p.exists());
        let conn = rowguard::establish(&url)?;
        if let Some(path) = new_file {
            eprintln!("created SQLite database {}", path.display());
        }
        Ok((url, conn))
    }

    /// The subject of `--as`/`--attr`, as RBAC sees it (inherited roles added, absolute
    /// rights by permission). Warns about a set type that does not exist and a role that
    /// is neither an RBAC role nor named by any rule row: both grant nothing.
    pub fn subject(
        &mut self,
        conn: &mut AnyConnection,
        spec: &SubjectSpec,
    ) -> Result<Subject, Box<dyn std::error::Error>> {
        let graph = rowguard::rbac::load(conn)?;
        self.subject_in(conn, spec, &graph)
    }

    /// [`Context::subject`] with the RBAC model the caller has loaded already.
    pub fn subject_in(
        &mut self,
        conn: &mut AnyConnection,
        spec: &SubjectSpec,
        graph: &rowguard::rbac::RbacGraph,
    ) -> Result<Subject, Box<dyn std::error::Error>> {
        let subject = spec.subject()?;
        let set_types = rowguard::store::set_type_names(conn)?;
        let rules = rowguard::store::all_rules(conn)?;
        let policies = rowguard::store::all_policies(conn)?;
        for (set_type, values) in subject.sets() {
            if !set_types.iter().any(|t| t == set_type) {
                self.warn(format_args!(
                    "--as {set_type}=…: there is no set type named \"{set_type}\"{}; it grants nothing",
                    suggest::hint(set_type, set_types.iter().map(String::as_str))
                ));
                continue;
            }
            if set_type != "roles" {
                continue;
            }
            for role in values {
                let named = rules
                    .iter()
                    .map(|r| (&r.set_type, &r.set_value))
                    .chain(policies.iter().map(|p| (&p.set_type, &p.set_value)))
                    .filter(|(t, _)| *t == "roles")
                    .map(|(_, v)| v.as_str());
                if !graph.roles().contains_key(role) && !named.clone().any(|v| v == role) {
                    let known = graph.roles().keys().map(String::as_str).chain(named);
                    self.warn(format_args!(
                        "--as roles={role}: no role \"{role}\" exists and no rule or policy names it{}; it grants nothing",
                        suggest::hint(role, known)
                    ));
                }
            }
        }
        Ok(graph.subject(subject))
    }
}

/// Who is asking: `--as TYPE=V1,V2` (repeatable) and `--attr KEY=VALUE` (repeatable).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SubjectSpec {
    /// A set of the subject: TYPE=V1,V2 (repeatable), e.g. --as roles=agent,support.
    /// Roles are seen as RBAC sees them: inherited roles added.
    #[arg(long = "as", value_name = "TYPE=VALUES")]
    pub sets: Vec<String>,
    /// An attribute for $subject.NAME: KEY=VALUE (repeatable); jobs need `id`.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attrs: Vec<String>,
}

impl SubjectSpec {
    /// The subject described, without RBAC.
    pub fn subject(&self) -> Result<Subject, String> {
        let mut subject = Subject::new();
        for set in &self.sets {
            let (set_type, values) = set
                .split_once('=')
                .ok_or_else(|| format!("--as {set}: expected TYPE=V1,V2"))?;
            subject.add_set(set_type, values.split(',').filter(|v| !v.is_empty()));
        }
        for attr in &self.attrs {
            let (key, value) = attr
                .split_once('=')
                .ok_or_else(|| format!("--attr {attr}: expected KEY=VALUE"))?;
            subject = subject.with_attribute(key, value);
        }
        Ok(subject)
    }

    /// The subject as the HTTP API takes it: `{"subject": {TYPE: [VALUES]}, "attributes":
    /// {KEY: VALUE}}` (for `--remote`).
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        let mut sets = serde_json::Map::new();
        for set in &self.sets {
            let (set_type, values) = set
                .split_once('=')
                .ok_or_else(|| format!("--as {set}: expected TYPE=V1,V2"))?;
            let list = sets
                .entry(set_type.to_owned())
                .or_insert_with(|| serde_json::json!([]));
            if let Some(list) = list.as_array_mut() {
                list.extend(
                    values
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(|v| v.into()),
                );
            }
        }
        let mut attributes = serde_json::Map::new();
        for attr in &self.attrs {
            let (key, value) = attr
                .split_once('=')
                .ok_or_else(|| format!("--attr {attr}: expected KEY=VALUE"))?;
            attributes.insert(key.to_owned(), value.into());
        }
        Ok(serde_json::json!({"subject": sets, "attributes": attributes}))
    }
}
