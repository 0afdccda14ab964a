//! A new application, as a newcomer writes it from the README: a crate of its own that depends
//! on rowguard by path, declares a model, and uses the installed `rowguard` command to migrate,
//! sync its models and seed its rules; then it reads through the guard. On every backend.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CARGO_TOML: &str = r#"[package]
name = "scratch_app"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[features]
mysql = ["rowguard/mysql", "diesel/mysql"]

[dependencies]
rowguard = { path = "ROWGUARD" }
diesel = { version = "2.3", default-features = false, features = ["sqlite", "postgres", "r2d2"] }
"#;

const MAIN_RS: &str = r#"use diesel::connection::SimpleConnection;
use diesel::prelude::*;

diesel::table! {
    notes (id) { id -> BigInt, owner -> Text, body -> Text }
}

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = notes)]
pub struct Note { pub id: i64, pub owner: String, pub body: String }

rowguard::authorizable!(Note => notes(id) { id, owner, body });

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = rowguard::DatabaseUrl::from_env()?;
    let pool = rowguard::connect_pool(&url, rowguard::PoolOptions::default())?;
    let mut conn = pool.get()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [setup] if setup == "setup" => {
            // The application's own table (its own migration, in a real application).
            conn.batch_execute("CREATE TABLE notes (id BIGINT PRIMARY KEY, owner VARCHAR(100) NOT NULL, body TEXT NOT NULL)")?;
            for (id, owner) in [(1, "alice"), (2, "alice"), (3, "bob")] {
                let note = Note { id, owner: owner.into(), body: format!("note {id}") };
                diesel::insert_into(notes::table).values(&note).execute(&mut conn)?;
            }
        }
        [user, role] => {
            let auth = rowguard::Authorizer::new(rowguard::Config::load()?);
            let rbac = rowguard::rbac::Rbac::new(auth.config());
            let subject = rowguard::Subject::new().with_set("roles", [role]).with_attribute("id", user);
            let guard = auth.guard(rbac.subject(&mut *conn, subject)?);
            let notes: Vec<Note> = guard.load_all(&mut conn, None)?;
            println!("{user} ({role}) reads {:?}", notes.iter().map(|n| n.id).collect::<Vec<_>>());
        }
        _ => return Err("usage: scratch_app setup | scratch_app USER ROLE".into()),
    }
    Ok(())
}
"#;

const SEED: &str = r#"{
  "permissions": ["notes.export"],
  "roles": [{"name": "member", "permissions": ["notes.export"]}, {"name": "moderator", "inherits": ["member"]}],
  "rules": [
    {"set_type": "roles", "set_value": "member", "model": "job_executions",
     "rules": {"create": "*", "read": {"search": {"user_identifier": "=$subject.id"}}}},
    {"set_type": "roles", "set_value": "member", "model": "notes",
     "rules": {"read": {"search": {"owner": "=$subject.id"}}}},
    {"set_type": "roles", "set_value": "moderator", "model": "notes", "rules": {"read": "*"}}
  ]
}
"#;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes the application and builds it once for all backends; its folder and binary.
fn application() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scratch-app");
        let dir = target.join("crate");
        std::fs::create_dir_all(dir.join("src")).expect("crate dir");
        std::fs::create_dir_all(dir.join("seeds")).expect("seeds dir");
        let repo = repository().canonicalize().expect("repository");
        let manifest = CARGO_TOML.replace("ROWGUARD", &repo.display().to_string());
        std::fs::write(dir.join("Cargo.toml"), manifest).expect("Cargo.toml");
        std::fs::write(dir.join("src/main.rs"), MAIN_RS).expect("main.rs");
        std::fs::write(dir.join("seeds/notes.json"), SEED).expect("seed");
        // The workspace's versions, so the build needs no network and matches ours.
        std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--offline", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target.join("build"));
        if cfg!(feature = "mysql") {
            build.args(["--features", "mysql"]);
        }
        let out = build.output().expect("cargo build");
        assert!(
            out.status.success(),
            "the new application does not build:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, target.join("build/debug/scratch_app"))
    })
}

