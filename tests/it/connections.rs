//! The guard on the application's own connection type: Diesel's `SqliteConnection`,
//! `PgConnection` and `MysqlConnection`, rowguard's `AnyConnection`, and pooled connections of
//! them, through the same guard calls and with the same answers.

use diesel::prelude::*;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{
    store, AnyConnection, Authorizer, Backend, Config, Error, Guard, GuardConnection, ModelQueries,
    Subject,
};

use crate::app::{contacts, Contact};

rowguard::backend_tests!(
    native_connections_give_the_same_answers,
    diesel_pools_of_native_connections,
    transactions_are_seen_and_never_left_open,
);

const SALES: &str = r#"{"create":{"search":{"owner_id":"=$subject.id"}},"read":{"search":{"owner_id":"=$subject.id"}},"update":{"search":{"owner_id":"=$subject.id","status":"=open"}},"delete":{"search":{"owner_id":"=$subject.id","status":"=pending"}}}"#;

/// Role `admin` has absolute rights (it lists every row).
fn admin_config() -> Config {
    let mut config = Config::default();
    config
        .absolute_rights
        .insert("roles".into(), vec!["admin".into()]);
    config
}

fn sales_17() -> Subject {
    Subject::new()
        .with_set("roles", ["sales"])
        .with_attribute("id", 17)
}

/// Everything a guard answers about user 17's contacts, with the same calls on any
/// connection type, and then its writes (each on a row of its own, by `base` + offset).
#[derive(Debug, PartialEq)]
struct Answers {
    readable: Vec<i64>,
    open_readable: Vec<i64>,
    updatable: Vec<i64>,
    contact_5: String,
    contact_6: String,
    explain_sql: String,
    writes: Vec<String>,
}

