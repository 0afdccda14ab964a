//! One file per `cargo xtask` command.

pub mod demo;
pub mod migrate;
pub mod permissions;
pub mod rules;
pub mod seed;
pub mod sync_models;
pub mod test;

/// The error every command returns: printed as one `error: …` line.
pub type CommandResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;

/// The database the command works on: `--database-url`, else `DATABASE_URL`, else the default.
#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// Database URL: a SQLite path or sqlite://PATH, postgres://…, mysql://…
    #[arg(long, env = "DATABASE_URL", default_value = rowguard::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

impl DatabaseArgs {
    /// Parses the URL.
    pub fn url(&self) -> Result<rowguard::DatabaseUrl, rowguard::DbError> {
        rowguard::DatabaseUrl::parse(&self.database_url)
    }
}
