//! The demo: a contacts application on a fresh database, rules for a few roles, and what
//! three subjects may do. `cargo xtask demo` (or `cargo run --example contacts`).

use std::error::Error;
use std::io::Write;

use diesel::prelude::*;
use rowguard::rules::{Relation, Right};
use rowguard::{
    establish, run_pending_migrations, store, AnyConnection, Authorizable, Authorizer, Backend,
    Config, DatabaseUrl, Guard, GuardConnection, ModelQueries, Subject,
};

use super::app::{self, Contact, ContactType};

const RULES: [(&str, &str, &str, &str); 5] = [
    (
        "roles",
        "agent",
        "contacts",
        r#"{"create":"*","read":{"search":{"id":"=1;2;3;4;5"}},"update":{"search":{"id":"=!2"}}}"#,
    ),
    ("roles", "agent", "contact_types", r#"{"read":"*"}"#),
    (
        "roles",
        "sales",
        "contacts",
        r#"{"create":{"search":{"owner_id":"=$subject.id"}},"read":{"search":{"owner_id":"=$subject.id"}},"update":{"search":{"owner_id":"=$subject.id","status":"=open"}},"delete":{"search":{"owner_id":"=$subject.id","status":"=pending"}}}"#,
    ),
    // A relation rule: support reads the contacts whose contact type it may read.
    (
        "roles",
        "support",
        "contacts",
        r#"{"create":"*","read":{"search":{"contact_type.id":"=!null"}}}"#,
    ),
    (
        "universal",
        "rowguard-universal",
        "contact_types",
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    ),
];

/// Which connection type the guard's tour runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// The backend's own Diesel connection (`SqliteConnection`, `PgConnection`,
    /// `MysqlConnection`): what most applications have.
    #[default]
    Native,
    /// rowguard's `AnyConnection`, one type over the three backends.
    Any,
}

/// Runs the demo against `url`, the guard's tour on `connection`, writing its report to `out`.
pub fn run(
    url: &DatabaseUrl,
    connection: Connection,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    prepare_fresh(url)?;
    writeln!(
        out,
        "rowguard demo: a contacts application on {} ({url})\n",
        url.backend()
    )?;

    // A short-lived program needs one connection, not a pool.
    let mut conn = establish(url)?;
    let applied = run_pending_migrations(&mut conn)?;
    app::create_tables(&mut conn)?;
    app::insert_samples(&mut conn)?;
    writeln!(
        out,
        "1. Database: {} migration(s) applied; tables contact_types (2 rows) and contacts (10 rows).",
        applied.len()
    )?;

    let mut config = Config::default();
    config
        .absolute_rights
        .insert("roles".into(), vec!["admin".into()]);
    let auth = Authorizer::new(config);
    auth.register::<Contact>(&mut conn)?;
    auth.register::<ContactType>(&mut conn)?;
    // What sync-models derives from `diesel::joinable!(contacts -> contact_types (…))`.
    store::put_relation(
        &mut conn,
        Contact::NAME,
        &Relation::belongs_to("contact_type", "contact_type_id", ContactType::NAME, "id"),
    )?;
    store::put_relation(
        &mut conn,
        ContactType::NAME,
        &Relation::has_many("contacts", "id", Contact::NAME, "contact_type_id"),
    )?;
    writeln!(
        out,
        "2. Models registered: {} and {}, with the relations contacts.contact_type (belongs-to)\n   \
         and contact_types.contacts (has-many) that sync-models derives from diesel::joinable!.",
        Contact::NAME,
        ContactType::NAME
    )?;

    writeln!(
        out,
        "3. Rules in authorization_rules (set type, value, model, rules):"
    )?;
    for (set_type, value, model, rules) in RULES {
        store::put_rule(&mut conn, set_type, value, model, rules)?;
        writeln!(out, "   {set_type:<9} {value:<18} {model:<13} {rules}")?;
    }
    writeln!(
        out,
        "   absolute rights (configuration): roles \"admin\" bypasses every rule"
    )?;
    auth.invalidate();

    // The guard's tour runs on the connection type the application chose: Diesel's own
    // (SqliteConnection, PgConnection, MysqlConnection) or rowguard's AnyConnection. The
    // guard calls are the same: `tour` is generic over the connection.
    match connection {
        Connection::Any => tour(&auth, &mut conn, out)?,
        Connection::Native => match establish(url)? {
            AnyConnection::Sqlite(mut native) => tour(&auth, &mut native, out)?,
            AnyConnection::Postgres(mut native) => tour(&auth, &mut native, out)?,
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(mut native) => tour(&auth, &mut native, out)?,
        },
    }
    let features = if url.backend() == Backend::Mysql {
        "run -p xtask --features mysql --"
    } else {
        "xtask"
    };
    writeln!(
        out,
        "\nThe same from a shell: cargo {features} rules explain --database-url '{}' --model contacts --as roles=agent --action update",
        url.redacted()
    )?;
    jobs_demo(url, &auth, &mut conn, out)?;
    Ok(())
}

