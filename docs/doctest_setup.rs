// Included by doc examples (`# include!("…/doctest_setup.rs");`), never compiled into the
// crate: a `contacts` model on a new SQLite file, migrated, registered, with three rows
// (1 open, 2 closed, 3 open; owner 17) and the rule of role `agent`: read open contacts,
// create any, update and delete its own.
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rowguard::{AnyConnection, Authorizer, Config, Subject};

diesel::table! {
    contacts (id) { id -> BigInt, name -> Text, status -> Text, owner_id -> BigInt }
}

#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub owner_id: i64,
}

rowguard::authorizable!(Contact => contacts(id) { id, name, status, owner_id });

/// The authorizer and a connection to a new SQLite file in a new temporary directory.
fn setup() -> Result<(Authorizer, AnyConnection), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!(
        "rowguard-doctest-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    let url = rowguard::DatabaseUrl::parse(&dir.join("doc.sqlite3").to_string_lossy())?;
    let mut conn = rowguard::establish(&url)?;
    rowguard::run_pending_migrations(&mut conn)?;
    conn.batch_execute(
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         status TEXT NOT NULL, owner_id BIGINT NOT NULL)",
    )?;
    for (id, status) in [(1, "open"), (2, "closed"), (3, "open")] {
        diesel::insert_into(contacts::table)
            .values(Contact { id, name: format!("C{id}"), status: status.into(), owner_id: 17 })
            .execute(&mut conn)?;
    }
    let auth = Authorizer::new(Config::default());
    auth.register::<Contact>(&mut conn)?;
    rowguard::store::put_rule(
        &mut conn,
        "roles",
        "agent",
        "contacts",
        r#"{"create":"*","read":{"search":{"status":"=open"}},
            "update":{"search":{"owner_id":"=$subject.id"}},
            "delete":{"search":{"owner_id":"=$subject.id"}}}"#,
    )?;
    Ok((auth, conn))
}

/// Agent 17.
#[allow(dead_code)]
fn agent() -> Subject {
    Subject::new().with_set("roles", ["agent"]).with_attribute("id", 17)
}
