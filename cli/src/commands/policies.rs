//! `rowguard policies list|get|set|delete|check|explain|try`: the stored IAM-style policies,
//! by set type and value.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::guard::{PolicyDecision, PolicyReason};
use rowguard::policy::Policy;
use rowguard::store::{PolicyDefinition, PolicyRow};
use rowguard::{AnyConnection, Authorizer, Config};

use super::{outln, CommandResult};
use crate::context::{Context, SubjectSpec};
use crate::suggest;

/// Arguments of `policies`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: PoliciesCommand,
}

/// A policy's names: set type and set value.
#[derive(clap::Args, Debug)]
struct PolicyName {
    /// The set type (roles, groups, id, universal, or one of yours).
    #[arg(long)]
    set_type: String,
    /// The set value (a role's name, a group's, a user id, …).
    #[arg(long)]
    set_value: String,
}

impl PolicyName {
    fn label(&self) -> String {
        format!("policy {} \"{}\"", self.set_type, self.set_value)
    }
}

/// The question of `explain` / `try`.
#[derive(clap::Args, Debug)]
struct Question {
    #[command(flatten)]
    who: SubjectSpec,
    /// The action, service:Verb (no wildcard), e.g. server:Delete.
    #[arg(long)]
    action: String,
    /// The resource's ARN (no wildcard), e.g. arn:rowguard:default:local:123:server/1.
    #[arg(long)]
    resource: String,
}

