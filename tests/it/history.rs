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
    a_value_left_behind_is_not_anyones,
    sync_models_is_recorded_as_its_user,
    a_rolled_back_change_leaves_no_history,
    the_history_is_append_only,
    replace_cannot_slip_past,
    a_rule_comes_back_from_its_history,
    a_policy_comes_back_from_its_history,
    registering_an_unchanged_model_writes_nothing,
    deleted_names_and_a_missing_history,
);

/// A model deleted since is still found by its name, and its rule rows show it; without the
/// history's table the error says to migrate.
fn deleted_names_and_a_missing_history(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let conn = &mut conn;
    conn.batch_execute(
        "INSERT INTO authorizable_models (name, table_name, primary_key, columns) \
         VALUES ('gone', 'gone', 'id', '{\"id\":\"bigint\"}')",
    )
    .expect("model");
    store::put_rule(conn, "roles", "agent", "gone", r#"{"read":"*"}"#).expect("rule");
    store::delete_rule(conn, "roles", "agent", "gone").expect("delete rule");
    conn.batch_execute("DELETE FROM authorizable_models WHERE name = 'gone'")
        .expect("delete model");
    let of_gone = history(
        conn,
        &HistoryQuery {
            model: Some("gone".into()),
            ..HistoryQuery::default()
        },
    )
    .expect("a deleted model's history, by its name");
    let operations: Vec<(&str, &str)> = of_gone
        .iter()
        .map(|e| (e.table_name.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(
        operations,
        [
            ("authorizable_models", "delete"),
            ("authorization_rules", "delete"),
            ("authorization_rules", "insert"),
            ("authorizable_models", "insert"),
        ]
    );
    let names = store::rule_names(conn).expect("names");
    assert_eq!(of_gone[1].to_json(&names)["rule"]["model"], "gone");
    assert!(matches!(
        restore_rule(conn, of_gone[1].id),
        Err(StoreError::NotRestorable { .. })
    ));

    rowguard::db::revert_all_migrations(conn).expect("revert");
    let missing = history(conn, &HistoryQuery::default()).expect_err("no table");
    assert!(matches!(missing, StoreError::NoHistory(_)), "{missing:?}");
    assert!(missing.to_string().contains("run `rowguard migrate`"));
}

/// A DBA who sets the application user by hand (or an old value) does not lend it to
/// rowguard's writes without one, and rowguard's writes put the outer value back when they
/// run inside a transaction of the caller's.
fn a_value_left_behind_is_not_anyones(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 1);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    let spoof = match db.backend() {
        Backend::Postgres => "SET rowguard.app_user = 'ann'",
        Backend::Mysql => "SET @rowguard_app_user = 'ann'",
        Backend::Sqlite => "UPDATE authorization_app_user SET name = 'ann'",
    };
    conn.batch_execute(spoof).expect("spoof");
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    assert_eq!(newest(conn).app_user, None, "not ann's: no acting_as");
    // (PostgreSQL's session setting outlives rowguard's transaction-local one: it is the
    // session's own declaration for its own SQL.)
    if db.backend() == Backend::Postgres {
        conn.batch_execute("RESET rowguard.app_user")
            .expect("reset");
    }
    // Inside an application's transaction: the write is bob's, the application's own SQL
    // after it is not.
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        acting_as("bob", || {
            store::put_rule(
                c,
                "roles",
                "agent",
                "contacts",
                r#"{"read":{"search":{"id":"=1"}}}"#,
            )
        })
        .map_err(|_| diesel::result::Error::RollbackTransaction)?;
        assert_eq!(newest(c).app_user.as_deref(), Some("bob"));
        c.batch_execute("UPDATE authorization_rules SET rules = '{}'")?;
        assert_eq!(newest(c).app_user, None);
        Ok(())
    })
    .expect("transaction");
}

