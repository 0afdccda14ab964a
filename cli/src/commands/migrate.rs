//! `rowguard migrate [status|revert]`

use std::process::ExitCode;

use super::{outln, CommandResult};
use crate::context::Context;

/// Arguments of `migrate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Apply every pending migration (what `migrate` alone does).
    Run,
    /// List rowguard's migrations, applied or pending.
    Status {
        /// Print a JSON array of {"name", "applied"}.
        #[arg(long)]
        json: bool,
    },
    /// Revert the newest applied migration (reverting the first, the rule history's, the
    /// decision log's or the policies' drops what they hold, and needs --yes).
    Revert {
        /// Confirm reverting a migration that drops recorded data: rowguard's first (every
        /// rowguard table), the rule history's, the decision log's, the policies'.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs `migrate`.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    match args.action.unwrap_or(Action::Run) {
        Action::Run => {
            let (url, mut conn) = ctx.connect_creating()?;
            let applied = rowguard::run_pending_migrations(&mut conn)?;
            if applied.is_empty() {
                outln!("{} {url}: up to date, no migration applied", url.backend());
            } else {
                for name in &applied {
                    outln!("applied {name}");
                }
                outln!(
                    "{} {url}: {} migration(s) applied",
                    url.backend(),
                    applied.len()
                );
            }
        }
        Action::Status { json } => {
            let mut conn = ctx.connect()?;
            let status = rowguard::db::migration_status(&mut conn)?;
            if json {
                let list = status
                    .iter()
                    .map(|(name, applied)| serde_json::json!({"name": name, "applied": applied}))
                    .collect();
                super::print_json(&serde_json::Value::Array(list))?;
            } else {
                for (name, applied) in &status {
                    outln!("{}  {name}", if *applied { "applied" } else { "pending" });
                }
                let pending = status.iter().filter(|(_, a)| !a).count();
                outln!("{} migration(s), {pending} pending", status.len());
            }
        }
        Action::Revert { yes } => {
            let mut conn = ctx.connect()?;
            let status = rowguard::db::migration_status(&mut conn)?;
            let applied = status.iter().filter(|(_, a)| *a).count();
            let newest = status
                .iter()
                .rev()
                .find(|(_, a)| *a)
                .map(|(n, _)| n.as_str());
            if applied == 0 {
                return Err("no migration is applied: nothing to revert".into());
            }
            if newest.is_some_and(|n| n.ends_with("_rule_history")) && !yes {
                return Err("the newest migration is the rule history: reverting it drops authorization_history and every change recorded there; add --yes to do so".into());
            }
            if newest.is_some_and(|n| n.ends_with("_policies")) && !yes {
                return Err("the newest migration is the policies': reverting it drops authorization_policies and every policy stored there, and the models' ARN forms (run sync-models after migrating back up); add --yes to do so".into());
            }
            if newest.is_some_and(|n| n.ends_with("_decision_log")) && !yes {
                return Err("the newest migration is the decision log: reverting it drops authorization_decisions and every decision recorded there; add --yes to do so".into());
            }
            if applied == 1 && !yes {
                return Err("the newest migration is rowguard's first: reverting it drops every rowguard table and the rules, roles and jobs in them; add --yes to do so".into());
            }
            let name = rowguard::db::revert_last_migration(&mut conn)?
                .ok_or("no rowguard migration is applied: nothing to revert")?;
            outln!("reverted {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
