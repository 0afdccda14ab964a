//! `cargo xtask demo`: the contacts example (`examples/contacts`), run on DATABASE_URL.

use std::process::ExitCode;

use super::{CommandResult, DatabaseArgs};

#[path = "../../../examples/contacts/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../../../examples/contacts/demo.rs"]
mod contacts_demo;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseArgs,
}

/// Runs the demo.
pub fn run(args: Args) -> CommandResult {
    contacts_demo::run(&args.db.url()?, &mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}
