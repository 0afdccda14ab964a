//! The CLI: exit codes and one-line errors.

use std::process::Command;

fn xtask(args: &[&str], database_url: &str) -> (i32, String, String) {
    xtask_env(args, database_url, &[])
}

fn xtask_env(args: &[&str], database_url: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    run_xtask(args, database_url, env, None)
}

/// Runs the xtask binary; `stdin` is what it reads (nothing when `None`).
fn run_xtask(
    args: &[&str],
    database_url: &str,
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xtask");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for xtask");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `name::on_sqlite`, `name::on_postgres` (and with the mysql feature `name::on_mysql`),
/// each calling `body(backend)`: named so `cargo xtask test` can skip a missing backend.
macro_rules! backend_tests {
    ($name:ident => $body:ident) => {
        mod $name {
            #[test]
            fn on_sqlite() {
                super::$body(rowguard::Backend::Sqlite);
            }
            #[test]
            fn on_postgres() {
                super::$body(rowguard::Backend::Postgres);
            }
            #[cfg(feature = "mysql")]
            #[test]
            fn on_mysql() {
                super::$body(rowguard::Backend::Mysql);
            }
        }
    };
}

fn assert_one_line_error(database_url: &str, expected: &str) {
    let (code, _, stderr) = xtask(&["migrate"], database_url);
    assert_ne!(code, 0, "{database_url}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(expected), "{database_url}: {stderr}");
}

#[test]
fn migrate_reports_an_unknown_scheme_in_one_line() {
    assert_one_line_error("foo://bar", "unknown database URL scheme \"foo\"");
}

/// Named per backend, so `cargo xtask test` skips (and CI fails) a backend it cannot use.
fn bad_server_urls_are_one_line_errors(backend: rowguard::Backend) {
    match backend {
        rowguard::Backend::Sqlite => assert_one_line_error(
            "/nonexistent-rowguard-dir/x.sqlite3",
            "nonexistent-rowguard-dir",
        ),
        rowguard::Backend::Postgres => {
            assert_one_line_error("postgres://127.0.0.1:1/x", "server unreachable");
            assert_one_line_error(
                "postgres://postgres@127.0.0.1:5432/rowguard_no_such_db",
                "database does not exist",
            );
        }
        rowguard::Backend::Mysql => assert_one_line_error(
            "mysql://root:wrong@127.0.0.1:3306/test",
            "authentication failed",
        ),
    }
}

backend_tests!(bad_urls => bad_server_urls_are_one_line_errors);

/// Item 16 of the threat review: the demo never destroys data. An unrelated application's
/// SQLite file named by DATABASE_URL is refused and left byte for byte as it was; without
/// DATABASE_URL the demo makes its own new file, twice in a row.
#[test]
fn the_demo_never_destroys_data() {
    let dir = std::env::temp_dir().join(format!("rowguard-demo-guard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = dir.join("their_app.sqlite3");
    {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::SqliteConnection::establish(&app.to_string_lossy()).unwrap();
        diesel::sql_query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
            .execute(&mut c)
            .unwrap();
        diesel::sql_query("INSERT INTO invoices VALUES (1, 100)")
            .execute(&mut c)
            .unwrap();
    }
    let before = std::fs::read(&app).unwrap();
    let (code, _, stderr) = xtask(&["demo"], &app.to_string_lossy());
    assert_ne!(code, 0);
    assert!(stderr.contains("needs an empty database"), "{stderr}");
    assert_eq!(std::fs::read(&app).unwrap(), before, "untouched");
    // The same file as a `file:` URI (which SQLite opens too).
    let uri = format!("file:{}?mode=rw", app.to_string_lossy());
    let (code, _, stderr) = xtask(&["demo"], &uri);
    assert_ne!(code, 0);
    assert!(stderr.contains("needs an empty database"), "{stderr}");
    assert_eq!(std::fs::read(&app).unwrap(), before, "untouched");
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("demo")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let first = stdout.lines().next().unwrap_or_default();
        let path = first
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(path, _)| std::path::PathBuf::from(path))
            .unwrap_or_default();
        assert!(
            path.to_string_lossy().contains("rowguard-demo-"),
            "{stdout}"
        );
        // Section 8: the console's settings in the demo's own directory.
        let config = path.parent().unwrap().join("rowguard.toml");
        assert!(stdout.contains(&format!("ROWGUARD_CONFIG='{}'", config.display())));
        assert!(std::fs::read_to_string(&config)
            .unwrap()
            .contains("[jobs.commands.greet]"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
    // A database the user names: the console's settings go to a new directory of their own,
    // never over a rowguard.toml that is there.
    std::fs::write(dir.join("rowguard.toml"), "# theirs\n").unwrap();
    let fresh = dir.join("fresh.sqlite3");
    let (code, stdout, stderr) = xtask(&["demo"], &fresh.to_string_lossy());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("rowguard.toml")).unwrap(),
        "# theirs\n"
    );
    let config = stdout
        .split("ROWGUARD_CONFIG='")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    assert!(config.exists() && !config.starts_with(&dir), "{stdout}");
    std::fs::remove_dir_all(config.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = std::env::temp_dir().join(format!("rowguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("cli.sqlite3").to_string_lossy().into_owned();
    let (code, stdout, stderr) = xtask(&["migrate"], &url);
    assert_eq!(code, 0, "{stderr}");
    for migration in [
        "2026-11-23-000001_authorization_tables",
        "2026-11-23-000002_rbac",
    ] {
        assert!(stdout.contains(&format!("applied {migration}")), "{stdout}");
    }
    let (code, stdout, _) = xtask(&["migrate"], &url);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("up to date, no migration applied"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo and the DBA commands, end to end, on a fresh database of `backend`.
fn demo_and_rules_commands(backend: rowguard::Backend) {
    use diesel::prelude::*;

    let db = rowguard::testing::TestDatabase::empty(backend).unwrap_or_else(|e| panic!("{e}"));
    let url = db.url().target().to_owned();
    let (code, stdout, stderr) = xtask(&["demo"], &url);
    assert_eq!(code, 0, "demo failed: {stderr}");
    for expected in [
        "agent          roles=agent         1,2,3,4,5              1,3,4,5          -              any",
        "sales user 17  roles=sales, id=17  1,3,5,7,9              1,5,7,9          3              owner 17",
        "error: forbidden: update on contacts",
        "support        roles=support       1,2,3,5,6,7,9,10       -                -              any         customer",
        "error: forbidden: create on contacts: contact_type_id points at a contact_types row the subject may not read",
        "reading contact 6 as the agent: not found: contacts 6",
        "effective (read AND update), subject variables filled in: (id IN (1, 2, 3, 4, 5) AND NOT (id = 2))",
        "sales user 17 runs greet name=world: completed (exit 0), output: hello, world",
        "does not match [A-Za-z ]+",
        "spin is killed (killed by 17); its output:",
        "     PROCESS KILLED BY 17 AT ",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    // The demo refuses a database that holds anything, and changes nothing in it.
    let (code, _, stderr) = xtask(&["demo"], &url);
    assert_ne!(code, 0);
    assert!(stderr.contains("needs an empty database"), "{stderr}");

    let (code, stdout, _) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "contacts",
            "--as",
            "roles=agent",
            "--json",
        ],
        &url,
    );
    assert_eq!((code, stdout.trim()), (0, "[1,2,3,4,5]"));
    let (code, stdout, _) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "contacts",
            "--as",
            "roles=sales",
            "--attr",
            "id=17",
            "--action",
            "delete",
            "--json",
        ],
        &url,
    );
    assert_eq!((code, stdout.trim()), (0, "[3]"));
    let (code, stdout, _) = xtask(
        &[
            "rules",
            "explain",
            "--model",
            "contacts",
            "--as",
            "roles=agent",
            "--action",
            "update",
        ],
        &url,
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("#1 roles \"agent\": NOT (id = 2)"),
        "{stdout}"
    );
    // PostgreSQL binds the id list as one array; the others bind each value.
    let binds = match db.backend() {
        rowguard::Backend::Postgres => "binds: [[1, 2, 3, 4, 5], 2]",
        _ => "binds: [1, 2, 3, 4, 5, 2]",
    };
    assert!(stdout.contains(binds), "{stdout}");

    // The demo's six and, from its section 8, the two job rules of the seeds.
    let (code, stdout, _) = xtask(&["rules", "check"], &url);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            "8 rule(s) checked, 0 invalid, 0 orphaned; 0 model problem(s)"
        )
    );
    // A relation rule that closes a cycle with support's contacts rule (contacts readable
    // through a readable type, types through a readable contact): `rules set` warns, and
    // `rules check` names both rule rows (a warning: exit 0, or 1 with --strict).
    let (code, _, stderr) = xtask_stdin(
        &["rules", "set", "roles", "support", "contact_types", "-"],
        &url,
        r#"{"read":{"search":{"contacts.status":"=open"}}}"#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("reaches through relations into a cycle"),
        "{stderr}"
    );
    let (code, _, stderr) = xtask(&["rules", "check"], &url);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            r#"read rules reach each other through relations: contact_types (rule 9, roles "support") → contacts (rule 4, roles "support") → contact_types"#
        ),
        "{stderr}"
    );
    let (code, _, _) = xtask(&["rules", "check", "--strict"], &url);
    assert_eq!(code, 1);
    let (code, _, _) = xtask(
        &["rules", "delete", "roles", "support", "contact_types"],
        &url,
    );
    assert_eq!(code, 0);
    // The history: the delete first, by this program's user; the deleted rule comes back
    // with `rules restore`, and goes again.
    let (code, stdout, stderr) = xtask(
        &[
            "rules",
            "history",
            "--model",
            "contact_types",
            "--limit",
            "2",
        ],
        &url,
    );
    assert_eq!(code, 0, "{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains(r#"delete rule roles "support" on contact_types"#)
            && first.contains("app cli:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"before: {"read":{"search":{"contacts.status":"=open"}}}"#),
        "{stdout}"
    );
    let (code, stdout, _) = xtask(&["rules", "history", "--limit", "1", "--json"], &url);
    assert_eq!(code, 0);
    let entries: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let id = entries[0]["id"].as_i64().unwrap();
    assert_eq!(entries[0]["operation"], "delete");
    let (code, stdout, stderr) = xtask(&["rules", "restore", &id.to_string()], &url);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(r#"restored rule roles "support" on contact_types"#),
        "{stdout}"
    );
    let (code, _, stderr) = xtask(&["rules", "restore", "999999"], &url);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("there is no history entry 999999"),
        "{stderr}"
    );
    let (code, _, stderr) = xtask(&["rules", "history", "--since", "last week"], &url);
    assert_eq!(code, 1);
    assert!(stderr.contains("--since \"last week\""), "{stderr}");
    let (code, _, _) = xtask(
        &["rules", "delete", "roles", "support", "contact_types"],
        &url,
    );
    assert_eq!(code, 0);
    let mut conn = db.connect().unwrap();
    // The stored models against the code that declares them: a changed type, a broken JSON.
    let check_models = || {
        xtask(
            &[
                "rules",
                "check",
                "--path",
                "../examples",
                "--path",
                "../src",
            ],
            &url,
        )
    };
    let (code, stdout, _) = check_models();
    assert_eq!(code, 0, "{stdout}");
    // A DBA flips a relation's kind: reads would keep working, the target check would not.
    diesel::sql_query(
        "UPDATE authorizable_relations SET kind = 'has_many' WHERE name = 'contact_type'",
    )
    .execute(&mut conn)
    .unwrap();
    let (code, stdout, _) = check_models();
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("model contacts: relation contact_type is stored as contact_type: has_many contact_types (contact_type_id → id), check none; the code declares contact_type: belongs_to contact_types (contact_type_id → id), check read"),
        "{stdout}"
    );
    diesel::sql_query(
        "UPDATE authorizable_relations SET kind = 'belongs_to' WHERE name = 'contact_type'",
    )
    .execute(&mut conn)
    .unwrap();
    let columns: String = rowguard::schema::authorizable_models::table
        .filter(rowguard::schema::authorizable_models::name.eq("contacts"))
        .select(rowguard::schema::authorizable_models::column_types)
        .first(&mut conn)
        .unwrap();
    let set_columns = |conn: &mut rowguard::AnyConnection, model: &str, json: &str| {
        diesel::update(
            rowguard::schema::authorizable_models::table
                .filter(rowguard::schema::authorizable_models::name.eq(model)),
        )
        .set(rowguard::schema::authorizable_models::column_types.eq(json))
        .execute(conn)
        .unwrap();
    };
    set_columns(
        &mut conn,
        "contacts",
        &columns.replace(r#""score":"integer""#, r#""score":"text""#),
    );
    set_columns(&mut conn, "contact_types", "not json");
    let (code, stdout, _) = check_models();
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "model contacts: the stored definition differs from the code, so it fails closed"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("model contact_types: its stored columns are invalid, so it fails closed"),
        "{stdout}"
    );
    set_columns(&mut conn, "contacts", &columns);
    set_columns(
        &mut conn,
        "contact_types",
        r#"{"id":"bigint","name":"text"}"#,
    );
    diesel::sql_query(
        r#"UPDATE authorization_rules SET rules = '{"read":{"search":{"idd":"=1"}}}' WHERE id = 3"#,
    )
    .execute(&mut conn)
    .unwrap();
    let (code, stdout, _) = xtask(&["rules", "check"], &url);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            r#"rule 3 (roles "sales", model contacts): read.search.idd: "=1": unknown column "idd""#
        ),
        "{stdout}"
    );
    let (code, _, stderr) = xtask(
        &["rules", "try", "--model", "nope", "--as", "roles=x"],
        &url,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown model \"nope\""), "{stderr}");

    // Column lists: try shows what a subject sees (a hidden column is null), check names a
    // hidden column that cannot be NULL, explain lists hidden and writable columns.
    rowguard::store::put_rule(
        &mut conn,
        "roles",
        "auditor",
        "contacts",
        r#"{"read":{"search":{"id":"=1"}},"update":"*","deny":{"read":{"search":{"status":"=closed"}}},
            "columns":{"read":["id","name","status","contact_type_id","owner_id","score","created_at"],"update":["status"]}}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "contacts",
            "--as",
            "roles=auditor",
            "--json",
            "--columns",
        ],
        &url,
    );
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{stdout}");
    assert_eq!(rows[0]["id"], 1, "{stdout}");
    assert_eq!(rows[0]["email"], serde_json::Value::Null, "{stdout}");
    assert!(rows[0]["name"].is_string(), "{stdout}");
    let (code, stdout, _) = xtask(
        &[
            "rules",
            "explain",
            "--model",
            "contacts",
            "--as",
            "roles=auditor",
            "--action",
            "update",
        ],
        &url,
    );
    assert_eq!(code, 0);
    for expected in [
        "hidden columns (NULL in reads): email",
        "columns it may change (also readable): status",
        "denied read (applies too): status = 'closed'",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    rowguard::store::put_rule(
        &mut conn,
        "roles",
        "auditor",
        "contacts",
        r#"{"read":"*","columns":{"read":["id","email"]}}"#,
    )
    .unwrap();
    let (code, stdout, _) = xtask(&["rules", "check"], &url);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("(roles \"auditor\", model contacts): columns.read leaves out name, which is NOT NULL in table contacts"),
        "{stdout}"
    );
    let (code, _, stderr) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "contacts",
            "--as",
            "roles=auditor",
            "--json",
            "--columns",
        ],
        &url,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("column name is hidden from this subject but NOT NULL"),
        "{stderr}"
    );
    // The keys alone fail the same way: they are what a read would return.
    let (code, _, stderr) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "contacts",
            "--as",
            "roles=auditor",
            "--json",
        ],
        &url,
    );
    assert_eq!(code, 1, "{stderr}");
    // rules set says so before writing, and --strict then writes nothing.
    let (code, _, stderr) = xtask_stdin(
        &["rules", "set", "roles", "reviewer", "contacts", "--strict"],
        &url,
        r#"{"read":"*","columns":{"read":["id"]}}"#,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("columns.read leaves out name, which is NOT NULL in table contacts"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing written"), "{stderr}");
    // A document that only denies is explained too.
    let (code, stdout, stderr) = xtask_stdin(
        &["rules", "set", "roles", "reviewer", "contacts"],
        &url,
        r#"{"deny":{"delete":"*"}}"#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(r#"grants no delete; denies "*" (every row)"#),
        "{stdout}"
    );
}

