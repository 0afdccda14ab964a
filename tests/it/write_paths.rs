//! Write paths and decisions that a broken guard would get wrong unnoticed: each refusal is
//! checked where it is made (the SQL `WHERE`, not only the in-memory check), on every backend.

use diesel::prelude::*;
use rowguard::rules::{Right, Value};
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Config, Error, Pool, Subject};

use crate::app::{contacts, Contact};

rowguard::backend_tests!(
    a_stored_row_outside_the_update_rule_is_refused,
    an_allowed_single_delete_happens,
    delete_all_deletes_the_search_within_the_rule,
    override_and_absolute_rights_write_freely,
    an_unregistered_model_is_named,
    allows_answers_for_any_subject,
    attribute_lists_expand_in_rules,
    explain_covers_absolute_rights_and_no_rules,
    rowguards_own_writes_are_in_force_at_once,
);

fn setup(db: &TestDatabase, config: Config) -> (Pool, Authorizer) {
    crate::fixture::contacts(db, config, 2)
}

fn rule(conn: &mut AnyConnection, auth: &Authorizer, role: &str, doc: &str) {
    store::put_rule(conn, "roles", role, "contacts", doc).expect("rule");
    auth.invalidate();
}

fn stored(conn: &mut AnyConnection, id: i64) -> Option<Contact> {
    contacts::table.find(id).first(conn).optional().unwrap()
}

fn role(name: &str) -> Subject {
    Subject::new().with_set("roles", [name])
}

/// Contact 4 is closed; the update rule covers open rows. Setting it to open passes the
/// in-memory check on the new values; only the SQL `WHERE` on the stored row refuses it.
fn a_stored_row_outside_the_update_rule_is_refused(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    rule(
        &mut c,
        &auth,
        "agent",
        r#"{"read":"*","update":{"search":{"status":"=open"}}}"#,
    );
    let guard = auth.guard(role("agent"));
    let mut four = stored(&mut c, 4).unwrap();
    assert_eq!(four.status, "closed");
    four.status = "open".into();
    four.score = 1;
    assert!(
        guard.can(&mut c, Right::Update, &four).unwrap(),
        "the new values alone pass"
    );
    assert!(matches!(
        guard.update(&mut c, &four),
        Err(Error::Forbidden {
            action: Right::Update,
            ..
        })
    ));
    let after = stored(&mut c, 4).unwrap();
    assert_eq!((after.status.as_str(), after.score), ("closed", 40));
    // The same change on an open row is written.
    let mut one = stored(&mut c, 1).unwrap();
    one.score = 1;
    guard.update(&mut c, &one).unwrap();
    assert_eq!(stored(&mut c, 1).unwrap().score, 1);
}

fn an_allowed_single_delete_happens(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    rule(
        &mut c,
        &auth,
        "agent",
        r#"{"read":"*","delete":{"search":{"status":"=pending"}}}"#,
    );
    let guard = auth.guard(role("agent"));
    guard.delete::<Contact>(&mut c, 3i64).unwrap();
    assert!(stored(&mut c, 3).is_none());
    assert!(matches!(
        guard.delete::<Contact>(&mut c, 4i64),
        Err(Error::Forbidden {
            action: Right::Delete,
            ..
        })
    ));
    assert!(stored(&mut c, 4).is_some());
    assert!(matches!(
        guard.delete::<Contact>(&mut c, 3i64),
        Err(Error::NotFound { .. })
    ));
}

fn delete_all_deletes_the_search_within_the_rule(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    rule(
        &mut c,
        &auth,
        "agent",
        r#"{"read":"*","delete":{"search":{"owner_id":"=42"}}}"#,
    );
    let guard = auth.guard(role("agent"));
    let pending = guard.search::<Contact>(r#"{"status":"=pending"}"#).unwrap();
    // Pending: 3 (owner 17), 6 and 10 (owner 42): only the rule's part goes.
    assert_eq!(
        guard.delete_all::<Contact>(&mut c, Some(pending)).unwrap(),
        2
    );
    let mut left: Vec<i64> = contacts::table.select(contacts::id).load(&mut c).unwrap();
    left.sort_unstable();
    assert_eq!(left, [1, 2, 3, 4, 5, 7, 8, 9]);
}

/// Override and absolute rights bypass the rules for writes too (no rule row exists here).
fn override_and_absolute_rights_write_freely(db: &TestDatabase) {
    for (config, subject) in [
        (
            Config {
                override_authorization: true,
                ..Config::default()
            },
            role("nobody"),
        ),
        (
            Config {
                absolute_rights: [("roles".to_string(), vec!["admin".to_string()])].into(),
                ..Config::default()
            },
            role("admin"),
        ),
    ] {
        let (pool, auth) = setup(db, config);
        let mut c = pool.get().unwrap();
        let guard = auth.guard(subject);
        let mut new = stored(&mut c, 1).unwrap();
        new.id = 11;
        guard.insert(&mut c, &new).unwrap();
        new.score = 5;
        guard.update(&mut c, &new).unwrap();
        assert_eq!(stored(&mut c, 11).unwrap().score, 5);
        guard.delete::<Contact>(&mut c, 11i64).unwrap();
        assert!(stored(&mut c, 11).is_none());
        assert_eq!(guard.delete_all::<Contact>(&mut c, None).unwrap(), 10);
        // The next round starts from the same tables.
        drop(c);
        let mut c = pool.get().unwrap();
        diesel::sql_query("DROP TABLE contacts")
            .execute(&mut c)
            .unwrap();
        diesel::sql_query("DROP TABLE contact_types")
            .execute(&mut c)
            .unwrap();
    }
}

diesel::table! {
    unregistered (id) {
        id -> BigInt,
        label -> Text,
    }
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = unregistered)]
struct Unregistered {
    id: i64,
    label: String,
}

