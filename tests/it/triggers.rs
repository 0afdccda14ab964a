//! Every version trigger, on every backend: each insert, update and delete of a rule table, the
//! policy table or an RBAC table moves `authorization_state.version`, so caches see a DBA's SQL edits, and
//! is recorded in the rule history.

use diesel::connection::SimpleConnection;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection};

rowguard::backend_tests!(every_trigger_moves_the_version);

fn newest_change(conn: &mut AnyConnection) -> Option<store::HistoryEntry> {
    let query = store::HistoryQuery {
        limit: Some(1),
        ..store::HistoryQuery::default()
    };
    store::history(conn, &query).expect("history").pop()
}

/// Runs `sql` and asserts that the version moved and that the history recorded it;
/// `trigger` names what is tested: the table, then the operation.
fn bumps(conn: &mut AnyConnection, trigger: &str, sql: &str) {
    let before = store::state_version(conn).expect("version");
    let last = newest_change(conn).map_or(0, |e| e.id);
    conn.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{trigger}: {sql}: {e}"));
    let after = store::state_version(conn).expect("version");
    assert!(
        after > before,
        "{trigger} did not move the version ({before} → {after})"
    );
    let mut words = trigger.split_whitespace();
    let (table, operation) = (words.next(), words.next());
    let recorded = newest_change(conn).expect("a history entry");
    assert!(recorded.id > last, "{trigger} left no history entry");
    assert_eq!(
        (
            Some(recorded.table_name.as_str()),
            Some(recorded.operation.as_str())
        ),
        (table, operation),
        "{trigger}: {recorded:?}"
    );
}

