//! `rowguard permissions`

use std::process::ExitCode;

use super::{outln, CommandResult};
use crate::context::Context;

/// Arguments of `permissions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show one role only.
    #[arg(long)]
    role: Option<String>,
    /// Print {"role": ["permission", …]} (inheritance applied; "*" for every permission).
    #[arg(long)]
    json: bool,
}

/// Prints the role × permission matrix, inheritance applied.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    let mut conn = ctx.connect()?;
    let graph = rowguard::rbac::load(&mut conn)?;
    if graph.roles().is_empty() {
        ctx.warn("no roles are defined; load them with `rowguard seed`");
    }
    if args.json {
        let mut map = serde_json::Map::new();
        for role in graph.roles().keys() {
            if args.role.as_ref().is_some_and(|only| only != role) {
                continue;
            }
            let perms: Vec<serde_json::Value> = match graph.permissions_of(role) {
                Some(rowguard::rbac::Grants::All) => vec!["*".into()],
                Some(rowguard::rbac::Grants::Some(set)) => {
                    set.iter().map(|p| p.as_str().into()).collect()
                }
                None => Vec::new(),
            };
            map.insert(role.clone(), perms.into());
        }
        if let Some(only) = &args.role {
            if !map.contains_key(only) {
                return Err(rowguard::rbac::RbacError::UnknownRole(only.clone()).into());
            }
        }
        super::print_json(&serde_json::Value::Object(map))?;
    } else {
        outln!(
            "{}",
            rowguard::rbac::Matrix::new(&graph, args.role.as_deref())?
        );
    }
    Ok(ExitCode::SUCCESS)
}
