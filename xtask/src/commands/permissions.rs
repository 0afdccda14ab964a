//! `cargo xtask permissions`

use std::process::ExitCode;

use super::{CommandResult, DatabaseArgs};

/// Arguments of `permissions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Show one role only.
    #[arg(long)]
    role: Option<String>,
}

/// Prints the role × permission matrix, inheritance applied.
pub fn run(args: Args) -> CommandResult {
    let mut conn = rowguard::establish(&args.db.url()?)?;
    let graph = rowguard::rbac::load(&mut conn)?;
    println!(
        "{}",
        rowguard::rbac::Matrix::new(&graph, args.role.as_deref())?
    );
    Ok(ExitCode::SUCCESS)
}
