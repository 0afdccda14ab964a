//! `cargo xtask`: rowguard's operator commands. Each command parses its arguments, calls one
//! library function and prints the result; the logic lives in the `rowguard` crate.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// rowguard's operator and developer commands.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The demo: a contacts application on a fresh database, three subjects, their rights.
    Demo(commands::demo::Args),
    /// Allow-listed commands as audited jobs: commands, run, list, output, kill, worker.
    Jobs(commands::jobs::Args),
    /// Apply pending migrations to DATABASE_URL (default: rowguard.sqlite3).
    Migrate(commands::migrate::Args),
    /// Print the role × permission matrix (inheritance applied).
    Permissions(commands::permissions::Args),
    /// Load seeds/*.json in one transaction, step by step.
    Seed(commands::seed::Args),
    /// Register the models declared with authorizable! in the source tree.
    SyncModels(commands::sync_models::Args),
    /// DBA tools: check, explain and try the stored rules.
    Rules(commands::rules::Args),
    /// Run the whole test suite on every backend this machine can reach.
    Test(commands::test::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Jobs(args) => commands::jobs::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::Permissions(args) => commands::permissions::run(args),
        Command::Rules(args) => commands::rules::run(args),
        Command::Seed(args) => commands::seed::run(args),
        Command::SyncModels(args) => commands::sync_models::run(args),
        Command::Test(args) => commands::test::run(args),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`… | head`) is not an error of ours.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            // Causes the message does not already show (a driver's deserialization error
            // names the field but not the value, its source does).
            let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut shown = words(&e.to_string());
            let mut source = e.source();
            while let Some(cause) = source {
                let text = words(&cause.to_string());
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown.push(' ');
                    shown.push_str(&text);
                }
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
