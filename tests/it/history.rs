//! The rule history, on every backend: who changed which rule row (and set type, model,
//! relation, role, permission, grant) when, from what; through rowguard or by plain SQL; a
//! rolled-back change leaves nothing; the history cannot be edited; a rule comes back from
//! it in one call. (`triggers.rs` checks that every table and operation is recorded.)

use diesel::connection::SimpleConnection;
use diesel::Connection;
use rowguard::store::{self, acting_as, history, restore_rule, HistoryQuery, StoreError};
use rowguard::testing::TestDatabase;
use rowguard::{AnyConnection, Backend, Config};

use crate::fixture;

rowguard::backend_tests!(
    changes_are_recorded_with_their_users,
    a_rolled_back_change_leaves_no_history,
    the_history_is_append_only,
    a_rule_comes_back_from_its_history,
);

fn newest(conn: &mut AnyConnection) -> store::HistoryEntry {
    history(conn, &HistoryQuery::default())
        .expect("history")
        .into_iter()
        .next()
        .expect("an entry")
}

fn count(conn: &mut AnyConnection) -> usize {
    history(
        conn,
        &HistoryQuery {
            limit: Some(100_000),
            ..HistoryQuery::default()
        },
    )
    .expect("history")
    .len()
}

fn changes_are_recorded_with_their_users(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;

    // Through rowguard, under an application user.
    acting_as("ann", || {
        store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#)
    })
    .expect("put");
    let e = newest(conn);
    assert_eq!(
        (
            e.table_name.as_str(),
            e.operation.as_str(),
            e.app_user.as_deref()
        ),
        ("authorization_rules", "insert", Some("ann"))
    );
    assert_eq!(e.old_row, None);
    let names = store::rule_names(conn).expect("names");
    let json = e.to_json(&names);
    assert_eq!(json["rule"]["model"], "contacts");
    assert_eq!(json["rule"]["set_value"], "agent");
    assert_eq!(json["after"]["rules"]["read"], "*");
    // The database user, where the backend has users.
    match db.backend() {
        Backend::Sqlite => assert_eq!(e.db_user, None),
        _ => assert!(e.db_user.as_deref().is_some_and(|u| !u.is_empty()), "{e:?}"),
    }

    // By plain SQL, as a DBA: recorded, without an application user, the old row kept.
    conn.batch_execute(
        "UPDATE authorization_rules SET rules = '{\"read\":{\"search\":{\"id\":\"=1\"}}}' \
         WHERE authorizable_set_value = 'agent'",
    )
    .expect("sql");
    let e = newest(conn);
    assert_eq!(
        (e.operation.as_str(), e.app_user.as_deref()),
        ("update", None)
    );
    assert!(e.old_row.as_deref().is_some_and(|r| r.contains("read")));
    assert!(e.new_row.as_deref().is_some_and(|r| r.contains("=1")));

    // A write refused by the validator under an application user records nothing and leaves
    // no user behind on the connection (MySQL's is a session variable).
    let before = count(conn);
    let refused = acting_as("mallory", || {
        store::put_rules(
            conn,
            &[store::RuleDefinition {
                set_type: "roles".into(),
                set_value: "agent".into(),
                model: "contacts".into(),
                document: r#"{"read":{"search":{"nope":"=1"}}}"#.into(),
            }],
        )
    });
    assert!(
        matches!(refused, Err(StoreError::InvalidRule { .. })),
        "{refused:?}"
    );
    assert_eq!(count(conn), before);
    conn.batch_execute(
        "UPDATE authorization_rules SET rules = '{}' WHERE authorizable_set_value = 'agent'",
    )
    .expect("sql");
    assert_eq!(
        newest(conn).app_user,
        None,
        "no user left on the connection"
    );

    // The model filter and the time filter.
    let of_contacts = history(
        conn,
        &HistoryQuery {
            model: Some("contacts".into()),
            ..HistoryQuery::default()
        },
    )
    .expect("history");
    assert!(of_contacts.len() >= 3);
    assert!(of_contacts.iter().all(|e| e.table_name != "roles"));
    let other = history(
        conn,
        &HistoryQuery {
            model: Some("contact_types".into()),
            ..HistoryQuery::default()
        },
    )
    .expect("history");
    assert!(other.iter().all(|e| e.table_name != "authorization_rules"
        || e.new_row
            .as_deref()
            .is_some_and(|r| !r.contains("\"agent\""))));
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::hours(1);
    let none = history(
        conn,
        &HistoryQuery {
            since: Some(later),
            ..HistoryQuery::default()
        },
    )
    .expect("history");
    assert!(none.is_empty());
    assert!(matches!(
        history(
            conn,
            &HistoryQuery {
                model: Some("nope".into()),
                ..HistoryQuery::default()
            }
        ),
        Err(StoreError::UnknownModel { .. })
    ));
}

