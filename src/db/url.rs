//! Parsing `DATABASE_URL` into a backend and a connection target.

use std::fmt;

use super::DbError;

/// The three database backends rowguard speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (bundled, embedded): a file path or `:memory:`.
    Sqlite,
    /// PostgreSQL, through libpq.
    Postgres,
    /// MySQL or MariaDB, through libmysqlclient (cargo feature `mysql`).
    Mysql,
}

impl Backend {
    /// Every backend, in the order tests and tools report them.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// The human name used in messages (`SQLite`, `PostgreSQL`, `MySQL/MariaDB`).
    pub fn display_name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MySQL/MariaDB",
        }
    }

    /// Whether this build of rowguard can connect to the backend.
    pub fn is_compiled_in(self) -> bool {
        match self {
            Backend::Sqlite | Backend::Postgres => true,
            Backend::Mysql => cfg!(feature = "mysql"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A parsed `DATABASE_URL`: which backend, and the string its driver takes.
///
/// ```
/// use rowguard::{Backend, DatabaseUrl};
///
/// let url = DatabaseUrl::parse("postgres://app:secret@db.internal/app").unwrap();
/// assert_eq!(url.backend(), Backend::Postgres);
/// // Passwords never reach a message.
/// assert_eq!(url.redacted(), "postgres://app:***@db.internal/app");
///
/// assert_eq!(DatabaseUrl::parse("data/app.sqlite3").unwrap().backend(), Backend::Sqlite);
/// assert!(DatabaseUrl::parse("foo://bar").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver receives: a file path for SQLite, the URL otherwise.
    target: String,
}

/// The database used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "rowguard.sqlite3";

impl DatabaseUrl {
    /// Parses a URL: a path, `sqlite://path` or `sqlite:path` → SQLite; `postgres://` or
    /// `postgresql://` → PostgreSQL; `mysql://` or `mariadb://` → MySQL/MariaDB.
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DbError::EmptyUrl);
        }
        let Some((scheme, rest)) = raw.split_once("://").or_else(|| {
            raw.strip_prefix("sqlite:")
                .map(|rest| ("sqlite", rest))
                .filter(|_| !raw.starts_with("sqlite://"))
        }) else {
            return Ok(Self {
                backend: Backend::Sqlite,
                target: raw.to_owned(),
            });
        };
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" | "file" => {
                if rest.is_empty() {
                    return Err(DbError::MissingSqlitePath {
                        url: raw.to_owned(),
                    });
                }
                return Ok(Self {
                    backend: Backend::Sqlite,
                    target: rest.to_owned(),
                });
            }
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            _ => {
                return Err(DbError::UnknownScheme {
                    scheme: scheme.to_owned(),
                    url: redact(raw),
                })
            }
        };
        let parsed = url::Url::parse(raw).map_err(|e| DbError::MalformedUrl {
            backend,
            url: redact(raw),
            cause: e.to_string(),
        })?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(DbError::MalformedUrl {
                backend,
                url: redact(raw),
                cause: "no host".into(),
            });
        }
        let target = if backend == Backend::Mysql {
            // libmysqlclient's URL parser in diesel only knows the `mysql` scheme.
            format!("mysql://{rest}")
        } else {
            raw.to_owned()
        };
        Ok(Self { backend, target })
    }

    /// Reads `DATABASE_URL`, falling back to [`DEFAULT_DATABASE_URL`].
    pub fn from_env() -> Result<Self, DbError> {
        match std::env::var("DATABASE_URL") {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v),
            _ => Self::parse(DEFAULT_DATABASE_URL),
        }
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The string handed to the driver (for SQLite: the file path).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The URL with any password replaced by `***`, safe for logs and errors.
    pub fn redacted(&self) -> String {
        redact(&self.target)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("backend", &self.backend)
            .field("target", &self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of a `scheme://user:password@host` URL with `***`.
pub(crate) fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            // set_password only fails for URLs that cannot have one, excluded above.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_select_sqlite() {
        for (raw, target) in [
            ("rowguard.sqlite3", "rowguard.sqlite3"),
            ("/tmp/x.db", "/tmp/x.db"),
            ("sqlite:///tmp/x.db", "/tmp/x.db"),
            ("sqlite://rel.db", "rel.db"),
            ("sqlite:rel.db", "rel.db"),
            (":memory:", ":memory:"),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.backend(), Backend::Sqlite, "{raw}");
            assert_eq!(url.target(), target, "{raw}");
        }
    }

    #[test]
    fn server_schemes_select_their_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        let my = DatabaseUrl::parse("mariadb://root@127.0.0.1:3306/test").unwrap();
        assert_eq!(my.backend(), Backend::Mysql);
        assert_eq!(my.target(), "mysql://root@127.0.0.1:3306/test");
    }

    #[test]
    fn unknown_scheme_names_the_scheme() {
        let err = DatabaseUrl::parse("foo://bar").unwrap_err().to_string();
        assert!(err.contains("\"foo\""), "{err}");
        assert!(err.contains("postgres://"), "{err}");
    }

    #[test]
    fn empty_and_hostless_urls_are_rejected() {
        assert!(matches!(DatabaseUrl::parse("  "), Err(DbError::EmptyUrl)));
        let err = DatabaseUrl::parse("postgres:///db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no host"), "{err}");
        assert!(matches!(
            DatabaseUrl::parse("sqlite://"),
            Err(DbError::MissingSqlitePath { .. })
        ));
    }

    #[test]
    fn redaction_hides_only_the_password() {
        let url = DatabaseUrl::parse("mysql://root:hunter2@h:3306/d").unwrap();
        assert!(!format!("{url} {url:?}").contains("hunter2"));
        assert_eq!(url.redacted(), "mysql://root:***@h:3306/d");
    }
}
