//! IAM-style policies stored in the database: written only when valid, merged across a
//! subject's sets (explicit deny wins), fresh after a DBA's SQL, fail closed when a stored
//! one is broken, loaded by the seeder all or nothing.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::app::{contacts, Contact};
use rowguard::guard::PolicyReason;
use rowguard::seed::{self, Seed, SeedOptions};
use rowguard::store::{self, StoreError};
use rowguard::testing::TestDatabase;
use rowguard::{AnyConnection, Authorizer, Config, Error, Subject};

rowguard::backend_tests!(
    policies_are_validated_before_anything_is_written,
    policies_merge_across_sets_and_deny_wins,
    the_seed_readme_examples_hold_through_the_database,
    a_dba_edit_is_seen_and_a_broken_policy_refuses,
    the_seeder_loads_policies_all_or_nothing,
    set_types_and_values_are_compared_exactly_and_never_spliced,
    statements_scope_the_guards_rows_with_rules,
    statements_decide_writes_and_name_rows_and_models,
    statements_count_where_rules_reach_through_relations,
    a_deny_of_one_key_lets_generated_keys_through,
    a_rolled_back_policy_is_never_served,
    absolute_rights_hold_no_key_their_roles_do_not,
);

diesel::table! {
    gen_items (id) { id -> Nullable<BigInt>, note -> Text }
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = gen_items)]
struct GenItem {
    id: Option<i64>,
    note: String,
}

rowguard::authorizable!(GenItem => gen_items(id) { id, note });

const SERVER: &str = "arn:rowguard:default:local:123:server";

fn fresh_config() -> Config {
    Config {
        refresh_interval_ms: 0,
        ..Config::default()
    }
}

fn agent() -> Subject {
    Subject::new().with_set("roles", ["agent"])
}

fn allowed(
    auth: &Authorizer,
    conn: &mut AnyConnection,
    who: &Subject,
    action: &str,
    arn: &str,
) -> bool {
    auth.is_allowed(conn, who, action, arn)
        .unwrap_or_else(|e| panic!("{action} on {arn}: {e}"))
}

