//! The example contacts application: two Diesel models made authorizable, their tables on
//! every backend, and sample data. Used by `cargo xtask demo`, the tests and the benchmarks.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rowguard::{authorizable, AnyConnection, Backend};

diesel::table! {
    contact_types (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        status -> Text,
        contact_type_id -> BigInt,
        owner_id -> BigInt,
        score -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(contacts -> contact_types (contact_type_id));
diesel::allow_tables_to_appear_in_same_query!(contact_types, contacts);

/// A kind of contact.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = contact_types)]
pub struct ContactType {
    pub id: i64,
    pub name: String,
}

/// A contact.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct Contact {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub status: String,
    pub contact_type_id: i64,
    pub owner_id: i64,
    pub score: i32,
    pub created_at: NaiveDateTime,
}

authorizable!(ContactType => contact_types(id) { id, name });
// In IAM-style policies a contact is `arn:rowguard:default:local:<owner_id>:contacts/<id>`:
// each contact's account is its owner.
authorizable!(Contact => contacts(id) {
    id, name, email, status, contact_type_id, owner_id, score, created_at
} arn { account: owner_id });

/// Creates the two tables.
pub fn create_tables(conn: &mut AnyConnection) -> QueryResult<()> {
    let (id, ts, text) = match conn.backend() {
        Backend::Sqlite => ("INTEGER PRIMARY KEY", "TIMESTAMP", "TEXT"),
        Backend::Postgres => ("BIGINT PRIMARY KEY", "TIMESTAMP", "TEXT"),
        Backend::Mysql => ("BIGINT PRIMARY KEY", "DATETIME", "VARCHAR(191)"),
    };
    conn.batch_execute(&format!(
        "CREATE TABLE contact_types (id {id}, name {text} NOT NULL);
         CREATE TABLE contacts (
             id {id},
             name {text} NOT NULL,
             email {text},
             status {text} NOT NULL,
             contact_type_id BIGINT NOT NULL REFERENCES contact_types (id),
             owner_id BIGINT NOT NULL,
             score INTEGER NOT NULL,
             created_at {ts} NOT NULL
         );
         CREATE INDEX contacts_owner ON contacts (owner_id);"
    ))
}

fn at(day: u32) -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, day)
        .and_then(|d| d.and_hms_opt(9, 30, 0))
        .expect("valid sample date")
}

/// Two contact types and ten contacts, owned by users 17 and 42.
pub fn insert_samples(conn: &mut AnyConnection) -> QueryResult<()> {
    let types = vec![
        ContactType {
            id: 1,
            name: "customer".into(),
        },
        ContactType {
            id: 2,
            name: "supplier".into(),
        },
    ];
    // One statement per row: Diesel's multi-backend connection has no batch insert.
    conn.transaction(|conn| {
        for t in &types {
            diesel::insert_into(contact_types::table)
                .values(t)
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    let names = [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
        "Edsger Dijkstra",
        "Barbara Liskov",
        "Donald Knuth",
        "Frances Allen",
        "Ken Thompson",
        "Margaret Hamilton",
        "John Backus",
    ];
    let statuses = [
        "open", "open", "pending", "closed", "open", "pending", "open", "closed", "open", "pending",
    ];
    let rows: Vec<Contact> = names
        .iter()
        .zip(statuses)
        .enumerate()
        .map(|(i, (name, status))| {
            let id = i as i64 + 1;
            Contact {
                id,
                name: (*name).into(),
                email: (id % 3 != 0).then(|| {
                    format!(
                        "{}@example.com",
                        name.split(' ').next().unwrap_or("x").to_lowercase()
                    )
                }),
                status: status.into(),
                contact_type_id: if id % 4 == 0 { 2 } else { 1 },
                owner_id: if id % 2 == 0 { 42 } else { 17 },
                score: (id as i32) * 10,
                created_at: at(id as u32),
            }
        })
        .collect();
    conn.transaction(|conn| {
        for row in &rows {
            diesel::insert_into(contacts::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Benchmark data: contact type 1 and contacts 1..=n, `owner_id = id % 100,000` (so owners
/// 1, 2, 3 hold 30 rows at a million), generated inside the database. Used by the benchmarks
/// only, not by the demo or the tests.
#[allow(dead_code)]
pub fn fill_bulk(conn: &mut AnyConnection, n: i64) -> QueryResult<()> {
    create_tables(conn)?;
    conn.batch_execute("INSERT INTO contact_types (id, name) VALUES (1, 'customer')")?;
    let sql = match conn.backend() {
        Backend::Postgres => format!(
            "INSERT INTO contacts SELECT x, 'contact ' || x, NULL, 'open', 1, x % 100000, \
             (x % 100)::int, TIMESTAMP '2026-11-01 00:00:00' FROM generate_series(1, {n}) AS x; \
             ANALYZE contacts;"
        ),
        Backend::Sqlite => format!(
            "INSERT INTO contacts WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
             SELECT x, 'contact ' || x, NULL, 'open', 1, x % 100000, \
             x % 100, '2026-11-01 00:00:00' FROM seq; ANALYZE;"
        ),
        // InnoDB keeps its statistics itself; ANALYZE TABLE would return a result set.
        Backend::Mysql => {
            // Recursive CTEs stop at 1,000 rows by default (MariaDB's name, then MySQL's).
            let _ = conn.batch_execute("SET SESSION max_recursive_iterations = 100000000");
            let _ = conn.batch_execute("SET SESSION cte_max_recursion_depth = 100000000");
            format!(
            "INSERT INTO contacts WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
             SELECT x, CONCAT('contact ', x), NULL, 'open', 1, x % 100000, \
             x % 100, '2026-11-01 00:00:00' FROM seq"
            )
        }
    };
    conn.batch_execute(&sql)
}
