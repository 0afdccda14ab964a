//! `cargo xtask sync-models`

use std::path::PathBuf;
use std::process::ExitCode;

use super::{CommandResult, DatabaseArgs};

/// Arguments of `sync-models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Directory to scan (repeatable; default: src and examples).
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// Print the plan, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Skip (and report) Rust files that do not parse instead of stopping.
    #[arg(long)]
    keep_going: bool,
}

/// Scans, plans and applies.
pub fn run(args: Args) -> CommandResult {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("src"), PathBuf::from("examples")]
    } else {
        args.paths
    };
    let scan = rowguard::sync::scan(&paths, args.keep_going)?;
    for skipped in &scan.skipped {
        eprintln!("skipped: {skipped}");
    }
    let mut conn = rowguard::establish(&args.db.url()?)?;
    let plan = rowguard::sync::sync(&mut conn, &scan.models, args.dry_run)?;
    for change in &plan {
        println!("{change}");
    }
    let count = |f: fn(&rowguard::sync::Change) -> bool| plan.iter().filter(|c| f(c)).count();
    use rowguard::sync::Change;
    println!(
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
    Ok(ExitCode::SUCCESS)
}
