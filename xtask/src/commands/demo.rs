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
    let given = global.database_url.clone().filter(|u| !u.trim().is_empty());
    let url = match &given {
        Some(u) => rowguard::DatabaseUrl::parse(u)?,
        None => contacts_demo::fresh_default_url()?,
    };
    let connection = match args.connection {
        ConnectionArg::Native => contacts_demo::Connection::Native,
        ConnectionArg::Any => contacts_demo::Connection::Any,
    };
    contacts_demo::run(&url, connection, &mut std::io::stdout())?;
    // The demo's own new directory holds its console settings too; a database given by the
    // user gets a new directory for them, so that no existing rowguard.toml is touched.
    let own_dir = given.is_none().then(|| url.sqlite_path()).flatten();
    console(&url, own_dir.as_deref().and_then(std::path::Path::parent))?;
    Ok(ExitCode::SUCCESS)
}

/// The RBAC roles and permission keys the service's pages need, and the job rules.
const SEEDS: [(&str, &str); 2] = [
    ("00_rbac.json", include_str!("../../../seeds/00_rbac.json")),
    (
        "20_jobs_rules.json",
        include_str!("../../../seeds/20_jobs_rules.json"),
    ),
];

/// The commands the console offers on the demo database.
const COMMANDS: &str = r#"# Written by `cargo xtask demo`: the commands the demo's console may run.
[jobs.commands.greet]
program = "echo"
args = ["hello,", "{name}"]
permission = "jobs.command.run"
params.name.pattern = "^[A-Za-z ]+$"

[jobs.commands.ticker]
program = "sh"
args = ["-c", "for i in $(seq 1 20); do echo tick $i; sleep 0.5; done"]
permission = "jobs.command.run"

[jobs.commands.stubborn]     # ignores SIGINT: a kill escalates to SIGTERM
program = "sh"
args = ["-c", "trap '' INT; echo ready; while true; do sleep 0.1; done"]
permission = "jobs.command.run"
"#;

/// Section 8: a console user on the demo database and how to open the console.
fn console(
    url: &rowguard::DatabaseUrl,
    own_dir: Option<&std::path::Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = rowguard::establish(url)?;
    let seeds = SEEDS
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    let seed = rowguard::seed::Seed::parse(seeds)?;
    rowguard::seed::apply(&mut conn, &seed, Default::default(), &mut |_| {})?;
    // A password for this database only, shown once here.
    let password = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let hashed = rowguard_server::users::NewPassword::new(&password)?;
    rowguard_server::users::add(&mut conn, "demo", &hashed, &["admin".to_owned()])?;
    let dir = match own_dir {
        Some(dir) => dir.to_path_buf(),
        None => {
            let dir = std::env::temp_dir().join(format!(
                "rowguard-demo-console-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir(&dir)?;
            dir
        }
    };
    let config = dir.join("rowguard.toml");
    // Never over an existing file.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config)
        .and_then(|mut f| std::io::Write::write_all(&mut f, COMMANDS.as_bytes()))?;
    let cargo = if url.backend() == rowguard::Backend::Mysql {
        "cargo run -p xtask --features mysql --"
    } else {
        "cargo xtask"
    };
    // The URL as given (with its password, if any: the user typed it), for copying.
    let target = url.target();
    println!(
        "\n8. The web console on this database: user \"demo\" (role admin, every permission) \
         is added with password {password}\n   \
         Start the service (its commands are in {config}):\n     \
         DATABASE_URL='{target}' ROWGUARD_CONFIG='{config}' {cargo} serve\n   \
         then open http://127.0.0.1:8080/console/ and log in as demo \
         (if port 8080 is taken, add --bind 127.0.0.1:PORT to serve and open that port).",
        config = config.display(),
    );
    Ok(())
}