fn run(program: &Path, args: &[&str], dir: &Path, url: &str) -> String {
    run_with(program, args, dir, url, &[])
}

fn run_with(program: &Path, args: &[&str], dir: &Path, url: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env("DATABASE_URL", url);
    for (name, _) in std::env::vars() {
        if name.starts_with("ROWGUARD_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?}: {text}",
        program.display()
    );
    text
}

/// `rowguard migrate` on an empty database of `backend`, then the README's steps.
fn a_new_application_works_from_the_readme(backend: rowguard::Backend) {
    let (dir, app) = application();
    let db = rowguard::testing::TestDatabase::empty(backend).unwrap_or_else(|e| panic!("{e}"));
    let url = db.url().target().to_owned();
    let rowguard = Path::new(env!("CARGO_BIN_EXE_rowguard"));

    assert!(run(rowguard, &["migrate"], dir, &url).contains("migration(s) applied"));
    run(app, &["setup"], dir, &url);
    let synced = run(rowguard, &["sync-models"], dir, &url);
    assert!(
        synced.contains("+ notes")
            && synced.contains("+ job_executions")
            && synced.contains("2 added"),
        "{synced}"
    );
    assert!(run(rowguard, &["seed", "--dir", "seeds"], dir, &url).contains("SUCCESS"));
    assert_eq!(
        run(app, &["alice", "member"], dir, &url),
        "alice (member) reads [1, 2]\n"
    );
    assert_eq!(
        run(app, &["bob", "member"], dir, &url),
        "bob (member) reads [3]\n"
    );
    assert_eq!(
        run(app, &["carol", "moderator"], dir, &url),
        "carol (moderator) reads [1, 2, 3]\n",
        "a moderator inherits member's rule and has its own"
    );
    let rules = run(rowguard, &["rules", "list", "--json"], dir, &url);
    let rules: serde_json::Value = serde_json::from_str(&rules).expect("json");
    assert_eq!(rules.as_array().map(Vec::len), Some(3));
    // Jobs in the application: its own command, permission and job rules.
    let id_file = dir.join(format!(".rowguard-instance-{backend:?}"));
    let id_file = id_file.display().to_string();
    let env = [
        (
            "ROWGUARD_ALLOWED_COMMANDS",
            r#"{"export":{"program":"echo","args":["exported"],"permission":"notes.export"}}"#,
        ),
        ("ROWGUARD_INSTANCE_ID_FILE", id_file.as_str()),
    ];
    let ran = run_with(
        rowguard,
        &[
            "jobs",
            "run",
            "export",
            "--as",
            "roles=moderator",
            "--attr",
            "id=carol",
        ],
        dir,
        &url,
        &env,
    );
    assert!(
        ran.contains("exported") && ran.contains("completed (exit 0)"),
        "{ran}"
    );
    let listed = run_with(
        rowguard,
        &["jobs", "list", "--as", "roles=member", "--attr", "id=carol"],
        dir,
        &url,
        &env,
    );
    assert!(
        listed.contains("export") && listed.contains("carol"),
        "{listed}"
    );
    let _ = std::fs::remove_file(&id_file);
    // sync-models again in the application: its tree has no job model, none is removed.
    let again = run(rowguard, &["sync-models"], dir, &url);
    assert!(again.contains("0 removed"), "{again}");
}

// Named per backend, so `cargo xtask test` can skip (and CI fail) a backend it cannot use.
mod new_application {
    #[test]
    fn on_sqlite() {
        super::a_new_application_works_from_the_readme(rowguard::Backend::Sqlite);
    }
    #[test]
    fn on_postgres() {
        super::a_new_application_works_from_the_readme(rowguard::Backend::Postgres);
    }
    #[cfg(feature = "mysql")]
    #[test]
    fn on_mysql() {
        super::a_new_application_works_from_the_readme(rowguard::Backend::Mysql);
    }
}