fn policies_are_validated_before_anything_is_written(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let good = format!(r#"[{{"Effect":"Allow","Action":"server:List","Resource":"{SERVER}"}}]"#);
    store::put_policy(&mut conn, "roles", "agent", &good).expect("valid policy");
    let version = store::state_version(&mut conn).expect("version");
    for (document, wanted) in [
        (
            r#"[{"Effect":"Allow","Action":"server:List","Resource":"arn:x"}]"#,
            r#"policy roles "agent": statement 0, field "Resource": invalid ARN "arn:x""#,
        ),
        (
            r#"[{"Effect":"Permit","Action":"server:List","Resource":"*"}]"#,
            r#"policy roles "agent": statement 0, field "Effect": expected "Allow" or "Deny", found "Permit""#,
        ),
        (
            r#"[{"Effect":"Deny","Effect":"Allow","Action":"server:List","Resource":"*"}]"#,
            r#"key "Effect" appears twice"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":["server:List","List"],"Resource":"*"}]"#,
            r#"statement 0, field "Action[1]": invalid action "List""#,
        ),
        ("not json", "policy JSON: expected ident"),
    ] {
        let err = store::put_policy(&mut conn, "roles", "agent", document).unwrap_err();
        assert!(matches!(err, StoreError::InvalidPolicy { .. }), "{err}");
        assert!(err.to_string().contains(wanted), "{err}\nwanted: {wanted}");
    }
    let err = store::put_policy(&mut conn, "rolez", "agent", &good).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"policy rolez "agent": there is no set type named "rolez""#
    );
    // Set values are data that paths, logs and terminals show: one that cannot be addressed
    // or shown as it is is refused, for policies and rule rows alike.
    for (value, why) in [
        ("", "is empty"),
        ("..", "is a path segment"),
        (" agent", "white space at an end"),
        ("agent\n", "white space at an end"),
        ("a\u{1b}[2Jb", "control character"),
        ("a\u{202e}b", "bidirectional mark"),
    ] {
        let err = store::put_policy(&mut conn, "roles", value, &good).unwrap_err();
        assert!(matches!(err, StoreError::BadSetValue { .. }), "{err}");
        assert!(err.to_string().contains(why), "{err}");
        let err =
            store::put_rule(&mut conn, "roles", value, "contacts", r#"{"read":"*"}"#).unwrap_err();
        assert!(matches!(err, StoreError::BadSetValue { .. }), "{err}");
    }
    assert_eq!(
        store::state_version(&mut conn).expect("version"),
        version,
        "nothing was written"
    );
    let stored = store::get_policy(&mut conn, "roles", "agent")
        .expect("get")
        .expect("still there");
    assert_eq!(stored.policy, good);
    assert_eq!(store::all_policies(&mut conn).expect("all").len(), 1);
    // A set type a policy uses cannot be deleted from under it.
    store::upsert_set_types(
        &mut conn,
        &[store::Named {
            name: "teams".into(),
            description: None,
        }],
    )
    .expect("set type");
    store::put_policy(&mut conn, "teams", "blue", &good).expect("team policy");
    let err = store::delete_set_type(&mut conn, "teams").unwrap_err();
    assert!(
        matches!(err, StoreError::SetTypeHasPolicies { policies: 1, .. }),
        "{err}"
    );
    assert!(store::delete_policy(&mut conn, "teams", "blue").expect("delete"));
    assert!(store::delete_set_type(&mut conn, "teams").expect("now it goes"));
}

fn policies_merge_across_sets_and_deny_wins(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let auth = Authorizer::new(fresh_config());
    store::put_policy(
        &mut conn,
        "roles",
        "agent",
        &format!(r#"[{{"Effect":"Allow","Action":"server:*","Resource":"{SERVER}/*"}}]"#),
    )
    .expect("agent");
    store::put_policy(
        &mut conn,
        "groups",
        "night",
        &format!(r#"{{"Statement":{{"Sid":"NightNoDelete","Effect":"Deny","Action":"server:Delete","Resource":"{SERVER}/*"}}}}"#),
    )
    .expect("night");
    store::put_policy(
        &mut conn,
        "universal",
        rowguard::DEFAULT_UNIVERSAL_ROLE,
        &format!(r#"[{{"Effect":"Allow","Action":"server:List","Resource":"{SERVER}"}}]"#),
    )
    .expect("universal");
    let day = agent();
    let night = agent().with_set("groups", ["night"]);
    let nobody = Subject::new();
    let one = format!("{SERVER}/1");
    assert!(allowed(&auth, &mut conn, &day, "server:Delete", &one));
    assert!(
        !allowed(&auth, &mut conn, &night, "server:Delete", &one),
        "a group's deny wins over a role's allow"
    );
    assert!(allowed(&auth, &mut conn, &night, "server:Reboot", &one));
    assert!(
        allowed(&auth, &mut conn, &nobody, "server:List", SERVER),
        "the universal role's policy applies to everyone"
    );
    assert!(
        !allowed(&auth, &mut conn, &nobody, "server:Reboot", &one),
        "no statement: refused"
    );
    let decision = auth
        .policy_decision(&mut conn, &night, "server:Delete", one.as_str())
        .expect("decision");
    match &decision.reason {
        PolicyReason::Denied(origin) => {
            assert_eq!(
                (
                    origin.set_type.as_str(),
                    origin.set_value.as_str(),
                    origin.index
                ),
                ("groups", "night", 0)
            );
            assert_eq!(origin.sid.as_deref(), Some("NightNoDelete"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decision.to_string(),
        format!(
            r#"denied: statement 0 (NightNoDelete) of policy groups "night" denies server:Delete on {one}"#
        )
    );
    // Absolute rights allow, as they do for rules; a wildcard check is still an error.
    let mut config = fresh_config();
    config
        .absolute_rights
        .insert("roles".into(), vec!["root".into()]);
    let rooted = Authorizer::new(config);
    let root = Subject::new()
        .with_set("roles", ["root"])
        .with_set("groups", ["night"]);
    assert!(allowed(&rooted, &mut conn, &root, "server:Delete", &one));
    for (action, arn) in [
        ("server:*", one.as_str()),
        ("server:Delete", "arn:rowguard:default:local:123:server/*"),
    ] {
        let err = rooted
            .is_allowed(&mut conn, &root, action, arn)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Policy(rowguard::policy::PolicyError::WildcardCheck { .. })
            ),
            "{err}"
        );
    }
}

/// The seed's README examples, with its policy stored for a role and checked through the
/// authorizer (partition `php` becomes `rowguard`).
fn the_seed_readme_examples_hold_through_the_database(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let auth = Authorizer::new(fresh_config());
    let policy = r#"[
        {"Effect": "Allow", "Action": "server:List", "Resource": "arn:rowguard:default:local:123:server"},
        {"Effect": "Allow", "Action": ["server:Get", "server:Update", "server:Delete"], "Resource": "arn:rowguard:default:local:123:server/*"},
        {"Effect": "Deny", "Action": "server:Delete", "Resource": "arn:rowguard:default:local:123:server/1"},
        {"Effect": "Allow", "Action": "disk:*", "Resource": "arn:rowguard:default:local:123:disk/etc/*"}
    ]"#;
    store::put_policy(&mut conn, "roles", "operator", policy).expect("policy");
    let who = Subject::new().with_set("roles", ["operator"]);
    for (action, arn, answer) in [
        (
            "server:List",
            "arn:rowguard:default:local:123:server",
            Some(true),
        ),
        (
            "server:Get",
            "arn:rowguard:default:local:123:server/2",
            Some(true),
        ),
        (
            "server:Delete",
            "arn:rowguard:default:local:123:server/2",
            Some(true),
        ),
        (
            "server:Delete",
            "arn:rowguard:default:local:123:server/1",
            Some(false),
        ),
        (
            "server:List",
            "arn:rowguard:default:local:456:server",
            Some(false),
        ),
        (
            "server:Create",
            "arn:rowguard:default:local:123:server",
            Some(false),
        ),
        (
            "disk:Read",
            "arn:rowguard:default:local:123:disk/etc/hosts",
            Some(true),
        ),
        (
            "disk:Read",
            "arn:rowguard:default:local:123:disk/etc/",
            Some(true),
        ),
        (
            "disk:Read",
            "arn:rowguard:default:local:123:disk/etc",
            Some(false),
        ),
        (
            "server:List",
            "arn:rowguard:default:local:123:server/*",
            None,
        ),
        ("server:*", "arn:rowguard:default:local:123:server/2", None),
    ] {
        let got = auth.is_allowed(&mut conn, &who, action, arn);
        match answer {
            Some(answer) => assert_eq!(
                got.as_ref().ok(),
                Some(&answer),
                "{action} on {arn}: {got:?}"
            ),
            None => assert!(
                matches!(got, Err(Error::Policy(_))),
                "{action} on {arn}: {got:?}"
            ),
        }
    }
}

fn a_dba_edit_is_seen_and_a_broken_policy_refuses(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let auth = Authorizer::new(fresh_config());
    let one = format!("{SERVER}/1");
    store::put_policy(
        &mut conn,
        "roles",
        "agent",
        &format!(r#"[{{"Effect":"Allow","Action":"server:Get","Resource":"{SERVER}/*"}}]"#),
    )
    .expect("policy");
    assert!(allowed(&auth, &mut conn, &agent(), "server:Get", &one));
    assert!(
        allowed(&auth, &mut conn, &agent(), "server:Get", &one),
        "from the cache"
    );
    // A DBA's SQL: the trigger moves the version, the next check sees it.
    conn.batch_execute(&format!(
        r#"UPDATE authorization_policies SET policy = '[{{"Effect":"Deny","Action":"server:Get","Resource":"{SERVER}/1"}},{{"Effect":"Allow","Action":"server:Get","Resource":"{SERVER}/*"}}]' WHERE set_value = 'agent'"#
    ))
    .expect("DBA edit");
    assert!(
        !allowed(&auth, &mut conn, &agent(), "server:Get", &one),
        "the DBA's deny is in force"
    );
    assert!(allowed(
        &auth,
        &mut conn,
        &agent(),
        "server:Get",
        &format!("{SERVER}/2")
    ));
    // JSON, but not a policy: the database accepts it. One that cannot deny grants nothing;
    // one that may deny refuses every check of its subjects.
    conn.batch_execute(
        r#"INSERT INTO authorization_policies (set_type, set_value, policy) VALUES ('groups', 'day', '[{"Effect":"Allow","Action":"server:Get"}]')"#,
    )
    .expect("DBA insert");
    let day = agent().with_set("groups", ["day"]);
    assert!(allowed(
        &auth,
        &mut conn,
        &day,
        "server:Get",
        &format!("{SERVER}/2")
    ));
    assert!(!allowed(&auth, &mut conn, &day, "server:Get", &one));
    conn.batch_execute(
        r#"INSERT INTO authorization_policies (set_type, set_value, policy) VALUES ('groups', 'night', '[{"Effect":"deny","Action":"server:Get"}]')"#,
    )
    .expect("DBA insert");
    let night = agent().with_set("groups", ["night"]);
    let decision = auth
        .policy_decision(
            &mut conn,
            &night,
            "server:Get",
            format!("{SERVER}/2").as_str(),
        )
        .expect("decision");
    assert!(!decision.allowed);
    assert!(
        matches!(&decision.reason, PolicyReason::Broken(b) if b.set_value == "night"),
        "{decision}"
    );
    assert!(
        allowed(
            &auth,
            &mut conn,
            &agent(),
            "server:Get",
            &format!("{SERVER}/2")
        ),
        "others are not affected"
    );
    let bad = store::invalid_policies(&mut conn).expect("check");
    let bad: Vec<&str> = bad.iter().map(|b| b.row.set_value.as_str()).collect();
    assert_eq!(bad, ["day", "night"]);
    // Not JSON at all: the database refuses it, whoever writes it.
    assert!(conn
        .batch_execute(
            "UPDATE authorization_policies SET policy = 'not json' WHERE set_value = 'agent'"
        )
        .is_err());
    // Every change is in the history.
    let history = store::history(
        &mut conn,
        &store::HistoryQuery {
            limit: Some(10),
            ..store::HistoryQuery::default()
        },
    )
    .expect("history");
    let policy_changes: Vec<&str> = history
        .iter()
        .filter(|e| e.table_name == "authorization_policies")
        .map(|e| e.operation.as_str())
        .collect();
    assert_eq!(policy_changes, ["insert", "insert", "update", "insert"]);
}

fn the_seeder_loads_policies_all_or_nothing(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let seed_of = |policies: &str| {
        Seed::parse(vec![(
            "p.json".into(),
            format!(r#"{{"roles":[{{"name":"operator"}}],"policies":{policies}}}"#),
        )])
    };
    let good = seed_of(&format!(
        r#"[{{"set_type":"roles","set_value":"operator","policy":[{{"Effect":"Allow","Action":"server:List","Resource":"{SERVER}"}}]}}]"#
    ))
    .expect("parse");
    let reports = seed::apply(&mut conn, &good, SeedOptions::default(), &mut |_| {}).expect("seed");
    let last = reports.last().expect("a report");
    assert_eq!(last.step, seed::Step::Policies);
    assert_eq!(last.outcome.as_ref().map(|c| c.added), Ok(1));
    let auth = Authorizer::new(fresh_config());
    let operator = Subject::new().with_set("roles", ["operator"]);
    assert!(allowed(&auth, &mut conn, &operator, "server:List", SERVER));

    // A bad policy: the error names it, and nothing of the seed is written (the new role
    // neither).
    let bad = Seed::parse(vec![(
        "bad.json".into(),
        r#"{"roles":[{"name":"newcomer"}],"policies":[{"set_type":"roles","set_value":"newcomer","policy":[{"Effect":"Allow","Action":"server:List","Resource":"arn:rowguard"}]}]}"#.into(),
    )])
    .expect("parse");
    let err = seed::apply(&mut conn, &bad, SeedOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(err.step(), Some(seed::Step::Policies));
    assert!(
        err.to_string()
            .starts_with(r#"policy roles "newcomer": statement 0, field "Resource": invalid ARN"#),
        "{err}"
    );
    let graph = rowguard::rbac::load(&mut conn).expect("rbac");
    assert!(!graph.roles().contains_key("newcomer"), "rolled back");
    // A key given twice inside a seeded policy is an error when the files are read.
    let err = seed_of(r#"[{"set_type":"roles","set_value":"operator","policy":[{"Effect":"Deny","Effect":"Allow","Action":"a:b","Resource":"*"}]}]"#).unwrap_err();
    assert!(
        err.to_string().contains(r#"key "Effect" appears twice"#),
        "{err}"
    );
    // The same policy twice is an error naming both.
    let twice = r#"{"set_type":"roles","set_value":"operator","policy":[]}"#;
    let err = seed_of(&format!("[{twice},{twice}]")).unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"policy "roles/operator" is defined twice"#),
        "{err}"
    );
    // --fresh: the database holds exactly the seed; a policy it does not name is gone.
    store::put_policy(&mut conn, "groups", "extra", "[]").expect("extra");
    let fresh = SeedOptions {
        fresh: true,
        ..SeedOptions::default()
    };
    seed::apply(&mut conn, &good, fresh, &mut |_| {}).expect("fresh");
    let left: Vec<String> = store::all_policies(&mut conn)
        .expect("all")
        .into_iter()
        .map(|p| format!("{}/{}", p.set_type, p.set_value))
        .collect();
    assert_eq!(left, ["roles/operator"]);
}

/// Names are bound parameters and compared exactly (MySQL's collation ignores case; the
/// authorizer does not).
fn set_types_and_values_are_compared_exactly_and_never_spliced(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let auth = Authorizer::new(fresh_config());
    let hostile = "x'); DELETE FROM authorization_policies; --";
    let allow = format!(r#"[{{"Effect":"Allow","Action":"server:List","Resource":"{SERVER}"}}]"#);
    store::put_policy(&mut conn, "roles", hostile, &allow).expect("stored as data");
    store::put_policy(&mut conn, "roles", "agent", &allow).expect("agent");
    assert_eq!(store::all_policies(&mut conn).expect("all").len(), 2);
    let who = Subject::new().with_set("roles", [hostile]);
    assert!(allowed(&auth, &mut conn, &who, "server:List", SERVER));
    // Another case of the value: a different subject, no policy.
    let shouting = Subject::new().with_set("roles", ["AGENT"]);
    assert!(!allowed(&auth, &mut conn, &shouting, "server:List", SERVER));
    assert!(store::get_policy(&mut conn, "roles", "AGENT")
        .expect("get")
        .is_none());
    assert!(!store::delete_policy(&mut conn, "roles", "AGENT").expect("delete"));
    // A set type in another case is not the set type.
    let err = store::put_policy(&mut conn, "ROLES", "agent", &allow).unwrap_err();
    assert!(matches!(err, StoreError::UnknownSetType { .. }), "{err}");
    // A hostile ARN in a check is an error, never SQL.
    let err = auth
        .is_allowed(
            &mut conn,
            &agent(),
            "server:List",
            "arn:rowguard:x'; DROP TABLE roles; --",
        )
        .unwrap_err();
    assert!(matches!(err, Error::Policy(_)), "{err}");
    assert_eq!(store::all_policies(&mut conn).expect("all").len(), 2);
}

/// The contacts every subject could see: (id, owner) in id order.
fn all_contacts(conn: &mut AnyConnection) -> Vec<(i64, i64)> {
    contacts::table
        .select((contacts::id, contacts::owner_id))
        .order(contacts::id)
        .load(conn)
        .expect("contacts")
}

fn ids_where(all: &[(i64, i64)], keep: impl Fn(i64, i64) -> bool) -> Vec<i64> {
    all.iter()
        .filter(|(id, owner)| keep(*id, *owner))
        .map(|(id, _)| *id)
        .collect()
}

/// `Allow contacts:Read` on an account's contacts, on one contact; a Deny from either source
/// refuses; both sources' grants add up.
fn statements_scope_the_guards_rows_with_rules(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, fresh_config(), 2);
    let mut conn = pool.get().expect("conn");
    let all = all_contacts(&mut conn);
    let viewer = Subject::new().with_set("roles", ["viewer"]);
    let seen = |conn: &mut AnyConnection, who: &Subject| {
        crate::fixture::visible(&auth.guard(who.clone()), conn)
    };
    assert!(seen(&mut conn, &viewer).is_empty(), "nothing yet");
    let arn = "arn:rowguard:default:local";
    store::put_policy(
        &mut conn,
        "roles",
        "viewer",
        &format!(
            r#"[{{"Effect":"Allow","Action":"contacts:Read","Resource":"{arn}:17:contacts/*"}}]"#
        ),
    )
    .expect("policy");
    assert_eq!(
        seen(&mut conn, &viewer),
        ids_where(&all, |_, owner| owner == 17),
        "account 17's contacts"
    );
    store::put_policy(
        &mut conn,
        "roles",
        "viewer",
        &format!(
            r#"[{{"Effect":"Allow","Action":"contacts:Read","Resource":["{arn}:17:contacts/*","{arn}:*:contacts/2"]}},
                {{"Effect":"Deny","Action":"contacts:*","Resource":"{arn}:*:contacts/3"}}]"#
        ),
    )
    .expect("policy");
    assert_eq!(
        seen(&mut conn, &viewer),
        ids_where(&all, |id, owner| (owner == 17 || id == 2) && id != 3),
        "one more by key, one less by an explicit deny"
    );
    // A rule's deny refuses what a statement grants.
    store::put_rule(
        &mut conn,
        "roles",
        "viewer",
        "contacts",
        r#"{"deny":{"read":{"search":{"id":"=1"}}}}"#,
    )
    .expect("rule");
    assert_eq!(
        seen(&mut conn, &viewer),
        ids_where(&all, |id, owner| (owner == 17 || id == 2)
            && id != 3
            && id != 1)
    );
    // A statement's deny refuses what a rule grants.
    store::put_rule(&mut conn, "roles", "agent", "contacts", r#"{"read":"*"}"#).expect("rule");
    store::put_policy(
        &mut conn,
        "groups",
        "night",
        &format!(
            r#"[{{"Effect":"Deny","Action":"contacts:Read","Resource":"{arn}:42:contacts/*"}}]"#
        ),
    )
    .expect("policy");
    let night_agent = agent().with_set("groups", ["night"]);
    assert_eq!(seen(&mut conn, &agent()), ids_where(&all, |_, _| true));
    assert_eq!(
        seen(&mut conn, &night_agent),
        ids_where(&all, |_, owner| owner != 42)
    );
    // A statement for other rights, another model, another partition or a pattern one column
    // cannot say exactly grants no row; the last one denied would deny them all.
    store::put_policy(
        &mut conn,
        "roles",
        "other",
        &format!(
            r#"[{{"Effect":"Allow","Action":"contacts:Update","Resource":"*"}},
                {{"Effect":"Allow","Action":"contact_types:Read","Resource":"*"}},
                {{"Effect":"Allow","Action":"contacts:Read","Resource":"arn:elsewhere:default:local:17:contacts/*"}},
                {{"Effect":"Allow","Action":"contacts:Read","Resource":"{arn}:17:contacts/1?"}},
                {{"Effect":"Allow","Action":"contacts:Read","Resource":"{arn}:17:contacts"}}]"#
        ),
    )
    .expect("policy");
    let other = Subject::new().with_set("roles", ["other"]);
    assert!(seen(&mut conn, &other).is_empty());
    store::put_policy(
        &mut conn,
        "groups",
        "careful",
        &format!(
            r#"[{{"Effect":"Deny","Action":"contacts:Read","Resource":"{arn}:17:contacts/1?"}}]"#
        ),
    )
    .expect("policy");
    assert!(
        seen(&mut conn, &agent().with_set("groups", ["careful"])).is_empty(),
        "an inexact deny denies every row"
    );
    // The explanation names the statements and their policies.
    let explained = auth
        .explain(&mut conn, &viewer, "contacts", rowguard::Right::Read)
        .expect("explain")
        .to_string();
    assert!(
        explained.contains("contributing policy statements:"),
        "{explained}"
    );
    assert!(
        explained
            .contains(r#"statement 0 of policy roles "viewer": grants (owner_id = 17 OR id = 2)"#),
        "{explained}"
    );
    assert!(
        explained.contains(r#"statement 1 of policy roles "viewer": denies id = 3"#),
        "{explained}"
    );
    // A broken policy that may deny refuses every row; one that cannot only grants nothing.
    conn.batch_execute(r#"INSERT INTO authorization_policies (set_type, set_value, policy) VALUES ('groups', 'broken_allow', '[{"Effect":"Allow","Action":"contacts:Read"}]'), ('groups', 'broken_deny', '[{"Effect":"Deny","Action":"contacts:Read"}]')"#)
        .expect("DBA insert");
    assert_eq!(
        seen(&mut conn, &agent().with_set("groups", ["broken_allow"])),
        ids_where(&all, |_, _| true)
    );
    assert!(seen(&mut conn, &agent().with_set("groups", ["broken_deny"])).is_empty());
}

/// Writes are decided with the statements too; a row and the model itself are resources of
/// `is_allowed`.
fn statements_decide_writes_and_name_rows_and_models(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, fresh_config(), 2);
    let mut conn = pool.get().expect("conn");
    let arn = "arn:rowguard:default:local";
    store::put_policy(
        &mut conn,
        "roles",
        "owner17",
        &format!(
            r#"[{{"Effect":"Allow","Action":["contacts:Read","contacts:Update","contacts:Create","contacts:Delete"],"Resource":"{arn}:17:contacts/*"}},
                {{"Effect":"Deny","Action":"contacts:Delete","Resource":"{arn}:17:contacts/1"}},
                {{"Effect":"Allow","Action":"contacts:List","Resource":"{arn}:17:contacts"}}]"#
        ),
    )
    .expect("policy");
    let who = Subject::new()
        .with_set("roles", ["owner17"])
        .with_attribute("account", 17);
    let guard = auth.guard(who.clone());
    let mut five: Contact = guard.find(&mut conn, 5).expect("contact 5 is account 17's");
    assert_eq!(five.owner_id, 17);
    five.name = "changed".into();
    guard.update(&mut conn, &five).expect("update allowed");
    // Moving it to another account is refused: the stored row must still be allowed.
    let mut moved = five.clone();
    moved.owner_id = 42;
    assert!(matches!(
        guard.update(&mut conn, &moved),
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(
        guard.find::<Contact>(&mut conn, 2),
        Err(Error::NotFound { .. })
    ));
    let mut new = five.clone();
    new.id = 1_000;
    guard.insert(&mut conn, &new).expect("create in account 17");
    new.id = 1_001;
    new.owner_id = 42;
    assert!(
        matches!(guard.insert(&mut conn, &new), Err(Error::Forbidden { .. })),
        "not in account 42"
    );
    assert!(
        matches!(
            guard.delete::<Contact>(&mut conn, 1),
            Err(Error::Forbidden { .. })
        ),
        "the deny"
    );
    guard
        .delete::<Contact>(&mut conn, 1_000)
        .expect("delete allowed");
    // is_allowed on rows and on the model, from the code's ARN form.
    let one: Contact = contacts::table.find(1).first(&mut conn).expect("contact 1");
    let two: Contact = contacts::table.find(2).first(&mut conn).expect("contact 2");
    assert!(auth
        .is_allowed(&mut conn, &who, "contacts:Read", &one)
        .expect("check"));
    assert!(!auth
        .is_allowed(&mut conn, &who, "contacts:Delete", &one)
        .expect("check"));
    assert!(!auth
        .is_allowed(&mut conn, &who, "contacts:Read", &two)
        .expect("check"));
    let decision = auth
        .policy_decision(&mut conn, &who, "contacts:Delete", &one)
        .expect("decision");
    assert_eq!(
        decision.resource.as_str(),
        "arn:rowguard:default:local:17:contacts/1"
    );
    let model = rowguard::guard::model_type::<Contact>();
    assert!(auth
        .is_allowed(&mut conn, &who, "contacts:List", &model)
        .expect("check"));
    let other_account = Subject::new()
        .with_set("roles", ["owner17"])
        .with_attribute("account", 42);
    assert!(!auth
        .is_allowed(&mut conn, &other_account, "contacts:List", &model)
        .expect("check"));
    let no_account = Subject::new().with_set("roles", ["owner17"]);
    let err = auth
        .is_allowed(&mut conn, &no_account, "contacts:List", &model)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"give the subject one "account" attribute"#),
        "{err}"
    );
    // Create on the model itself names an account, not a key: a new row has none yet.
    store::put_policy(
        &mut conn,
        "roles",
        "creator",
        &format!(
            r#"[{{"Effect":"Allow","Action":"contacts:Create","Resource":"{arn}:17:contacts"}}]"#
        ),
    )
    .expect("policy");
    store::put_policy(
        &mut conn,
        "groups",
        "frozen",
        &format!(
            r#"[{{"Effect":"Deny","Action":"contacts:Create","Resource":"{arn}:*:contacts"}}]"#
        ),
    )
    .expect("policy");
    let creator = auth.guard(Subject::new().with_set("roles", ["creator"]));
    new.id = 1_002;
    new.owner_id = 17;
    creator
        .insert(&mut conn, &new)
        .expect("create in account 17");
    new.id = 1_003;
    new.owner_id = 42;
    assert!(matches!(
        creator.insert(&mut conn, &new),
        Err(Error::Forbidden { .. })
    ));
    let frozen = auth.guard(
        Subject::new()
            .with_set("roles", ["creator"])
            .with_set("groups", ["frozen"]),
    );
    new.id = 1_004;
    new.owner_id = 17;
    assert!(
        matches!(frozen.insert(&mut conn, &new), Err(Error::Forbidden { .. })),
        "a Deny of creating in any account"
    );
}

/// A rule's relation condition sees the related rows the subject may read, and statements on
/// the related model count there too: a Deny hides a related row from the condition, an
/// Allow makes it readable there.
fn statements_count_where_rules_reach_through_relations(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, fresh_config(), 2);
    let mut conn = pool.get().expect("conn");
    let all = all_contacts(&mut conn);
    let customers: Vec<i64> = contacts::table
        .filter(contacts::contact_type_id.eq(1))
        .select(contacts::id)
        .order(contacts::id)
        .load(&mut conn)
        .expect("customers");
    assert!(!customers.is_empty() && customers.len() < all.len());
    store::put_relation(
        &mut conn,
        "contacts",
        &rowguard::rules::Relation::belongs_to(
            "contact_type",
            "contact_type_id",
            "contact_types",
            "id",
        ),
    )
    .expect("relation");
    let seen = |conn: &mut AnyConnection, who: &Subject| {
        crate::fixture::visible(&auth.guard(who.clone()), conn)
    };
    store::put_rule(
        &mut conn,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#,
    )
    .expect("rule");
    // No read right on contact types: the condition sees none.
    assert!(seen(&mut conn, &agent()).is_empty());
    let types = "arn:rowguard:default:local:default:contact_types";
    store::put_policy(
        &mut conn,
        "roles",
        "agent",
        &format!(r#"[{{"Effect":"Allow","Action":"contact_types:Read","Resource":"{types}/*"}}]"#),
    )
    .expect("policy");
    let explained = auth
        .explain(&mut conn, &agent(), "contacts", rowguard::Right::Read)
        .expect("explain")
        .to_string();
    assert_eq!(
        seen(&mut conn, &agent()),
        customers,
        "a statement makes the types readable: {explained}"
    );
    store::put_rule(
        &mut conn,
        "roles",
        "agent",
        "contact_types",
        r#"{"read":"*"}"#,
    )
    .expect("rule");
    store::put_policy(
        &mut conn,
        "groups",
        "night",
        &format!(r#"[{{"Effect":"Deny","Action":"contact_types:Read","Resource":"{types}/1"}}]"#),
    )
    .expect("policy");
    let night = agent().with_set("groups", ["night"]);
    assert!(
        seen(&mut conn, &night).is_empty(),
        "the denied type 1 is not readable inside the condition either"
    );
    let explained = auth
        .explain(&mut conn, &night, "contacts", rowguard::Right::Read)
        .expect("explain")
        .to_string();
    assert!(explained.contains("policy statement(s)"), "{explained}");
}

/// `Deny gen_items:*` on one key: an insert whose key the database generates is checked
/// against the key it gets, not refused for the key it does not have yet.
fn a_deny_of_one_key_lets_generated_keys_through(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let ddl = match db.backend() {
        rowguard::Backend::Sqlite => {
            "CREATE TABLE gen_items (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"
        }
        rowguard::Backend::Mysql => {
            "CREATE TABLE gen_items (id BIGINT AUTO_INCREMENT PRIMARY KEY, note TEXT NOT NULL)"
        }
        rowguard::Backend::Postgres => {
            "CREATE TABLE gen_items (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)"
        }
    };
    conn.batch_execute(ddl).expect("table");
    let auth = Authorizer::new(fresh_config());
    auth.register::<GenItem>(&mut conn).expect("register");
    store::put_rule(
        &mut conn,
        "roles",
        "agent",
        "gen_items",
        r#"{"create":"*","read":"*"}"#,
    )
    .expect("rule");
    store::put_policy(
        &mut conn,
        "roles",
        "agent",
        r#"[{"Effect":"Deny","Action":"gen_items:*","Resource":"arn:rowguard:default:local:*:gen_items/2"}]"#,
    )
    .expect("policy");
    let guard = auth.guard(agent());
    let item = GenItem {
        id: None,
        note: "x".into(),
    };
    guard.insert(&mut conn, &item).expect("key 1 is not denied");
    let err = guard.insert(&mut conn, &item).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "key 2 is: {err}");
    let stored: Vec<Option<i64>> = gen_items::table
        .select(gen_items::id)
        .order(gen_items::id)
        .load(&mut conn)
        .expect("ids");
    assert_eq!(stored, [Some(1)], "the refused insert was rolled back");
}

/// A policy written inside a transaction and read there is not kept for other connections:
/// the transaction can still roll back (it does here), and the cache is only checked once a
/// refresh interval.
fn a_rolled_back_policy_is_never_served(db: &TestDatabase) {
    use diesel::Connection;
    let mut a = db.connect().expect("connect");
    let mut b = db.connect().expect("connect");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    let server = format!("{SERVER}/1");
    let other = Subject::new().with_set("roles", ["other"]);
    let rolled_back = a.transaction::<(), diesel::result::Error, _>(|a| {
        store::put_policy(
            a,
            "roles",
            "agent",
            &format!(r#"[{{"Effect":"Allow","Action":"server:Delete","Resource":"{SERVER}/*"}}]"#),
        )
        .expect("policy");
        // Another connection reads meanwhile (outside any transaction), and caches what is
        // committed.
        assert!(!allowed(&auth, &mut b, &other, "server:Delete", &server));
        assert!(!allowed(&auth, &mut b, &agent(), "server:Delete", &server));
        assert!(
            allowed(&auth, a, &agent(), "server:Delete", &server),
            "seen inside"
        );
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled_back.is_err());
    assert!(
        !allowed(&auth, &mut b, &agent(), "server:Delete", &server),
        "the rolled-back policy is not served from the cache"
    );
    assert!(!allowed(&auth, &mut a, &agent(), "server:Delete", &server));
}

/// Absolute rights bypass the rules on rows, not RBAC: a permission key or a job comes from
/// the roles or a statement, and a statement's Deny binds them too.
fn absolute_rights_hold_no_key_their_roles_do_not(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    let mut config = fresh_config();
    config
        .absolute_rights
        .insert("roles".into(), vec!["root".into()]);
    let auth = Authorizer::new(config);
    let root = Subject::new().with_set("roles", ["root"]);
    assert!(!auth
        .has_permission(&mut conn, &root, "users.manage", false)
        .expect("check"));
    assert!(auth
        .has_permission(&mut conn, &root, "users.manage", true)
        .expect("check"));
    store::put_policy(
        &mut conn,
        "roles",
        "root",
        r#"[{"Effect":"Deny","Action":"rowguard:users.manage","Resource":"*"},
            {"Effect":"Allow","Action":"rowguard:rules.*","Resource":"*"}]"#,
    )
    .expect("policy");
    assert!(
        !auth
            .has_permission(&mut conn, &root, "users.manage", true)
            .expect("check"),
        "the Deny binds"
    );
    assert!(
        auth.has_permission(&mut conn, &root, "rules.read", false)
            .expect("check"),
        "the Allow grants"
    );
    // Two accounts would be two resources: refused, not one of them picked.
    let two = Subject::new()
        .with_set("roles", ["root"])
        .with_attribute_list("account", [7, 8]);
    let err = auth
        .has_permission(&mut conn, &two, "rules.read", false)
        .unwrap_err();
    assert!(
        err.to_string().contains(r#"several "account" attributes"#),
        "{err}"
    );
}
