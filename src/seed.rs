//! The seeder: loads `seeds/*.json` (set types, permissions, roles with their permissions and
//! inheritance, rules) in one transaction, step by step, all or nothing.
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
//!              "rules": {"read": {"search": {"owner_id": "=$subject.id"}}}}]
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::Deserialize;

use crate::rbac::{self, RbacError, Role};
use crate::rules::{compile_document, is_identifier, Columns, RuleError};
use crate::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules, permissions, role_inheritance, role_permissions, roles,
};
use crate::AnyConnection;

/// The set types every database has (created by the migration, never removed).
pub const BUILT_IN_SET_TYPES: [&str; 4] = ["roles", "groups", "id", "universal"];

/// A name with an optional description: `"name"` or `{"name": …, "description": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "NamedRepr")]
pub struct Named {
    /// The name.
    pub name: String,
    /// The description, if given.
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NamedRepr {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        description: Option<String>,
    },
}

impl From<NamedRepr> for Named {
    fn from(r: NamedRepr) -> Self {
        match r {
            NamedRepr::Name(name) => Named {
                name,
                description: None,
            },
            NamedRepr::Full { name, description } => Named { name, description },
        }
    }
}

/// A role in a seed file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSeed {
    /// The role's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Permission names, or `"*"` for every permission.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles whose permissions this one inherits.
    #[serde(default)]
    pub inherits: Vec<String>,
}

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
    /// The rule document.
    pub rules: serde_json::Value,
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
}