rowguard::authorizable!(Unregistered => unregistered(id) { id, label });

fn an_unregistered_model_is_named(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    let err = auth
        .guard(role("agent"))
        .read::<Unregistered>(&mut c)
        .err()
        .expect("unknown");
    match &err {
        Error::UnknownModel { model, known } => {
            assert_eq!(model, "unregistered");
            assert_eq!(known, "contact_types, contacts");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains("registered models: contact_types, contacts"),
        "{err}"
    );
}

/// `Authorizer::allows`: any subject, a row in the stored column order, no guard.
fn allows_answers_for_any_subject(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    rule(
        &mut c,
        &auth,
        "agent",
        r#"{"read":{"search":{"owner_id":"=$subject.id"}},"update":{"search":{"status":"=open"}}}"#,
    );
    let subject = role("agent").with_attribute("id", 17);
    let row = |id: i64, c: &mut AnyConnection| -> Vec<Value> {
        rowguard::Authorizable::values(&stored(c, id).unwrap())
    };
    let one = row(1, &mut c);
    let two = row(2, &mut c);
    let three = row(3, &mut c);
    assert!(auth
        .allows(&mut c, &subject, "contacts", Right::Read, &one)
        .unwrap());
    assert!(!auth
        .allows(&mut c, &subject, "contacts", Right::Read, &two)
        .unwrap());
    assert!(auth
        .allows(&mut c, &subject, "contacts", Right::Update, &one)
        .unwrap());
    // Update is read AND update: 3 is readable (owner 17) but pending.
    assert!(!auth
        .allows(&mut c, &subject, "contacts", Right::Update, &three)
        .unwrap());
    assert!(!auth
        .allows(&mut c, &subject, "contacts", Right::Delete, &one)
        .unwrap());
    // Another subject, same authorizer.
    let other = role("agent").with_attribute("id", 42);
    assert!(auth
        .allows(&mut c, &other, "contacts", Right::Read, &two)
        .unwrap());
}

fn attribute_lists_expand_in_rules(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    rule(
        &mut c,
        &auth,
        "agent",
        r#"{"read":{"search":{"owner_id":"=$subject.owners"}}}"#,
    );
    rule(
        &mut c,
        &auth,
        "outsider",
        r#"{"read":{"search":{"owner_id":"!=$subject.owners"}}}"#,
    );
    let ids =
        |subject: Subject, c: &mut AnyConnection| crate::fixture::visible(&auth.guard(subject), c);
    let both = role("agent").with_attribute_list("owners", [17, 42]);
    assert_eq!(ids(both, &mut c), (1..=10).collect::<Vec<_>>());
    let one = role("agent").with_attribute_list("owners", [42, 99]);
    assert_eq!(ids(one, &mut c), [2, 4, 6, 8, 10]);
    let not = role("outsider").with_attribute_list("owners", [17, 99]);
    assert_eq!(ids(not, &mut c), [2, 4, 6, 8, 10]);
    // Missing: fail closed, also under !=.
    assert_eq!(ids(role("outsider"), &mut c), Vec::<i64>::new());
}

fn explain_covers_absolute_rights_and_no_rules(db: &TestDatabase) {
    let (pool, auth) = setup(
        db,
        Config {
            absolute_rights: [("roles".to_string(), vec!["admin".to_string()])].into(),
            ..Config::default()
        },
    );
    let mut c = pool.get().unwrap();
    let admin = auth
        .guard(role("admin"))
        .explain::<Contact>(&mut c, Right::Delete)
        .unwrap()
        .to_string();
    assert!(
        admin.contains("BYPASS: the subject holds an absolute right"),
        "{admin}"
    );
    assert!(admin.contains("SQL: WHERE 1=1"), "{admin}");
    let nobody = auth
        .guard(role("nobody"))
        .explain::<Contact>(&mut c, Right::Read)
        .unwrap()
        .to_string();
    assert!(nobody.contains("(none: nothing is granted)"), "{nobody}");
    assert!(nobody.contains("SQL: WHERE 1=0"), "{nobody}");
}

/// `store::put_rule` (and the seeder, sync-models, `upsert_model`) reach every authorizer of
/// the process at once, without `invalidate` and long before the next version check.
fn rowguards_own_writes_are_in_force_at_once(db: &TestDatabase) {
    let config = Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    };
    let (pool, auth) = setup(db, config.clone());
    let other = Authorizer::new(config);
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1"}}}"#,
    )
    .unwrap();
    let count = |auth: &Authorizer, c: &mut AnyConnection| -> i64 {
        auth.guard(role("agent"))
            .read::<Contact>(c)
            .unwrap()
            .count()
            .get_result(c)
            .unwrap()
    };
    assert_eq!((count(&auth, &mut c), count(&other, &mut c)), (1, 1));
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"<=3"}}}"#,
    )
    .unwrap();
    assert_eq!((count(&auth, &mut c), count(&other, &mut c)), (3, 3));
}