backend_tests!(demo_and_rules => demo_and_rules_commands);

/// sync-models, seed and permissions from the shell, on `backend`, with the repository's
/// own examples/ and seeds/.
fn sync_seed_permissions_commands(backend: rowguard::Backend) {
    let db = rowguard::testing::TestDatabase::migrated(backend).unwrap_or_else(|e| panic!("{e}"));
    let url = db.url().target().to_owned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let examples = root.join("examples").display().to_string();
    let src = root.join("src").display().to_string();
    let seeds = root.join("seeds").display().to_string();

    // Seeding before the models exist fails at the rules step and rolls back.
    let (code, stdout, stderr) = xtask(&["seed", "--dir", &seeds], &url);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("  rules") && stdout.contains("FAIL"),
        "{stdout}"
    );
    assert!(
        stderr.contains("there is no model named \"contacts\"; run rowguard sync-models first"),
        "{stderr}"
    );
    assert!(stderr.contains("rolled back"), "{stderr}");
    let (_, matrix, _) = xtask(&["permissions"], &url);
    assert!(
        matrix.contains("0 role(s), 0 permission(s)"),
        "rolled back: {matrix}"
    );

    let (code, stdout, _) = xtask(
        &[
            "sync-models",
            "--path",
            &src,
            "--path",
            &examples,
            "--dry-run",
        ],
        &url,
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("+ contacts") && stdout.contains("dry run (nothing written): 3 added"),
        "{stdout}"
    );
    let (code, stdout, _) = xtask(&["sync-models", "--path", &src, "--path", &examples], &url);
    let tail: Vec<&str> = stdout.lines().rev().take(2).collect();
    assert_eq!(
        (code, tail),
        (
            0,
            vec![
                "relations: 2 added, 0 changed, 0 removed, 0 unchanged",
                "3 added, 0 changed, 0 removed, 0 unchanged"
            ]
        )
    );
    assert!(
        stdout.contains("+ relation contact_types.contacts\n+ relation contacts.contact_type"),
        "{stdout}"
    );

    let (code, stdout, _) = xtask(&["seed", "--dir", &seeds], &url);
    assert_eq!(code, 0, "{stdout}");
    for step in [
        "set types",
        "permissions",
        "roles",
        "role permissions",
        "role inheritance",
        "rules",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(step) && l.contains(" ms  DONE")),
            "{step}: {stdout}"
        );
    }
    assert!(stdout.trim_end().ends_with("SUCCESS"), "{stdout}");
    let (code, stdout, _) = xtask(&["seed", "--dir", &seeds], &url);
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains("DONE"))
            .all(|l| l.contains("(0 added, 0 changed")),
        "re-seed: {stdout}"
    );

    let (code, stdout, _) = xtask(&["permissions", "--role", "devops"], &url);
    assert_eq!(code, 0);
    let line = |p: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(p))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("jobs.command.run ").contains('✔'),
        "inherited from support: {stdout}"
    );
    assert!(line("contacts.write ").contains('·'), "{stdout}");
    let (code, _, stderr) = xtask(&["permissions", "--role", "useree"], &url);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("There is no role named \"useree\""),
        "{stderr}"
    );
}

