//! IAM-style policies stored in the database: written only when valid, merged across a
//! subject's sets (explicit deny wins), fresh after a DBA's SQL, fail closed when a stored
//! one is broken, loaded by the seeder all or nothing.

use diesel::connection::SimpleConnection;
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
);

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
        ("not json", "policy is not valid JSON"),
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
    // JSON, but not a policy: the database accepts it; every check of its subjects refuses.
    conn.batch_execute(
        r#"INSERT INTO authorization_policies (set_type, set_value, policy) VALUES ('groups', 'night', '[{"Effect":"Allow","Action":"server:Get"}]')"#,
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
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].row.set_value, "night");
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
    assert_eq!(policy_changes, ["insert", "update", "insert"]);
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
