//! Connection failures name the backend and the cause.

use rowguard::{establish, Backend, ConnectProblem, DatabaseUrl};

fn problem(url: &str) -> (ConnectProblem, String) {
    let url = DatabaseUrl::parse(url).unwrap();
    let err = match establish(&url) {
        Ok(_) => panic!("{url} must not connect"),
        Err(e) => e,
    };
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    (err.connect_problem().expect("a connection error"), message)
}

#[test]
fn sqlite_missing_directory_is_named() {
    let (p, message) = problem("/nonexistent-rowguard-dir/x.sqlite3");
    assert_eq!(p, ConnectProblem::MissingDatabase);
    assert!(message.contains("/nonexistent-rowguard-dir"), "{message}");
}

mod postgres_errors {
    use super::*;

    #[test]
    fn on_postgres() {
        let (p, message) = problem("postgres://postgres@127.0.0.1:1/x");
        assert_eq!(p, ConnectProblem::Unreachable, "{message}");
        assert!(message.contains("PostgreSQL"), "{message}");

        let (p, message) = problem("postgres://postgres@127.0.0.1:5432/rowguard_no_such_db");
        assert_eq!(p, ConnectProblem::MissingDatabase, "{message}");
        assert!(message.contains("rowguard_no_such_db"), "{message}");

        let (p, message) = problem("postgres://rowguard_no_such_role:pw@127.0.0.1:5432/test");
        assert_eq!(p, ConnectProblem::Authentication, "{message}");
        assert!(!message.contains(":pw@"), "password redacted: {message}");
    }
}

#[cfg(feature = "mysql")]
mod mysql_errors {
    use super::*;

    #[test]
    fn on_mysql() {
        let (p, message) = problem("mysql://root@127.0.0.1:1/test");
        assert_eq!(p, ConnectProblem::Unreachable, "{message}");

        let (p, message) = problem("mysql://root:wrong-password@127.0.0.1:3306/test");
        assert_eq!(p, ConnectProblem::Authentication, "{message}");
        assert!(!message.contains("wrong-password"), "{message}");

        let (p, message) = problem("mysql://root@127.0.0.1:3306/rowguard_no_such_db");
        assert_eq!(p, ConnectProblem::MissingDatabase, "{message}");
    }
}

rowguard::backend_tests!(passwords_never_reach_an_error);

/// A wrong password, an unknown database and an unreachable port, each with the password
/// in the URL's user info and (PostgreSQL) in the query: no error text shows it.
fn passwords_never_reach_an_error(db: &rowguard::testing::TestDatabase) {
    let secret = "S3cr3tPw";
    let urls: Vec<String> = match db.backend() {
        Backend::Sqlite => vec![format!("sqlite:///nonexistent-dir/{secret}.db")],
        Backend::Postgres => vec![
            format!("postgres://postgres:{secret}@127.0.0.1:5432/no_such_db_rowguard"),
            format!("postgres://postgres:{secret}@127.0.0.1:1/x"),
            format!("postgres://127.0.0.1:1/x?user=postgres&password={secret}"),
        ],
        Backend::Mysql => vec![
            format!("mysql://root:{secret}@127.0.0.1:3306/test"),
            format!("mysql://root:{secret}@127.0.0.1:1/x"),
        ],
    };
    for raw in urls {
        let url = DatabaseUrl::parse(&raw).unwrap();
        let err = match establish(&url) {
            Ok(_) => panic!("{url} must not connect"),
            Err(e) => e,
        };
        let shown = format!("{err} {err:?} {url} {url:?}");
        if db.backend() == Backend::Sqlite {
            // The path is the database's name, not a password: nothing to hide there.
            assert!(shown.contains("nonexistent-dir"), "{shown}");
            continue;
        }
        assert!(!shown.contains(secret), "{raw}: {shown}");
    }
}