backend_tests!(sync_seed_permissions => sync_seed_permissions_commands);

/// A database with the repository's models and seeds, as the README sets it up.
fn seeded(backend: rowguard::Backend) -> (rowguard::testing::TestDatabase, String) {
    let db = rowguard::testing::TestDatabase::migrated(backend).unwrap_or_else(|e| panic!("{e}"));
    let url = db.url().target().to_owned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = |p: &str| root.join(p).display().to_string();
    let (code, _, stderr) = xtask(
        &[
            "sync-models",
            "--path",
            &path("src"),
            "--path",
            &path("examples"),
        ],
        &url,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = xtask(&["seed", "--dir", &path("seeds")], &url);
    assert_eq!(code, 0, "{stdout}{stderr}");
    (db, url)
}

/// The jobs commands from the shell, on `backend`, with the seeded RBAC defaults walked end
/// to end: support runs and kills its own jobs only, devops any job, admin everything, and a
/// role without `jobs.command.run` runs nothing.
fn jobs_commands(backend: rowguard::Backend) {
    let (_db, url) = seeded(backend);
    let id_file = std::env::temp_dir().join(format!(
        "rowguard-cli-instance-{}-{backend:?}",
        std::process::id()
    ));
    let id_file = id_file.display().to_string();
    let env = [
        (
            "ROWGUARD_ALLOWED_COMMANDS",
            r#"{"greet":{"program":"echo","args":["hello","{name}"],"params":{"name":{"pattern":"[a-z;$() ]+"}},"permission":"jobs.command.run"},"fail":{"program":"sh","args":["-c","echo oops >&2; exit 4"],"permission":"jobs.command.run"},"spin":{"program":"sh","args":["-c","echo spinning; exec sleep 60"],"permission":"jobs.command.run"},"wipe":{"program":"true","permission":"seeds.load"}}"#,
        ),
        ("ROWGUARD_INSTANCE_ID_FILE", id_file.as_str()),
    ];
    let as_ = |role: &str, user: &str| {
        vec![
            "--as".to_owned(),
            format!("roles={role}"),
            "--attr".to_owned(),
            format!("id={user}"),
        ]
    };
    let run = |args: &[&str], who: &[String]| {
        let who: Vec<&str> = who.iter().map(String::as_str).collect();
        xtask_env(&[&["jobs"], args, &who].concat(), &url, &env)
    };
    let alice = as_("support", "alice");
    let dana = as_("devops", "dana");
    let root = as_("admin", "root");

    let (code, stdout, _) = run(&["commands"], &alice);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "greet: echo hello {name}  params [name=/[a-z;$() ]+/]  permission jobs.command.run"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("wipe"),
        "support lacks seeds.load: {stdout}"
    );
    let (_, stdout, _) = run(&["commands"], &dana);
    assert!(
        stdout.contains("wipe:"),
        "devops holds seeds.load: {stdout}"
    );
    let (_, json, _) = run(&["commands", "--json"], &as_("sales", "sam"));
    assert_eq!(json.trim(), "[]", "sales holds no permission");

    let (code, stdout, stderr) = run(&["run", "greet", "--param", "name=world; $(id)"], &alice);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "hello world; $(id)\n"),
        "{stderr}"
    );
    assert!(stderr.contains("completed (exit 0)"), "{stderr}");
    let (code, stdout, stderr) = run(&["run", "fail"], &alice);
    assert_eq!((code, stdout.as_str()), (1, "oops\n"));
    assert!(stderr.contains("failed (exit 4)"), "{stderr}");
    let (code, _, stderr) = run(&["run", "reboot"], &alice);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("command \"reboot\" is not allowed (allowed: fail, greet, spin, wipe)"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["run", "wipe"], &alice);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "command \"wipe\" needs permission \"seeds.load\", which roles [support] do not hold"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["run", "greet", "--param", "name=x"], &as_("sales", "sam"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("needs permission \"jobs.command.run\""),
        "{stderr}"
    );
    // devops by inheritance (support's jobs.command.run), admin by "*".
    for who in [&dana, &root] {
        let (code, stdout, stderr) = run(&["run", "greet", "--param", "name=ops"], who);
        assert_eq!(
            (code, stdout.as_str()),
            (0, "hello ops\n"),
            "{who:?}: {stderr}"
        );
    }

    let (code, stdout, _) = run(&["list"], &alice);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().count(),
        2,
        "alice sees her own two jobs: {stdout}"
    );
    let (_, stdout, _) = run(&["list"], &dana);
    assert_eq!(stdout.lines().count(), 4, "devops sees every job: {stdout}");
    let (_, stdout, _) = run(&["list", "--json"], &root);
    let all: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(4),
        "admin: absolute rights"
    );
    let (_, stdout, _) = run(&["list"], &as_("support", "bob"));
    assert_eq!(
        stdout, "no jobs visible to this subject\n",
        "bob sees none of alice's jobs"
    );

    let (_, stdout, _) = run(&["list"], &alice);
    let uuid = stdout
        .lines()
        .find(|l| l.contains("greet"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (code, stdout, stderr) = run(&["output", &uuid, "--from", "6"], &alice);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "world; $(id)\n"),
        "any byte offset, also inside a stored chunk"
    );
    assert!(stderr.contains("next offset 19"), "{stderr}");
    let (_, stdout, _) = run(&["output", &uuid, "--from", "19"], &alice);
    assert_eq!(stdout, "", "nothing after the end");
    let (_, json, _) = run(&["output", &uuid, "--json", "--from", "6"], &alice);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (
            json["next_offset"].as_i64(),
            json["chunks"][0]["text"].as_str()
        ),
        (Some(19), Some("world; $(id)\n"))
    );
    let (code, stdout, _) = run(&["output", &uuid, "--follow"], &alice);
    assert_eq!((code, stdout.as_str()), (0, "hello world; $(id)\n"));

    // Kills: a running job of bob's; alice may not kill it, devops may.
    let bob = as_("support", "bob");
    let mut spin = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "jobs",
            "run",
            "spin",
            "--as",
            "roles=support",
            "--attr",
            "id=bob",
        ])
        .env("DATABASE_URL", &url)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let spin_uuid = loop {
        let (_, stdout, _) = run(&["list"], &bob);
        if let Some(line) = stdout
            .lines()
            .find(|l| l.contains("spin") && l.contains("running"))
        {
            break line.split_whitespace().next().unwrap().to_owned();
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "spin never started: {stdout}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let (code, _, stderr) = run(&["kill", &spin_uuid], &alice);
    assert_eq!(code, 1, "support kills only its own jobs: {stderr}");
    let (code, stdout, stderr) = run(&["kill", &spin_uuid], &dana);
    assert_eq!(code, 0, "devops kills any job: {stderr}");
    assert!(stdout.contains("kill of job"), "{stdout}");
    let status = spin.wait().unwrap();
    assert!(!status.success(), "the killed job's run ends as failed");
    let (_, stdout, _) = run(&["list"], &bob);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&spin_uuid) && l.contains("killed")),
        "{stdout}"
    );

    let (code, _, stderr) = run(&["kill", &uuid], &alice);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("job {uuid} is not running (status completed)")),
        "{stderr}"
    );
    let instance = std::fs::read_to_string(&id_file).unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(instance.trim()).map(|_| ()),
        Ok(()),
        "a persistent instance id"
    );
    let _ = std::fs::remove_file(&id_file);
}