/// The same guard calls on any connection type (generic: the guard's row methods need no
/// Diesel bounds).
fn answers<C>(auth: &Authorizer, conn: &mut C, base: i64) -> Answers
where
    C: GuardConnection,
    Contact: ModelQueries<C>,
{
    let guard: Guard<C> = auth.guard(sales_17());
    let all: Vec<Contact> = auth
        .guard(Subject::new().with_set("roles", ["admin"]))
        .load_all(conn, None)
        .expect("admin lists");
    let readable: Vec<i64> = guard
        .load_all::<Contact>(conn, None)
        .expect("list")
        .iter()
        .map(|c| c.id)
        .collect();
    let open = guard
        .search::<Contact>(r#"{"status":"=open"}"#)
        .expect("search");
    let open_readable = guard
        .load_all::<Contact>(conn, Some(open))
        .expect("list open")
        .iter()
        .map(|c| c.id)
        .collect();
    let updatable = all
        .iter()
        .filter(|c| guard.can(conn, Right::Update, *c).expect("can"))
        .map(|c| c.id)
        .collect();
    let show = |r: Result<Contact, Error>| match r {
        Ok(c) => c.name,
        Err(e) => e.to_string(),
    };
    let contact_5 = show(guard.find::<Contact>(conn, 5));
    let contact_6 = show(guard.find::<Contact>(conn, 6));
    let explain_sql = guard
        .explain::<Contact>(conn, Right::Update)
        .expect("explain")
        .sql;

    let mut writes = Vec::new();
    let mut own = all[0].clone();
    own.id = base;
    own.owner_id = 17;
    own.status = "open".into();
    writes.push(format!("insert own: {:?}", guard.insert(conn, &own)));
    let mut other = own.clone();
    other.id = base + 1;
    other.owner_id = 42;
    writes.push(format!("insert other's: {:?}", guard.insert(conn, &other)));
    own.score = 99;
    writes.push(format!("update own open: {:?}", guard.update(conn, &own)));
    own.status = "pending".into();
    writes.push(format!("update to pending: {:?}", guard.update(conn, &own)));
    writes.push(format!(
        "delete own pending: {:?}",
        guard.delete::<Contact>(conn, base)
    ));
    let left: Vec<i64> = guard
        .load_all::<Contact>(conn, None)
        .expect("list")
        .iter()
        .map(|c| c.id)
        .filter(|id| *id >= base)
        .collect();
    writes.push(format!("left: {left:?}"));
    Answers {
        readable,
        open_readable,
        updatable,
        contact_5,
        contact_6,
        explain_sql,
        writes,
    }
}

/// The ids of the open contacts the guard reads, through a scoped query in `C`'s own query
/// types (no generic code: what an application with one connection type writes).
macro_rules! scoped_open_ids {
    ($auth:expr, $conn:expr) => {{
        let guard = $auth.guard(sales_17());
        guard
            .read::<Contact>($conn)
            .expect("read")
            .filter(contacts::status.eq("open"))
            .select(contacts::id)
            .order(contacts::id)
            .load::<i64>($conn)
            .expect("load")
    }};
}

fn native_connections_give_the_same_answers(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, admin_config(), 2);
    let mut any = pool.get().expect("conn");
    store::put_rule(&mut any, "roles", "sales", "contacts", SALES).expect("rule");
    let on_any = answers(&auth, &mut *any, 100);
    assert_eq!(on_any.readable, [1, 3, 5, 7, 9], "{on_any:?}");
    assert_eq!(on_any.open_readable, [1, 5, 7, 9], "{on_any:?}");
    assert_eq!(on_any.contact_6, "not found: contacts 6");
    assert_eq!(
        on_any.writes,
        [
            "insert own: Ok(())",
            "insert other's: Err(Forbidden { action: Create, model: \"contacts\" })",
            "update own open: Ok(())",
            "update to pending: Err(Forbidden { action: Update, model: \"contacts\" })",
            "delete own pending: Err(Forbidden { action: Delete, model: \"contacts\" })",
            "left: [100]",
        ]
    );
    // Row 100 (open, user 17's) was written by the run: the scoped read sees it too.
    let with_100 = |ids: &[i64]| {
        let mut v = ids.to_vec();
        v.push(100);
        v
    };
    let any_open = scoped_open_ids!(auth, &mut *any);
    assert_eq!(any_open, with_100(&on_any.open_readable));

    let native_conn = db.connect().expect("connect");
    let (on_native, native_open, name) = match native_conn {
        AnyConnection::Sqlite(mut c) => (
            answers(&auth, &mut c, 200),
            scoped_open_ids!(auth, &mut c),
            "SqliteConnection",
        ),
        AnyConnection::Postgres(mut c) => (
            answers(&auth, &mut c, 200),
            scoped_open_ids!(auth, &mut c),
            "PgConnection",
        ),
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(mut c) => (
            answers(&auth, &mut c, 200),
            scoped_open_ids!(auth, &mut c),
            "MysqlConnection",
        ),
    };
    // Row 100 was written through AnyConnection: the native run reads it too.
    assert_eq!(on_native.readable, with_100(&on_any.readable), "{name}");
    assert_eq!(
        on_native.open_readable,
        with_100(&on_any.open_readable),
        "{name}"
    );
    let mut with_200 = on_native.open_readable.clone();
    with_200.push(200);
    assert_eq!(native_open, with_200, "{name}");
    assert_eq!(
        (
            &on_native.contact_5,
            &on_native.contact_6,
            &on_native.explain_sql
        ),
        (&on_any.contact_5, &on_any.contact_6, &on_any.explain_sql),
        "{name}"
    );
    let writes: Vec<String> = on_any
        .writes
        .iter()
        .map(|w| w.replace("[100]", "[200]"))
        .collect();
    assert_eq!(on_native.writes, writes, "{name}");
    // Nothing refused was written, on either connection.
    let mut check = db.connect().expect("connect");
    let ids: Vec<i64> = contacts::table
        .filter(contacts::id.ge(100))
        .select(contacts::id)
        .order(contacts::id)
        .load(&mut check)
        .expect("ids");
    assert_eq!(ids, [100, 200], "{name}");
}

