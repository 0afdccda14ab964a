//! sync-models, the seeder and RBAC on every backend.

use std::path::PathBuf;

use diesel::prelude::*;
use rowguard::rbac::{Grants, Rbac};
use rowguard::schema::{
    authorizable_models as models, authorizable_set_types as set_types,
    authorization_rules as rules, authorization_state as state, permissions, role_inheritance,
    role_permissions, roles,
};
use rowguard::seed::{self, Seed, SeedOptions, Step};
use rowguard::sync::{self, Change, SyncError};
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Config};

rowguard::backend_tests!(
    sync_adds_changes_and_removes,
    sync_refuses_to_drop_models_with_rules,
    a_failure_at_any_seed_step_changes_nothing,
    seed_errors_name_the_item,
    seeding_twice_changes_nothing_and_fresh_replaces,
    rbac_resolves_and_refreshes,
    sync_refuses_a_change_that_breaks_stored_rules,
    reseeding_changed_content_updates_what_changed,
    sync_repairs_columns_a_dba_broke,
    batch_writes_are_all_or_nothing_and_in_force_at_once,
    sync_derives_relations_and_guards_those_rules_use,
    sync_repairs_a_relation_row_it_cannot_read,
);

/// Every row of rowguard's tables, as text: "the database is exactly as before".
fn dump(conn: &mut AnyConnection) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |table: &str, rows: Vec<String>| {
        out.extend(rows.into_iter().map(|r| format!("{table}: {r}")))
    };
    add(
        "set_types",
        set_types::table
            .select((set_types::id, set_types::name, set_types::description))
            .order(set_types::id)
            .load::<(i64, String, Option<String>)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "models",
        models::table
            .select((
                models::id,
                models::name,
                models::table_name,
                models::primary_key,
                models::column_types,
            ))
            .order(models::id)
            .load::<(i64, String, String, String, String)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "rules",
        rules::table
            .select((
                rules::id,
                rules::authorizable_set_type_id,
                rules::authorizable_set_value,
                rules::authorizable_model_id,
                rules::rules,
            ))
            .order(rules::id)
            .load::<(i64, i64, String, i64, String)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "roles",
        roles::table
            .select((
                roles::id,
                roles::name,
                roles::description,
                roles::all_permissions,
            ))
            .order(roles::id)
            .load::<(i64, String, Option<String>, bool)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "permissions",
        permissions::table
            .select((permissions::id, permissions::name, permissions::description))
            .order(permissions::id)
            .load::<(i64, String, Option<String>)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "role_permissions",
        role_permissions::table
            .select((role_permissions::role_id, role_permissions::permission_id))
            .order((role_permissions::role_id, role_permissions::permission_id))
            .load::<(i64, i64)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    add(
        "role_inheritance",
        role_inheritance::table
            .select((role_inheritance::role_id, role_inheritance::parent_role_id))
            .order((role_inheritance::role_id, role_inheritance::parent_role_id))
            .load::<(i64, i64)>(conn)
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect(),
    );
    out
}

fn version(conn: &mut AnyConnection) -> i64 {
    state::table.select(state::version).first(conn).unwrap()
}

struct SourceTree(PathBuf);

impl SourceTree {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rowguard-sync-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        Self(dir)
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
    fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).unwrap();
    }
    fn scan(&self) -> Result<sync::Scan, SyncError> {
        sync::scan(std::slice::from_ref(&self.0), false)
    }
}

impl Drop for SourceTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TABLES: &str = r#"
diesel::table! {
    notes (id) { id -> BigInt, owner_id -> Nullable<BigInt>, body -> Text, at -> Timestamp }
}
diesel::table! {
    tags (tag_id) { tag_id -> Integer, label -> VarChar }
}
"#;

