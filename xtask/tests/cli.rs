//! The CLI: exit codes and one-line errors.

use std::process::Command;

fn xtask(args: &[&str], database_url: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run xtask");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_line_error(database_url: &str, expected: &str) {
    let (code, _, stderr) = xtask(&["migrate"], database_url);
    assert_ne!(code, 0, "{database_url}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(expected), "{database_url}: {stderr}");
}

#[test]
fn migrate_reports_bad_urls_in_one_line() {
    assert_one_line_error("foo://bar", "unknown database URL scheme \"foo\"");
    assert_one_line_error("postgres://127.0.0.1:1/x", "server unreachable");
    assert_one_line_error(
        "postgres://postgres@127.0.0.1:5432/rowguard_no_such_db",
        "database does not exist",
    );
    if rowguard::Backend::Mysql.is_compiled_in() {
        assert_one_line_error(
            "mysql://root:wrong@127.0.0.1:3306/test",
            "authentication failed",
        );
    }
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = std::env::temp_dir().join(format!("rowguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("cli.sqlite3").to_string_lossy().into_owned();
    let (code, stdout, stderr) = xtask(&["migrate"], &url);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("applied 2026-11-23-000001_authorization_tables"),
        "{stdout}"
    );
    let (code, stdout, _) = xtask(&["migrate"], &url);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("up to date, no migration applied"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