/// A DBA edit through one connection type is in force on another at once, and a native
/// connection's transaction rolls a refused write back with the rest.
fn diesel_pools_of_native_connections(db: &TestDatabase) {
    use diesel::r2d2::{ConnectionManager, Pool};

    let (pool, auth) = crate::fixture::contacts(db, admin_config(), 2);
    let target = db.url().target().to_owned();
    macro_rules! check {
        ($conn:ty) => {{
            let native: Pool<ConnectionManager<$conn>> = Pool::builder()
                .max_size(1)
                .build(ConnectionManager::<$conn>::new(target.clone()))
                .expect("diesel pool");
            let mut c = native.get().expect("pooled native connection");
            // The store takes the pooled connection as it is.
            store::put_rule(&mut c, "roles", "sales", "contacts", SALES).expect("rule");
            let guard = auth.guard(sales_17());
            let ids: Vec<i64> = guard
                .read::<Contact>(&mut c)
                .expect("read")
                .select(contacts::id)
                .order(contacts::id)
                .load(&mut c)
                .expect("load");
            assert_eq!(ids, [1, 3, 5, 7, 9]);
            // Narrowed through rowguard's own pool (AnyConnection): in force at once.
            let mut any = pool.get().expect("conn");
            store::put_rule(
                &mut any,
                "roles",
                "sales",
                "contacts",
                r#"{"read":{"search":{"owner_id":"=$subject.id","status":"=open"}}}"#,
            )
            .expect("edit");
            assert_eq!(
                guard.load_all::<Contact>(&mut c, None).expect("list").len(),
                4
            );
            // A transaction of the application's own: a refused insert rolls back the
            // unguarded write before it.
            let mut new = guard.find::<Contact>(&mut c, 1).expect("contact 1");
            new.id = 300;
            let result: Result<(), Error> = c.transaction(|c| {
                diesel::update(contacts::table.find(1i64))
                    .set(contacts::score.eq(0))
                    .execute(c)?;
                guard.insert(c, &new) // no create right any more
            });
            assert!(matches!(result, Err(Error::Forbidden { .. })), "{result:?}");
            let score: i32 = contacts::table
                .find(1i64)
                .select(contacts::score)
                .first(&mut c)
                .expect("score");
            assert_ne!(score, 0, "the transaction was rolled back");
        }};
    }
    match db.url().backend() {
        Backend::Sqlite => check!(diesel::SqliteConnection),
        Backend::Postgres => check!(diesel::PgConnection),
        #[cfg(feature = "mysql")]
        Backend::Mysql => check!(diesel::MysqlConnection),
        #[cfg(not(feature = "mysql"))]
        Backend::Mysql => unreachable!("MySQL tests need the mysql feature"),
    }
}

/// The contacts demo, end to end, once on the backend's own connection type and once on
/// AnyConnection: sections 4 to 6 (the guard's answers) are the same.
fn demo_on(backend: Backend) {
    let run = |connection| {
        let db = TestDatabase::empty(backend).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        crate::demo::run(db.url(), connection, &mut out).expect("demo");
        String::from_utf8(out).expect("utf-8")
    };
    let native = run(crate::demo::Connection::Native);
    let any = run(crate::demo::Connection::Any);
    let tour = |text: &str| {
        let start = text.find("\n4. ").expect("section 4");
        let end = text.find("\nThe same from a shell").expect("section 6 end");
        text[start..end].to_owned()
    };
    let name = match backend {
        Backend::Sqlite => "SqliteConnection",
        Backend::Postgres => "PgConnection",
        Backend::Mysql => "MysqlConnection",
    };
    assert!(
        tour(&native).contains(&format!("the guard on {name}")),
        "{native}"
    );
    assert!(tour(&any).contains("the guard on AnyConnection"), "{any}");
    assert_eq!(
        tour(&native).replace(name, "AnyConnection"),
        tour(&any),
        "native and AnyConnection runs differ"
    );
    assert!(
        tour(&native).contains("error: forbidden: update on contacts"),
        "{native}"
    );
}

#[test]
fn demo_on_sqlite() {
    demo_on(Backend::Sqlite);
}