fn every_trigger_moves_the_version(db: &TestDatabase) {
    let mut c = db.connect().expect("connect");
    let c = &mut c;
    let role = |name: &str| format!("(SELECT id FROM roles WHERE name = '{name}')");
    let permission = |name: &str| format!("(SELECT id FROM permissions WHERE name = '{name}')");

    bumps(
        c,
        "authorizable_set_types insert",
        "INSERT INTO authorizable_set_types (name) VALUES ('trig_type')",
    );
    bumps(
        c,
        "authorizable_set_types update",
        "UPDATE authorizable_set_types SET description = 'x' WHERE name = 'trig_type'",
    );
    bumps(
        c,
        "authorizable_models insert",
        "INSERT INTO authorizable_models (name, table_name, primary_key, columns) VALUES ('trig_model', 't', 'id', '{\"id\":\"bigint\"}')",
    );
    bumps(
        c,
        "authorizable_models update",
        "UPDATE authorizable_models SET table_name = 't2' WHERE name = 'trig_model'",
    );
    bumps(
        c,
        "authorization_rules insert",
        "INSERT INTO authorization_rules (authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules) \
         SELECT t.id, 'v', m.id, '{}' FROM authorizable_set_types t, authorizable_models m \
         WHERE t.name = 'trig_type' AND m.name = 'trig_model'",
    );
    bumps(c, "authorization_rules update", "UPDATE authorization_rules SET rules = '{\"read\":\"*\"}' WHERE authorizable_set_value = 'v'");
    bumps(
        c,
        "authorization_rules delete",
        "DELETE FROM authorization_rules WHERE authorizable_set_value = 'v'",
    );
    bumps(
        c,
        "authorizable_relations insert",
        "INSERT INTO authorizable_relations (authorizable_model_id, name, kind, local_column, target_model_id, target_column) \
         SELECT m.id, 'self', 'belongs_to', 'id', m.id, 'id' FROM authorizable_models m WHERE m.name = 'trig_model'",
    );
    bumps(
        c,
        "authorizable_relations update",
        "UPDATE authorizable_relations SET check_right = NULL WHERE name = 'self'",
    );
    bumps(
        c,
        "authorizable_relations delete",
        "DELETE FROM authorizable_relations WHERE name = 'self'",
    );
    bumps(
        c,
        "authorization_policies insert",
        "INSERT INTO authorization_policies (set_type, set_value, policy) VALUES ('trig_type', 'v', '[]')",
    );
    bumps(
        c,
        "authorization_policies update",
        "UPDATE authorization_policies SET policy = '{\"Statement\":[]}' WHERE set_value = 'v'",
    );
    bumps(
        c,
        "authorization_policies delete",
        "DELETE FROM authorization_policies WHERE set_value = 'v'",
    );
    bumps(
        c,
        "authorizable_models delete",
        "DELETE FROM authorizable_models WHERE name = 'trig_model'",
    );
    bumps(
        c,
        "authorizable_set_types delete",
        "DELETE FROM authorizable_set_types WHERE name = 'trig_type'",
    );

    bumps(
        c,
        "roles insert",
        "INSERT INTO roles (name) VALUES ('trig_r1')",
    );
    bumps(
        c,
        "roles insert (second)",
        "INSERT INTO roles (name) VALUES ('trig_r2')",
    );
    bumps(
        c,
        "roles update",
        "UPDATE roles SET description = 'x' WHERE name = 'trig_r1'",
    );
    bumps(
        c,
        "permissions insert",
        "INSERT INTO permissions (name) VALUES ('trig.p1')",
    );
    bumps(
        c,
        "permissions insert (second)",
        "INSERT INTO permissions (name) VALUES ('trig.p2')",
    );
    bumps(
        c,
        "permissions update",
        "UPDATE permissions SET description = 'x' WHERE name = 'trig.p1'",
    );
    bumps(
        c,
        "role_permissions insert",
        "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'trig_r1' AND p.name = 'trig.p1'",
    );
    bumps(
        c,
        "role_permissions update",
        &format!(
            "UPDATE role_permissions SET permission_id = {} WHERE role_id = {}",
            permission("trig.p2"),
            role("trig_r1")
        ),
    );
    bumps(
        c,
        "role_permissions delete",
        &format!(
            "DELETE FROM role_permissions WHERE role_id = {}",
            role("trig_r1")
        ),
    );
    bumps(
        c,
        "role_inheritance insert",
        "INSERT INTO role_inheritance (role_id, parent_role_id) SELECT a.id, b.id FROM roles a, roles b WHERE a.name = 'trig_r1' AND b.name = 'trig_r2'",
    );
    bumps(
        c,
        "role_inheritance update",
        &format!(
            "UPDATE role_inheritance SET role_id = {}, parent_role_id = {} WHERE role_id = {}",
            role("trig_r2"),
            role("trig_r1"),
            role("trig_r1")
        ),
    );
    bumps(
        c,
        "role_inheritance delete",
        &format!(
            "DELETE FROM role_inheritance WHERE role_id = {}",
            role("trig_r2")
        ),
    );
    bumps(
        c,
        "permissions delete",
        "DELETE FROM permissions WHERE name LIKE 'trig.%'",
    );
    bumps(
        c,
        "roles delete",
        "DELETE FROM roles WHERE name LIKE 'trig_%'",
    );
}

rowguard::backend_tests!(every_down_migration_reverts_cleanly);

/// Every `down.sql`, newest first, then every `up.sql` again: rowguard's tables go and come
/// back, on every backend.
fn every_down_migration_reverts_cleanly(db: &TestDatabase) {
    use diesel::RunQueryDsl;

    let mut c = db.connect().expect("connect");
    let reverted = rowguard::db::revert_all_migrations(&mut c).expect("revert all");
    assert!(reverted.len() >= 5, "{reverted:?}");
    assert!(
        diesel::sql_query("SELECT 1 FROM authorization_rules")
            .execute(&mut c)
            .is_err(),
        "the tables are gone"
    );
    let applied = rowguard::run_pending_migrations(&mut c).expect("up again");
    assert_eq!(applied.len(), reverted.len());
    store::state_version(&mut c).expect("the state row is back");
}