impl Step {
    /// Every step, in order (`Clear` runs only with `--fresh`).
    pub const ALL: [Step; 7] = [
        Step::Clear,
        Step::SetTypes,
        Step::Permissions,
        Step::Roles,
        Step::RolePermissions,
        Step::RoleInheritance,
        Step::Rules,
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
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Rows inserted.
    pub added: usize,
    /// Rows updated (or, for `Clear`, deleted).
    pub changed: usize,
    /// Rows already as seeded.
    pub unchanged: usize,
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
    /// A seed file is not a valid seed document (JSON syntax, shape, unknown keys).
    #[error("{path}: {source}")]
    Json {
        /// The file.
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

/// Reads every `*.json` in `dir`, in file-name order.
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
    pub fn parse(files: Vec<(String, String)>) -> Result<Self, SeedError> {
        let mut seed = Seed::default();
        let mut seen: HashMap<(&'static str, String), String> = HashMap::new();
        for (path, text) in files {
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
            seed.content.rules.extend(file.rules);
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
    conn.transaction(|conn| {
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
            report(&line);
            reports.push(line);
            result?;
        }
        Ok(reports)
    })
    .inspect(|_| crate::cache::note_store_write())
}

fn run_step(conn: &mut AnyConnection, seed: &Seed, step: Step) -> Result<Counts, SeedError> {
    let content = &seed.content;
    match step {
        Step::Clear => clear(conn),
        Step::SetTypes => {
            for t in &content.set_types {
                if !is_identifier(&t.name) {
                    return Err(step_error(step, format!(
                        "invalid set type name \"{}\": letters, digits and _, not starting with a digit",
                        t.name
                    )));
                }
            }
            upsert_named(conn, &content.set_types, NamedTable::SetTypes)
        }
        Step::Permissions => {
            for p in &content.permissions {
                rbac::validate_permission_name(&p.name)
                    .map_err(|source| SeedError::Rbac { step, source })?;
            }
            upsert_named(conn, &content.permissions, NamedTable::Permissions)
        }
        Step::Roles => upsert_roles(conn, &content.roles),
        Step::RolePermissions => grant_permissions(conn, &content.roles),
        Step::RoleInheritance => inherit(conn, &content.roles),
        Step::Rules => put_rules(conn, &content.rules),
    }
}

fn clear(conn: &mut AnyConnection) -> Result<Counts, SeedError> {
    let mut changed = diesel::delete(role_inheritance::table).execute(conn)?;
    changed += diesel::delete(role_permissions::table).execute(conn)?;
    changed += diesel::delete(rules::table).execute(conn)?;
    changed += diesel::delete(roles::table).execute(conn)?;
    changed += diesel::delete(permissions::table).execute(conn)?;
    changed += diesel::delete(set_types::table.filter(set_types::name.ne_all(BUILT_IN_SET_TYPES)))
        .execute(conn)?;
    Ok(Counts {
        changed,
        ..Counts::default()
    })
}

#[derive(Clone, Copy)]
enum NamedTable {
    SetTypes,
    Permissions,
}

fn upsert_named(
    conn: &mut AnyConnection,
    items: &[Named],
    table: NamedTable,
) -> Result<Counts, SeedError> {
    let existing: Vec<(String, Option<String>)> = match table {
        NamedTable::SetTypes => set_types::table
            .select((set_types::name, set_types::description))
            .load(conn)?,
        NamedTable::Permissions => permissions::table
            .select((permissions::name, permissions::description))
            .load(conn)?,
    };
    let existing: HashMap<String, Option<String>> = existing.into_iter().collect();
    let mut counts = Counts::default();
    for item in items {
        match existing.get(&item.name) {
            None => {
                match table {
                    NamedTable::SetTypes => diesel::insert_into(set_types::table)
                        .values((
                            set_types::name.eq(&item.name),
                            set_types::description.eq(&item.description),
                        ))
                        .execute(conn)?,
                    NamedTable::Permissions => diesel::insert_into(permissions::table)
                        .values((
                            permissions::name.eq(&item.name),
                            permissions::description.eq(&item.description),
                        ))
                        .execute(conn)?,
                };
                counts.added += 1;
            }
            Some(description) if item.description.is_some() && *description != item.description => {
                match table {
                    NamedTable::SetTypes => {
                        diesel::update(set_types::table.filter(set_types::name.eq(&item.name)))
                            .set(set_types::description.eq(&item.description))
                            .execute(conn)?
                    }
                    NamedTable::Permissions => {
                        diesel::update(permissions::table.filter(permissions::name.eq(&item.name)))
                            .set(permissions::description.eq(&item.description))
                            .execute(conn)?
                    }
                };
                counts.changed += 1;
            }
            Some(_) => counts.unchanged += 1,
        }
    }
    Ok(counts)
}

fn upsert_roles(conn: &mut AnyConnection, seeds: &[RoleSeed]) -> Result<Counts, SeedError> {
    let existing: Vec<(String, Option<String>, bool)> = roles::table
        .select((roles::name, roles::description, roles::all_permissions))
        .load(conn)?;
    let existing: HashMap<String, (Option<String>, bool)> =
        existing.into_iter().map(|(n, d, a)| (n, (d, a))).collect();
    let mut counts = Counts::default();
    for role in seeds {
        rbac::validate_role_name(&role.name).map_err(|source| SeedError::Rbac {
            step: Step::Roles,
            source,
        })?;
        let all = role.permissions.iter().any(|p| p == "*");
        match existing.get(&role.name) {
            None => {
                diesel::insert_into(roles::table)
                    .values((
                        roles::name.eq(&role.name),
                        roles::description.eq(&role.description),
                        roles::all_permissions.eq(all),
                    ))
                    .execute(conn)?;
                counts.added += 1;
            }
            Some((description, stored_all))
                if *stored_all != all
                    || (role.description.is_some() && *description != role.description) =>
            {
                let description = role.description.clone().or_else(|| description.clone());
                diesel::update(roles::table.filter(roles::name.eq(&role.name)))
                    .set((
                        roles::description.eq(description),
                        roles::all_permissions.eq(all),
                    ))
                    .execute(conn)?;
                counts.changed += 1;
            }
            Some(_) => counts.unchanged += 1,
        }
    }
    Ok(counts)
}

fn ids(conn: &mut AnyConnection, table: NamedIds) -> Result<HashMap<String, i64>, SeedError> {
    let rows: Vec<(String, i64)> = match table {
        NamedIds::Roles => roles::table.select((roles::name, roles::id)).load(conn)?,
        NamedIds::Permissions => permissions::table
            .select((permissions::name, permissions::id))
            .load(conn)?,
    };
    Ok(rows.into_iter().collect())
}

#[derive(Clone, Copy)]
enum NamedIds {
    Roles,
    Permissions,
}

fn grant_permissions(conn: &mut AnyConnection, seeds: &[RoleSeed]) -> Result<Counts, SeedError> {
    let role_ids = ids(conn, NamedIds::Roles)?;
    let perm_ids = ids(conn, NamedIds::Permissions)?;
    let existing: HashSet<(i64, i64)> = role_permissions::table
        .select((role_permissions::role_id, role_permissions::permission_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let mut counts = Counts::default();
    for role in seeds {
        let role_id = role_ids[&role.name];
        for permission in role.permissions.iter().filter(|p| *p != "*") {
            let Some(&perm_id) = perm_ids.get(permission) else {
                return Err(SeedError::Rbac {
                    step: Step::RolePermissions,
                    source: RbacError::UnknownPermission {
                        role: role.name.clone(),
                        permission: permission.clone(),
                    },
                });
            };
            if existing.contains(&(role_id, perm_id)) {
                counts.unchanged += 1;
            } else {
                diesel::insert_into(role_permissions::table)
                    .values((
                        role_permissions::role_id.eq(role_id),
                        role_permissions::permission_id.eq(perm_id),
                    ))
                    .execute(conn)?;
                counts.added += 1;
            }
        }
    }
    Ok(counts)
}

fn inherit(conn: &mut AnyConnection, seeds: &[RoleSeed]) -> Result<Counts, SeedError> {
    let role_ids = ids(conn, NamedIds::Roles)?;
    let names: HashMap<i64, String> = role_ids.iter().map(|(n, id)| (*id, n.clone())).collect();
    let existing: HashSet<(i64, i64)> = role_inheritance::table
        .select((role_inheritance::role_id, role_inheritance::parent_role_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    // The whole graph after this step: what is stored plus what is seeded.
    let mut graph: BTreeMap<String, Role> = role_ids
        .keys()
        .map(|n| (n.clone(), Role::default()))
        .collect();
    for (child, parent) in &existing {
        if let (Some(c), Some(p)) = (names.get(child), names.get(parent)) {
            graph
                .entry(c.clone())
                .or_default()
                .parents
                .insert(p.clone());
        }
    }
    let mut wanted = BTreeSet::new();
    for role in seeds {
        for parent in &role.inherits {
            let Some(&parent_id) = role_ids.get(parent) else {
                return Err(SeedError::Rbac {
                    step: Step::RoleInheritance,
                    source: RbacError::UnknownRole(parent.clone()),
                });
            };
            graph
                .entry(role.name.clone())
                .or_default()
                .parents
                .insert(parent.clone());
            wanted.insert((role_ids[&role.name], parent_id));
        }
    }
    if let Some(cycle) = rbac::find_cycle(&graph) {
        return Err(SeedError::Rbac {
            step: Step::RoleInheritance,
            source: RbacError::Cycle(cycle),
        });
    }
    let mut counts = Counts::default();
    for (child, parent) in wanted {
        if existing.contains(&(child, parent)) {
            counts.unchanged += 1;
        } else {
            diesel::insert_into(role_inheritance::table)
                .values((
                    role_inheritance::role_id.eq(child),
                    role_inheritance::parent_role_id.eq(parent),
                ))
                .execute(conn)?;
            counts.added += 1;
        }
    }
    Ok(counts)
}

fn put_rules(conn: &mut AnyConnection, seeds: &[RuleSeed]) -> Result<Counts, SeedError> {
    let type_ids: HashMap<String, i64> = set_types::table
        .select((set_types::name, set_types::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let model_rows: Vec<(String, i64, String)> = models::table
        .select((models::name, models::id, models::column_types))
        .load(conn)?;
    let existing: HashMap<(i64, String, i64), (i64, String)> = rules::table
        .select((
            rules::authorizable_set_type_id,
            rules::authorizable_set_value,
            rules::authorizable_model_id,
            rules::id,
            rules::rules,
        ))
        .load::<(i64, String, i64, i64, String)>(conn)?
        .into_iter()
        .map(|(t, v, m, id, r)| ((t, v, m), (id, r)))
        .collect();
    let mut columns: HashMap<&str, (i64, Columns)> = HashMap::new();
    for (name, id, json) in &model_rows {
        let cols = Columns::from_json(json).map_err(|source| SeedError::Rule {
            item: format!("model \"{name}\""),
            source,
        })?;
        columns.insert(name.as_str(), (*id, cols));
    }
    let mut counts = Counts::default();
    for seed in seeds {
        let value = seed.set_value.as_string();
        let what = format!("rule {} \"{}\" on {}", seed.set_type, value, seed.model);
        let &type_id = type_ids.get(&seed.set_type).ok_or_else(|| {
            step_error(
                Step::Rules,
                format!("{what}: there is no set type named \"{}\"", seed.set_type),
            )
        })?;
        let (model_id, cols) = columns.get(seed.model.as_str()).ok_or_else(|| {
            step_error(
                Step::Rules,
                format!(
                    "{what}: there is no model named \"{}\"; run cargo xtask sync-models first",
                    seed.model
                ),
            )
        })?;
        let text = serde_json::to_string(&seed.rules)
            .map_err(|e| step_error(Step::Rules, format!("{what}: {e}")))?;
        compile_document(&text, cols).map_err(|source| SeedError::Rule {
            item: what.clone(),
            source,
        })?;
        match existing.get(&(type_id, value.clone(), *model_id)) {
            Some((_, stored)) if *stored == text => counts.unchanged += 1,
            Some((id, _)) => {
                diesel::update(rules::table.find(*id))
                    .set(rules::rules.eq(&text))
                    .execute(conn)?;
                counts.changed += 1;
            }
            None => {
                diesel::insert_into(rules::table)
                    .values((
                        rules::authorizable_set_type_id.eq(type_id),
                        rules::authorizable_set_value.eq(&value),
                        rules::authorizable_model_id.eq(*model_id),
                        rules::rules.eq(&text),
                    ))
                    .execute(conn)?;
                counts.added += 1;
            }
        }
    }
    Ok(counts)
}
