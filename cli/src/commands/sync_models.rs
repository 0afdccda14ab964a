//! `rowguard sync-models`

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::sync::Change;

use super::{outln, CommandResult};
use crate::context::Context;

/// Arguments of `sync-models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to scan (repeatable; default: src and examples, those that exist).
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// Print the plan, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Skip (and report) Rust files that do not parse instead of stopping.
    #[arg(long)]
    keep_going: bool,
}

/// The directories to scan: those given, else `src` and `examples` where they exist.
pub(crate) fn source_dirs(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, String> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    let found: Vec<PathBuf> = ["src", "examples"]
        .map(PathBuf::from)
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if found.is_empty() {
        return Err(
            "no src or examples directory here: run in your crate's root, or give --path DIR"
                .into(),
        );
    }
    Ok(found)
}

/// Scans, plans and applies.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    let paths = source_dirs(args.paths)?;
    let mut scan = rowguard::sync::scan(&paths, args.keep_going)?;
    // An application's tree does not hold rowguard's source: its job model comes from here.
    rowguard::sync::add_rowguard_models(&mut scan.models);
    for skipped in &scan.skipped {
        ctx.warn(format_args!("skipped: {skipped}"));
    }
    for note in &scan.notes {
        // Informational: a joinable! between tables that are not both models is normal.
        eprintln!("note: {note}");
    }
    if !args.dry_run {
        ctx.stop_if_strict()?;
    }
    let mut conn = ctx.connect()?;
    let plan = rowguard::sync::sync(&mut conn, &scan.models, args.dry_run)?;
    for change in &plan {
        outln!("{change}");
    }
    let count = |f: fn(&Change) -> bool| plan.iter().filter(|c| f(c)).count();
    outln!(
        "{}{} added, {} changed, {} removed, {} unchanged",
        if args.dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        count(|c| matches!(c, Change::Added(_))),
        count(|c| matches!(c, Change::Changed(_))),
        count(|c| matches!(c, Change::Removed(_))),
        count(|c| matches!(c, Change::Unchanged(_))),
    );
    if plan.iter().any(Change::is_relation) {
        outln!(
            "relations: {} added, {} changed, {} removed, {} unchanged",
            count(|c| matches!(c, Change::RelationAdded(_))),
            count(|c| matches!(c, Change::RelationChanged(_))),
            count(|c| matches!(c, Change::RelationRemoved(_))),
            count(|c| matches!(c, Change::RelationUnchanged(_))),
        );
    }
    Ok(ExitCode::SUCCESS)
}