backend_tests!(jobs => jobs_commands);

fn xtask_stdin(args: &[&str], database_url: &str, stdin: &str) -> (i32, String, String) {
    run_xtask(args, database_url, &[], Some(stdin))
}

/// Rules edited by name (`rules list|get|set|delete`), typo warnings and `--strict`, rule
/// tests, and options after the command's name, on `backend`.
fn rules_by_name_commands(backend: rowguard::Backend) {
    let (_db, url) = seeded(backend);
    let get = |value: &str| xtask(&["rules", "get", "roles", value, "contacts"], &url);
    let (code, stdout, _) = get("devops");
    assert_eq!((code, stdout.as_str()), (0, "{\n  \"read\": \"*\"\n}\n"));

    // Invalid: an unknown column. Nothing is stored; the error names the column.
    let (code, _, stderr) = xtask_stdin(
        &["rules", "set", "roles", "devops", "contacts"],
        &url,
        r#"{"read":{"search":{"ownr":"=1"}}}"#,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown column \"ownr\""), "{stderr}");
    assert_eq!(get("devops").1, "{\n  \"read\": \"*\"\n}\n", "unchanged");
    let (code, _, stderr) = xtask_stdin(
        &["rules", "set", "roles", "devops", "contacts", "-"],
        &url,
        "{read: *}",
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("the document is not JSON"), "{stderr}");
    let (code, _, stderr) =
        xtask_stdin(&["rules", "set", "roles", "devops", "contact"], &url, "{}");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no model named \"contact\" (did you mean \"contacts\"?)"),
        "{stderr}"
    );

    // Valid, from a file: stored, then explained.
    let file = std::env::temp_dir().join(format!(
        "rowguard-rule-{}-{backend:?}.json",
        std::process::id()
    ));
    std::fs::write(&file, "{\"read\": {\"search\": {\"status\": \"=open\"}}}\n").unwrap();
    let (code, stdout, stderr) = xtask(
        &[
            "rules",
            "set",
            "roles",
            "devops",
            "contacts",
            &file.display().to_string(),
        ],
        &url,
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("changed: rule roles \"devops\" on contacts"),
        "{stdout}"
    );
    assert!(stdout.contains("SQL: WHERE"), "{stdout}");

    // A column list on a model whose table does not exist yet (this database has rowguard's
    // tables only): stored, with a warning saying why it cannot be enforced or explained.
    let (code, stdout, stderr) = xtask_stdin(
        &["rules", "set", "roles", "lister", "contacts"],
        &url,
        r#"{"read":"*","columns":{"read":["id","name"]}}"#,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("added: rule roles \"lister\" on contacts"),
        "{stdout}"
    );
    assert!(
        stderr.contains("columns.read: the database has no table contacts (yet)"),
        "{stderr}"
    );
    assert!(stderr.contains("stored, but not explained"), "{stderr}");
    let (code, _, _) = xtask(&["rules", "delete", "roles", "lister", "contacts"], &url);
    assert_eq!(code, 0);

    // A typo in a role: warned with the closest name; --strict refuses and writes nothing.
    let (code, _, stderr) = xtask_stdin(
        &["rules", "set", "roles", "suport", "contacts", "--strict"],
        &url,
        r#"{"read":"*"}"#,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no role named \"suport\" exists (did you mean \"support\"?)"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing written"), "{stderr}");
    let (code, _, _) = xtask_stdin(
        &["rules", "set", "roles", "suport", "contacts"],
        &url,
        r#"{"read":"*"}"#,
    );
    assert_eq!(code, 0, "without --strict, a warning");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (src, examples) = (
        root.join("src").display().to_string(),
        root.join("examples").display().to_string(),
    );
    let check = [
        "rules",
        "check",
        "--path",
        src.as_str(),
        "--path",
        examples.as_str(),
    ];
    let (code, stdout, stderr) = xtask(&check, &url);
    assert!(
        stderr.contains("no role \"suport\" exists (did you mean \"support\"?)"),
        "{stderr}"
    );
    assert_eq!(code, 0, "a warning: {stdout}{stderr}");
    let (code, _, _) = xtask(&[&check[..], &["--strict"]].concat(), &url);
    assert_eq!(code, 1, "--strict");
    let (code, _, stderr) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "job_executions",
            "--as",
            "rolez=agent",
        ],
        &url,
    );
    assert_eq!(code, 0);
    assert!(
        stderr.contains("there is no set type named \"rolez\" (did you mean \"roles\"?)"),
        "{stderr}"
    );
    let (code, _, _) = xtask(
        &[
            "rules",
            "try",
            "--model",
            "job_executions",
            "--as",
            "rolez=agent",
            "--strict",
        ],
        &url,
    );
    assert_eq!(code, 1);

    let (code, stdout, _) = xtask(&["rules", "delete", "roles", "suport", "contacts"], &url);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "deleted rule roles \"suport\" on contacts\n")
    );
    let (code, _, stderr) = get("suport");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no such rule (did you mean \"support\"?)"),
        "{stderr}"
    );
    let (_, json, _) = xtask(&["rules", "list", "--json", "--model", "contacts"], &url);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{json}");

    // --database-url after the command's name wins over DATABASE_URL.
    let (code, stdout, stderr) = xtask(
        &["rules", "list", "--database-url", &url],
        "/nonexistent-rowguard/x.db",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("roles \"devops\" on contacts"), "{stdout}");

    // Rule tests: the repository's pass (devops's contacts rule was narrowed above, which
    // none of them depends on); a wrong expectation fails with a diff.
    let tests = root
        .join("seeds/tests/rules.test.json")
        .display()
        .to_string();
    let (code, stdout, _) = xtask(&["rules", "test", &tests], &url);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("10 passed, 0 failed\n"), "{stdout}");
    let wrong = std::env::temp_dir().join(format!(
        "rowguard-ruletest-{}-{backend:?}.json",
        std::process::id()
    ));
    std::fs::write(&wrong, r#"{"tests":[{"name":"support deletes jobs","subject":{"sets":{"roles":["support"]},"attributes":{"id":"a"}},"model":"job_executions","right":"delete","row":{"user_identifier":"a"},"expect":"allow"}]}"#).unwrap();
    let (code, stdout, _) = xtask(&["rules", "test", &wrong.display().to_string()], &url);
    let _ = std::fs::remove_file(&wrong);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("support deletes jobs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- expected: allow") && stdout.contains("+ actual:   deny"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
}

backend_tests!(rules_by_name => rules_by_name_commands);

/// `policies set` warns about a statement aimed at a model that names none of its rows (a
/// typo), `--strict` refuses it; a broken policy a DBA stored makes `rules check` fail too,
/// and `rules try` says why the rows are gone.
fn policy_typos_and_broken_policies(backend: rowguard::Backend) {
    let (_db, url) = seeded(backend);
    let typo = r#"[{"Sid": "HideThree", "Effect": "Deny", "Action": "contacts:Read", "Resource": "arn:rowguard:defualt:local:*:contacts/3"}]"#;
    let set = [
        "policies",
        "set",
        "--set-type",
        "roles",
        "--set-value",
        "support",
        "-",
    ];
    let (code, _, stderr) = xtask_stdin(&[&set[..], &["--strict"]].concat(), &url, typo);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(r#"names no row of model contacts (its rows are arn:rowguard:default:local:<owner_id>:contacts/<id>)"#),
        "{stderr}"
    );
    assert_eq!(xtask(&["policies", "list"], &url).1, "no policies stored\n");
    let (code, stdout, stderr) = xtask_stdin(&set, &url, typo);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("added: policy roles \"support\""),
        "{stdout}"
    );
    assert!(
        stderr.contains("names no row of model contacts"),
        "{stderr}"
    );
    let (code, _, stderr) = xtask(&["policies", "check"], &url);
    assert_eq!(code, 0, "a typo is valid, only warned about: {stderr}");
    assert!(
        stderr.contains("names no row of model contacts"),
        "{stderr}"
    );
    // A DBA's broken policy: JSON, but not a policy, and it may deny.
    let (code, stdout, stderr) = xtask_stdin(
        &[
            "policies",
            "set",
            "--set-type",
            "roles",
            "--set-value",
            "devops",
            "-",
        ],
        &url,
        r#"[{"Effect": "Deny", "Action": "contacts:Read", "Resource": "*"}]"#,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut conn = rowguard::establish(&rowguard::DatabaseUrl::parse(&url).unwrap()).unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        r#"UPDATE authorization_policies SET policy = '[{"Effect": "Deny"}]' WHERE set_value = 'devops'"#,
    )
    .unwrap();
    let (code, stdout, _) = xtask(&["rules", "check"], &url);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("1 invalid policy(ies)"), "{stdout}");
    let (code, stdout, stderr) = xtask(
        &[
            "rules",
            "explain",
            "--model",
            "contacts",
            "--as",
            "roles=devops",
        ],
        &url,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout
            .contains(r#"policy roles "devops": INVALID, refuses everything (it may hold a Deny)"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("effective, subject variables filled in: FALSE"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            r#"policy roles "devops" is invalid and refuses everything (it may hold a Deny)"#
        ),
        "{stderr}"
    );
}

