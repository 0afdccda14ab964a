//! Migrations, constraints and the version trigger, on every backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use rowguard::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules, authorization_state as state,
};
use rowguard::testing::TestDatabase;
use rowguard::{pending_migrations, run_pending_migrations, AnyConnection, PoolOptions};

rowguard::backend_tests!(
    migrations_apply_once,
    set_types_are_seeded,
    rule_rows_are_unique_per_set_and_model,
    orphan_rules_are_rejected,
    models_with_rules_cannot_be_deleted,
    direct_sql_edits_bump_the_version,
    pool_checkout_costs_no_query,
    eight_threads_write_through_one_pool,
);

fn version(conn: &mut AnyConnection) -> i64 {
    state::table
        .select(state::version)
        .first(conn)
        .expect("authorization_state has its row")
}

fn add_model(conn: &mut AnyConnection, name: &str) -> i64 {
    diesel::insert_into(models::table)
        .values((
            models::name.eq(name),
            models::table_name.eq(name),
            models::primary_key.eq("id"),
            models::column_types.eq(r#"{"id":"integer"}"#),
        ))
        .execute(conn)
        .expect("insert model");
    models::table
        .filter(models::name.eq(name))
        .select(models::id)
        .first(conn)
        .expect("model id")
}

fn set_type_id(conn: &mut AnyConnection, name: &str) -> i64 {
    set_types::table
        .filter(set_types::name.eq(name))
        .select(set_types::id)
        .first(conn)
        .expect("set type exists")
}

fn add_rule(
    conn: &mut AnyConnection,
    set_type: i64,
    value: &str,
    model: i64,
) -> QueryResult<usize> {
    diesel::insert_into(rules::table)
        .values((
            rules::authorizable_set_type_id.eq(set_type),
            rules::authorizable_set_value.eq(value),
            rules::authorizable_model_id.eq(model),
            rules::rules.eq(r#"{"read":"*"}"#),
        ))
        .execute(conn)
}

fn rule_count(conn: &mut AnyConnection) -> i64 {
    rules::table.count().get_result(conn).expect("count rules")
}

fn migrations_apply_once(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    assert!(pending_migrations(&mut conn).unwrap().is_empty());
    assert!(run_pending_migrations(&mut conn).unwrap().is_empty());
    // A second connection sees the same, fully migrated schema.
    let mut other = db.connect().unwrap();
    assert!(run_pending_migrations(&mut other).unwrap().is_empty());
    assert_eq!(rule_count(&mut other), 0);
}

fn set_types_are_seeded(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let mut names: Vec<String> = set_types::table
        .select(set_types::name)
        .load(&mut conn)
        .unwrap();
    names.sort();
    assert_eq!(names, ["groups", "id", "roles", "universal"]);
}

fn rule_rows_are_unique_per_set_and_model(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let roles = set_type_id(&mut conn, "roles");
    let contacts = add_model(&mut conn, "contacts");
    add_rule(&mut conn, roles, "agent", contacts).unwrap();
    let err = add_rule(&mut conn, roles, "agent", contacts).unwrap_err();
    // SQLite's history trigger refuses the clash first (so that REPLACE cannot delete a row
    // unrecorded); the servers' unique key does.
    let refused = match &err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => true,
        DieselError::DatabaseError(_, info) => {
            db.backend() == rowguard::Backend::Sqlite
                && info.message().contains("a row with this key exists")
        }
        _ => false,
    };
    assert!(refused, "{err:?}");
    // Another value, set type or model is a different row.
    add_rule(&mut conn, roles, "admin", contacts).unwrap();
    let groups = set_type_id(&mut conn, "groups");
    add_rule(&mut conn, groups, "agent", contacts).unwrap();
    assert_eq!(rule_count(&mut conn), 3);
}

fn orphan_rules_are_rejected(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let roles = set_type_id(&mut conn, "roles");
    let contacts = add_model(&mut conn, "contacts");
    for (set_type, model) in [(roles, contacts + 1000), (roles + 1000, contacts)] {
        let err = add_rule(&mut conn, set_type, "agent", model).unwrap_err();
        assert!(
            matches!(
                err,
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
            ),
            "{err:?}"
        );
    }
    assert_eq!(rule_count(&mut conn), 0);
}

fn models_with_rules_cannot_be_deleted(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let roles = set_type_id(&mut conn, "roles");
    let contacts = add_model(&mut conn, "contacts");
    add_rule(&mut conn, roles, "agent", contacts).unwrap();
    let err = diesel::delete(models::table.find(contacts))
        .execute(&mut conn)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
        ),
        "no cascade: {err:?}"
    );
    assert_eq!(rule_count(&mut conn), 1);
}

fn direct_sql_edits_bump_the_version(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let roles = set_type_id(&mut conn, "roles");
    let contacts = add_model(&mut conn, "contacts");
    add_rule(&mut conn, roles, "agent", contacts).unwrap();

    // What a DBA types: plain SQL, no rowguard involved.
    let statements = [
        "UPDATE authorization_rules SET rules = '{\"read\":{\"search\":{\"id\":\"=1\"}}}'",
        "INSERT INTO authorizable_set_types (name) VALUES ('teams')",
        "UPDATE authorizable_models SET table_name = 'people'",
        "DELETE FROM authorization_rules",
        "DELETE FROM authorizable_set_types WHERE name = 'teams'",
    ];
    for sql in statements {
        let before = version(&mut conn);
        diesel::sql_query(sql).execute(&mut conn).unwrap();
        assert!(version(&mut conn) > before, "{sql} must bump the version");
    }
    // Reads leave it alone.
    let before = version(&mut conn);
    let _ = rule_count(&mut conn);
    assert_eq!(version(&mut conn), before);
}

fn pool_checkout_costs_no_query(db: &TestDatabase) {
    let queries = Arc::new(AtomicUsize::new(0));
    let count_queries = |queries: Arc<AtomicUsize>| {
        move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                queries.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    for (test_on_checkout, expected) in [(false, 0), (true, 1)] {
        let pool = db
            .pool(PoolOptions {
                max_size: 1,
                test_on_checkout,
                ..PoolOptions::default()
            })
            .unwrap();
        let mut conn = pool.get().unwrap();
        let instrumentation: Box<dyn Instrumentation> = Box::new(count_queries(queries.clone()));
        conn.set_instrumentation(instrumentation);
        drop(conn);
        queries.store(0, Ordering::SeqCst);
        let conn = pool.get().unwrap();
        assert_eq!(
            queries.load(Ordering::SeqCst),
            expected,
            "test_on_checkout = {test_on_checkout}"
        );
        drop(conn);
    }
}

fn eight_threads_write_through_one_pool(db: &TestDatabase) {
    let pool = db
        .pool(PoolOptions {
            max_size: 8,
            ..PoolOptions::default()
        })
        .unwrap();
    let mut conn = pool.get().unwrap();
    let roles = set_type_id(&mut conn, "roles");
    let contacts = add_model(&mut conn, "contacts");
    drop(conn);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let mut conn = pool.get().expect("checkout");
                    conn.transaction(|c| add_rule(c, roles, &format!("role-{t}-{i}"), contacts))
                        .expect("write under contention");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    assert_eq!(rule_count(&mut pool.get().unwrap()), 200);
}
