//! The CLI: exit codes and one-line errors.

use std::process::Command;

fn xtask(args: &[&str], database_url: &str) -> (i32, String, String) {
    xtask_env(args, database_url, &[])
}

fn xtask_env(args: &[&str], database_url: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .output()
        .expect("run xtask");
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
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
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

    let (code, stdout, _) = xtask(&["rules", "check"], &url);
    assert_eq!(
        (code, stdout.trim()),
        (0, "5 rule(s) checked, 0 invalid; 0 model problem(s)")
    );
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
        stdout.contains(r#"rule 3 (roles "sales", model contact_types): read.search.idd: "=1": unknown column "idd""#),
        "{stdout}"
    );
    let (code, _, stderr) = xtask(
        &["rules", "try", "--model", "nope", "--as", "roles=x"],
        &url,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown model \"nope\""), "{stderr}");
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
        stderr.contains("there is no model named \"contacts\"; run cargo xtask sync-models first"),
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
    assert_eq!(
        (code, stdout.lines().last()),
        (0, Some("3 added, 0 changed, 0 removed, 0 unchanged"))
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

/// The jobs commands from the shell, on `backend`.
fn jobs_commands(backend: rowguard::Backend) {
    let db = rowguard::testing::TestDatabase::migrated(backend).unwrap_or_else(|e| panic!("{e}"));
    let url = db.url().target().to_owned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (code, _, stderr) = xtask(
        &[
            "sync-models",
            "--path",
            &root.join("src").display().to_string(),
        ],
        &url,
    );
    assert_eq!(code, 0, "{stderr}");
    let mut conn = db.connect().unwrap();
    rowguard::store::put_rule(
        &mut conn,
        "roles",
        "support",
        "job_executions",
        r#"{"create":"*","read":{"search":{"user_identifier":"=$subject.id"}},"update":{"search":{"user_identifier":"=$subject.id"}}}"#,
    )
    .unwrap();
    let id_file = std::env::temp_dir().join(format!(
        "rowguard-cli-instance-{}-{backend:?}",
        std::process::id()
    ));
    let id_file = id_file.display().to_string();
    let env = [
        (
            "ROWGUARD_ALLOWED_COMMANDS",
            r#"{"greet":{"program":"echo","args":["hello","{name}"],"params":{"name":{"pattern":"[a-z;$() ]+"}},"roles":["support"]},"fail":{"program":"sh","args":["-c","echo oops >&2; exit 4"],"roles":["*"]}}"#,
        ),
        ("ROWGUARD_INSTANCE_ID_FILE", id_file.as_str()),
    ];
    let alice = ["--as", "roles=support", "--attr", "id=alice"];
    let run = |args: &[&str]| xtask_env(&[&["jobs"], args, &alice].concat(), &url, &env);

    let (code, stdout, _) = run(&["commands"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("greet: echo hello {name}  params [name=/[a-z;$() ]+/]  roles [support]"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(&["run", "greet", "--param", "name=world; $(id)"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "hello world; $(id)\n"),
        "{stderr}"
    );
    assert!(stderr.contains("completed (exit 0)"), "{stderr}");
    let (code, stdout, stderr) = run(&["run", "fail"]);
    assert_eq!((code, stdout.as_str()), (1, "oops\n"));
    assert!(stderr.contains("failed (exit 4)"), "{stderr}");
    let (code, _, stderr) = run(&["run", "reboot"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("command \"reboot\" is not allowed (allowed: fail, greet)"),
        "{stderr}"
    );
    let (code, stdout, _) = run(&["list"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let uuid = stdout
        .lines()
        .find(|l| l.contains("greet"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (code, stdout, _) = run(&["output", &uuid, "--from", "6"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "world; $(id)\n"),
        "any byte offset, also inside a stored chunk"
    );
    let (code, stdout, _) = run(&["output", &uuid, "--follow"]);
    assert_eq!((code, stdout.as_str()), (0, "hello world; $(id)\n"));
    let (code, _, stderr) = run(&["kill", &uuid]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("job {uuid} is not running (status completed)")),
        "{stderr}"
    );
    let bob = xtask_env(
        &["jobs", "list", "--as", "roles=support", "--attr", "id=bob"],
        &url,
        &env,
    );
    assert_eq!(bob.1, "", "bob sees none of alice's jobs");
    let instance = std::fs::read_to_string(&id_file).unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(instance.trim()).map(|_| ()),
        Ok(()),
        "a persistent instance id"
    );
    let _ = std::fs::remove_file(&id_file);
}

backend_tests!(jobs => jobs_commands);

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
