//! `rowguard policies list|get|set|delete|check|explain|try`: the stored IAM-style policies,
//! by set type and value.

mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::guard::{PolicyDecision, SubjectPolicy};
use rowguard::policy::Policy;
use rowguard::store::{PolicyDefinition, PolicyRow};
use rowguard::{AnyConnection, Authorizer, Config};

use super::{outln, CommandResult};
use crate::context::{Context, SubjectSpec};
use crate::suggest;

/// Arguments of `policies`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Act as the user of `rowguard login` against their server, instead of on the database.
    #[arg(long, global = true)]
    remote: bool,
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
    if args.remote {
        return remote::remote(args.command, ctx);
    }
    match args.command {
        PoliciesCommand::List { json } => list(ctx, json),
        PoliciesCommand::Get { name } => {
            let mut conn = ctx.connect()?;
            let row = find(&mut conn, &name)?;
            outln!("{}", super::safe_lines(&pretty(&row.policy)));
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
                    super::safe(&b.row.set_type),
                    super::safe(&b.row.set_value),
                    super::safe(&b.error)
                );
            }
            for (row, warning) in rowguard::store::stored_policy_problems(&mut conn)? {
                ctx.warn(format_args!(
                    "policy {} \"{}\": {}",
                    super::safe(&row.set_type),
                    super::safe(&row.set_value),
                    super::safe(&warning)
                ));
            }
            let count = rowguard::store::all_policies(&mut conn)?.len();
            check_summary(bad.len(), count)
        }
        PoliciesCommand::Explain { question } => {
            let (decision, policy) = decide(ctx, &question)?;
            outln!("{}", super::safe_lines(&policy.explain(&decision)));
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Try { question, json } => {
            let (decision, _) = decide(ctx, &question)?;
            print_decision(&decision.to_json(), json)
        }
    }
}

/// The last line of `check`, and its exit code: 1 when any policy is invalid.
fn check_summary(invalid: usize, count: usize) -> CommandResult {
    if invalid == 0 {
        outln!("{count} policy(ies) OK");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("{invalid} of {count} policy(ies) invalid");
        Ok(ExitCode::FAILURE)
    }
}

/// What `try` prints of a decision ([`PolicyDecision::to_json`]): the JSON, or a word.
fn print_decision(decision: &serde_json::Value, json: bool) -> CommandResult {
    if json {
        super::print_json(decision)?;
    } else if decision["allowed"] == true {
        outln!("allowed");
    } else {
        outln!("denied");
    }
    Ok(ExitCode::SUCCESS)
}

/// The decision and the subject's merged policy; the checks' errors (a wildcard, a
/// malformed ARN or action) come out as errors.
fn decide(
    ctx: &mut Context,
    question: &Question,
) -> Result<(PolicyDecision, std::sync::Arc<SubjectPolicy>), Box<dyn std::error::Error>> {
    let mut conn = ctx.connect()?;
    let config = Config::load()?;
    let auth = Authorizer::new(config.clone());
    let who = ctx.subject(&mut conn, &question.who)?;
    let graph = rowguard::rbac::load(&mut conn)?;
    // A command's start also asks its own permission, from the [jobs] settings (read only
    // then: a typo there is no error for other actions).
    let decision = if question.action.eq_ignore_ascii_case("jobs:Run") {
        let jobs = rowguard::jobs::JobsConfig::from_config(&config)?;
        jobs.try_decision(
            &auth,
            &mut conn,
            &who,
            &question.action,
            &question.resource,
            &graph,
        )?
    } else {
        auth.try_decision(
            &mut conn,
            &who,
            &question.action,
            &question.resource,
            &graph,
        )?
    };
    let policy = auth.policy(&mut conn, &who)?;
    Ok((decision, policy))
}

/// A valid policy laid out; an invalid one as it is stored (a JSON reader would drop a key
/// given twice, hiding what makes it invalid).
fn pretty(document: &str) -> String {
    if Policy::parse(document).is_err() {
        return document.to_owned();
    }
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
                let doc = match Policy::parse(&r.policy) {
                    Ok(_) => serde_json::from_str::<serde_json::Value>(&r.policy)
                        .unwrap_or_else(|_| serde_json::Value::String(r.policy.clone())),
                    Err(_) => serde_json::Value::String(r.policy.clone()),
                };
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
                super::safe(&r.set_type),
                super::safe(&r.set_value),
                super::safe(&r.policy)
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
    let why = match super::unknown_set_type(conn, &name.set_type)? {
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

fn set(ctx: &mut Context, name: PolicyName, file: Option<PathBuf>) -> CommandResult {
    let limit = Some(rowguard::policy::MAX_POLICY_BYTES);
    let text = super::read_document(&name.label(), file.as_deref(), limit)?;
    // Validated before connecting: a typo is reported without touching the database.
    let policy =
        Policy::parse(&text).map_err(|e| format!("{}: {e}; nothing written", name.label()))?;
    let mut conn = ctx.connect()?;
    if let Some(why) = super::unknown_set_type(&mut conn, &name.set_type)? {
        return Err(format!("{}: {why}; nothing written", name.label()).into());
    }
    super::warn_unknown_role(ctx, &mut conn, (&name.set_type, &name.set_value), "policy")?;
    for warning in rowguard::store::policy_problems(&mut conn, &policy)? {
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