backend_tests!(policy_typos => policy_typos_and_broken_policies);

/// Loose URLs do no damage: a server URL without a database, an in-memory database, a
/// SQLite file that does not exist (for anything but `migrate`).
#[test]
fn loose_urls_are_refused_in_one_line() {
    let (code, _, stderr) = xtask(&["migrate"], "postgres://postgres@127.0.0.1");
    assert_eq!(code, 1);
    assert!(stderr.contains("names no database"), "{stderr}");
    let (code, _, stderr) = xtask(&["migrate"], "mysql://root@127.0.0.1:3306/");
    assert_eq!(code, 1);
    assert!(stderr.contains("names no database"), "{stderr}");
    for memory in ["sqlite::memory:", ":memory:", "file::memory:?cache=shared"] {
        let (code, _, stderr) = xtask(&["migrate"], memory);
        assert_eq!(code, 1, "{memory}");
        assert!(stderr.contains("in-memory database"), "{memory}: {stderr}");
    }
    let dir = std::env::temp_dir().join(format!("rowguard-loose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.db");
    let url = format!("file:{}", file.display());
    let (code, _, stderr) = xtask(&["rules", "list"], &url);
    assert_eq!(code, 1);
    assert!(stderr.contains("no SQLite database at"), "{stderr}");
    assert!(!file.exists(), "nothing created");
    let (code, stdout, stderr) = xtask(&["migrate"], &url);
    assert_eq!(code, 0);
    assert!(stderr.contains("created SQLite database"), "{stderr}");
    assert!(
        stdout.contains("migration(s) applied") && file.exists(),
        "{stdout}"
    );

    let (code, stdout, _) = xtask(&["migrate", "status"], &url);
    assert_eq!(code, 0);
    assert!(stdout.contains("0 pending"), "{stdout}");
    // The newest drops the stored policies: it needs --yes too.
    let (code, _, stderr) = xtask(&["migrate", "revert"], &url);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("authorization_policies") && stderr.contains("add --yes"),
        "{stderr}"
    );
    let (code, stdout, _) = xtask(&["migrate", "revert", "--yes"], &url);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("reverted 2026-"), "{stdout}");
    let (_, json, _) = xtask(&["migrate", "status", "--json"], &url);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pending = status
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["applied"] == false)
        .count();
    assert_eq!(pending, 1, "{json}");
    let (_, stdout, _) = xtask(&["migrate"], &url);
    assert!(stdout.contains("1 migration(s) applied"), "{stdout}");

    // Reverting down to rowguard's first migration: that one drops every table, so it
    // needs --yes; without it nothing is reverted.
    let applied = |url: &str| {
        let (_, json, _) = xtask(&["migrate", "status", "--json"], url);
        let status: serde_json::Value = serde_json::from_str(&json).unwrap();
        status
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["applied"] == true)
            .count()
    };
    assert_eq!(xtask(&["migrate", "revert", "--yes"], &url).0, 0);
    // Then the decision log, which needs --yes as well.
    let (code, _, stderr) = xtask(&["migrate", "revert"], &url);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("decision log") && stderr.contains("add --yes"),
        "{stderr}"
    );
    assert_eq!(xtask(&["migrate", "revert", "--yes"], &url).0, 0);
    // Then the rule history, which needs --yes as well.
    let (code, _, stderr) = xtask(&["migrate", "revert"], &url);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("rule history") && stderr.contains("add --yes"),
        "{stderr}"
    );
    assert_eq!(xtask(&["migrate", "revert", "--yes"], &url).0, 0);
    while applied(&url) > 1 {
        assert_eq!(xtask(&["migrate", "revert"], &url).0, 0);
    }
    let (code, _, stderr) = xtask(&["migrate", "revert"], &url);
    assert_eq!(code, 1);
    assert!(stderr.contains("add --yes"), "{stderr}");
    assert_eq!(applied(&url), 1, "nothing reverted without --yes");
    let (code, stdout, _) = xtask(&["migrate", "revert", "--yes"], &url);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "reverted 2026-11-23-000001_authorization_tables\n")
    );
    let (code, _, stderr) = xtask(&["migrate", "revert", "--yes"], &url);
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing to revert"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Help and completions: `jobs worker` offers no subject options; completions cover every
/// command.
#[test]
fn help_and_completions() {
    let (code, stdout, _) = xtask(&["jobs", "worker", "--help"], "unused.db");
    assert_eq!(code, 0);
    assert!(
        !stdout.contains("--as") && !stdout.contains("--attr"),
        "{stdout}"
    );
    let (_, stdout, _) = xtask(&["jobs", "list", "--help"], "unused.db");
    assert!(
        stdout.contains("--as") && stdout.contains("--json"),
        "{stdout}"
    );
    let (code, script, _) = xtask(&["completions", "bash"], "unused.db");
    assert_eq!(code, 0);
    for word in ["sync-models", "rules", "migrate", "demo", "--database-url"] {
        assert!(script.contains(word), "{word}");
    }
}

/// `cargo xtask demo | head -1`: the reader leaving early is not an error.
#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("demo")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("rowguard demo"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}
