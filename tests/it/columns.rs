//! Column lists on every backend: a column the subject may not read comes back NULL whatever
//! the query (select, filter, order, aggregate, raw SQL, a subquery on the same table); one
//! that cannot be NULL makes reads fail closed; lists merge as a union; writes that set or
//! change a column the subject may not write are refused, naming it, and write nothing.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Config, Error, Guard, Subject};

use crate::app::{contacts, Contact};
use crate::fixture::visible;

rowguard::backend_tests!(
    hidden_columns_come_back_null_whatever_the_query,
    a_hidden_column_that_cannot_be_null_fails_closed,
    column_lists_merge_as_a_union,
    writes_refuse_columns_the_subject_may_not_write,
    an_update_never_writes_what_the_subject_cannot_read,
    a_column_list_needs_every_table_column_declared,
    a_search_may_not_test_a_hidden_column,
    rules_on_hidden_columns_are_decided_on_stored_values,
    hidden_columns_with_relations_back_to_the_table,
);

/// Every column of contacts but `email` (the nullable one).
const NO_EMAIL: &str =
    r#"["id","name","status","contact_type_id","owner_id","score","created_at"]"#;

fn tester() -> Subject {
    Subject::new()
        .with_set("roles", ["tester"])
        .with_attribute("id", 17)
}

fn put(conn: &mut AnyConnection, value: &str, doc: &str) {
    store::put_rule(conn, "roles", value, "contacts", doc).expect("put rule");
}

fn setup(db: &TestDatabase, doc: &str) -> (rowguard::Pool, Authorizer, Guard) {
    let mut config = Config::default();
    config
        .absolute_rights
        .insert("roles".into(), vec!["root".into()]);
    let (pool, auth) = crate::fixture::contacts(db, config, 2);
    put(&mut pool.get().expect("conn"), "tester", doc);
    let guard = auth.guard(tester());
    (pool, auth, guard)
}

fn stored(conn: &mut AnyConnection, id: i64) -> Contact {
    contacts::table.find(id).first(conn).expect("contact")
}