#[test]
fn demo_on_postgres() {
    demo_on(Backend::Postgres);
}

#[cfg(feature = "mysql")]
#[test]
fn demo_on_mysql() {
    demo_on(Backend::Mysql);
}

/// The axum example on `backend`: agents list, find and create their own contacts only, a
/// refused create writes nothing, and a request without a user is 401.
fn axum_service_on(backend: Backend) {
    let db = TestDatabase::empty(backend).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    crate::axum_service::run(db.url(), &mut out).unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(out).expect("utf-8");
    for line in [
        "GET /contacts as agent 17: 200, contacts [1, 3, 5, 7, 9] (its own)",
        "GET /contacts/2 as agent 17: 404",
        "POST /contacts owner 17 as agent 17: 201, id 11",
        "GET /contacts/11 as agent 17: 200 (its new contact)",
        "POST /contacts owner 42 as agent 17: 403",
        "GET /contacts as agent 42: 5 contacts (the refused create wrote nothing)",
        "GET /contacts without a user: 401",
        "cost: 200 sequential GET /contacts: guarded ",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
}

#[test]
fn axum_service_on_sqlite() {
    axum_service_on(Backend::Sqlite);
}

#[test]
fn axum_service_on_postgres() {
    axum_service_on(Backend::Postgres);
}

#[cfg(feature = "mysql")]
#[test]
fn axum_service_on_mysql() {
    axum_service_on(Backend::Mysql);
}

/// The cache's snapshot check sees a transaction on every connection type (pooled too), and
/// a panic inside `update_all` never leaves the connection inside its transaction.
fn transactions_are_seen_and_never_left_open(db: &TestDatabase) {
    use rowguard::db::in_transaction;

    let (pool, auth) = crate::fixture::contacts(db, admin_config(), 2);
    let mut pooled = pool.get().expect("conn");
    store::put_rule(&mut pooled, "roles", "sales", "contacts", SALES).expect("rule");
    assert!(!in_transaction(&mut pooled));
    pooled
        .transaction(|c| {
            assert!(
                in_transaction(c),
                "a pooled connection's transaction is seen"
            );
            Ok::<_, diesel::result::Error>(())
        })
        .expect("transaction");
    drop(pooled);
    match db.connect().expect("connect") {
        AnyConnection::Sqlite(mut c) => never_left_open(&auth, &mut c, db),
        AnyConnection::Postgres(mut c) => never_left_open(&auth, &mut c, db),
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(mut c) => never_left_open(&auth, &mut c, db),
    }
    never_left_open(&auth, &mut db.connect().expect("connect"), db);
}

fn never_left_open<C>(auth: &Authorizer, conn: &mut C, db: &TestDatabase)
where
    C: GuardConnection,
    Contact: ModelQueries<C>,
{
    use rowguard::db::in_transaction;

    let name = std::any::type_name::<C>();
    assert!(!in_transaction(conn), "{name}");
    conn.transaction(|c| {
        assert!(in_transaction(c), "{name}: a transaction is seen");
        Ok::<_, diesel::result::Error>(())
    })
    .expect("transaction");
    let guard: Guard<C> = auth.guard(sales_17());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        guard.update_all::<Contact>(conn, None, |c| {
            c.score = -1;
            if c.id == 5 {
                panic!("a caller's closure panics");
            }
        })
    }));
    assert!(panicked.is_err(), "{name}: the panic goes on");
    assert!(!in_transaction(conn), "{name}: rolled back, not left open");
    // The rows changed before the panic were rolled back, and a later write commits.
    let mut one = guard.find::<Contact>(conn, 1).expect("contact 1");
    assert_ne!(one.score, -1, "{name}");
    one.score = 77;
    guard.update(conn, &one).expect("update");
    let mut other = db.connect().expect("connect");
    let score: i32 = contacts::table
        .find(1i64)
        .select(contacts::score)
        .first(&mut other)
        .expect("score");
    assert_eq!(score, 77, "{name}: committed, seen from another connection");
    one.score = 1;
    guard.update(conn, &one).expect("restore");
}
