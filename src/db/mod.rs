//! Database access: URL parsing, one connection type over SQLite, PostgreSQL and
//! MySQL/MariaDB, an r2d2 pool, and rowguard's embedded migrations.

#[allow(missing_docs)]
mod any;
mod connection;
mod guard_connection;
mod kept;
mod migrate;
mod pool;
mod url;

pub use self::any::{AnyConnection, MultiBackend};
pub use self::connection::{configure_sqlite, establish, SQLITE_BUSY_TIMEOUT_MS};
pub use self::guard_connection::write_transaction;
pub(crate) use self::guard_connection::{dirty, on_backend};
pub use self::guard_connection::{
    in_transaction, last_insert_id, lock_for_writing, AsConnection, BackendConnection,
    GuardConnection, StoreConnection,
};
pub use self::kept::KeptUpdate;
pub use self::migrate::{
    migration_status, pending_migrations, revert_all_migrations, revert_last_migration,
    run_pending_migrations,
};
pub use self::pool::{connect_pool, ConnectionManager, Pool, PoolOptions, PooledConnection};
pub use self::url::{Backend, DatabaseUrl, DEFAULT_DATABASE_URL};

/// What went wrong while connecting to a database, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectProblem {
    /// Nothing answered at the host and port (or the socket).
    Unreachable,
    /// The server refused the user or password.
    Authentication,
    /// The database (or the SQLite file's directory) does not exist.
    MissingDatabase,
    /// Anything else; the cause says what.
    Other,
}

impl ConnectProblem {
    /// Sorts a driver's message into a problem.
    fn classify(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
        if any(&[
            "password authentication failed",
            "access denied",
            "authentication failed",
            "no password supplied",
            "role \"",
        ]) {
            ConnectProblem::Authentication
        } else if any(&["does not exist", "unknown database"]) {
            ConnectProblem::MissingDatabase
        } else if any(&[
            "connection refused",
            "can't connect",
            "could not connect",
            "could not translate host name",
            "unknown server host",
            "no route to host",
            "timeout expired",
            "network is unreachable",
            "name or service not known",
        ]) {
            ConnectProblem::Unreachable
        } else {
            ConnectProblem::Other
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ConnectProblem::Unreachable => "server unreachable",
            ConnectProblem::Authentication => "authentication failed",
            ConnectProblem::MissingDatabase => "database does not exist",
            ConnectProblem::Other => "connection failed",
        }
    }
}

/// Errors of the `db` module. Every message names the backend and, for URLs, the
/// (password-redacted) URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// `DATABASE_URL` is set but empty.
    #[error("DATABASE_URL is empty: use a file path, sqlite://PATH, postgres://… or mysql://…")]
    EmptyUrl,
    /// The URL's scheme is none of rowguard's.
    #[error(
        "unknown database URL scheme \"{scheme}\" in \"{url}\": use a file path, sqlite://PATH, \
         postgres://… or mysql://…"
    )]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The redacted URL.
        url: String,
    },
    /// `sqlite://` with nothing after it.
    #[error("SQLite URL \"{url}\" names no file")]
    MissingSqlitePath {
        /// The URL as written.
        url: String,
    },
    /// A server URL that does not parse.
    #[error("malformed {backend} URL \"{url}\": {source}")]
    MalformedUrl {
        /// The backend the scheme selected.
        backend: Backend,
        /// The redacted URL.
        url: String,
        /// The URL parser's error.
        source: ::url::ParseError,
    },
    /// A server URL without a host.
    #[error("malformed {backend} URL \"{url}\": no host")]
    NoHost {
        /// The backend the scheme selected.
        backend: Backend,
        /// The redacted URL.
        url: String,
    },
    /// A server URL without a database name (`postgres://user@host`): the driver would pick
    /// one of its own, such as the `postgres` maintenance database.
    #[error("{backend} URL \"{url}\" names no database; add one, e.g. {backend_example}", backend_example = backend.example_url())]
    NoDatabaseName {
        /// The backend the scheme selected.
        backend: Backend,
        /// The redacted URL.
        url: String,
    },
    /// The backend's driver is not part of this build.
    #[error(
        "{backend} support is not compiled into this build: rebuild with `--features {feature}` \
         (it needs the system client library, Debian: libmariadb-dev-compat); for the xtask: \
         cargo run -p xtask --features {feature} -- <command>; for the rowguard command: \
         cargo install --path cli --features {feature}"
    )]
    NotCompiledIn {
        /// The backend asked for.
        backend: Backend,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The driver could not open a connection.
    #[error("cannot connect to {backend} at {url}: {} ({cause})", problem.describe())]
    Connect {
        /// Which driver failed.
        backend: Backend,
        /// The redacted URL.
        url: String,
        /// The kind of failure.
        problem: ConnectProblem,
        /// The driver's message on one line (libpq's spans several).
        cause: String,
        /// The driver's error (none when rowguard refused before asking it).
        source: Option<diesel::ConnectionError>,
    },
    /// Applying migrations failed.
    #[error("{backend} migration failed: {source}")]
    Migration {
        /// Whose migrations.
        backend: Backend,
        /// The migration harness's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The pool could not be built or hand out a connection.
    #[error("connection pool: {message}")]
    Pool {
        /// r2d2's message on one line.
        message: String,
        /// r2d2's error.
        source: r2d2::Error,
    },
}

impl DbError {
    fn connect(url: &DatabaseUrl, e: diesel::ConnectionError) -> Self {
        let cause = one_line(&e.to_string());
        DbError::Connect {
            backend: url.backend(),
            url: url.redacted(),
            problem: ConnectProblem::classify(&cause),
            cause,
            source: Some(e),
        }
    }

    /// For connection failures: what kind of failure it was.
    pub fn connect_problem(&self) -> Option<ConnectProblem> {
        match self {
            DbError::Connect { problem, .. } => Some(*problem),
            _ => None,
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(source: r2d2::Error) -> Self {
        DbError::Pool {
            message: one_line(&source.to_string()),
            source,
        }
    }
}

/// Drivers (libpq above all) print multi-line messages; errors here are one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs only in a build without the `mysql` feature: `cargo xtask test` runs it that way
    /// (and checks that it ran) after the main run.
    #[cfg(not(feature = "mysql"))]
    #[test]
    fn mysql_url_without_the_feature_says_how_to_enable_it() {
        let url = DatabaseUrl::parse("mysql://root@127.0.0.1/test").expect("parses");
        let err = match establish(&url) {
            Ok(_) => panic!("mysql is not compiled in"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("--features mysql"), "{err}");
    }

    #[test]
    fn driver_messages_are_classified() {
        let cases = [
            (
                "connection to server at \"127.0.0.1\", port 1 failed: Connection refused",
                ConnectProblem::Unreachable,
            ),
            (
                "Access denied for user 'root'@'localhost' (using password: YES)",
                ConnectProblem::Authentication,
            ),
            (
                "FATAL:  password authentication failed for user \"x\"",
                ConnectProblem::Authentication,
            ),
            (
                "FATAL:  database \"nope\" does not exist",
                ConnectProblem::MissingDatabase,
            ),
            ("Unknown database 'nope'", ConnectProblem::MissingDatabase),
            ("something odd", ConnectProblem::Other),
        ];
        for (message, problem) in cases {
            assert_eq!(ConnectProblem::classify(message), problem, "{message}");
        }
    }

    #[test]
    fn messages_are_folded_onto_one_line() {
        assert_eq!(one_line("a\n\tb  c\n"), "a b c");
    }
}
