//! `cargo xtask migrate`

use std::process::ExitCode;

use super::{CommandResult, DatabaseArgs};

/// Arguments of `migrate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseArgs,
}

/// Applies pending migrations and lists them.
pub fn run(args: Args) -> CommandResult {
    let url = args.db.url()?;
    let mut conn = rowguard::establish(&url)?;
    let applied = rowguard::run_pending_migrations(&mut conn)?;
    if applied.is_empty() {
        println!("{} {url}: up to date, no migration applied", url.backend());
    } else {
        for name in &applied {
            println!("applied {name}");
        }
        println!(
            "{} {url}: {} migration(s) applied",
            url.backend(),
            applied.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