/// Sections 4 to 6: what three subjects may do, a denied write, an explanation. Generic over
/// the application's connection type: the guard's row methods need no Diesel bounds.
fn tour<C>(auth: &Authorizer, conn: &mut C, out: &mut dyn Write) -> Result<(), Box<dyn Error>>
where
    C: GuardConnection,
    Contact: ModelQueries<C>,
    ContactType: ModelQueries<C>,
{
    let connection = std::any::type_name::<C>()
        .rsplit("::")
        .next()
        .unwrap_or("connection");
    let subjects = [
        (
            "agent",
            "roles=agent",
            Subject::new().with_set("roles", ["agent"]),
        ),
        (
            "sales user 17",
            "roles=sales, id=17",
            Subject::new()
                .with_set("roles", ["sales"])
                .with_attribute("id", 17),
        ),
        (
            "support",
            "roles=support",
            Subject::new().with_set("roles", ["support"]),
        ),
        (
            "admin",
            "roles=admin",
            Subject::new().with_set("roles", ["admin"]),
        ),
    ];
    writeln!(
        out,
        "\n4. What each subject may do with contacts (contact ids; the guard on {connection}):"
    )?;
    writeln!(
        out,
        "   {:<14} {:<19} {:<22} {:<16} {:<14} {:<11} contact types read",
        "subject", "sets", "read", "update", "delete", "create"
    )?;
    // Absolute rights: the admin sees every row (what the table holds).
    let admin: Guard<C> = auth.guard(subjects[3].2.clone());
    for (name, sets, subject) in &subjects {
        let guard: Guard<C> = auth.guard(subject.clone());
        let readable: Vec<Contact> = guard.load_all(conn, None)?;
        let all: Vec<Contact> = admin.load_all(conn, None)?;
        let update = permitted(&guard, conn, Right::Update, &all)?;
        let delete = permitted(&guard, conn, Right::Delete, &all)?;
        let mut new = all[0].clone();
        new.id = 100;
        let create = [17i64, 42]
            .iter()
            .filter_map(|owner| {
                new.owner_id = *owner;
                guard
                    .can(conn, Right::Create, &new)
                    .ok()
                    .filter(|ok| *ok)
                    .map(|_| format!("owner {owner}"))
            })
            .collect::<Vec<_>>();
        let types: Vec<String> = guard
            .load_all::<ContactType>(conn, None)?
            .into_iter()
            .map(|t| t.name)
            .collect();
        writeln!(
            out,
            "   {:<14} {:<19} {:<22} {:<16} {:<14} {:<11} {}",
            name,
            sets,
            if readable.len() == all.len() {
                format!("all {}", all.len())
            } else {
                readable
                    .iter()
                    .map(|c| c.id.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            },
            update,
            delete,
            if create.len() == 2 {
                "any".to_string()
            } else if create.is_empty() {
                "no".to_string()
            } else {
                create.join(",")
            },
            types.join(","),
        )?;
    }

    let agent: Guard<C> = auth.guard(subjects[0].2.clone());
    writeln!(
        out,
        "\n5. A denied write: the agent sets contact 2's score to 0."
    )?;
    let mut two: Contact = admin.find(conn, 2i64)?;
    let before = two.score;
    two.score = 0;
    match agent.update(conn, &two) {
        Err(e) => writeln!(out, "   error: {e}")?,
        Ok(()) => writeln!(out, "   unexpectedly allowed")?,
    }
    let after = admin.find::<Contact>(conn, 2i64)?.score;
    writeln!(
        out,
        "   contact 2's score is still {after} (was {before}): a denied write changes nothing."
    )?;
    match agent.find::<Contact>(conn, 6i64) {
        Err(e) => writeln!(
            out,
            "   reading contact 6 as the agent: {e} (its existence is not revealed)"
        )?,
        Ok(_) => writeln!(out, "   contact 6 unexpectedly readable")?,
    }

    writeln!(
        out,
        "\n   A refused foreign-key target: support, which may create contacts but reads only the\n   \
         customer type, creates one of the supplier type (the hole the PHP package admits)."
    )?;
    let support: Guard<C> = auth.guard(subjects[2].2.clone());
    let mut new = admin.find::<Contact>(conn, 1i64)?;
    new.id = 11;
    new.contact_type_id = 2;
    match support.insert(conn, &new) {
        Err(e) => writeln!(out, "   error: {e}")?,
        Ok(()) => writeln!(out, "   unexpectedly allowed")?,
    }
    let count = admin.load_all::<Contact>(conn, None)?.len();
    writeln!(out, "   contacts still holds {count} rows.")?;

    writeln!(out, "\n6. Explain: why may the agent update what it may?")?;
    let explanation = agent.explain::<Contact>(conn, Right::Update)?;
    for line in explanation.to_string().lines() {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// Section 7: an allowed command run as a job, its output, and a kill.
fn jobs_demo(
    url: &DatabaseUrl,
    auth: &Authorizer,
    conn: &mut rowguard::AnyConnection,
    out: &mut dyn Write,
) -> Result<(), Box<dyn Error>> {
    use rowguard::jobs::{self, JobExecution, JobsConfig, Runner};
    use std::collections::BTreeMap;
    use std::time::Duration;

    auth.register::<JobExecution>(conn)?;
    let own = r#"{"create":"*","read":{"search":{"user_identifier":"=$subject.id"}},"update":{"search":{"user_identifier":"=$subject.id"}}}"#;
    store::put_rule(conn, "roles", "sales", "job_executions", own)?;
    // Running a command needs its permission (default jobs.command.run), granted by RBAC.
    let rbac = rowguard::seed::Seed::parse(vec![(
        "demo-rbac.json".into(),
        r#"{"permissions": ["jobs.command.run"],
            "roles": [{"name": "sales", "permissions": ["jobs.command.run"]},
                      {"name": "agent", "permissions": []}]}"#
            .into(),
    )])?;
    rowguard::seed::apply(conn, &rbac, Default::default(), &mut |_| {})?;
    auth.invalidate();
    let config = JobsConfig {
        commands: serde_json::from_str(
            r#"{"greet": {"program": "echo", "args": ["hello,", "{name}"], "params": {"name": {"pattern": "[A-Za-z ]+"}}, "permission": "jobs.command.run"},
                "spin":  {"program": "sh", "args": ["-c", "trap '' INT TERM; echo working; while :; do sleep 0.1; done"], "permission": "jobs.command.run"}}"#,
        )?,
        sigterm_after_ms: 300,
        sigkill_after_ms: 300,
        poll_interval_ms: 50,
        ..JobsConfig::default()
    };
    let pool = rowguard::connect_pool(
        url,
        rowguard::PoolOptions {
            max_size: 4,
            ..Default::default()
        },
    )?;
    let runner = Runner::new(pool, auth.clone(), config, "demo-instance".into());
    let sales = auth.guard(
        Subject::new()
            .with_set("roles", ["sales"])
            .with_attribute("id", 17),
    );

    writeln!(out, "\n7. Jobs: allow-listed commands, run as audited jobs (job_executions is itself authorizable).")?;
    let params = BTreeMap::from([("name".to_string(), "world".to_string())]);
    let job = runner.run(&sales, "greet", &params, Duration::from_secs(10))?;
    let (_, chunks) = jobs::output(conn, &sales, &job.uuid, 0)?;
    let text = jobs::OutputChunk::text(&chunks);
    writeln!(
        out,
        "   sales user 17 runs greet name=world: {} (exit {}), output: {}",
        job.status,
        job.exit_code.unwrap_or(-1),
        text.trim_end()
    )?;
    match runner.start(
        &sales,
        "greet",
        &BTreeMap::from([("name".to_string(), "x; rm -rf /".to_string())]),
    ) {
        Err(e) => writeln!(out, "   greet name=\"x; rm -rf /\": {e}")?,
        Ok(_) => writeln!(out, "   unexpectedly started")?,
    }
    let uuid = runner.start(&sales, "spin", &BTreeMap::new())?;
    runner.wait_for_output(&sales, &uuid, "working", Duration::from_secs(10))?;
    writeln!(
        out,
        "   sales user 17 starts spin (it ignores SIGINT and SIGTERM) and asks for a kill ..."
    )?;
    runner.request_kill(&sales, &uuid)?;
    let job = runner.wait(&sales, &uuid, Duration::from_secs(10))?;
    let (_, chunks) = jobs::output(conn, &sales, &uuid, 0)?;
    writeln!(
        out,
        "   spin is {} (killed by {}); its output:",
        job.status,
        job.killed_by.unwrap_or_default()
    )?;
    for line in jobs::OutputChunk::text(&chunks).lines() {
        writeln!(out, "     {line}")?;
    }
    Ok(())
}

/// The contacts `guard` may act on for `right`, as a short list.
fn permitted<C: GuardConnection>(
    guard: &Guard<C>,
    conn: &mut C,
    right: Right,
    all: &[Contact],
) -> Result<String, rowguard::Error>
where
    Contact: rowguard::ModelQueries<C>,
{
    let mut ids = Vec::new();
    for c in all {
        if guard.can(conn, right, c)? {
            ids.push(c.id.to_string());
        }
    }
    Ok(match ids.len() {
        0 => "-".into(),
        n if n == all.len() => format!("all {n}"),
        _ => ids.join(","),
    })
}

/// The demo wants a fresh database: a SQLite file is recreated; a server database must not
/// hold rowguard's tables yet (the demo never drops anything there).
/// Refuses a database that holds any table, on every backend: the demo creates its tables
/// and rules, and never touches (let alone deletes) anything it did not create in this run.
fn prepare_fresh(url: &DatabaseUrl) -> Result<(), Box<dyn Error>> {
    // A SQLite file is judged without opening it: opening alone may rewrite its header.
    if url.backend() == Backend::Sqlite {
        let Some(path) = url.sqlite_path() else {
            return Ok(()); // in memory: nothing to destroy
        };
        return match std::fs::metadata(path) {
            Ok(meta) if meta.len() > 0 => Err(format!(
                "the demo needs an empty database, but {url} already exists and holds data; \
                 it never changes or deletes existing data: point --database-url (or DATABASE_URL) at a new file, \
                 or leave both unset for a fresh one"
            )
            .into()),
            _ => Ok(()),
        };
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = establish(url)?;
    let sql = match url.backend() {
        Backend::Postgres | Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Backend::Mysql => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    let tables = diesel::sql_query(sql).get_result::<Count>(&mut conn)?.n;
    if tables == 0 {
        return Ok(());
    }
    Err(format!(
        "the demo needs an empty database, but {url} already holds {tables} table(s); \
         it never changes or deletes existing data: point --database-url (or DATABASE_URL) at a new database"
    )
    .into())
}

/// Where the demo runs when no database is given: a new SQLite file in a new temporary
/// directory, so that running it again never meets (or deletes) an earlier database.
pub fn fresh_default_url() -> Result<DatabaseUrl, Box<dyn Error>> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let dir = std::env::temp_dir().join(format!("rowguard-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir(&dir)?;
    let path = dir.join("demo.sqlite3");
    Ok(DatabaseUrl::parse(&path.to_string_lossy())?)
}
