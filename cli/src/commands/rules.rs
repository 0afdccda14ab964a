//! `rowguard rules list|get|set|delete|check|explain|try|test`: DBA tools over the stored
//! rules, by name.

mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::rule_tests::RuleTestFile;
use rowguard::rules::{Right, Value};
use rowguard::store::{Recorded, RuleDefinition, RuleRow};
use rowguard::{AnyConnection, Authorizer, Config, Subject};

use super::{outln, CommandResult};
use crate::context::{Context, SubjectSpec};
use crate::suggest;

/// Arguments of `rules`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Act as the user of `rowguard login` against their server, instead of on the database
    /// (list, get, set, delete, check, explain, try, history, restore, decisions).
    #[arg(long, global = true)]
    remote: bool,
    #[command(subcommand)]
    command: RulesCommand,
}

/// A rule row's names: set type, set value, model.
#[derive(clap::Args, Debug)]
struct RuleName {
    /// The set type (roles, groups, id, universal, or one of yours).
    set_type: String,
    /// The set value (a role's name, a group's, a user id, …).
    set_value: String,
    /// The model's stored name.
    model: String,
}

impl RuleName {
    fn label(&self) -> String {
        format!(
            "rule {} \"{}\" on {}",
            self.set_type, self.set_value, self.model
        )
    }
}

