//! `cargo xtask`: rowguard's commands (the `rowguard_cli` library, exactly what the
//! `rowguard` binary runs) plus this repository's own: the demo and the test command. An
//! application's xtask embeds `rowguard_cli` the same way.

mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// rowguard's operator and developer commands.
#[derive(Parser)]
#[command(name = "xtask", version, about)]
struct Cli {
    #[command(flatten)]
    global: rowguard_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The demo: a contacts application on a fresh database, three subjects, their rights.
    Demo(commands::demo::Args),
    /// Run the whole test suite on every backend this machine can reach.
    Test(commands::test::Args),
    /// rowguard serve under a bounded load on loopback: latencies, and exact output delivery.
    LoadTest(commands::load_test::Args),
    /// The SQL = memory differential property test at scale (a million cases by default).
    Differential(commands::differential::Args),
    #[command(flatten)]
    Rowguard(rowguard_cli::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args, &cli.global),
        Command::Test(args) => commands::test::run(args),
        Command::LoadTest(args) => commands::load_test::run(args),
        Command::Differential(args) => commands::differential::run(args),
        Command::Rowguard(command) => rowguard_cli::run(command, &cli.global, Cli::command),
    };
    rowguard_cli::finish(result)
}
