//! `cargo xtask demo`: the contacts example (`examples/contacts`), on an empty database
//! given by `--database-url`/DATABASE_URL, or on a new SQLite file in a new temporary
//! directory.

use std::process::ExitCode;

use super::CommandResult;

#[path = "../../../examples/contacts/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../../../examples/contacts/demo.rs"]
mod contacts_demo;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The connection type the guard runs on: `native` (the backend's own Diesel
    /// connection, as most applications have) or `any` (rowguard's AnyConnection).
    #[arg(long, value_enum, default_value_t = ConnectionArg::Native)]
    connection: ConnectionArg,
}

/// `--connection`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ConnectionArg {
    /// SqliteConnection, PgConnection or MysqlConnection, after the URL.
    Native,
    /// rowguard::AnyConnection.
    Any,
}

/// Runs the demo.
/// The database is `--database-url`/DATABASE_URL, an empty one (the demo refuses a database
/// that holds any table), or by default a new SQLite file in a new temporary directory.
pub fn run(args: Args, global: &rowguard_cli::GlobalArgs) -> CommandResult {
    let url = match global.database_url.clone().filter(|u| !u.trim().is_empty()) {
        Some(u) => rowguard::DatabaseUrl::parse(&u)?,
        None => contacts_demo::fresh_default_url()?,
    };
    let connection = match args.connection {
        ConnectionArg::Native => contacts_demo::Connection::Native,
        ConnectionArg::Any => contacts_demo::Connection::Any,
    };
    contacts_demo::run(&url, connection, &mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}
