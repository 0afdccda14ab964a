//! The `rowguard` command, as a library: the `rowguard` binary is [`main`], and an
//! application's own xtask embeds every command in a few lines.
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//!
//! /// The application's xtask.
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     global: rowguard_cli::GlobalArgs,
//!     #[command(subcommand)]
//!     command: Command,
//! }
//!
//! #[derive(Subcommand)]
//! enum Command {
//!     /// rowguard's commands: migrate, sync-models, seed, rules, permissions, jobs, ….
//!     #[command(flatten)]
//!     Rowguard(rowguard_cli::Command),
//!     /// The application's own task.
//!     Deploy,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     match cli.command {
//!         Command::Rowguard(command) => {
//!             rowguard_cli::finish(rowguard_cli::run(command, &cli.global, <Cli as clap::CommandFactory>::command))
//!         }
//!         Command::Deploy => std::process::ExitCode::SUCCESS,
//!     }
//! }
//! ```
//!
//! Each command parses its arguments, calls the `rowguard` library and prints; the logic
//! lives in the library.

mod commands;
mod context;
mod remote;
mod suggest;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use self::commands::CommandResult;
pub use self::context::GlobalArgs;

/// The `rowguard` binary's arguments.
#[derive(Parser, Debug)]
#[command(
    name = "rowguard",
    version,
    about = "Row-level authorization for Diesel applications: migrations, models, seeds, rules, permissions and jobs"
)]
pub struct Cli {
    /// Options every command takes, before or after its name.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// rowguard's commands (embed with `#[command(flatten)]`).
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations (default), or show their status, or revert the last one.
    Migrate(commands::migrate::Args),
    /// Register the models declared with authorizable! in the source tree.
    SyncModels(commands::sync_models::Args),
    /// Load seed files (*.json) in one transaction, step by step.
    Seed(commands::seed::Args),
    /// Print the role × permission matrix (inheritance applied).
    Permissions(commands::permissions::Args),
    /// DBA tools: list, get, set, delete, check, explain, try and test the stored rules.
    Rules(commands::rules::Args),
    /// IAM-style policies: list, get, set, delete, check, explain and try.
    Policies(commands::policies::Args),
    /// Allow-listed commands as audited jobs: commands, run, list, output, kill, worker.
    Jobs(commands::jobs::Args),
    /// Serve the HTTP API (users, tokens, jobs, rules, permissions) until SIGINT/SIGTERM.
    Serve(commands::serve::Args),
    /// Users of the service: add, passwd, lock, unlock, roles, list.
    Users(commands::users::Args),
    /// Log in to a server; the token is kept in a file only you can read (for --remote).
    Login(commands::session::LoginArgs),
    /// Revoke the saved token on its server and remove the session file.
    Logout,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::Args),
}

/// Runs one command. `cli` builds the clap definition of the program that parsed it (for
/// `completions`: an application's xtask passes its own, so completions cover its commands).
pub fn run(command: Command, global: &GlobalArgs, cli: fn() -> clap::Command) -> CommandResult {
    let mut ctx = context::Context::new(global);
    // The rule history records who changed what through this command.
    let user = cli_user();
    let result = rowguard::store::acting_as(&user, || match command {
        Command::Migrate(args) => commands::migrate::run(args, &mut ctx),
        Command::SyncModels(args) => commands::sync_models::run(args, &mut ctx),
        Command::Seed(args) => commands::seed::run(args, &mut ctx),
        Command::Permissions(args) => commands::permissions::run(args, &mut ctx),
        Command::Rules(args) => commands::rules::run(args, &mut ctx),
        Command::Policies(args) => commands::policies::run(args, &mut ctx),
        Command::Jobs(args) => commands::jobs::run(args, &mut ctx),
        Command::Serve(args) => commands::serve::run(args, &mut ctx),
        Command::Users(args) => commands::users::run(args, &mut ctx),
        Command::Login(args) => commands::session::login(args),
        Command::Logout => commands::session::logout(),
        Command::Completions(args) => commands::completions::run(args, cli),
    })?;
    ctx.finish(result)
}

/// The application user of changes made with this program: `cli:` and the name of the
/// account running it (from the system's user database; `$USER` where it has none).
fn cli_user() -> String {
    let account = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    let name = account
        .or_else(|| {
            ["USER", "LOGNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{name}")
}

/// The `rowguard` binary: parses the process's arguments, runs, prints any error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    finish(run(cli.command, &cli.global, Cli::command))
}

/// Turns a command's result into the process's exit code, printing an error as one
/// `error: …` line (plus `caused by:` lines the message does not already show). A reader
/// that went away (`… | head`) is not an error.
pub fn finish(result: CommandResult) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
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
