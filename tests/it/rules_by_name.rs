//! The `authorization_rules_by_name` view and the JSON check, on every backend: a DBA edits
//! rules by name in SQL, and the database itself refuses a document that is not JSON.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Backend};

rowguard::backend_tests!(
    the_database_refuses_rules_that_are_not_json,
    rules_are_edited_by_name
);

fn with_model(db: &TestDatabase) -> AnyConnection {
    let mut c = db.connect().expect("connect");
    c.batch_execute(
        "INSERT INTO authorizable_models (name, table_name, primary_key, columns) \
         VALUES ('notes', 'notes', 'id', '{\"id\":\"bigint\",\"owner\":\"text\"}')",
    )
    .expect("model");
    c
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Doc {
    #[diesel(sql_type = Text)]
    rules: String,
}

fn docs(c: &mut AnyConnection, value: &str) -> Vec<String> {
    diesel::sql_query(format!(
        "SELECT rules FROM authorization_rules_by_name WHERE set_type = 'roles' AND set_value = '{value}' AND model = 'notes'"
    ))
    .load::<Doc>(c)
    .expect("view")
    .into_iter()
    .map(|d| d.rules)
    .collect()
}

fn the_database_refuses_rules_that_are_not_json(db: &TestDatabase) {
    let mut c = with_model(db);
    let insert = |doc: &str| {
        format!(
            "INSERT INTO authorization_rules (authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules) \
             SELECT t.id, 'x', m.id, '{doc}' FROM authorizable_set_types t, authorizable_models m \
             WHERE t.name = 'roles' AND m.name = 'notes'"
        )
    };
    for bad in ["{read:*}", "not json", "{\"read\":\"*\""] {
        let err = c.batch_execute(&insert(bad)).expect_err(bad).to_string();
        assert!(err.contains("JSON") || err.contains("json"), "{bad}: {err}");
    }
    assert!(
        store::all_rules(&mut c).unwrap().is_empty(),
        "nothing stored"
    );
    c.batch_execute(&insert("{\"read\":\"*\"}"))
        .expect("valid JSON is stored");
    let err = c
        .batch_execute(
            "UPDATE authorization_rules SET rules = 'oops' WHERE authorizable_set_value = 'x'",
        )
        .expect_err("update to non-JSON")
        .to_string();
    assert!(err.to_lowercase().contains("json"), "{err}");
    assert_eq!(docs(&mut c, "x"), ["{\"read\":\"*\"}"]);
}

fn rules_are_edited_by_name(db: &TestDatabase) {
    let mut c = with_model(db);
    store::put_rule(&mut c, "roles", "agent", "notes", r#"{"read":"*"}"#).unwrap();
    let before = store::state_version(&mut c).unwrap();
    // Every backend: the document is updated through the view, by names.
    c.batch_execute(
        "UPDATE authorization_rules_by_name SET rules = '{\"read\":{\"search\":{\"owner\":\"=me\"}}}' \
         WHERE set_type = 'roles' AND set_value = 'agent' AND model = 'notes'",
    )
    .expect("update through the view");
    assert_eq!(
        docs(&mut c, "agent"),
        [r#"{"read":{"search":{"owner":"=me"}}}"#]
    );
    assert!(
        store::state_version(&mut c).unwrap() > before,
        "caches see it"
    );
    let err = c
        .batch_execute(
            "UPDATE authorization_rules_by_name SET rules = 'nope' WHERE set_value = 'agent'",
        )
        .expect_err("non-JSON through the view")
        .to_string();
    assert!(err.to_lowercase().contains("json"), "{err}");

    if db.backend() == Backend::Mysql {
        // Only the document is writable: the names are expressions, so no UPDATE renames a
        // model or set type under every rule.
        for column in [
            "model = 'renamed'",
            "set_type = 'renamed'",
            "set_value = 'renamed'",
        ] {
            let sql = format!(
                "UPDATE authorization_rules_by_name SET {column} WHERE set_value = 'agent'"
            );
            assert!(c.batch_execute(&sql).is_err(), "{sql}");
        }
        assert_eq!(docs(&mut c, "agent").len(), 1, "nothing renamed");
        // MySQL/MariaDB cannot insert into or delete from a join view: `rules set|delete`.
        assert!(c
            .batch_execute("DELETE FROM authorization_rules_by_name WHERE set_value = 'agent'")
            .is_err());
        return;
    }
    c.batch_execute(
        "INSERT INTO authorization_rules_by_name (set_type, set_value, model, rules) \
         VALUES ('roles', 'sales', 'notes', '{\"read\":\"*\"}')",
    )
    .expect("insert through the view");
    assert_eq!(docs(&mut c, "sales"), [r#"{"read":"*"}"#]);
    for (sql, expected) in [
        ("INSERT INTO authorization_rules_by_name (set_type, set_value, model, rules) VALUES ('rolez', 'x', 'notes', '{}')", "unknown set type"),
        ("INSERT INTO authorization_rules_by_name (set_type, set_value, model, rules) VALUES ('roles', 'x', 'note', '{}')", "unknown model"),
        ("INSERT INTO authorization_rules_by_name (set_type, set_value, model, rules) VALUES ('roles', 'x', 'notes', 'x')", "JSON"),
    ] {
        let err = c.batch_execute(sql).expect_err(sql).to_string().to_lowercase();
        assert!(err.contains(&expected.to_lowercase()), "{sql}: {err}");
    }
    c.batch_execute("DELETE FROM authorization_rules_by_name WHERE set_value = 'sales'")
        .expect("delete through the view");
    assert!(docs(&mut c, "sales").is_empty());
    assert_eq!(
        store::all_rules(&mut c).unwrap().len(),
        1,
        "only agent's rule is left"
    );
}