fn a_rolled_back_change_leaves_no_history(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    let before = count(conn);
    let rolled_back: Result<(), diesel::result::Error> = conn.transaction(|c| {
        acting_as("ann", || {
            store::put_rule(
                c,
                "roles",
                "agent",
                "contacts",
                r#"{"read":{"search":{"id":"=2"}}}"#,
            )
        })
        .map_err(|_| diesel::result::Error::RollbackTransaction)?;
        c.batch_execute("DELETE FROM authorization_rules")?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled_back.is_err());
    assert_eq!(
        count(conn),
        before,
        "a rolled-back change leaves no history row"
    );
    let rows = store::all_rules(conn).expect("rules");
    assert_eq!(rows.len(), 1);
}

fn the_history_is_append_only(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    let refused = conn.batch_execute("UPDATE authorization_history SET app_user = 'someone else'");
    let message = refused
        .expect_err("history rows cannot be changed")
        .to_string();
    assert!(message.contains("append-only"), "{message}");
    // PostgreSQL's TRUNCATE fires no row trigger: it is refused.
    if db.backend() == Backend::Postgres {
        let refused = conn.batch_execute("TRUNCATE authorization_rules");
        let message = refused.expect_err("no TRUNCATE").to_string();
        assert!(message.contains("DELETE its rows instead"), "{message}");
    }
}

fn a_rule_comes_back_from_its_history(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    let first = newest(conn).id;
    store::put_rule(
        conn,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1"}}}"#,
    )
    .expect("put");
    let restored = acting_as("ann", || restore_rule(conn, first)).expect("restore");
    assert_eq!(restored.rules, r#"{"read":"*"}"#);
    let rows = store::all_rules(conn).expect("rules");
    assert_eq!(rows[0].rules, r#"{"read":"*"}"#);
    // The restore is itself recorded.
    let e = newest(conn);
    assert_eq!(
        (e.operation.as_str(), e.app_user.as_deref()),
        ("update", Some("ann"))
    );

    // A deleted rule comes back from its delete entry.
    store::delete_rule(conn, "roles", "agent", "contacts").expect("delete");
    let deleted = newest(conn);
    assert_eq!(deleted.operation, "delete");
    restore_rule(conn, deleted.id).expect("restore the deleted rule");
    assert_eq!(store::all_rules(conn).expect("rules").len(), 1);

    // What cannot be restored says why.
    conn.batch_execute("INSERT INTO roles (name) VALUES ('history_role')")
        .expect("sql");
    let role_entry = newest(conn).id;
    assert!(matches!(
        restore_rule(conn, role_entry),
        Err(StoreError::NotARuleEntry { .. })
    ));
    assert!(matches!(
        restore_rule(conn, i64::MAX),
        Err(StoreError::NoSuchHistoryEntry(_))
    ));
    // A version the model no longer accepts is refused by the validator, nothing written.
    conn.batch_execute(
        "UPDATE authorization_rules SET rules = '{\"read\":{\"search\":{\"gone\":\"=1\"}}}'",
    )
    .expect("sql");
    let broken = newest(conn).id;
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    assert!(matches!(
        restore_rule(conn, broken),
        Err(StoreError::InvalidRule { .. })
    ));
    assert_eq!(
        store::all_rules(conn).expect("rules")[0].rules,
        r#"{"read":"*"}"#
    );
}