fn hidden_columns_come_back_null_whatever_the_query(db: &TestDatabase) {
    let (pool, auth, guard) = setup(
        db,
        &format!(r#"{{"read":"*","columns":{{"read":{NO_EMAIL}}}}}"#),
    );
    let mut conn = pool.get().expect("conn");
    let conn = &mut conn;
    // Seven of the ten sample contacts have an email in the table.
    assert_eq!(
        contacts::table
            .filter(contacts::email.is_not_null())
            .count()
            .get_result::<i64>(conn)
            .expect("count"),
        7
    );
    let rows: Vec<Contact> = guard
        .read::<Contact>(conn)
        .expect("read")
        .load(conn)
        .expect("load");
    assert_eq!(rows.len(), 10, "the rows stay visible");
    assert!(rows.iter().all(|c| c.email.is_none()), "{rows:?}");
    assert_eq!(
        rows[0].name, "Ada Lovelace",
        "visible columns keep their values"
    );
    assert!(guard
        .find::<Contact>(conn, 1)
        .expect("find")
        .email
        .is_none());
    let all: Vec<Contact> = guard.load_all(conn, None).expect("load_all");
    assert!(all.iter().all(|c| c.email.is_none()));
    // Selected, filtered, ordered, aggregated, in raw SQL, in a subquery: always NULL.
    let emails: Vec<Option<String>> = guard
        .read::<Contact>(conn)
        .expect("read")
        .select(contacts::email)
        .load(conn)
        .expect("select");
    assert!(emails.iter().all(Option::is_none));
    let with_email = guard
        .read::<Contact>(conn)
        .expect("read")
        .filter(contacts::email.is_not_null())
        .count()
        .get_result::<i64>(conn)
        .expect("count");
    assert_eq!(with_email, 0);
    let ada = guard
        .read::<Contact>(conn)
        .expect("read")
        .filter(contacts::email.like("ada%"))
        .count()
        .get_result::<i64>(conn)
        .expect("like");
    assert_eq!(ada, 0);
    let raw = guard
        .read::<Contact>(conn)
        .expect("read")
        .filter(sql::<Bool>("contacts.email IS NOT NULL"))
        .count()
        .get_result::<i64>(conn)
        .expect("raw");
    assert_eq!(raw, 0);
    let by_email: Vec<i64> = guard
        .read::<Contact>(conn)
        .expect("read")
        .select(contacts::id)
        .order((contacts::email.desc(), contacts::id))
        .load(conn)
        .expect("order");
    assert_eq!(
        by_email,
        (1..=10).collect::<Vec<i64>>(),
        "ordering sees only NULLs"
    );
    let longest: Option<String> = guard
        .read::<Contact>(conn)
        .expect("read")
        .select(diesel::dsl::max(contacts::email))
        .get_result(conn)
        .expect("max");
    assert_eq!(longest, None);
    let sub = guard
        .read::<Contact>(conn)
        .expect("read")
        .filter(sql::<Bool>(
            "contacts.id IN (SELECT c.id FROM contacts AS c WHERE c.email IS NOT NULL)",
        ))
        .count()
        .get_result::<i64>(conn)
        .expect("subquery");
    assert_eq!(
        sub, 0,
        "a subquery on the same table sees the hidden view too"
    );
    // explain names the hidden column; absolute rights see everything.
    let text = guard
        .explain::<Contact>(conn, Right::Read)
        .expect("explain")
        .to_string();
    assert!(
        text.contains("hidden columns (NULL in reads): email"),
        "{text}"
    );
    let root = auth.guard(Subject::new().with_set("roles", ["root"]));
    assert!(root.find::<Contact>(conn, 1).expect("root").email.is_some());
    assert_eq!(visible(&guard, conn).len(), 10);
}

fn a_hidden_column_that_cannot_be_null_fails_closed(db: &TestDatabase) {
    let (pool, _, guard) = setup(db, r#"{"read":"*","columns":{"read":["id","email"]}}"#);
    let mut conn = pool.get().expect("conn");
    let refused = |r: Result<(), Error>| match r {
        Err(Error::HiddenColumnNotNull { model, column }) => {
            assert_eq!((model.as_str(), column.as_str()), ("contacts", "name"));
        }
        other => panic!("expected HiddenColumnNotNull, got {other:?}"),
    };
    refused(guard.read::<Contact>(&mut conn).map(|_| ()));
    refused(guard.find::<Contact>(&mut conn, 1).map(|_| ()));
    refused(guard.load_all::<Contact>(&mut conn, None).map(|_| ()));
}

fn column_lists_merge_as_a_union(db: &TestDatabase) {
    let (pool, auth, guard) = setup(
        db,
        &format!(r#"{{"read":"*","columns":{{"read":{NO_EMAIL}}}}}"#),
    );
    let mut conn = pool.get().expect("conn");
    // A row that does not grant read does not widen the read columns.
    put(
        &mut conn,
        "updater",
        r#"{"update":"*","columns":{"read":["email"]}}"#,
    );
    let both = auth.guard(Subject::new().with_set("roles", ["tester", "updater"]));
    assert!(both
        .find::<Contact>(&mut conn, 1)
        .expect("find")
        .email
        .is_none());
    // A row that grants read without a list: every column (for every readable row).
    put(&mut conn, "reader", r#"{"read":{"search":{"id":"=1"}}}"#);
    auth.invalidate();
    let wide = auth.guard(Subject::new().with_set("roles", ["tester", "reader"]));
    assert!(wide
        .find::<Contact>(&mut conn, 2)
        .expect("find")
        .email
        .is_some());
    assert!(guard
        .find::<Contact>(&mut conn, 2)
        .expect("find")
        .email
        .is_none());
}

fn writes_refuse_columns_the_subject_may_not_write(db: &TestDatabase) {
    let (pool, _, guard) = setup(
        db,
        &format!(
            r#"{{"create":"*","read":"*","update":"*",
                "columns":{{"create":{NO_EMAIL},"update":["status","score"]}}}}"#
        ),
    );
    let mut conn = pool.get().expect("conn");
    let conn = &mut conn;
    let column_refused = |r: Result<(), Error>, action: Right, name: &str| match r {
        Err(Error::ForbiddenColumn {
            action: a,
            model,
            column,
        }) => assert_eq!(
            (a, model.as_str(), column.as_str()),
            (action, "contacts", name)
        ),
        other => panic!("expected ForbiddenColumn {name}, got {other:?}"),
    };
    // Create: email may not be set; left NULL, the insert goes through.
    let mut new = stored(conn, 1);
    new.id = 100;
    column_refused(guard.insert(conn, &new), Right::Create, "email");
    assert!(contacts::table
        .find(100)
        .first::<Contact>(conn)
        .optional()
        .expect("q")
        .is_none());
    new.email = None;
    guard.insert(conn, &new).expect("insert without email");
    // Update: only status and score change.
    let mut one = guard.find::<Contact>(conn, 1).expect("find");
    one.name = "Renamed".into();
    column_refused(guard.update(conn, &one), Right::Update, "name");
    assert_eq!(stored(conn, 1).name, "Ada Lovelace");
    let mut one = guard.find::<Contact>(conn, 1).expect("find");
    one.status = "pending".into();
    one.score = 99;
    guard.update(conn, &one).expect("status and score");
    let after = stored(conn, 1);
    assert_eq!((after.status.as_str(), after.score), ("pending", 99));
    assert_eq!(after.email.as_deref(), Some("ada@example.com"), "untouched");
    // Bulk: one forbidden change refuses the whole batch.
    let bulk = guard.update_all::<Contact>(conn, None, |c| {
        c.score += 1;
        if c.id == 5 {
            c.owner_id = 1;
        }
    });
    column_refused(bulk.map(|_| ()), Right::Update, "owner_id");
    assert_eq!(stored(conn, 2).score, 20, "nothing written");
    let written = guard
        .update_all::<Contact>(conn, None, |c| c.score += 1)
        .expect("bulk score");
    assert_eq!(written, 11);
    assert_eq!(stored(conn, 2).score, 21);
    // The check for code that writes chosen columns itself.
    guard
        .check_columns::<Contact>(conn, Right::Update, &["status"])
        .expect("status");
    column_refused(
        guard.check_columns::<Contact>(conn, Right::Update, &["status", "email"]),
        Right::Update,
        "email",
    );
    // A read-only column changed by someone else meanwhile: the update does not undo it.
    let mut stale = guard.find::<Contact>(conn, 3).expect("find");
    diesel::update(contacts::table.find(3))
        .set(contacts::name.eq("Changed meanwhile"))
        .execute(conn)
        .expect("concurrent change");
    stale.status = "closed".into();
    column_refused(guard.update(conn, &stale), Right::Update, "name");
    assert_eq!(stored(conn, 3).name, "Changed meanwhile");
}

fn an_update_never_writes_what_the_subject_cannot_read(db: &TestDatabase) {
    // Update is granted on every column, read on all but email: a read-modify-write must
    // not wipe the email it never saw, and may not set it either.
    let (pool, _, guard) = setup(
        db,
        &format!(r#"{{"read":"*","update":"*","columns":{{"read":{NO_EMAIL}}}}}"#),
    );
    let mut conn = pool.get().expect("conn");
    let mut one = guard.find::<Contact>(&mut conn, 1).expect("find");
    assert!(one.email.is_none());
    one.status = "closed".into();
    guard.update(&mut conn, &one).expect("update");
    let after = stored(&mut conn, 1);
    assert_eq!(after.status, "closed");
    assert_eq!(after.email.as_deref(), Some("ada@example.com"));
    guard
        .update_all::<Contact>(&mut conn, None, |c| c.score += 1)
        .expect("bulk");
    assert_eq!(
        stored(&mut conn, 2).email.as_deref(),
        Some("alan@example.com")
    );
    one.email = Some("guess@example.com".into());
    assert!(matches!(
        guard.update(&mut conn, &one),
        Err(Error::ForbiddenColumn { ref column, .. }) if column == "email"
    ));
    assert_eq!(
        stored(&mut conn, 1).email.as_deref(),
        Some("ada@example.com")
    );
}

/// The same table under a model that declares only some columns: a column list on writes
/// cannot check the rest, so writes are refused (reads hide the undeclared columns).
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = contacts)]
struct Partial {
    id: i64,
    name: String,
    email: Option<String>,
    status: String,
    contact_type_id: i64,
    owner_id: i64,
    score: i32,
    created_at: chrono::NaiveDateTime,
}

rowguard::authorizable!(Partial => contacts(id) { id, name, status } as "contacts_partial");

fn a_column_list_needs_every_table_column_declared(db: &TestDatabase) {
    let (pool, auth, _) = setup(db, r#"{"read":"*"}"#);
    let mut conn = pool.get().expect("conn");
    auth.register::<Partial>(&mut conn).expect("register");
    store::put_rule(
        &mut conn,
        "roles",
        "tester",
        "contacts_partial",
        r#"{"read":"*","update":"*","columns":{"read":["id","name","status"],"update":["status"]}}"#,
    )
    .expect("rule");
    let guard = auth.guard(tester());
    let mut one = contacts::table
        .find(1)
        .first::<Partial>(&mut conn)
        .expect("row");
    one.status = "closed".into();
    match guard.update(&mut conn, &one) {
        Err(Error::UndeclaredColumn { model, column, .. }) => {
            assert_eq!(
                (model.as_str(), column.as_str()),
                ("contacts_partial", "email")
            );
        }
        other => panic!("expected UndeclaredColumn, got {other:?}"),
    }
    assert_eq!(stored(&mut conn, 1).status, "open");
    // Reads: the undeclared NOT NULL columns cannot be hidden as NULL, so they fail closed.
    assert!(matches!(
        guard.find::<Partial>(&mut conn, 1),
        Err(Error::HiddenColumnNotNull { .. })
    ));
}

/// An application search on a hidden column would tell which rows hold which values: it is
/// refused on every path that takes one, before anything is read or written.
fn a_search_may_not_test_a_hidden_column(db: &TestDatabase) {
    let (pool, _, guard) = setup(
        db,
        &format!(r#"{{"read":"*","update":"*","delete":"*","columns":{{"read":{NO_EMAIL}}}}}"#),
    );
    let mut conn = pool.get().expect("conn");
    let probe = || {
        guard
            .search::<Contact>(r#"{"email":"starts_with ada"}"#)
            .expect("search")
    };
    let refused = |r: Result<usize, Error>| match r {
        Err(Error::InvalidSearch { source, .. }) => assert_eq!(
            source.to_string(),
            "email: the subject may not read this column, so a search may not test it"
        ),
        other => panic!("expected InvalidSearch, got {other:?}"),
    };
    refused(
        guard
            .load_all::<Contact>(&mut conn, Some(probe()))
            .map(|r| r.len()),
    );
    refused(guard.update_all::<Contact>(&mut conn, Some(probe()), |_| {}));
    refused(guard.delete_all::<Contact>(&mut conn, Some(probe())));
    assert_eq!(
        contacts::table
            .count()
            .get_result::<i64>(&mut conn)
            .expect("n"),
        10
    );
    // A search on readable columns works as before.
    let open = guard
        .search::<Contact>(r#"{"status":"=open"}"#)
        .expect("search");
    assert_eq!(
        guard
            .load_all::<Contact>(&mut conn, Some(open))
            .expect("load")
            .len(),
        5
    );
}

/// Rules and denies that test a hidden column decide on its stored value: a row read through
/// the guard (NULL there) can be checked and written back.
fn rules_on_hidden_columns_are_decided_on_stored_values(db: &TestDatabase) {
    let (pool, auth, guard) = setup(
        db,
        &format!(
            r#"{{"create":{{"search":{{"email":"=null"}}}},"read":"*",
                "update":{{"search":{{"email":"!=null"}}}},
                "deny":{{"update":{{"search":{{"email":"=blocked@example.com"}}}}}},
                "columns":{{"read":{NO_EMAIL},"create":{NO_EMAIL}}}}}"#
        ),
    );
    let mut conn = pool.get().expect("conn");
    let one = guard.find::<Contact>(&mut conn, 1).expect("find");
    assert!(one.email.is_none(), "hidden");
    assert!(guard.can(&mut conn, Right::Read, &one).expect("can read"));
    assert!(guard
        .can(&mut conn, Right::Update, &one)
        .expect("can update"));
    let mut one = one;
    one.status = "closed".into();
    guard
        .update(&mut conn, &one)
        .expect("update decided on the stored email");
    assert_eq!(stored(&mut conn, 1).status, "closed");
    // Contact 3 has no email: the update rule refuses it, in SQL, on the stored row.
    let mut three = guard.find::<Contact>(&mut conn, 3).expect("find");
    assert!(!guard.can(&mut conn, Right::Update, &three).expect("can"));
    three.status = "closed".into();
    assert!(matches!(
        guard.update(&mut conn, &three),
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(stored(&mut conn, 3).status, "pending");
    // The deny on the hidden column applies to the stored value.
    diesel::update(contacts::table.find(2))
        .set(contacts::email.eq("blocked@example.com"))
        .execute(&mut conn)
        .expect("block");
    auth.invalidate();
    let mut two = guard.find::<Contact>(&mut conn, 2).expect("find");
    assert!(!guard.can(&mut conn, Right::Update, &two).expect("can"));
    two.score = 1;
    assert!(matches!(
        guard.update(&mut conn, &two),
        Err(Error::Forbidden { .. })
    ));
    // The bulk path loads only the rows the rule (on stored values) lets it change: the six
    // with an email that is not blocked.
    let written = guard
        .update_all::<Contact>(&mut conn, None, |c| c.score = 7)
        .expect("bulk");
    assert_eq!(written, 6);
    assert_eq!(
        (stored(&mut conn, 2).score, stored(&mut conn, 3).score),
        (20, 30)
    );
    // Create: email is left to the database (NULL here), which the create rule then checks.
    let mut new = stored(&mut conn, 3);
    new.id = 200;
    guard.insert(&mut conn, &new).expect("insert");
    assert!(stored(&mut conn, 200).email.is_none());
}

/// A rule whose protection reaches back to the same table (contacts → contact type →
/// its contacts) inside the hiding CTE: on SQLite the inner tables are named in `main`.
fn hidden_columns_with_relations_back_to_the_table(db: &TestDatabase) {
    use rowguard::rules::Relation;
    let (pool, auth, guard) = setup(
        db,
        &format!(
            r#"{{"read":{{"search":{{"contact_type.name":"=customer"}}}},"columns":{{"read":{NO_EMAIL}}}}}"#
        ),
    );
    let mut conn = pool.get().expect("conn");
    store::put_relation(
        &mut conn,
        "contacts",
        &Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id"),
    )
    .expect("belongs-to");
    store::put_relation(
        &mut conn,
        "contact_types",
        &Relation::has_many("contacts", "id", "contacts", "contact_type_id"),
    )
    .expect("has-many");
    store::put_rule(
        &mut conn,
        "roles",
        "tester",
        "contact_types",
        // The second branch reaches back to contacts (cut where it cycles), so the SQL
        // names contacts inside the CTE that shadows it.
        r#"{"read":{"search":{"||":{"name":"=customer","contacts.status":"=open"}}}}"#,
    )
    .expect("types rule");
    auth.invalidate();
    let rows: Vec<Contact> = guard.load_all(&mut conn, None).expect("load");
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    // Customers (type 1: ids not divisible by 4).
    assert_eq!(ids, [1, 2, 3, 5, 6, 7, 9, 10]);
    assert!(rows.iter().all(|c| c.email.is_none()));
}

mod plain {
    diesel::table! { notes (id) { id -> BigInt, body -> Text } }
}
mod qualified {
    diesel::table! { crm.notes (id) { id -> BigInt, body -> Text } }
}
mod renamed {
    diesel::table! {
        #[sql_name = "real_notes"]
        notes (id) { id -> BigInt, body -> Text }
    }
}

macro_rules! note_model {
    ($name:ident, $module:ident) => {
        #[derive(Queryable, Insertable, AsChangeset)]
        #[diesel(table_name = $module::notes)]
        #[allow(dead_code)]
        struct $name {
            id: i64,
            body: String,
        }
    };
}

/// Column lists are enforced on the table by its plain name: a table Diesel names
/// otherwise (a schema, `sql_name`) is recognized, so lists refuse it instead of missing it.
#[test]
fn a_table_is_plain_only_when_diesel_names_it_as_declared() {
    use rowguard::Authorizable;
    {
        use plain::notes;
        note_model!(Plain, plain);
        rowguard::authorizable!(Plain => notes(id) { id, body } as "plain_notes", on [diesel::SqliteConnection]);
        assert!(Plain::__plain_table());
    }
    {
        use qualified::notes;
        note_model!(Qualified, qualified);
        rowguard::authorizable!(Qualified => notes(id) { id, body } as "qualified_notes", on [diesel::SqliteConnection]);
        assert!(!Qualified::__plain_table());
    }
    {
        use renamed::notes;
        note_model!(Renamed, renamed);
        rowguard::authorizable!(Renamed => notes(id) { id, body } as "renamed_notes", on [diesel::SqliteConnection]);
        assert!(!Renamed::__plain_table());
    }
    assert!(rowguard::model::__from_is(
        "SELECT `notes`.`id` FROM `notes` -- binds: []",
        "notes"
    ));
    assert!(!rowguard::model::__from_is(
        "SELECT `notes`.`id` FROM `crm`.`notes` -- binds: []",
        "notes"
    ));
}