fn sync_adds_changes_and_removes(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("{:?}", db.backend()));
    tree.write("schema.rs", TABLES);
    tree.write("nested/models.rs", "mod inner { rowguard::authorizable!(Note => notes(id) { id, owner_id }); }\nrowguard::authorizable!(Tag => tags(tag_id) { tag_id, label } as \"labels\");\n");
    let scan = tree.scan().unwrap();
    assert_eq!(scan.models.keys().collect::<Vec<_>>(), ["labels", "notes"]);
    assert_eq!(
        scan.models["notes"].columns.to_json(),
        r#"{"id":"bigint","owner_id":"bigint"}"#
    );

    let before = (dump(&mut conn), version(&mut conn));
    let plan = sync::sync(&mut conn, &scan.models, true).unwrap();
    assert_eq!(
        plan,
        [
            Change::Added("labels".into()),
            Change::Added("notes".into())
        ]
    );
    assert_eq!(
        (dump(&mut conn), version(&mut conn)),
        before,
        "--dry-run writes nothing"
    );

    sync::sync(&mut conn, &scan.models, false).unwrap();
    let stored: Vec<(String, String, String)> = models::table
        .select((models::name, models::table_name, models::primary_key))
        .order(models::name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        stored,
        [
            ("labels".into(), "tags".into(), "tag_id".into()),
            ("notes".into(), "notes".into(), "id".into())
        ]
    );

    // A column more on notes, tags gone.
    tree.write(
        "nested/models.rs",
        "rowguard::authorizable!(Note => notes(id) { id, owner_id, body, at });\n",
    );
    let scan = tree.scan().unwrap();
    let plan = sync::sync(&mut conn, &scan.models, false).unwrap();
    assert_eq!(
        plan,
        [
            Change::Removed("labels".into()),
            Change::Changed("notes".into())
        ]
    );
    let cols: String = models::table
        .filter(models::name.eq("notes"))
        .select(models::column_types)
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        cols,
        r#"{"id":"bigint","owner_id":"bigint","body":"text","at":"timestamp"}"#
    );
    let before = version(&mut conn);
    assert_eq!(
        sync::sync(&mut conn, &scan.models, false).unwrap(),
        [Change::Unchanged("notes".into())]
    );
    assert_eq!(version(&mut conn), before, "nothing to do writes nothing");

    // Files that do not parse: an error naming the file, or skipped with keep_going.
    tree.write("broken.rs", "fn oops( {");
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.contains("broken.rs: does not parse as Rust: line 1"),
        "{err}"
    );
    let kept = sync::scan(std::slice::from_ref(&tree.0), true).unwrap();
    assert_eq!(kept.skipped.len(), 1);
    assert_eq!(kept.models.len(), 1);
    tree.remove("broken.rs");
    // Declarations that do not match their table are named.
    tree.write(
        "bad.rs",
        "rowguard::authorizable!(X => notes(id) { id, nope });",
    );
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.contains("model notes: table `notes` has no column `nope`"),
        "{err}"
    );
    // A table no diesel::table! declares.
    tree.write(
        "bad.rs",
        "rowguard::authorizable!(X => nowhere(id) { id });",
    );
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.ends_with(
            "bad.rs: model nowhere uses table `nowhere`, but no diesel::table! for it was found"
        ),
        "{err}"
    );
    // Two declarations with one model name.
    tree.write(
        "bad.rs",
        "rowguard::authorizable!(Other => tags(tag_id) { tag_id } as \"notes\");",
    );
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.contains("model name \"notes\" is also declared in")
            && err.contains("bad.rs")
            && err.contains("nested/models.rs"),
        "{err}"
    );
    // Every option of the macro is read (name, immutable, connection list); an unknown one
    // is named.
    tree.write(
        "bad.rs",
        "rowguard::authorizable!(Other => tags(tag_id) { tag_id } immutable, on [diesel::PgConnection, rowguard::AnyConnection], as \"other_tags\");\nrowguard::authorizable!(Third => tags(tag_id) { tag_id, label } on [diesel::SqliteConnection]);",
    );
    let scan = tree.scan().unwrap();
    assert_eq!(
        scan.models.keys().collect::<Vec<_>>(),
        ["notes", "other_tags", "tags"]
    );
    tree.write(
        "bad.rs",
        "rowguard::authorizable!(Other => tags(tag_id) { tag_id } as \"x\", frozen);",
    );
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.contains(
            "expected `as \"name\"`, `immutable`, `on [Connection, …]`, `relations { … }` or `arn { … }`"
        ),
        "{err}"
    );
    tree.remove("bad.rs");
    // A file that cannot be read as text, and a root that does not exist: named.
    std::fs::write(tree.0.join("latin1.rs"), b"// caf\xe9\n").unwrap();
    let err = tree.scan().unwrap_err();
    assert!(
        matches!(&err, SyncError::Io { path, .. } if path.ends_with("latin1.rs")),
        "{err:?}"
    );
    tree.remove("latin1.rs");
    let missing = tree.0.join("no-such-dir");
    let err = sync::scan(&[missing], false).unwrap_err().to_string();
    assert!(err.contains("no-such-dir"), "{err}");
    assert_eq!(tree.scan().unwrap().models.len(), 1, "the tree scans again");
}

fn sync_refuses_to_drop_models_with_rules(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("rules-{:?}", db.backend()));
    tree.write("schema.rs", TABLES);
    tree.write("models.rs", "rowguard::authorizable!(Note => notes(id) { id, owner_id });\nrowguard::authorizable!(Tag => tags(tag_id) { tag_id, label });");
    sync::sync(&mut conn, &tree.scan().unwrap().models, false).unwrap();
    store::put_rule(&mut conn, "roles", "agent", "tags", r#"{"read":"*"}"#).unwrap();
    store::put_rule(&mut conn, "roles", "other", "tags", r#"{"read":"*"}"#).unwrap();
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Note => notes(id) { id, owner_id, body });",
    );
    let before = dump(&mut conn);
    let err = sync::sync(&mut conn, &tree.scan().unwrap().models, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to remove models that still have rules (delete their rules first): tags (2 rule(s))"
    );
    assert_eq!(
        dump(&mut conn),
        before,
        "nothing changed, not even the change to notes"
    );
    // rowguard's own job model, registered but absent from an application's tree, stays.
    rowguard::Authorizer::new(Config::default())
        .register::<rowguard::jobs::JobExecution>(&mut conn)
        .unwrap();
    store::put_rule(&mut conn, "roles", "agent", "tags", r#"{"read":"*"}"#).unwrap();
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Note => notes(id) { id, owner_id, body });\nrowguard::authorizable!(Tag => tags(tag_id) { tag_id, label });",
    );
    let plan = sync::sync(&mut conn, &tree.scan().unwrap().models, false).unwrap();
    assert!(
        plan.contains(&Change::Unchanged("job_executions".into())),
        "{plan:?}"
    );
    let names: Vec<String> = models::table
        .select(models::name)
        .order(models::name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(names, ["job_executions", "notes", "tags"]);
}