#[derive(clap::Subcommand, Debug)]
enum RulesCommand {
    /// List the stored rules by name (optionally of one model).
    List {
        /// Only this model's rules.
        #[arg(long)]
        model: Option<String>,
        /// Print a JSON array of {"id", "set_type", "set_value", "model", "rules"}.
        #[arg(long)]
        json: bool,
    },
    /// Print one rule's document.
    Get {
        #[command(flatten)]
        name: RuleName,
    },
    /// Write one rule's document from FILE (or standard input, with - or no FILE):
    /// validated against the model first (nothing is stored on error), then explained.
    Set {
        #[command(flatten)]
        name: RuleName,
        /// The JSON document; - or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Delete one rule.
    Delete {
        #[command(flatten)]
        name: RuleName,
    },
    /// Validate every stored rule and model; list each bad row, each rule row whose model or
    /// set type is gone, each model whose stored definition is broken or differs from the
    /// code; warn about rules for roles that do not exist. Exit 1 if anything is bad.
    Check {
        /// Source directory declaring the models (repeatable; default: src and examples,
        /// those that exist).
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
    },
    /// Show the contributing rule rows, the merged rule and the SQL for a subject.
    Explain {
        #[command(flatten)]
        subject: SubjectArgs,
        /// create, read, update or delete.
        #[arg(long, default_value = "read")]
        action: String,
    },
    /// List the primary keys of the rows a subject may act on, ascending.
    Try {
        #[command(flatten)]
        subject: SubjectArgs,
        /// read, update or delete.
        #[arg(long, default_value = "read")]
        action: String,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
        /// With --json: each row as an object of the model's columns as the subject may see
        /// them (a column hidden by a column list is null), instead of its key.
        #[arg(long, requires = "json")]
        columns: bool,
    },
    /// The recorded changes of the rule tables (rule rows, policies, set types, models, relations,
    /// roles, permissions, grants, inheritance), newest first: when, the database user and,
    /// through rowguard, the application user, the row before and after. A DBA's SQL edits
    /// are recorded too (by triggers).
    History {
        /// Only the changes that concern this model (its rule rows, relations and own row).
        #[arg(long)]
        model: Option<String>,
        /// Only changes at or after this time: RFC 3339 (2026-12-01T08:00:00Z) or a date
        /// (2026-12-01, UTC).
        #[arg(long)]
        since: Option<String>,
        /// At most this many (1 to 100000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// Print a JSON array of the entries.
        #[arg(long)]
        json: bool,
    },
    /// The recorded decisions of guarded writes and explicit checks, newest first: when, the
    /// subject, the model, the right, the row's key, allowed or denied, why, and the rule
    /// rows that decided. Only what the configuration's [decision_log] records is there.
    Decisions {
        /// Only this model's decisions (and counts of decisions that could not be recorded).
        #[arg(long)]
        model: Option<String>,
        /// Only decisions at or after this time: RFC 3339 (2026-12-01T08:00:00Z) or a date
        /// (2026-12-01, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Only entries older than this id (the next page: the last id shown).
        #[arg(long)]
        before: Option<i64>,
        /// Only refusals (and counts of decisions that could not be recorded).
        #[arg(long)]
        denied: bool,
        /// At most this many (1 to 100000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
        /// Print a JSON array of the decisions.
        #[arg(long)]
        json: bool,
    },
    /// Put a rule row or a policy back as history entry ID recorded it (after an insert or
    /// update: the new version; of a delete: the deleted one), validated first; the restore
    /// is recorded as a change of its own.
    Restore {
        /// The history entry's id (from `rules history`).
        id: i64,
    },
    /// Run rule-test files (expected allow/deny decisions); exit 1 on any mismatch.
    Test {
        /// The files (JSON: {"tests": [{"subject", "model", "right", "row" | "key", "expect"}]}).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The subject and model of `explain` / `try`.
#[derive(clap::Args, Debug)]
struct SubjectArgs {
    /// The model's stored name.
    #[arg(long)]
    model: String,
    #[command(flatten)]
    who: SubjectSpec,
}

fn right(action: &str) -> Result<Right, String> {
    Right::from_key(action).ok_or_else(|| {
        format!("unknown action \"{action}\"; expected create, read, update or delete")
    })
}

fn authorizer() -> Result<Authorizer, rowguard::ConfigError> {
    Ok(Authorizer::new(Config::load()?))
}

/// Runs a `rules` subcommand.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    if args.remote {
        return remote::remote(args.command, ctx);
    }
    match args.command {
        RulesCommand::List { model, json } => list(ctx, model, json),
        RulesCommand::Get { name } => {
            let mut conn = ctx.connect()?;
            let row = find(&mut conn, &name)?;
            let pretty = serde_json::from_str::<serde_json::Value>(&row.rules)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(row.rules);
            outln!("{pretty}");
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Set { name, file } => set(ctx, name, file),
        RulesCommand::Delete { name } => {
            let mut conn = ctx.connect()?;
            find(&mut conn, &name)?;
            rowguard::store::delete_rule(&mut conn, &name.set_type, &name.set_value, &name.model)?;
            outln!("deleted {}", name.label());
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check { paths } => check(ctx, paths),
        RulesCommand::History {
            model,
            since,
            limit,
            json,
        } => {
            let mut conn = ctx.connect()?;
            let query = rowguard::store::HistoryQuery {
                model,
                since: since.as_deref().map(parse_since).transpose()?,
                limit: Some(limit as usize),
            };
            let entries = rowguard::store::history(&mut conn, &query)?;
            if entries.len() == limit as usize && !json {
                eprintln!("note: the newest {limit}; --limit shows more");
            }
            let names = rowguard::store::rule_names(&mut conn)?;
            let list: Vec<serde_json::Value> = entries.iter().map(|e| e.to_json(&names)).collect();
            print_history(&list, json)?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Decisions {
            model,
            since,
            before,
            denied,
            limit,
            json,
        } => {
            let mut conn = ctx.connect()?;
            if let Some(m) = &model {
                if let Some(why) = unknown_names(&mut conn, None, m)? {
                    ctx.warn(why);
                }
            }
            let query = rowguard::decisions::DecisionQuery {
                model,
                since: since.as_deref().map(parse_since).transpose()?,
                before,
                denied_only: denied,
                limit: Some(i64::from(limit)),
            };
            let entries = rowguard::decisions::decisions(&mut conn, &query)?;
            if entries.len() == limit as usize && !json {
                eprintln!("note: the newest {limit}; --limit or --before shows more");
            }
            let list: Vec<serde_json::Value> = entries.iter().map(|e| e.to_json()).collect();
            print_decisions(&list, json)
        }
        RulesCommand::Restore { id } => {
            let mut conn = ctx.connect()?;
            use rowguard::store::StoreError;
            let (restored, changed) = rowguard::store::restore(&mut conn, id).map_err(|e| {
                let whole: Box<dyn std::error::Error> = match e {
                    // Already say which entry.
                    StoreError::NoSuchHistoryEntry(_)
                    | StoreError::NotARuleEntry { .. }
                    | StoreError::NotRestorable { .. }
                    | StoreError::NoHistory(_) => e.into(),
                    e => format!("history entry {id} not restored: {e}; nothing written").into(),
                };
                whole
            })?;
            let (what, document) = match &restored {
                Recorded::Rule(r) => (
                    format!("rule {} \"{}\" on {}", r.set_type, r.set_value, r.model),
                    &r.rules,
                ),
                Recorded::Policy(p) => (p.label(), &p.document),
            };
            outln!("{}", restore_line(id, changed, &what, document));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Explain { subject, action } => {
            let right = right(&action)?;
            let mut conn = ctx.connect()?;
            let auth = authorizer()?;
            let who = ctx.subject(&mut conn, &subject.who)?;
            let explanation = auth.explain(&mut conn, &who, &subject.model, right)?;
            if !who.has_absolute_rights() {
                warn_about_access(ctx, &explanation.access);
            }
            outln!("{explanation}");
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Try {
            subject,
            action,
            json,
            columns,
        } => {
            let right = right(&action)?;
            if right == Right::Create {
                return Err("try lists existing rows: use read, update or delete".into());
            }
            let mut conn = ctx.connect()?;
            let auth = authorizer()?;
            let who = ctx.subject(&mut conn, &subject.who)?;
            let access = auth.access(&mut conn, &who, &subject.model)?;
            if who.has_absolute_rights() {
                eprintln!("note: the subject holds absolute rights: every row");
            } else {
                warn_about_access(ctx, &access);
            }
            let table_error = |e: rowguard::Error| match e {
                rowguard::Error::Db(_) => format!(
                    "model {} (table {}): {e}; the application's own migrations create its \
                     tables",
                    subject.model, access.model.table_name
                ),
                other => other.to_string(),
            };
            if columns {
                let rows = auth
                    .permitted_rows(&mut conn, &who, &subject.model, right)
                    .map_err(table_error)?;
                super::print_json(&serde_json::Value::Array(rows))?;
                return Ok(ExitCode::SUCCESS);
            }
            let keys = auth
                .permitted_keys(&mut conn, &who, &subject.model, right)
                .map_err(table_error)?;
            if json {
                let list: Vec<serde_json::Value> = keys.iter().map(key_json).collect();
                super::print_json(&serde_json::Value::Array(list))?;
            } else if keys.is_empty() {
                outln!("no {} row may be {}", subject.model, past(right));
            } else {
                for key in keys {
                    match key {
                        Value::Text(t) => outln!("{t}"),
                        other => outln!("{other}"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test { files } => test(ctx, files),
    }
}

fn past(right: Right) -> &'static str {
    match right {
        Right::Create => "created",
        Right::Read => "read",
        Right::Update => "updated",
        Right::Delete => "deleted",
    }
}

/// Warns when no rule row applies or an applying row is invalid (it grants nothing, or
/// refuses everything when it may hold a deny).
fn warn_about_access(ctx: &mut Context, access: &rowguard::ModelAccess) {
    if access.rows.is_empty() && access.policy_rows.is_empty() {
        ctx.warn(format_args!(
            "no rule row or policy statement of model {} applies to this subject: nothing is granted",
            access.model.name
        ));
    }
    for broken in &access.broken_policies {
        let effect = if broken.refuses {
            "refuses everything (it may hold a Deny)"
        } else {
            "grants nothing"
        };
        ctx.warn(format_args!(
            "policy {} \"{}\" is invalid and {effect}: {}",
            broken.set_type, broken.set_value, broken.error
        ));
    }
    for (row, compiled) in &access.rows {
        if let Err(e) = compiled {
            let effect = if rowguard::rules::may_deny(&row.rules) {
                "refuses everything (it may hold a deny)"
            } else {
                "grants nothing"
            };
            ctx.warn(format_args!(
                "rule {} \"{}\" on {} is invalid and {effect}: {e}",
                row.set_type, row.set_value, row.model
            ));
        }
    }
}

/// What `rules restore` prints, of the database or of a server.
fn restore_line(id: i64, changed: bool, what: &str, document: &str) -> String {
    let result = if changed {
        "restored"
    } else {
        "unchanged: already"
    };
    format!(
        "{result} {} as history entry {id} recorded it: {}",
        super::safe(what),
        super::safe(document)
    )
}

/// `--since`: RFC 3339, or a date (midnight UTC).
fn parse_since(text: &str) -> Result<chrono::NaiveDateTime, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            format!("--since \"{text}\": expected a time such as 2026-12-01T08:00:00Z or a date such as 2026-12-01")
        })
}

/// Prints history entries (as [`rowguard::store::HistoryEntry::to_json`] shapes them, from
/// the database or a server): one line each, then what changed.
fn print_history(entries: &[serde_json::Value], json: bool) -> CommandResult {
    if json {
        super::print_json(&serde_json::Value::Array(entries.to_vec()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        outln!("no recorded changes");
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    for e in entries {
        let what = match (e.get("rule"), e.get("policy")) {
            (Some(r), _) => format!(
                "rule {} \"{}\" on {}",
                text(&r["set_type"]).unwrap_or_default(),
                text(&r["set_value"]).unwrap_or_default(),
                text(&r["model"]).unwrap_or_default()
            ),
            (None, Some(p)) => format!(
                "policy {} \"{}\"",
                text(&p["set_type"]).unwrap_or_default(),
                text(&p["set_value"]).unwrap_or_default()
            ),
            _ => format!(
                "{} {}",
                text(&e["table"]).unwrap_or_default(),
                text(&e["key"]).unwrap_or_default()
            ),
        };
        // No application user: not through rowguard (a DBA's SQL, say).
        let app = text(&e["app_user"]).map_or("direct SQL".to_owned(), |u| format!("app {u}"));
        let who: Vec<String> = [text(&e["db_user"]).map(|u| format!("db {u}")), Some(app)]
            .into_iter()
            .flatten()
            .collect();
        // Recorded rows hold anyone's text (a set value, a name): shown escaped.
        outln!(
            "#{:<5} {}  {:<6} {}  by {}",
            e["id"],
            text(&e["changed_at"]).unwrap_or_default(),
            text(&e["operation"]).unwrap_or_default(),
            super::safe(&what),
            super::safe(&who.join(", "))
        );
        // A rule row: its document before and after; other rows: the whole row.
        let shown = |row: &serde_json::Value| match (e.get("rule"), e.get("policy")) {
            (Some(_), _) => row["rules"].to_string(),
            (None, Some(_)) => row["policy"].to_string(),
            _ => row.to_string(),
        };
        for (label, row) in [("before", &e["before"]), ("after", &e["after"])] {
            if !row.is_null() {
                outln!("       {label}: {}", super::safe(&shown(row)));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints decisions (as [`rowguard::decisions::DecisionEntry::to_json`] shapes them, from
/// the database or a server): one line each, then why and the deciding rule rows.
fn print_decisions(entries: &[serde_json::Value], json: bool) -> CommandResult {
    if json {
        super::print_json(&serde_json::Value::Array(entries.to_vec()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        outln!("no recorded decisions (the log records what [decision_log] turns on)");
    }
    // Stored text may come from anyone (a row key, an attribute): shown escaped, so that it
    // cannot forge a line or send the terminal control codes.
    let text = |v: &serde_json::Value| super::safe(v.as_str().unwrap_or_default());
    for e in entries {
        if e["decision"] == "lost" {
            outln!(
                "#{:<5} {}  lost    {}",
                e["id"],
                text(&e["decided_at"]),
                text(&e["reason"])
            );
            continue;
        }
        let key = match &e["row_key"] {
            serde_json::Value::String(k) => format!(" {}", super::safe(k)),
            _ => String::new(),
        };
        let count = match e["count"].as_i64() {
            Some(1) | None => String::new(),
            Some(n) => format!(" ({n} rows)"),
        };
        let sampled = match e["sampled"].as_f64() {
            Some(s) if s < 1.0 => format!(" (sampled {s})"),
            _ => String::new(),
        };
        outln!(
            "#{:<5} {}  {:<7} {} {} {}{key}{count}{sampled}  as {}",
            e["id"],
            text(&e["decided_at"]),
            text(&e["decision"]),
            text(&e["kind"]),
            text(&e["action"]),
            text(&e["model"]),
            super::safe(&e["subject"].to_string())
        );
        let rules: Vec<String> = e["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let (set_type, set_value) = (text(&r["set_type"]), text(&r["set_value"]));
                let effect = text(&r["effect"]);
                match (r.get("id"), r.get("statement")) {
                    (Some(id), _) => format!("#{id} {set_type} \"{set_value}\" ({effect})"),
                    (None, Some(serde_json::Value::Null)) => {
                        format!("policy {set_type} \"{set_value}\" ({effect})")
                    }
                    (None, statement) => {
                        let sid = match r["sid"].as_str() {
                            Some(sid) => format!(" ({})", super::safe(sid)),
                            None => String::new(),
                        };
                        format!(
                            "statement {}{sid} of policy {set_type} \"{set_value}\" ({effect})",
                            statement.cloned().unwrap_or_default()
                        )
                    }
                }
            })
            .collect();
        outln!("       {}", text(&e["reason"]));
        if !rules.is_empty() {
            outln!("       rules: {}", rules.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &mut Context, model: Option<String>, json: bool) -> CommandResult {
    let mut conn = ctx.connect()?;
    let rows: Vec<RuleRow> = rowguard::store::all_rules(&mut conn)?
        .into_iter()
        .filter(|r| model.as_ref().is_none_or(|m| *m == r.model))
        .collect();
    if let Some(m) = &model {
        if let Some(why) = unknown_names(&mut conn, None, m)? {
            ctx.warn(why);
        }
    }
    if json {
        let list = rows
            .iter()
            .map(|r| {
                let doc = serde_json::from_str::<serde_json::Value>(&r.rules)
                    .unwrap_or_else(|_| serde_json::Value::String(r.rules.clone()));
                serde_json::json!({"id": r.id, "set_type": r.set_type, "set_value": r.set_value, "model": r.model, "rules": doc})
            })
            .collect();
        super::print_json(&serde_json::Value::Array(list))?;
    } else if rows.is_empty() {
        outln!("no rules stored");
    } else {
        for r in &rows {
            outln!(
                "#{:<4} {} \"{}\" on {}: {}",
                r.id,
                super::safe(&r.set_type),
                super::safe(&r.set_value),
                super::safe(&r.model),
                super::safe(&r.rules)
            );
        }
        outln!("{} rule(s)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn model_names(conn: &mut AnyConnection) -> Result<Vec<String>, rowguard::store::StoreError> {
    Ok(rowguard::store::load_models(conn)?
        .into_iter()
        .map(|m| match m {
            Ok(m) => m.name.clone(),
            Err(b) => b.name,
        })
        .collect())
}

/// Why a set type (when given) or a model names nothing stored, with the closest existing
/// name; `None` when both exist.
fn unknown_names(
    conn: &mut AnyConnection,
    set_type: Option<&str>,
    model: &str,
) -> Result<Option<String>, rowguard::store::StoreError> {
    if let Some(set_type) = set_type {
        if let Some(why) = super::unknown_set_type(conn, set_type)? {
            return Ok(Some(why));
        }
    }
    let models = model_names(conn)?;
    if !models.iter().any(|m| m == model) {
        return Ok(Some(format!(
            "there is no model named \"{model}\"{} (models are registered by sync-models)",
            suggest::hint(model, models.iter().map(String::as_str))
        )));
    }
    Ok(None)
}

/// The stored row of `name`, or an error naming what matches nothing (closest name given).
fn find(conn: &mut AnyConnection, name: &RuleName) -> Result<RuleRow, Box<dyn std::error::Error>> {
    let rows = rowguard::store::all_rules(conn)?;
    if let Some(row) = rows.iter().find(|r| {
        r.set_type == name.set_type && r.set_value == name.set_value && r.model == name.model
    }) {
        return Ok(row.clone());
    }
    let why = match unknown_names(conn, Some(&name.set_type), &name.model)? {
        Some(why) => why,
        None => {
            let values = rows
                .iter()
                .filter(|r| r.set_type == name.set_type && r.model == name.model)
                .map(|r| r.set_value.as_str());
            format!("no such rule{}", suggest::hint(&name.set_value, values))
        }
    };
    Err(format!("{}: {why}", name.label()).into())
}

fn set(ctx: &mut Context, name: RuleName, file: Option<PathBuf>) -> CommandResult {
    let text = super::read_document(&name.label(), file.as_deref(), None)?;
    let document: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: the document is not JSON: {e}", name.label()))?;
    let mut conn = ctx.connect()?;
    if let Some(why) = unknown_names(&mut conn, Some(&name.set_type), &name.model)? {
        return Err(format!("{}: {why}; nothing written", name.label()).into());
    }
    super::warn_unknown_role(ctx, &mut conn, (&name.set_type, &name.set_value), "rule")?;
    // A column list that fails closed at run time is valid, so it is stored, but said
    // (and under --strict, refused).
    for problem in
        rowguard::store::document_column_problems(&mut conn, &name.model, &document.to_string())?
    {
        ctx.warn(format_args!("{}: {problem}", name.label()));
    }
    ctx.stop_if_strict()?;
    // Compact text: what is stored is what `get` shows, whatever the file's layout.
    let definition = RuleDefinition {
        set_type: name.set_type.clone(),
        set_value: name.set_value.clone(),
        model: name.model.clone(),
        document: document.to_string(),
    };
    let counts = rowguard::store::put_rules(&mut conn, &[definition])?;
    let verb = if counts.added > 0 {
        "added"
    } else if counts.changed > 0 {
        "changed"
    } else {
        "unchanged"
    };
    outln!("{verb}: {}", name.label());
    let auth = authorizer()?;
    let subject = Subject::new().with_set(name.set_type.as_str(), [name.set_value.as_str()]);
    let denies = document.get("deny");
    for right in Right::ALL {
        let denied = denies.and_then(|d| d.get(right.key())).is_some();
        if document.get(right.key()).is_some() || denied {
            outln!();
            let explained = match auth.explain(&mut conn, &subject, &name.model, right) {
                Ok(explained) => explained,
                // Stored all the same: say why it cannot be shown (a table not created yet).
                Err(e) => {
                    ctx.warn(format_args!(
                        "{}: stored, but not explained: {e}",
                        name.label()
                    ));
                    continue;
                }
            };
            if explained.access.cut {
                ctx.warn(format_args!(
                    "{}: the {right} rule reaches through relations into a cycle (read rules \
                     that need each other); the cycle is cut and grants nothing beyond it",
                    name.label()
                ));
            }
            {
                use std::io::Write as _;
                write!(std::io::stdout().lock(), "{explained}")?;
            }
            outln!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(ctx: &mut Context, paths: Vec<PathBuf>) -> CommandResult {
    let mut conn = ctx.connect()?;
    let mut models = model_problems(&mut conn, paths)?;
    let (_, broken_relations) = rowguard::store::load_schema(&mut conn)?;
    models.extend(broken_relations.iter().map(|b| {
        format!(
            "relation {}.{}: {}; rules that use it grant nothing",
            b.model, b.name, b.error
        )
    }));
    for problem in &models {
        outln!("{problem}");
    }
    for cycle in rowguard::store::relation_cycles(&mut conn)? {
        ctx.warn(format_args!(
            "read rules reach each other through relations: {cycle}; protection cuts the chain \
             at depth {} and grants nothing beyond it",
            rowguard::rules::MAX_PROTECTED_DEPTH
        ));
    }
    let mut bad = rowguard::store::invalid_rules(&mut conn)?;
    // Column lists that fail closed at run time count as invalid: they cannot work as written.
    bad.extend(
        rowguard::store::column_problems(&mut conn)?
            .into_iter()
            .map(|p| rowguard::store::InvalidRule {
                row: p.row,
                error: p.problem,
            }),
    );
    let orphans = rowguard::store::orphan_rules(&mut conn)?;
    let rules = rowguard::store::all_rules(&mut conn)?;
    for b in &bad {
        let refuses = if rowguard::rules::may_deny(&b.row.rules) {
            " (until fixed it refuses everything on the model to those it applies to: it may hold a deny)"
        } else {
            ""
        };
        outln!(
            "rule {} ({} \"{}\", model {}): {}{refuses}",
            b.row.id,
            super::safe(&b.row.set_type),
            super::safe(&b.row.set_value),
            super::safe(&b.row.model),
            super::safe(&b.error)
        );
    }
    for o in &orphans {
        outln!(
            "rule {} (value \"{}\"): its {} no longer exists, so it never applies; delete it: DELETE FROM authorization_rules WHERE id = {}",
            o.id, super::safe(&o.set_value), o.missing, o.id
        );
    }
    let graph = rowguard::rbac::load(&mut conn)?;
    let universal = Config::load()?.universal_role;
    for r in &rules {
        if r.set_type == "roles"
            && !graph.roles().is_empty()
            && !graph.roles().contains_key(&r.set_value)
        {
            ctx.warn(format_args!(
                "rule {} (roles \"{}\", model {}): no role \"{}\" exists{}",
                r.id,
                r.set_value,
                r.model,
                r.set_value,
                suggest::hint(&r.set_value, graph.roles().keys().map(String::as_str))
            ));
        }
        if r.set_type == "universal" && r.set_value != universal {
            ctx.warn(format_args!(
                "rule {} (universal \"{}\", model {}): the universal role is \"{universal}\", so this rule never applies",
                r.id, r.set_value, r.model
            ));
        }
    }
    // Policies decide rows too: a broken one refuses or grants nothing, so it is a problem
    // of the rules' check as well (`policies check` has the details).
    let bad_policies = rowguard::store::invalid_policies(&mut conn)?;
    for b in &bad_policies {
        outln!(
            "policy {} ({} \"{}\"): {}; see rowguard policies check",
            b.row.id,
            super::safe(&b.row.set_type),
            super::safe(&b.row.set_value),
            super::safe(&b.error)
        );
    }
    outln!(
        "{} rule(s) checked, {} invalid, {} orphaned; {} model problem(s)",
        rules.len() + orphans.len(),
        bad.len(),
        orphans.len(),
        models.len()
    );
    if !bad_policies.is_empty() {
        outln!("{} invalid policy(ies)", bad_policies.len());
    }
    Ok(
        if bad.is_empty() && orphans.is_empty() && models.is_empty() && bad_policies.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// Models that fail closed at run time: a broken stored definition, or one that differs from
/// the models declared in the source (a guard call then refuses with `ModelMismatch`).
fn model_problems(
    conn: &mut AnyConnection,
    paths: Vec<PathBuf>,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut problems = Vec::new();
    let mut stored = std::collections::HashMap::new();
    for model in rowguard::store::load_models(conn)? {
        match model {
            Ok(m) => {
                stored.insert(m.name.clone(), m);
            }
            Err(broken) => problems.push(format!(
                "model {}: its stored columns are invalid, so it fails closed: {}",
                broken.name, broken.error
            )),
        }
    }
    let Ok(paths) = super::sync_models::source_dirs(paths) else {
        eprintln!("notice: no source directory to compare the stored models with");
        return Ok(problems);
    };
    let scan = rowguard::sync::scan(&paths, true)?;
    let (relations, _) = rowguard::store::load_relations(conn)?;
    for (name, found) in &scan.models {
        // Relations as stored against those the code declares (a DBA's edit of a kind or a
        // column would otherwise change what rules and the target check mean, unnoticed).
        let stored_relations: Vec<&rowguard::rules::Relation> = relations
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(_, r)| r)
            .collect();
        for declared in &found.relations {
            match stored_relations.iter().find(|r| r.name == declared.name) {
                None if stored.contains_key(name) => problems.push(format!(
                    "model {name}: relation {} is declared in the code but not stored; run sync-models",
                    declared.name
                )),
                Some(r) if *r != declared => {
                    let check = |r: &rowguard::rules::Relation| {
                        r.check.map_or("none".to_owned(), |c| c.to_string())
                    };
                    problems.push(format!(
                        "model {name}: relation {} is stored as {r}, check {}; the code declares {declared}, check {}; run sync-models",
                        declared.name,
                        check(r),
                        check(declared)
                    ))
                }
                _ => {}
            }
        }
        for r in &stored_relations {
            if !found.relations.iter().any(|d| d.name == r.name) {
                problems.push(format!(
                    "model {name}: relation {} is stored but no longer declared; run sync-models",
                    r.name
                ));
            }
        }
        let Some(model) = stored.get(name) else {
            problems.push(format!(
                "model {name}: declared in the code but not registered; run sync-models"
            ));
            continue;
        };
        let differences =
            model.differences(&found.table, &found.primary_key, &found.columns, &found.arn);
        if !differences.is_empty() {
            problems.push(format!(
                "model {name}: the stored definition differs from the code, so it fails closed ({}); run sync-models",
                differences.join("; ")
            ));
        }
    }
    Ok(problems)
}

fn test(ctx: &mut Context, files: Vec<PathBuf>) -> CommandResult {
    let mut conn = ctx.connect()?;
    let auth = authorizer()?;
    let (mut passed, mut failed) = (0, 0);
    for path in &files {
        let file = RuleTestFile::read(path)?;
        for outcome in file.run(&auth, &mut conn) {
            if outcome.passed() {
                passed += 1;
                outln!("ok    {}: {}", path.display(), outcome.label);
                continue;
            }
            failed += 1;
            outln!("FAIL  {}: {}", path.display(), outcome.label);
            outln!("      - expected: {}", outcome.expected);
            match &outcome.actual {
                Ok(actual) => outln!("      + actual:   {actual}"),
                Err(e) => outln!("      + error:    {e}"),
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A primary key as JSON: numbers as numbers, text as the text itself (a `Value`'s
/// `Display` is SQL, with quotes doubled).
fn key_json(key: &Value) -> serde_json::Value {
    match key {
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Text(t) | Value::Uuid(t) => serde_json::Value::from(t.as_str()),
        other => serde_json::Value::from(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_as_json_values_not_sql() {
        assert_eq!(key_json(&Value::Int(-7)), serde_json::json!(-7));
        assert_eq!(
            key_json(&Value::Text("O'Brien".into())),
            serde_json::json!("O'Brien")
        );
        assert_eq!(
            serde_json::Value::Array(vec![key_json(&Value::Text("a\"b".into()))]).to_string(),
            r#"["a\"b"]"#
        );
    }
}
