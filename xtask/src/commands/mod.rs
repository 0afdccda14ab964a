//! One file per `cargo xtask` command.

pub mod demo;
pub mod jobs;
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

/// Who is asking: `--as TYPE=V1,V2` (repeatable) and `--attr KEY=VALUE` (repeatable).
#[derive(clap::Args, Debug)]
pub struct SubjectSpec {
    /// A set of the subject: TYPE=V1,V2 (repeatable), e.g. --as roles=agent,support.
    #[arg(long = "as", value_name = "TYPE=VALUES", global = true)]
    pub sets: Vec<String>,
    /// An attribute for $subject.NAME: KEY=VALUE (repeatable); jobs need `id`.
    #[arg(long = "attr", value_name = "KEY=VALUE", global = true)]
    pub attrs: Vec<String>,
}

impl SubjectSpec {
    /// The subject described.
    pub fn subject(&self) -> Result<rowguard::Subject, String> {
        let mut subject = rowguard::Subject::new();
        for set in &self.sets {
            let (set_type, values) = set
                .split_once('=')
                .ok_or_else(|| format!("--as {set}: expected TYPE=V1,V2"))?;
            subject.add_set(set_type, values.split(',').filter(|v| !v.is_empty()));
        }
        for attr in &self.attrs {
            let (key, value) = attr
                .split_once('=')
                .ok_or_else(|| format!("--attr {attr}: expected KEY=VALUE"))?;
            subject = subject.with_attribute(key, value);
        }
        Ok(subject)
    }
}