fn sync_models_is_recorded_as_its_user(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let dir = std::env::temp_dir().join(format!(
        "rowguard-history-sync-{}-{:?}",
        std::process::id(),
        db.backend()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("models.rs"),
        "diesel::table! { kinds (id) { id -> BigInt, name -> Text } }\n\
         diesel::table! { items (id) { id -> BigInt, kind_id -> BigInt } }\n\
         diesel::joinable!(items -> kinds (kind_id));\n\
         rowguard::authorizable!(Kind => kinds(id) { id, name });\n\
         rowguard::authorizable!(Item => items(id) { id, kind_id });\n",
    )
    .expect("models");
    let scan = rowguard::sync::scan(std::slice::from_ref(&dir), false).expect("scan");
    acting_as("cli:dba", || {
        rowguard::sync::sync(&mut conn, &scan.models, false)
    })
    .expect("sync");
    let all = history(
        &mut conn,
        &HistoryQuery {
            limit: Some(1000),
            ..HistoryQuery::default()
        },
    )
    .expect("history");
    let relations: Vec<_> = all
        .iter()
        .filter(|e| e.table_name == "authorizable_relations")
        .collect();
    assert_eq!(relations.len(), 2, "{all:?}");
    for e in all
        .iter()
        .filter(|e| e.table_name.starts_with("authorizable_"))
    {
        if e.table_name != "authorizable_set_types" {
            assert_eq!(e.app_user.as_deref(), Some("cli:dba"), "{e:?}");
        }
    }
    // --model selects a model's own row and its relations.
    let items = history(
        &mut conn,
        &HistoryQuery {
            model: Some("items".into()),
            ..HistoryQuery::default()
        },
    )
    .expect("history");
    assert!(items.iter().any(|e| e.table_name == "authorizable_models"));
    assert!(items.iter().all(|e| e.table_name != "roles"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// SQLite's REPLACE deletes a clashing row without its delete trigger: refused there. On
/// the servers it fires the triggers and is recorded.
fn replace_cannot_slip_past(db: &TestDatabase) {
    let (pool, _auth) = fixture::contacts(db, Config::default(), 1);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    store::put_rule(conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("put");
    let id = store::all_rules(conn).expect("rules")[0].id;
    let before = count(conn);
    match db.backend() {
        Backend::Sqlite => {
            for sql in [
                format!("INSERT OR REPLACE INTO authorization_rules (id, authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules) SELECT {id}, authorizable_set_type_id, 'x', authorizable_model_id, '{{}}' FROM authorization_rules"),
                "REPLACE INTO roles (name) VALUES ('admin2'), ('admin2')".to_owned(),
                "INSERT INTO permissions (name) VALUES ('p.one')".to_owned(),
                "INSERT INTO permissions (name) VALUES ('p.one') ON CONFLICT (name) DO UPDATE SET description = 'x'".to_owned(),
            ] {
                let result = conn.batch_execute(&sql);
                if sql.starts_with("INSERT INTO permissions (name) VALUES ('p.one')") && !sql.contains("CONFLICT") {
                    result.expect("a plain insert");
                    continue;
                }
                let message = result.expect_err(&sql).to_string();
                assert!(message.contains("bypass authorization_history"), "{sql}: {message}");
            }
            assert_eq!(count(conn), before + 1, "only the plain insert");
        }
        Backend::Mysql => {
            conn.batch_execute(&format!(
                "REPLACE INTO authorization_rules (id, authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules) \
                 SELECT {id}, authorizable_set_type_id, 'agent', authorizable_model_id, '{{}}' FROM authorization_rules"
            ))
            .expect("replace");
            let last: Vec<_> = history(
                conn,
                &HistoryQuery {
                    limit: Some(2),
                    ..HistoryQuery::default()
                },
            )
            .expect("history")
            .into_iter()
            .map(|e| e.operation)
            .collect();
            assert_eq!(last, ["insert", "delete"]);
        }
        Backend::Postgres => {
            conn.batch_execute(
                "INSERT INTO roles (name) VALUES ('pg_role') ON CONFLICT (name) DO NOTHING; \
                 INSERT INTO roles (name) VALUES ('pg_role') ON CONFLICT (name) DO UPDATE SET description = 'x'",
            )
            .expect("upsert");
            let last: Vec<_> = history(
                conn,
                &HistoryQuery {
                    limit: Some(2),
                    ..HistoryQuery::default()
                },
            )
            .expect("history")
            .into_iter()
            .map(|e| e.operation)
            .collect();
            assert_eq!(last, ["update", "insert"]);
        }
    }
}

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
    // PostgreSQL: a role that may edit the rule rows needs no right on the history or the
    // version counter (their writers are SECURITY DEFINER), and its edit is recorded.
    if db.backend() == Backend::Postgres {
        let role = format!("rowguard_editor_{}", std::process::id());
        let before = count(conn);
        let edit = conn.batch_execute(&format!(
            "CREATE ROLE {role}; GRANT SELECT, UPDATE ON authorization_rules TO {role}; \
             SET ROLE {role}; UPDATE authorization_rules SET rules = '{{}}'; RESET ROLE;"
        ));
        let _ = conn.batch_execute(&format!(
            "RESET ROLE; REVOKE ALL ON authorization_rules FROM {role}; DROP ROLE {role};"
        ));
        edit.expect("an editor with rights on the rule rows only");
        assert_eq!(count(conn), before + 1);
    }
    // PostgreSQL's TRUNCATE fires no row trigger: it is refused.
    if db.backend() == Backend::Postgres {
        let refused = conn.batch_execute("TRUNCATE authorization_rules");
        let message = refused.expect_err("no TRUNCATE").to_string();
        assert!(message.contains("DELETE its rows instead"), "{message}");
    }
}

/// Policies are recorded like rule rows, named in the entry's JSON, and come back from a
/// delete or an older version; a DBA's edit is recorded too, and `restore_rule` stays a rule
/// row's.
fn a_policy_comes_back_from_its_history(db: &TestDatabase) {
    use rowguard::store::{restore, Recorded};
    let (pool, auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    let agent = rowguard::Subject::new().with_set("roles", ["agent"]);
    let arn = "arn:rowguard:default:local:1:server/1";
    let allow = r#"[{"Effect":"Allow","Action":"server:*","Resource":"*"}]"#;
    acting_as("ann", || store::put_policy(conn, "roles", "agent", allow)).expect("put");
    let first = newest(conn);
    assert_eq!(first.table_name, "authorization_policies");
    assert_eq!(first.app_user.as_deref(), Some("ann"));
    let json = first.to_json(&store::rule_names(conn).expect("names"));
    assert_eq!(
        json["policy"],
        serde_json::json!({"set_type": "roles", "set_value": "agent"})
    );
    assert_eq!(
        json["after"]["policy"][0]["Effect"], "Allow",
        "the document parsed: {json}"
    );
    // A DBA's edit turns it into a Deny; it is recorded as direct SQL.
    conn.batch_execute(
        r#"UPDATE authorization_policies SET policy = '[{"Effect":"Deny","Action":"server:*","Resource":"*"}]'"#,
    )
    .expect("sql");
    let edit = newest(conn);
    assert_eq!(
        (edit.operation.as_str(), edit.app_user.as_deref()),
        ("update", None)
    );
    auth.invalidate();
    assert!(!auth
        .is_allowed(conn, &agent, "server:Delete", arn)
        .expect("check"));
    // Back to the first version.
    let (restored, changed) = acting_as("bob", || restore(conn, first.id)).expect("restore");
    assert!(changed);
    assert!(
        matches!(&restored, Recorded::Policy(p) if p.document == allow && p.set_value == "agent"),
        "{restored:?}"
    );
    assert!(auth
        .is_allowed(conn, &agent, "server:Delete", arn)
        .expect("check"));
    assert_eq!(
        newest(conn).app_user.as_deref(),
        Some("bob"),
        "the restore is recorded"
    );
    let entries = count(conn);
    let (_, changed) = restore(conn, first.id).expect("again");
    assert!(!changed);
    assert_eq!(count(conn), entries, "nothing to change, nothing recorded");
    // A deleted policy comes back from its delete entry.
    store::delete_policy(conn, "roles", "agent").expect("delete");
    let deleted = newest(conn);
    assert_eq!(deleted.operation, "delete");
    assert!(!auth
        .is_allowed(conn, &agent, "server:Delete", arn)
        .expect("check"));
    restore(conn, deleted.id).expect("restore the deleted policy");
    assert!(auth
        .is_allowed(conn, &agent, "server:Delete", arn)
        .expect("check"));
    // restore_rule takes rule rows only; restore refuses other tables.
    assert!(matches!(
        restore_rule(conn, first.id),
        Err(StoreError::NotARuleEntry { .. })
    ));
    conn.batch_execute("INSERT INTO roles (name) VALUES ('history_role_2')")
        .expect("sql");
    let role_entry = newest(conn).id;
    let err = restore(conn, role_entry).expect_err("a role's entry");
    assert!(err.to_string().contains("only those are restored"), "{err}");
    // A version that no longer parses (a DBA's SQL) is refused, nothing written.
    conn.batch_execute(r#"UPDATE authorization_policies SET policy = '[{"Effect":"Allow"}]'"#)
        .expect("sql");
    let broken = newest(conn).id;
    store::put_policy(conn, "roles", "agent", allow).expect("fix");
    assert!(matches!(
        restore(conn, broken),
        Err(StoreError::InvalidPolicy { .. })
    ));
    assert_eq!(
        store::get_policy(conn, "roles", "agent")
            .expect("get")
            .map(|p| p.policy),
        Some(allow.to_owned())
    );
}

/// A service registers its models on every start: unchanged, that is no write (no history
/// entry, no version bump that would empty every process's cache).
fn registering_an_unchanged_model_writes_nothing(db: &TestDatabase) {
    let (pool, auth) = fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let conn = &mut *conn;
    let (entries, version) = (count(conn), store::state_version(conn).expect("version"));
    auth.register::<crate::app::Contact>(conn)
        .expect("register");
    auth.register::<crate::app::Contact>(conn)
        .expect("register again");
    assert_eq!(count(conn), entries);
    assert_eq!(store::state_version(conn).expect("version"), version);
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
    let (restored, changed) = acting_as("ann", || restore_rule(conn, first)).expect("restore");
    assert_eq!(restored.rules, r#"{"read":"*"}"#);
    assert!(changed);
    // Again: nothing to change, nothing recorded.
    let entries = count(conn);
    let (_, changed) = restore_rule(conn, first).expect("restore again");
    assert!(!changed);
    assert_eq!(count(conn), entries);
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