#[derive(clap::Subcommand, Debug)]
enum PoliciesCommand {
    /// List the stored policies by set type and value.
    List {
        /// Print a JSON array of {"id", "set_type", "set_value", "policy"}.
        #[arg(long)]
        json: bool,
    },
    /// Print one policy's document.
    Get {
        #[command(flatten)]
        name: PolicyName,
    },
    /// Write one policy from FILE (or standard input, with - or no FILE): validated first
    /// (nothing is stored on error; the error names the statement and field).
    Set {
        #[command(flatten)]
        name: PolicyName,
        /// The JSON document; - or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Delete one policy.
    Delete {
        #[command(flatten)]
        name: PolicyName,
    },
    /// Validate every stored policy (a DBA's SQL may store a bad one: its subjects are then
    /// refused every policy check); exit 1 if any is bad.
    Check,
    /// Show the subject's statements, where each comes from, and the one that decides.
    Explain {
        #[command(flatten)]
        question: Question,
    },
    /// Whether the subject may do the action on the resource: prints allowed or denied (exit
    /// 0 either way); a wildcard in the action or resource is an error (exit 1).
    Try {
        #[command(flatten)]
        question: Question,
        /// Print {"allowed": true|false, "action", "resource", "decision": "...", "statement": {...}|null}.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `policies` subcommand.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    match args.command {
        PoliciesCommand::List { json } => list(ctx, json),
        PoliciesCommand::Get { name } => {
            let mut conn = ctx.connect()?;
            let row = find(&mut conn, &name)?;
            outln!("{}", pretty(&row.policy));
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Set { name, file } => set(ctx, name, file),
        PoliciesCommand::Delete { name } => {
            let mut conn = ctx.connect()?;
            find(&mut conn, &name)?;
            rowguard::store::delete_policy(&mut conn, &name.set_type, &name.set_value)?;
            outln!("deleted {}", name.label());
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Check => {
            let mut conn = ctx.connect()?;
            let bad = rowguard::store::invalid_policies(&mut conn)?;
            for b in &bad {
                outln!(
                    "#{} policy {} \"{}\": {}",
                    b.row.id,
                    b.row.set_type,
                    b.row.set_value,
                    b.error
                );
            }
            let all = rowguard::store::all_policies(&mut conn)?;
            for row in &all {
                if let Ok(policy) = Policy::parse(&row.policy) {
                    for warning in lint(&mut conn, &policy)? {
                        ctx.warn(format_args!(
                            "policy {} \"{}\": {warning}",
                            row.set_type, row.set_value
                        ));
                    }
                }
            }
            let count = all.len();
            if bad.is_empty() {
                outln!("{count} policy(ies) OK");
                Ok(ExitCode::SUCCESS)
            } else {
                outln!("{} of {count} policy(ies) invalid", bad.len());
                Ok(ExitCode::FAILURE)
            }
        }
        PoliciesCommand::Explain { question } => {
            let (decision, policy) = decide(ctx, &question)?;
            if policy.policy.statements().is_empty() && policy.broken.is_empty() {
                ctx.warn("no policy applies to this subject: every policy check is refused");
            }
            for (statement, origin) in policy.policy.statements().iter().zip(&policy.origins) {
                outln!(
                    "{origin}: {} {} on {}",
                    statement.effect(),
                    join(statement.actions().iter().map(|a| a.as_str())),
                    join(statement.resources().iter().map(|r| r.as_str()))
                );
            }
            for b in &policy.broken {
                outln!(
                    "policy {} \"{}\" is invalid: {}",
                    b.set_type,
                    b.set_value,
                    b.error
                );
            }
            outln!("{decision}");
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Try { question, json } => {
            let (decision, _) = decide(ctx, &question)?;
            if json {
                super::print_json(&decision_json(&decision))?;
            } else {
                outln!(
                    "{}",
                    if decision.allowed {
                        "allowed"
                    } else {
                        "denied"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// The decision and the subject's merged policy; the checks' errors (a wildcard, a
/// malformed ARN or action) come out as errors.
fn decide(
    ctx: &mut Context,
    question: &Question,
) -> Result<
    (
        PolicyDecision,
        std::sync::Arc<rowguard::guard::SubjectPolicy>,
    ),
    Box<dyn std::error::Error>,
> {
    let mut conn = ctx.connect()?;
    let auth = Authorizer::new(Config::load()?);
    let who = ctx.subject(&mut conn, &question.who)?;
    let decision = auth.policy_decision(
        &mut conn,
        &who,
        &question.action,
        question.resource.as_str(),
    )?;
    let policy = auth.policy(&mut conn, &who)?;
    Ok((decision, policy))
}

/// `try --json`: the answer, the sentence, and the deciding statement.
fn decision_json(decision: &PolicyDecision) -> serde_json::Value {
    let statement = match &decision.reason {
        PolicyReason::Denied(s) | PolicyReason::Allowed(s) => serde_json::json!({
            "set_type": s.set_type,
            "set_value": s.set_value,
            "index": s.index,
            "sid": s.sid,
        }),
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "allowed": decision.allowed,
        "action": decision.action,
        "resource": decision.resource.as_str(),
        "decision": decision.to_string(),
        "statement": statement,
    })
}

fn pretty(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

fn list(ctx: &mut Context, json: bool) -> CommandResult {
    let mut conn = ctx.connect()?;
    let rows = rowguard::store::all_policies(&mut conn)?;
    if json {
        let list = rows
            .iter()
            .map(|r| {
                let doc = serde_json::from_str::<serde_json::Value>(&r.policy)
                    .unwrap_or_else(|_| serde_json::Value::String(r.policy.clone()));
                serde_json::json!({"id": r.id, "set_type": r.set_type, "set_value": r.set_value, "policy": doc})
            })
            .collect();
        super::print_json(&serde_json::Value::Array(list))?;
    } else if rows.is_empty() {
        outln!("no policies stored");
    } else {
        for r in &rows {
            outln!(
                "#{:<4} {} \"{}\": {}",
                r.id,
                r.set_type,
                r.set_value,
                r.policy
            );
        }
        outln!("{} policy(ies)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored policy of `name`, or an error naming what matches nothing (closest name given).
fn find(
    conn: &mut AnyConnection,
    name: &PolicyName,
) -> Result<PolicyRow, Box<dyn std::error::Error>> {
    if let Some(row) = rowguard::store::get_policy(conn, &name.set_type, &name.set_value)? {
        return Ok(row);
    }
    let why = match unknown_set_type(conn, &name.set_type)? {
        Some(why) => why,
        None => {
            let rows = rowguard::store::all_policies(conn)?;
            let values = rows
                .iter()
                .filter(|r| r.set_type == name.set_type)
                .map(|r| r.set_value.as_str());
            format!("no such policy{}", suggest::hint(&name.set_value, values))
        }
    };
    Err(format!("{}: {why}", name.label()).into())
}

fn unknown_set_type(
    conn: &mut AnyConnection,
    set_type: &str,
) -> Result<Option<String>, rowguard::store::StoreError> {
    let set_types = rowguard::store::set_type_names(conn)?;
    Ok((!set_types.iter().any(|t| t == set_type)).then(|| {
        format!(
            "there is no set type named \"{set_type}\"{}",
            suggest::hint(set_type, set_types.iter().map(String::as_str))
        )
    }))
}

fn set(ctx: &mut Context, name: PolicyName, file: Option<PathBuf>) -> CommandResult {
    use std::io::IsTerminal;
    if file.is_none() && std::io::stdin().is_terminal() {
        return Err(format!(
            "{}: give the document as FILE, or - to read it from standard input",
            name.label()
        )
        .into());
    }
    let text = match file.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
    };
    // Validated before connecting: a typo is reported without touching the database.
    let policy =
        Policy::parse(&text).map_err(|e| format!("{}: {e}; nothing written", name.label()))?;
    let mut conn = ctx.connect()?;
    if let Some(why) = unknown_set_type(&mut conn, &name.set_type)? {
        return Err(format!("{}: {why}; nothing written", name.label()).into());
    }
    if name.set_type == "roles" {
        let graph = rowguard::rbac::load(&mut conn)?;
        if !graph.roles().is_empty() && !graph.roles().contains_key(&name.set_value) {
            ctx.warn(format_args!(
                "no role named \"{}\" exists{}; the policy applies only to subjects given that role by name",
                name.set_value,
                suggest::hint(&name.set_value, graph.roles().keys().map(String::as_str))
            ));
        }
    }
    for warning in lint(&mut conn, &policy)? {
        ctx.warn(format_args!("{}: {warning}", name.label()));
    }
    if policy.statements().is_empty() {
        ctx.warn(format_args!(
            "{}: no statement: it grants nothing",
            name.label()
        ));
    }
    ctx.stop_if_strict()?;
    // Compact text: what is stored is what `get` shows, whatever the file's layout (it
    // parsed, with no key given twice, so nothing is lost).
    let document: serde_json::Value = serde_json::from_str(&text)?;
    let definition = PolicyDefinition {
        set_type: name.set_type.clone(),
        set_value: name.set_value.clone(),
        document: document.to_string(),
    };
    let counts = rowguard::store::put_policies(&mut conn, &[definition])?;
    let verb = if counts.added > 0 {
        "added"
    } else if counts.changed > 0 {
        "changed"
    } else {
        "unchanged"
    };
    outln!(
        "{verb}: {} ({} statement(s))",
        name.label(),
        policy.statements().len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Standard input, up to one byte past the largest policy (which the parser then refuses
/// by name): a runaway pipe is not read into memory.
/// What in `policy` is aimed at a registered model but cannot work as written (see
/// [`RowModel::lint`](rowguard::policy::RowModel::lint)).
fn lint(
    conn: &mut AnyConnection,
    policy: &Policy,
) -> Result<Vec<String>, rowguard::store::StoreError> {
    let mut out = Vec::new();
    for model in rowguard::store::load_models(conn)?.into_iter().flatten() {
        let row_model = rowguard::policy::RowModel {
            name: &model.name,
            arn: &model.arn,
            columns: &model.columns,
            primary_key: &model.primary_key,
        };
        out.extend(row_model.lint(policy));
    }
    Ok(out)
}

fn read_stdin() -> Result<String, std::io::Error> {
    let mut text = String::new();
    let limit = rowguard::policy::MAX_POLICY_BYTES as u64 + 1;
    std::io::stdin().take(limit).read_to_string(&mut text)?;
    Ok(text)
}
