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

    /// An example URL, for messages.
    pub fn example_url(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite://app.sqlite3",
            Backend::Postgres => "postgres://user@host/app",
            Backend::Mysql => "mysql://user@host/app",
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
        let parsed = url::Url::parse(raw).map_err(|source| DbError::MalformedUrl {
            backend,
            url: redact(raw),
            source,
        })?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(DbError::NoHost {
                backend,
                url: redact(raw),
            });
        }
        // Without a database name the driver picks one (PostgreSQL: the user's, often the
        // `postgres` maintenance database): rowguard's tables would land there.
        let names_database = !parsed.path().trim_matches('/').is_empty()
            || parsed
                .query_pairs()
                .any(|(k, v)| k == "dbname" && !v.is_empty());
        if !names_database {
            return Err(DbError::NoDatabaseName {
                backend,
                url: redact(raw),
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

    /// For SQLite, the file the connection opens: the target itself, or the path of a
    /// `file:` URI (which SQLite also accepts), without its `?query`. `None` for an in-memory
    /// database and for the servers.
    ///
    /// ```
    /// use rowguard::DatabaseUrl;
    /// let path = |u: &str| DatabaseUrl::parse(u).unwrap().sqlite_path();
    /// assert_eq!(path("data/app.db"), Some("data/app.db".into()));
    /// assert_eq!(path("file:/srv/app.db?mode=rw"), Some("/srv/app.db".into()));
    /// assert_eq!(path("file:///srv/app.db"), Some("/srv/app.db".into()));
    /// assert_eq!(path(":memory:"), None);
    /// assert_eq!(path("file::memory:?cache=shared"), None);
    /// assert_eq!(path("postgres://h/db"), None);
    /// ```
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        if self.backend != Backend::Sqlite || self.target == ":memory:" {
            return None;
        }
        let Some(uri) = self.target.strip_prefix("file:") else {
            return Some(self.target.clone().into());
        };
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let path = path.split('#').next().unwrap_or_default();
        // `file://host/path`: only an empty host or localhost is valid.
        let path = match path.strip_prefix("//") {
            Some(rest) => rest
                .strip_prefix("localhost")
                .unwrap_or(rest)
                .get(rest.find('/').unwrap_or(rest.len())..)
                .unwrap_or_default(),
            None => path,
        };
        let memory =
            path == ":memory:" || path.is_empty() || query.split('&').any(|p| p == "mode=memory");
        (!memory).then(|| percent_decode(path).into())
    }

    /// Whether the database lives only as long as its connection (SQLite `:memory:`,
    /// `sqlite::memory:`, `file::memory:`, `mode=memory`): a command that must leave
    /// something behind refuses it.
    ///
    /// ```
    /// use rowguard::DatabaseUrl;
    /// let memory = |u: &str| DatabaseUrl::parse(u).unwrap().is_in_memory();
    /// assert!(memory(":memory:") && memory("sqlite::memory:") && memory("file:x?mode=memory"));
    /// assert!(!memory("app.db") && !memory("postgres://h/db"));
    /// ```
    pub fn is_in_memory(&self) -> bool {
        self.backend == Backend::Sqlite && self.sqlite_path().is_none()
    }

    /// For the servers, the host and port a connection goes to (the backend's default port
    /// when the URL names none); `None` for SQLite.
    ///
    /// ```
    /// use rowguard::DatabaseUrl;
    /// let at = |u: &str| DatabaseUrl::parse(u).unwrap().server_address();
    /// assert_eq!(at("postgres://app@db.internal/app"), Some(("db.internal".into(), 5432)));
    /// assert_eq!(at("mariadb://root@127.0.0.1:3307/test"), Some(("127.0.0.1".into(), 3307)));
    /// assert_eq!(at("data/app.sqlite3"), None);
    /// ```
    pub fn server_address(&self) -> Option<(String, u16)> {
        let default_port = match self.backend {
            Backend::Sqlite => return None,
            Backend::Postgres => 5432,
            Backend::Mysql => 3306,
        };
        // `parse` accepted this URL only after `url::Url` did.
        let parsed = url::Url::parse(&self.target).ok()?;
        let host = parsed.host_str()?.trim_matches(['[', ']']).to_owned();
        Some((host, parsed.port().unwrap_or(default_port)))
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

/// Replaces every password in a URL (or connection string) with `***`, whether or not it
/// parses: first the value of every `key=value` pair whose key, percent-decoded, contains
/// `password` (libpq's `password`, `sslpassword`, also in key=value DSNs), then the user-info
/// password, which runs from the first `:` after `scheme://` to the *last* `@` (a sloppy
/// password may contain `/`, `?` or `@`). Used for every message and `Debug` output that
/// shows a URL.
pub(crate) fn redact(raw: &str) -> String {
    static URL_PAIR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static DSN_PAIR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let is_url = raw.contains("://");
    let masked = if is_url {
        // URL query: a value runs to the next `&` or `#` (libpq splits only there).
        let pair = URL_PAIR.get_or_init(|| {
            regex::Regex::new(r"([?&])([^=&#]+)=([^&#]*)").expect("a valid pattern")
        });
        pair.replace_all(raw, |caps: &regex::Captures<'_>| {
            if is_password_key(&caps[2]) {
                format!("{}{}=***", &caps[1], &caps[2])
            } else {
                caps[0].to_owned()
            }
        })
    } else {
        // key=value DSN: spaces around `=`, quoted values with \-escapes.
        let pair = DSN_PAIR.get_or_init(|| {
            regex::Regex::new(r"(^|\s)([^=\s]+)(\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)")
                .expect("a valid pattern")
        });
        pair.replace_all(raw, |caps: &regex::Captures<'_>| {
            if is_password_key(&caps[2]) {
                format!("{}{}{}***", &caps[1], &caps[2], &caps[3])
            } else {
                caps[0].to_owned()
            }
        })
    };
    let text = masked.as_ref();
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let rest = &text[start..];
    match (rest.rfind('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &text[..start], &rest[..colon], &rest[at..])
        }
        _ => text.to_owned(),
    }
}

fn is_password_key(key: &str) -> bool {
    percent_decode(key)
        .to_ascii_lowercase()
        .contains("password")
}

/// `%XX` sequences decoded (lossily); anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

    /// Item 15 of the threat review: no form of URL lets a password through, in an error,
    /// `Display` or `Debug`.
    #[test]
    fn no_url_form_leaks_a_password() {
        let secret = "S3cr3tPw";
        let corpus = [
            format!("postgres://app:{secret}@db.example.com:99999/prod"),
            format!("postgres://app:{secret}@db.example.com/prod"),
            format!("postgresql://app:{secret}@[::1]:5432/prod?sslmode=require"),
            format!("postgres://db.example.com/prod?user=app&password={secret}"),
            format!("postgres://app@db/prod?sslpassword={secret}&password={secret}"),
            format!("postgres://app:{secret}/x@db/prod"),
            format!("postgres://app:12/{secret}@db/prod"),
            format!("postgres://app:{secret}@@db/prod"),
            format!("postgres://app:a?b{secret}@db/prod"),
            format!("postgres://app:{secret}@"),
            format!("postgres://:{secret}@db/prod"),
            format!("mysql://root:{secret}@127.0.0.1:3306/test"),
            format!("mariadb://root:{secret}@127.0.0.1:notaport/test"),
            format!("mysql://root:{secret}@/test"),
            format!("mysql://root:{secret}%40x@h/test"),
            format!("foo://root:{secret}@h/test"),
            format!("postgres://app@db/prod?password={secret}@x"),
            format!("postgres://db/prod?user=app&password={secret}@x&sslmode=disable"),
            format!("postgres://db/prod?%70assword={secret}"),
            format!("postgres://db/prod?PassWord={secret}"),
            format!("host=db user=app password={secret} dbname=prod"),
            format!("host=db password={secret}/x dbname=prod"),
            format!("postgres://db/prod?password={secret};{secret}"),
            format!("postgres://db/prod?password={secret} {secret}&sslmode=disable"),
            format!("host=db password = {secret} dbname=prod"),
            format!("host=db password='{secret} {secret}' dbname=prod"),
            format!("host=db password='a\\' {secret}' dbname=prod"),
        ];
        for raw in &corpus {
            let shown = match DatabaseUrl::parse(raw) {
                Ok(url) => format!("{url} {url:?} {}", url.redacted()),
                Err(e) => format!("{e} {e:?}"),
            };
            assert!(!shown.contains(secret), "{raw} leaked: {shown}");
        }
        assert_eq!(
            redact("postgres://app:S3cr3tPw@db.example.com:99999/prod"),
            "postgres://app:***@db.example.com:99999/prod"
        );
        assert_eq!(
            redact("postgres://h/db?user=u&password=x&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
    }

    #[test]
    fn redaction_hides_only_the_password() {
        let url = DatabaseUrl::parse("mysql://root:hunter2@h:3306/d").unwrap();
        assert!(!format!("{url} {url:?}").contains("hunter2"));
        assert_eq!(url.redacted(), "mysql://root:***@h:3306/d");
    }
}