/// The example models registered, a DBA's own rule, and a first seed: a database with
/// something in every table, so a rollback has something to restore.
fn populated(conn: &mut AnyConnection) {
    let auth = rowguard::Authorizer::new(Config::default());
    auth.register::<crate::app::Contact>(conn).unwrap();
    store::put_rule(conn, "groups", "dba-team", "contacts", r#"{"read":"*"}"#).unwrap();
    let first = Seed::parse(vec![("first.json".into(), r#"{"permissions":["old.perm"],"roles":[{"name":"old","permissions":["old.perm"]},{"name":"older","inherits":["old"]}],"set_types":["teams"]}"#.into())]).unwrap();
    seed::apply(conn, &first, SeedOptions::default(), &mut |_| {}).unwrap();
}

fn full_seed() -> Seed {
    Seed::parse(vec![
        ("a.json".into(), r#"{
            "set_types": ["regions"],
            "permissions": ["posts.view", {"name": "posts.edit.own", "description": "edit own posts"}],
            "roles": [
                {"name": "viewer", "permissions": ["posts.view"]},
                {"name": "editor", "permissions": ["posts.edit.own"], "inherits": ["viewer"]},
                {"name": "admin", "permissions": ["*"]}
            ]
        }"#.into()),
        ("b.json".into(), r#"{
            "rules": [
                {"set_type": "roles", "set_value": "editor", "model": "contacts", "rules": {"read": {"search": {"owner_id": "=$subject.id"}}}},
                {"set_type": "id", "set_value": 17, "model": "contacts", "rules": {"update": "*"}}
            ]
        }"#.into()),
    ])
    .unwrap()
}

fn a_failure_at_any_seed_step_changes_nothing(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    populated(&mut conn);
    let seed = full_seed();
    for fresh in [false, true] {
        for step in Step::ALL {
            if step == Step::Clear && !fresh {
                continue;
            }
            let before = dump(&mut conn);
            let mut lines = Vec::new();
            let err = seed::apply(
                &mut conn,
                &seed,
                SeedOptions {
                    fresh,
                    fail_after: Some(step),
                },
                &mut |l| lines.push(l.clone()),
            )
            .unwrap_err();
            assert!(err.to_string().contains("injected failure"), "{err}");
            let last = lines.last().unwrap();
            assert_eq!(
                (last.step, last.outcome.is_err()),
                (step, true),
                "the failed step is reported FAIL"
            );
            assert!(lines[..lines.len() - 1].iter().all(|l| l.outcome.is_ok()));
            assert_eq!(
                dump(&mut conn),
                before,
                "rolled back after {step:?} (fresh = {fresh})"
            );
        }
    }
}

fn seed_errors_name_the_item(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    populated(&mut conn);
    let cases = [
        (
            r#"{"roles":[{"name":"user","inherits":["useree"]}]}"#,
            Step::RoleInheritance,
            r#"There is no role named "useree""#,
        ),
        (
            r#"{"roles":[{"name":"user","permissions":["posts.edit"]}]}"#,
            Step::RolePermissions,
            r#"permission "posts.edit" given to role "user" is not defined"#,
        ),
        (
            r#"{"roles":[{"name":"a","inherits":["b"]},{"name":"b","inherits":["c"]},{"name":"c","inherits":["a"]}]}"#,
            Step::RoleInheritance,
            "role inheritance cycle: a -> b -> c -> a",
        ),
        (
            r#"{"roles":[{"name":"old2","inherits":["older"]}, {"name":"old","inherits":["older"]}]}"#,
            Step::RoleInheritance,
            "role inheritance cycle: old -> older -> old",
        ),
        (
            r#"{"permissions":["Posts.Edit"]}"#,
            Step::Permissions,
            r#"invalid permission name "Posts.Edit": 'P' is not allowed; segments are lowercase letters, digits and _"#,
        ),
        (
            r#"{"set_types":["bad name"]}"#,
            Step::SetTypes,
            r#"invalid set type name "bad name": letters, digits and _, not starting with a digit"#,
        ),
        (
            r#"{"roles":[{"name":"bad role"}]}"#,
            Step::Roles,
            r#"invalid role name "bad role": use letters, digits, _, - and . (at most 191 characters)"#,
        ),
        (
            r#"{"rules":[{"set_type":"roles","set_value":"x","model":"contacts","rules":{"read":{"search":{"id":"=1;x"}}}}]}"#,
            Step::Rules,
            r#"rule roles "x" on contacts: read.search.id: "=1;x": "x" is not an integer (64-bit)"#,
        ),
        (
            r#"{"rules":[{"set_type":"roles","set_value":"x","model":"nope","rules":{"read":"*"}}]}"#,
            Step::Rules,
            r#"rule roles "x" on nope: there is no model named "nope"; run rowguard sync-models first"#,
        ),
        (
            r#"{"rules":[{"set_type":"teamz","set_value":"x","model":"contacts","rules":{"read":"*"}}]}"#,
            Step::Rules,
            r#"rule teamz "x" on contacts: there is no set type named "teamz""#,
        ),
    ];
    for (json, step, message) in cases {
        // A valid part first, so each failure comes after writes that must be undone.
        let seed = Seed::parse(vec![("ok.json".into(), r#"{"permissions":["fresh.perm"],"roles":[{"name":"fresh","permissions":["fresh.perm"]}]}"#.into()), ("bad.json".into(), json.into())]).unwrap();
        let before = dump(&mut conn);
        let mut failed = None;
        let err = seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |l| {
            if l.outcome.is_err() {
                failed = Some(l.step);
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), message, "{json}");
        assert_eq!(failed, Some(step), "{json}");
        assert_eq!(err.step(), Some(step), "{json}");
        assert_eq!(dump(&mut conn), before, "{json}");
    }
    let err = Seed::parse(vec![
        ("a.json".into(), r#"{"roles":[{"name":"x"}]}"#.into()),
        ("b.json".into(), r#"{"roles":[{"name":"x"}]}"#.into()),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"b.json: role "x" is defined twice (also in a.json)"#
    );
    let err = Seed::parse(vec![("a.json".into(), r#"{"rolez":[]}"#.into())])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("a.json: unknown field `rolez`"), "{err}");
}

fn seeding_twice_changes_nothing_and_fresh_replaces(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    populated(&mut conn);
    let seed = full_seed();
    seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |_| {}).unwrap();
    let (before, v) = (dump(&mut conn), version(&mut conn));
    let reports = seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |_| {}).unwrap();
    assert!(reports
        .iter()
        .all(|r| matches!(r.outcome, Ok(c) if c.added == 0 && c.changed == 0)));
    assert_eq!(
        (dump(&mut conn), version(&mut conn)),
        (before.clone(), v),
        "re-seeding is a no-op"
    );
    // Without --fresh the DBA's rule and the older seed's roles stay ...
    assert!(before.iter().any(|r| r.contains("dba-team")));
    assert!(before.iter().any(|r| r.contains("\"old\"")));
    // ... with it, the database holds exactly the seed (models are sync's, they stay).
    seed::apply(
        &mut conn,
        &seed,
        SeedOptions {
            fresh: true,
            ..SeedOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let after = dump(&mut conn);
    assert!(
        !after
            .iter()
            .any(|r| r.contains("dba-team") || r.contains("\"old\"") || r.contains("teams")),
        "{after:#?}"
    );
    assert!(after
        .iter()
        .any(|r| r.starts_with("models:") && r.contains("contacts")));
    let names: Vec<String> = roles::table
        .select(roles::name)
        .order(roles::name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(names, ["admin", "editor", "viewer"]);
}

fn rbac_resolves_and_refreshes(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    populated(&mut conn);
    seed::apply(&mut conn, &full_seed(), SeedOptions::default(), &mut |_| {}).unwrap();
    let rbac = Rbac::new(&Config {
        refresh_interval_ms: 0,
        ..Config::default()
    });
    assert!(rbac.role_can(&mut conn, &["editor"], "posts.view").unwrap());
    assert!(rbac
        .role_can(&mut conn, &["admin"], "anything.else")
        .unwrap());
    assert!(!rbac
        .role_can(&mut conn, &["viewer"], "posts.edit.own")
        .unwrap());
    assert!(!rbac.role_can(&mut conn, &["nobody"], "posts.view").unwrap());
    assert_eq!(
        rbac.permissions_of(&mut conn, "admin").unwrap(),
        Some(Grants::All)
    );
    // A DBA grants viewer the edit permission by hand: seen on the next check.
    diesel::sql_query(
        "INSERT INTO role_permissions (role_id, permission_id) \
         SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'viewer' AND p.name = 'posts.edit.own'",
    )
    .execute(&mut conn)
    .unwrap();
    assert!(rbac
        .role_can(&mut conn, &["viewer"], "posts.edit.own")
        .unwrap());
}

/// Dropping a column, or changing the type of one, that a stored rule uses would change
/// what that rule means (or make it grant nothing): sync names the rule and changes
/// nothing, and so does `Authorizer::register`. Rules broken already do not block; once the
/// rule no longer uses the column, the same change goes through.
fn sync_refuses_a_change_that_breaks_stored_rules(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("break-{:?}", db.backend()));
    tree.write("schema.rs", TABLES);
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Note => notes(id) { id, owner_id, body });",
    );
    sync::sync(&mut conn, &tree.scan().unwrap().models, false).unwrap();
    let put = |conn: &mut AnyConnection, role: &str, doc: &str| {
        store::put_rule(conn, "roles", role, "notes", doc).unwrap();
    };
    put(
        &mut conn,
        "agent",
        r#"{"read":{"search":{"body":"contains x"}}}"#,
    );
    put(
        &mut conn,
        "owner",
        r#"{"read":{"search":{"owner_id":"<10"}}}"#,
    );
    put(&mut conn, "typo", r#"{"read":{"search":{"bdy":"=x"}}}"#);
    let refused = |conn: &mut AnyConnection, models: &str, expect: &str| {
        tree.write("models.rs", models);
        let before = (dump(conn), version(conn));
        for dry_run in [true, false] {
            let err = sync::sync(conn, &tree.scan().unwrap().models, dry_run).unwrap_err();
            let SyncError::RulesWouldBreak(broken) = &err else {
                panic!("{err:?}");
            };
            assert_eq!(broken.len(), 1, "{broken:?}");
            assert!(broken[0].starts_with(expect), "{} / {expect}", broken[0]);
            assert!(err.to_string().starts_with(
                "refusing to change models whose stored rules depend on what changes"
            ));
        }
        assert_eq!((dump(conn), version(conn)), before, "nothing changed");
    };
    // `body` dropped: the agent rule names it; the typo rule was broken before and is not.
    refused(
        &mut conn,
        "rowguard::authorizable!(Note => notes(id) { id, owner_id });",
        "notes roles/agent: read.search.body: \"contains x\": unknown column \"body\"",
    );
    // `owner_id` as text: "<10" would compare text, so the owner rule is named.
    tree.write(
        "schema.rs",
        &TABLES.replace("owner_id -> Nullable<BigInt>", "owner_id -> Nullable<Text>"),
    );
    refused(
        &mut conn,
        "rowguard::authorizable!(Note => notes(id) { id, owner_id, body });",
        "notes roles/owner: column \"owner_id\" would change type from bigint to text",
    );
    // Integer and bigint are alike: nothing a rule sees changes.
    tree.write(
        "schema.rs",
        &TABLES.replace(
            "owner_id -> Nullable<BigInt>",
            "owner_id -> Nullable<Integer>",
        ),
    );
    assert_eq!(
        sync::sync(&mut conn, &tree.scan().unwrap().models, false).unwrap(),
        [Change::Changed("notes".into())]
    );
    // register() refuses like sync does.
    let auth = rowguard::Authorizer::new(Config::default());
    let before = dump(&mut conn);
    let err = auth.register::<NarrowNote>(&mut conn).unwrap_err();
    assert!(
        err.to_string()
            .contains("notes roles/agent: read.search.body: \"contains x\": unknown column"),
        "{err}"
    );
    assert_eq!(dump(&mut conn), before);
    // With the rule fixed, the change goes through.
    put(
        &mut conn,
        "agent",
        r#"{"read":{"search":{"owner_id":"=1"}}}"#,
    );
    auth.register::<NarrowNote>(&mut conn).unwrap();
    let cols: String = models::table
        .filter(models::name.eq("notes"))
        .select(models::column_types)
        .first(&mut conn)
        .unwrap();
    assert_eq!(cols, r#"{"id":"bigint","owner_id":"bigint"}"#);
}

mod narrow {
    diesel::table! {
        notes (id) {
            id -> BigInt,
            owner_id -> Nullable<BigInt>,
        }
    }

    /// `notes` without `body`, for `register`.
    #[allow(dead_code)]
    #[derive(Debug, Clone, diesel::Queryable, diesel::Insertable, diesel::AsChangeset)]
    #[diesel(table_name = notes)]
    pub struct NarrowNote {
        pub id: i64,
        pub owner_id: Option<i64>,
    }

    rowguard::authorizable!(NarrowNote => notes(id) { id, owner_id });
}
use narrow::NarrowNote;

/// A second seed with changed descriptions, a changed rule and new items: what changed is
/// updated and reported as changed, the new is added, and (without --fresh) what the new
/// files no longer mention stays.
fn reseeding_changed_content_updates_what_changed(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    populated(&mut conn);
    seed::apply(&mut conn, &full_seed(), SeedOptions::default(), &mut |_| {}).unwrap();
    let changed = Seed::parse(vec![
        ("a.json".into(), r#"{
            "permissions": [{"name": "posts.edit.own", "description": "edit one's own posts"}, "posts.audit"],
            "roles": [
                {"name": "editor", "permissions": ["posts.audit"]},
                {"name": "auditor", "permissions": ["posts.audit"], "inherits": ["viewer"]}
            ]
        }"#.into()),
        ("b.json".into(), r#"{
            "rules": [
                {"set_type": "roles", "set_value": "editor", "model": "contacts", "rules": {"read": "*"}}
            ]
        }"#.into()),
    ])
    .unwrap();
    let reports = seed::apply(&mut conn, &changed, SeedOptions::default(), &mut |_| {}).unwrap();
    let counts = |step: Step| {
        reports
            .iter()
            .find(|r| r.step == step)
            .and_then(|r| r.outcome.clone().ok())
            .unwrap()
    };
    let permissions_step = counts(Step::Permissions);
    assert_eq!(
        (permissions_step.added, permissions_step.changed),
        (1, 1),
        "posts.audit new, posts.edit.own described anew"
    );
    assert_eq!(counts(Step::Roles).added, 1, "auditor");
    assert_eq!(counts(Step::Rules).changed, 1, "editor's rule");
    let editor_rule: String = rules::table
        .filter(rules::authorizable_set_value.eq("editor"))
        .select(rules::rules)
        .first(&mut conn)
        .unwrap();
    assert_eq!(editor_rule, r#"{"read":"*"}"#);
    let description: Option<String> = permissions::table
        .filter(permissions::name.eq("posts.edit.own"))
        .select(permissions::description)
        .first(&mut conn)
        .unwrap();
    assert_eq!(description.as_deref(), Some("edit one's own posts"));
    let rbac = Rbac::new(&Config {
        refresh_interval_ms: 0,
        ..Config::default()
    });
    // Added grants are in force; the earlier ones stay (the files no longer mention them).
    assert!(rbac
        .role_can(&mut conn, &["editor"], "posts.audit")
        .unwrap());
    assert!(rbac
        .role_can(&mut conn, &["editor"], "posts.edit.own")
        .unwrap());
    assert!(rbac
        .role_can(&mut conn, &["auditor"], "posts.view")
        .unwrap());
    assert!(
        rbac.role_can(&mut conn, &["editor"], "posts.view").unwrap(),
        "editor still inherits viewer"
    );
    assert_eq!(counts(Step::Roles).changed, 0, "no description changed");
    // The id-17 rule of the first seed is still there.
    let count: i64 = rules::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 3, "dba-team, editor, id 17");
    // And the same files once more change nothing.
    let before = (dump(&mut conn), version(&mut conn));
    seed::apply(&mut conn, &changed, SeedOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((dump(&mut conn), version(&mut conn)), before);
}

/// A model whose stored columns a DBA made unreadable is rewritten by the next sync.
fn sync_repairs_columns_a_dba_broke(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("repair-{:?}", db.backend()));
    tree.write("schema.rs", TABLES);
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Note => notes(id) { id, owner_id });",
    );
    let models_found = tree.scan().unwrap().models;
    sync::sync(&mut conn, &models_found, false).unwrap();
    diesel::update(models::table.filter(models::name.eq("notes")))
        .set(models::column_types.eq("not json"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        sync::sync(&mut conn, &models_found, false).unwrap(),
        [Change::Changed("notes".into())]
    );
    let cols: String = models::table
        .filter(models::name.eq("notes"))
        .select(models::column_types)
        .first(&mut conn)
        .unwrap();
    assert_eq!(cols, r#"{"id":"bigint","owner_id":"bigint"}"#);
}

/// The owners' batch writes, called directly (outside the seeder's transaction): one bad
/// item writes nothing of the call, and a committed write is in force at once even with an
/// hour-long refresh interval.
fn batch_writes_are_all_or_nothing_and_in_force_at_once(db: &TestDatabase) {
    use rowguard::rbac::write::{upsert_roles, RoleDefinition};
    use rowguard::store::{RuleDefinition, StoreError};

    let config = Config {
        refresh_interval_ms: 3_600_000,
        ..Config::default()
    };
    let (pool, auth) = crate::fixture::contacts(db, config, 2);
    let mut conn = pool.get().unwrap();
    let before = dump(&mut conn);
    let rule = |model: &str| RuleDefinition {
        set_type: "roles".into(),
        set_value: "sales".into(),
        model: model.into(),
        document: r#"{"read":{"search":{"owner_id":"=17"}}}"#.into(),
    };
    let err = store::put_rules(&mut conn, &[rule("contacts"), rule("contactz")]).unwrap_err();
    assert!(matches!(err, StoreError::UnknownModel { .. }), "{err}");
    assert_eq!(
        dump(&mut conn),
        before,
        "the valid rule before it was not kept"
    );

    let sales = rowguard::Subject::new().with_set("roles", ["sales"]);
    let guard: rowguard::Guard = auth.guard(sales);
    assert!(crate::fixture::visible(&guard, &mut conn).is_empty()); // cached: nothing
    store::put_rules(&mut conn, &[rule("contacts")]).unwrap();
    assert_eq!(
        crate::fixture::visible(&guard, &mut conn),
        [1, 3, 5, 7, 9],
        "in force at once, not after the refresh interval"
    );

    let role = |name: &str| RoleDefinition {
        name: name.into(),
        description: None,
        permissions: vec![],
        inherits: vec![],
    };
    let before = dump(&mut conn);
    assert!(upsert_roles(&mut conn, &[role("fine"), role("not fine!")]).is_err());
    assert_eq!(
        dump(&mut conn),
        before,
        "the valid role before it was not kept"
    );

    let err = store::delete_model(&mut conn, "contacts").unwrap_err();
    assert!(
        matches!(err, StoreError::ModelHasRules { rules: 1, .. }),
        "{err}"
    );
}

const RELATED: &str = r#"
diesel::table! { kinds (id) { id -> BigInt, name -> Text } }
diesel::table! { items (id) { id -> BigInt, kind_id -> BigInt, other_kind_id -> Nullable<BigInt>, label -> Text } }
diesel::table! { logs (id) { id -> BigInt, item_id -> BigInt } }
diesel::joinable!(items -> kinds (kind_id));
diesel::joinable!(logs -> items (item_id));
"#;

fn relation_names(conn: &mut AnyConnection) -> Vec<String> {
    let (found, broken) = store::load_relations(conn).unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    found
        .into_iter()
        .map(|(m, r)| {
            format!(
                "{m}.{} {} {}→{}.{} {:?}",
                r.name, r.kind, r.local_column, r.target_model, r.target_column, r.check
            )
        })
        .collect()
}

fn sync_derives_relations_and_guards_those_rules_use(db: &TestDatabase) {
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("rel-{:?}", db.backend()));
    tree.write("schema.rs", RELATED);
    // logs does not list item_id: its joinable! gives no relation, and says why.
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Kind => kinds(id) { id, name });\n\
         rowguard::authorizable!(Item => items(id) { id, kind_id, other_kind_id, label });\n\
         rowguard::authorizable!(Log => logs(id) { id });\n",
    );
    let scan = tree.scan().unwrap();
    assert_eq!(scan.notes.len(), 1, "{:?}", scan.notes);
    assert!(
        scan.notes[0].contains("model logs does not list item_id"),
        "{:?}",
        scan.notes
    );
    let plan = sync::sync(&mut conn, &scan.models, false).unwrap();
    assert_eq!(
        plan.iter()
            .filter(|c| c.is_relation())
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        ["+ relation items.kind", "+ relation kinds.items"]
    );
    assert_eq!(
        relation_names(&mut conn),
        [
            "items.kind belongs_to kind_id→kinds.id Some(Read)",
            "kinds.items has_many id→items.kind_id None"
        ]
    );
    // Declared relations: one renames the default (same columns), one is new with its own
    // check, and a has-many is declared by hand.
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Kind => kinds(id) { id, name } relations { things: has_many items(kind_id) });\n\
         rowguard::authorizable!(Item => items(id) { id, kind_id, other_kind_id, label } relations {\n\
             category: belongs_to kinds(kind_id),\n\
             other: belongs_to kinds(other_kind_id) check none,\n\
         });\n\
         rowguard::authorizable!(Log => logs(id) { id });\n",
    );
    let scan = tree.scan().unwrap();
    let plan = sync::sync(&mut conn, &scan.models, true).unwrap();
    assert_eq!(
        plan.iter()
            .filter(|c| c.is_relation())
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        [
            "+ relation items.category",
            "- relation items.kind",
            "+ relation items.other",
            "- relation kinds.items",
            "+ relation kinds.things"
        ]
    );
    // A rule that uses items.kind: the rename is refused, naming the rule, and nothing changes.
    store::put_rule(
        &mut conn,
        "roles",
        "clerk",
        "items",
        r#"{"read":{"search":{"kind.name":"=book"}}}"#,
    )
    .unwrap();
    let before = (relation_names(&mut conn), version(&mut conn));
    let err = sync::sync(&mut conn, &scan.models, false).unwrap_err();
    assert!(
        matches!(&err, SyncError::RulesWouldBreak(why) if why.iter().any(|w| w.contains("items roles/clerk") && w.contains("unknown relation \"kind\""))),
        "{err}"
    );
    assert_eq!((relation_names(&mut conn), version(&mut conn)), before);
    // Without the rule, the sync goes through.
    store::delete_rule(&mut conn, "roles", "clerk", "items").unwrap();
    sync::sync(&mut conn, &scan.models, false).unwrap();
    assert_eq!(
        relation_names(&mut conn),
        [
            "items.category belongs_to kind_id→kinds.id Some(Read)",
            "items.other belongs_to other_kind_id→kinds.id None",
            "kinds.things has_many id→items.kind_id None"
        ]
    );
    // Bad declarations name the file and what is wrong.
    for (decl, why) in [
        (
            "relations { x: belongs_to nowhere(kind_id) }",
            "no authorizable model uses table `nowhere`",
        ),
        (
            "relations { x: belongs_to kinds(missing) }",
            "does not list column \"missing\"",
        ),
        (
            "relations { x: owns kinds(kind_id) }",
            "unknown relation kind \"owns\"",
        ),
        (
            "relations { x: has_many kinds(id) check read }",
            "`check` applies to belongs_to",
        ),
        (
            "relations { x: belongs_to kinds(kind_id) check everything }",
            "expected create, read, update, delete or none",
        ),
        (
            "relations { label: belongs_to kinds(kind_id) }",
            "already a relation or column",
        ),
    ] {
        tree.write(
            "models.rs",
            &format!(
                "rowguard::authorizable!(Kind => kinds(id) {{ id, name }});\n\
                 rowguard::authorizable!(Item => items(id) {{ id, kind_id, other_kind_id, label }} {decl});\n"
            ),
        );
        let err = tree.scan().unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("models.rs"),
            "{decl}: {err}"
        );
    }
    // A foreign key without `_id` whose default name is the column itself: an error naming
    // the fix, never a has-many kept with its belongs-to (and target check) dropped.
    tree.write(
        "schema.rs",
        "diesel::table! { users (id) { id -> BigInt, name -> Text } }\n\
         diesel::table! { posts (id) { id -> BigInt, author -> BigInt, title -> Text } }\n\
         diesel::joinable!(posts -> users (author));\n",
    );
    tree.write(
        "models.rs",
        "rowguard::authorizable!(User => users(id) { id, name });\n\
         rowguard::authorizable!(Post => posts(id) { id, author, title });\n",
    );
    let err = tree.scan().unwrap_err().to_string();
    assert!(
        err.contains("already a relation or column")
            && err.contains("relations { NAME: belongs_to users(author) }"),
        "{err}"
    );
    tree.write(
        "models.rs",
        "rowguard::authorizable!(User => users(id) { id, name });\n\
         rowguard::authorizable!(Post => posts(id) { id, author, title } relations { writer: belongs_to users(author) });\n",
    );
    let scan = tree.scan().unwrap();
    let names: Vec<String> = scan
        .models
        .values()
        .flat_map(|m| {
            m.relations
                .iter()
                .map(move |r| format!("{}.{}", m.name, r.name))
        })
        .collect();
    assert_eq!(names, ["posts.writer", "users.posts"]);
    // A has-many whose default name is taken carries no check: a note, not an error.
    tree.write(
        "schema.rs",
        "diesel::table! { users (id) { id -> BigInt, posts -> Integer } }\n\
         diesel::table! { posts (id) { id -> BigInt, user_id -> BigInt } }\n\
         diesel::joinable!(posts -> users (user_id));\n",
    );
    tree.write(
        "models.rs",
        "rowguard::authorizable!(User => users(id) { id, posts });\n\
         rowguard::authorizable!(Post => posts(id) { id, user_id });\n",
    );
    let scan = tree.scan().unwrap();
    assert_eq!(scan.models["posts"].relations.len(), 1, "posts.user stays");
    assert!(scan.models["users"].relations.is_empty());
    assert!(
        scan.notes.iter().any(|n| n.contains("no default relation")),
        "{:?}",
        scan.notes
    );
}

/// A DBA points a relation at a model id that does not exist (foreign keys off for the
/// session): the write refusal says to run sync-models, and sync-models repairs it.
fn sync_repairs_a_relation_row_it_cannot_read(db: &TestDatabase) {
    use diesel::connection::SimpleConnection;
    let mut conn = db.connect().unwrap();
    let tree = SourceTree::new(&format!("repair-{:?}", db.backend()));
    tree.write("schema.rs", RELATED);
    tree.write(
        "models.rs",
        "rowguard::authorizable!(Kind => kinds(id) { id, name });\n\
         rowguard::authorizable!(Item => items(id) { id, kind_id, other_kind_id, label });\n",
    );
    let scan = tree.scan().unwrap();
    sync::sync(&mut conn, &scan.models, false).unwrap();
    let (off, on) = match db.backend() {
        rowguard::Backend::Sqlite => ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"),
        rowguard::Backend::Postgres => (
            "SET session_replication_role = replica",
            "SET session_replication_role = DEFAULT",
        ),
        rowguard::Backend::Mysql => ("SET FOREIGN_KEY_CHECKS = 0", "SET FOREIGN_KEY_CHECKS = 1"),
    };
    conn.batch_execute(&format!(
        "{off}; UPDATE authorizable_relations SET target_model_id = 9999 WHERE name = 'kind'; {on}"
    ))
    .unwrap();
    let (_, broken) = store::load_relations(&mut conn).unwrap();
    assert_eq!(broken.len(), 1, "{broken:?}");
    let plan = sync::sync(&mut conn, &scan.models, false).unwrap();
    assert!(
        plan.contains(&Change::RelationChanged("items.kind".into())),
        "{plan:?}"
    );
    assert_eq!(
        relation_names(&mut conn),
        [
            "items.kind belongs_to kind_id→kinds.id Some(Read)",
            "kinds.items has_many id→items.kind_id None"
        ]
    );
}
