//! The decision log on every backend: what each mode records (denials, all, sampled), why
//! and by which rule rows, writes and checks, hidden rows, bulk writes, bypasses; the
//! retention limit; a full queue or a failed write counted as `lost`, never silent and never
//! slowing or failing the request; bad start-ups; hostile text stored as text.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rowguard::decisions::{decisions, DecisionEntry, DecisionError, DecisionQuery};
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Backend, Config, Error, Subject};

use crate::app::{contacts, Contact};

rowguard::backend_tests!(
    denials_are_recorded_with_their_rules,
    all_records_allowed_decisions_bulk_writes_and_bypasses,
    sampled_records_every_denial_and_a_share_of_the_rest,
    the_retention_limit_deletes_the_oldest,
    a_full_queue_or_a_failed_write_is_counted_as_lost,
    bad_start_ups_are_refused_by_name,
    hostile_text_is_stored_as_text,
    every_threads_decisions_are_written,
    policy_statements_are_named_with_their_decisions,
);

/// Records wait in each thread's buffer: a flush from one thread writes those of threads
/// still running, and dropping the authorizer writes what is left.
fn every_threads_decisions_are_written(db: &TestDatabase) {
    let (mut conn, auth, _) = setup(db, "denials", |c| c.decision_log.flush_ms = 60_000);
    let two = contact(&mut conn, 2);
    let decided = std::sync::Barrier::new(5);
    let checked = std::sync::Barrier::new(5);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut conn = db.connect().expect("connect");
                let guard = auth.guard(agent());
                for _ in 0..25 {
                    assert!(!guard.can(&mut conn, Right::Update, &two).expect("can"));
                }
                decided.wait();
                checked.wait();
            });
        }
        decided.wait();
        // The writer's own schedule is a minute away: only the flush writes them.
        assert_eq!(recorded(&auth, &mut conn).len(), 100);
        checked.wait();
    });
    let guard = auth.guard(agent());
    assert!(!guard.can(&mut conn, Right::Update, &two).expect("can"));
    drop(guard);
    drop(auth);
    let all = decisions(
        &mut conn,
        &DecisionQuery {
            limit: Some(1_000),
            ..DecisionQuery::default()
        },
    )
    .expect("decisions");
    assert_eq!(
        all.len(),
        101,
        "the last one written when the authorizer went"
    );
}

const AGENT: &str = r#"{"read":{"search":{"status":"=open;pending"}},"create":"*","update":{"search":{"owner_id":"=$subject.id"}},"delete":{"search":{"owner_id":"=$subject.id"}},"deny":{"delete":{"search":{"status":"=pending"}}}}"#;

/// The contacts samples (ids 1–10; odd ids owned by 17; 3 pending, 4 closed), the agent's
/// rule, and an authorizer logging decisions as `spec` says (`[decision_log]` otherwise
/// `tune`d). Returns the agent's rule row id too.
/// A decision a policy statement made names the statement (its position, `Sid` and policy)
/// as a decision a rule row made names the row; a broken policy that may deny is named as
/// the reason everything is refused.
fn policy_statements_are_named_with_their_decisions(db: &TestDatabase) {
    let (mut conn, auth, _) = setup(db, "all", |_| {});
    let conn = &mut conn;
    store::put_policy(
        conn,
        "roles",
        "agent",
        r#"[{"Sid": "theirs", "Effect": "Allow", "Action": "contacts:Update", "Resource": "arn:rowguard:default:local:42:contacts/*"},
            {"Sid": "Not2", "Effect": "Deny", "Action": "contacts:Update", "Resource": "arn:rowguard:default:local:*:contacts/2"}]"#,
    )
    .expect("policy");
    auth.invalidate();
    let guard = auth.guard(agent());
    let (c1, c2, c6) = (contact(conn, 1), contact(conn, 2), contact(conn, 6));
    // Contact 2 (owner 42): the Allow reaches it, the Deny too.
    assert!(!guard.can(conn, Right::Update, &c2).expect("can"));
    // Contact 6 (owner 42, pending): no rule grants the update, the Allow does.
    assert!(guard.can(conn, Right::Update, &c6).expect("can"));
    // Contact 1 (owner 17): the rule grants it, no statement reaches it.
    assert!(guard.can(conn, Right::Update, &c1).expect("can"));
    let log = recorded(&auth, conn);
    let named = |e: &DecisionEntry| -> Vec<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&e.rules)
            .expect("JSON")
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        (log[0].decision.as_str(), log[0].reason.as_str()),
        ("denied", "denied by the rules listed")
    );
    assert_eq!(
        named(&log[0]),
        [
            serde_json::json!({"statement": 1, "sid": "Not2", "set_type": "roles",
                            "set_value": "agent", "effect": "deny"})
        ]
    );
    assert_eq!(
        (log[1].decision.as_str(), log[1].reason.as_str()),
        ("allowed", "granted by the rules listed")
    );
    assert_eq!(
        named(&log[1]),
        [
            serde_json::json!({"statement": 0, "sid": "theirs", "set_type": "roles",
                            "set_value": "agent", "effect": "grant"})
        ]
    );
    let first = named(&log[2]);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0]["id"].is_i64(), "the rule row: {first:?}");
    // A DBA's broken policy for everyone, which may hold a Deny.
    conn.batch_execute(
        r#"INSERT INTO authorization_policies (set_type, set_value, policy)
           VALUES ('universal', 'rowguard-universal', '[{"Effect": "Deny"}]')"#,
    )
    .expect("dba's insert");
    auth.invalidate();
    assert!(!guard.can(conn, Right::Update, &c1).expect("can"));
    let log = recorded(&auth, conn);
    let last = log.last().expect("the refusal");
    assert_eq!(
        last.reason,
        "an invalid policy that may hold a Deny refuses everything"
    );
    assert_eq!(
        named(last),
        [
            serde_json::json!({"statement": null, "set_type": "universal",
                            "set_value": "rowguard-universal", "effect": "invalid"})
        ]
    );
}

fn setup(
    db: &TestDatabase,
    spec: &str,
    tune: impl FnOnce(&mut Config),
) -> (AnyConnection, Authorizer, i64) {
    let mut config = Config::default();
    config.decision_log.apply_spec(spec).expect("spec");
    config
        .absolute_rights
        .insert("roles".into(), vec!["root".into()]);
    tune(&mut config);
    let (pool, auth) = crate::fixture::contacts(db, config, 2);
    drop(pool);
    let mut conn = db.connect().expect("connect");
    store::put_rule(&mut conn, "roles", "agent", "contacts", AGENT).expect("rule");
    let id = store::all_rules(&mut conn)
        .expect("rules")
        .iter()
        .find(|r| r.set_value == "agent")
        .expect("agent rule")
        .id;
    assert!(auth.log_decisions(db.url()).expect("log starts"));
    (conn, auth, id)
}

fn agent() -> Subject {
    Subject::new()
        .with_set("roles", ["agent"])
        .with_attribute("id", 17)
}

fn contact(conn: &mut AnyConnection, id: i64) -> Contact {
    contacts::table.find(id).first(conn).expect("contact")
}

/// Every recorded decision, oldest first.
fn recorded(auth: &Authorizer, conn: &mut AnyConnection) -> Vec<DecisionEntry> {
    auth.flush_decisions().expect("flush");
    let mut all = decisions(
        conn,
        &DecisionQuery {
            limit: Some(100_000),
            ..DecisionQuery::default()
        },
    )
    .expect("decisions");
    all.reverse();
    all
}

fn rules_of(e: &DecisionEntry) -> Vec<(i64, String)> {
    let rules: serde_json::Value = serde_json::from_str(&e.rules).expect("rules JSON");
    rules
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().expect("id"),
                r["effect"].as_str().expect("effect").to_owned(),
            )
        })
        .collect()
}

fn denials_are_recorded_with_their_rules(db: &TestDatabase) {
    let (mut conn, auth, rule) = setup(db, "denials", |_| {});
    let guard = auth.guard(agent());
    let conn = &mut conn;
    let (one, two, three) = (contact(conn, 1), contact(conn, 2), contact(conn, 3));
    // Allowed: not recorded under "denials".
    assert!(guard.can(conn, Right::Update, &one).expect("can"));
    guard.update(conn, &one).expect("allowed update");
    // 1. A deny reaches contact 3 (pending).
    assert!(!guard.can(conn, Right::Delete, &three).expect("can"));
    // 2. The update grant does not reach contact 2 (owner 42).
    assert!(!guard.can(conn, Right::Update, &two).expect("can"));
    // 3. The same as a write: refused, nothing written, recorded.
    let mut changed = two.clone();
    changed.name = "changed".into();
    assert!(matches!(
        guard.update(conn, &changed),
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(contact(conn, 2), two, "a refused write changes nothing");
    // 4. A row the read rule hides (4 is closed): NotFound to the caller, a denial here.
    assert!(matches!(
        guard.delete::<Contact>(conn, 4),
        Err(Error::NotFound { .. })
    ));
    // A row that does not exist was not refused: nothing to record.
    assert!(matches!(
        guard.delete::<Contact>(conn, 999),
        Err(Error::NotFound { .. })
    ));
    // 5. A subject no rule grants anything.
    let nobody = auth.guard(Subject::new().with_set("roles", ["visitor"]));
    assert!(!nobody.can(conn, Right::Create, &one).expect("can"));
    // 6. A delete the deny refuses in the database: explained on the stored row.
    assert!(matches!(
        guard.delete::<Contact>(conn, 3),
        Err(Error::Forbidden { .. })
    ));
    // 7. A bulk delete that reaches nothing because nothing is granted.
    assert_eq!(nobody.delete_all::<Contact>(conn, None).expect("bulk"), 0);
    // 8. An explicit check of columns a column list does not allow.
    store::put_rule(
        conn,
        "roles",
        "editor",
        "contacts",
        r#"{"read":"*","update":"*","columns":{"update":["name"]}}"#,
    )
    .expect("rule");
    auth.invalidate();
    let editor = auth.guard(Subject::new().with_set("roles", ["editor"]));
    assert!(editor
        .check_columns::<Contact>(conn, Right::Update, &["owner_id"])
        .is_err());

    let log = recorded(&auth, conn);
    let shape: Vec<(&str, &str, &str, Option<&str>, &str)> = log
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.action.as_str(),
                e.decision.as_str(),
                e.row_key.as_deref(),
                e.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (
                "check",
                "delete",
                "denied",
                Some("3"),
                "denied by the rules listed"
            ),
            (
                "check",
                "update",
                "denied",
                Some("2"),
                "none of the rules listed reaches the row"
            ),
            (
                "write",
                "update",
                "denied",
                Some("2"),
                "none of the rules listed reaches the row"
            ),
            (
                "write",
                "delete",
                "denied",
                Some("4"),
                "the read rule hides the row (the rules listed grant read)"
            ),
            (
                "check",
                "create",
                "denied",
                Some("1"),
                "no rule or policy statement of the subject's sets grants create"
            ),
            (
                "write",
                "delete",
                "denied",
                Some("3"),
                "denied by the rules listed"
            ),
            (
                "write",
                "delete",
                "denied",
                None,
                "no rule or policy statement of the subject's sets grants delete"
            ),
            (
                "check",
                "update",
                "denied",
                None,
                "forbidden: update on contacts: the subject may not write column owner_id"
            ),
        ]
    );
    assert_eq!(rules_of(&log[5]), [(rule, "deny".to_owned())]);
    assert_eq!(rules_of(&log[0]), [(rule, "deny".to_owned())]);
    assert_eq!(rules_of(&log[1]), [(rule, "grant".to_owned())]);
    assert_eq!(rules_of(&log[3]), [(rule, "grant".to_owned())]);
    assert!(rules_of(&log[4]).is_empty());
    let subject: serde_json::Value = serde_json::from_str(&log[0].subject).expect("subject");
    assert_eq!(
        subject,
        serde_json::json!({"sets": {"roles": ["agent"]}, "attributes": {"id": ["17"]}})
    );
    assert!(log
        .iter()
        .all(|e| e.model == "contacts" && e.sampled == 1.0));
    // Newest first, filtered, paged.
    let newest_two = decisions(
        conn,
        &DecisionQuery {
            model: Some("contacts".into()),
            denied_only: true,
            limit: Some(2),
            ..DecisionQuery::default()
        },
    )
    .expect("query");
    assert_eq!(
        newest_two.iter().map(|e| e.id).collect::<Vec<_>>(),
        [log[7].id, log[6].id]
    );
    let next_page = decisions(
        conn,
        &DecisionQuery {
            before: Some(log[6].id),
            limit: Some(1),
            ..DecisionQuery::default()
        },
    )
    .expect("query");
    assert_eq!(next_page[0].id, log[5].id);
    let later = decisions(
        conn,
        &DecisionQuery {
            since: Some(log[7].decided_at + chrono::Duration::seconds(1)),
            ..DecisionQuery::default()
        },
    )
    .expect("query");
    assert!(later.is_empty());
}

fn all_records_allowed_decisions_bulk_writes_and_bypasses(db: &TestDatabase) {
    let (mut conn, auth, rule) = setup(db, "all", |_| {});
    let conn = &mut conn;
    let guard = auth.guard(agent());
    let mut one = contact(conn, 1);
    one.name = "renamed".into();
    guard.update(conn, &one).expect("update");
    let written = guard
        .update_all::<Contact>(conn, None, |c| c.score += 1)
        .expect("bulk update");
    assert_eq!(written, 5, "the odd ids: owned by 17, open or pending");
    let root = auth.guard(Subject::new().with_set("roles", ["root"]));
    root.delete::<Contact>(conn, 10).expect("root deletes");
    let log = recorded(&auth, conn);
    let shape: Vec<(&str, &str, Option<&str>, i64, &str)> = log
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.decision.as_str(),
                e.row_key.as_deref(),
                e.count,
                e.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (
                "update",
                "allowed",
                Some("1"),
                1,
                "granted by the rules listed"
            ),
            (
                "update",
                "allowed",
                None,
                5,
                "the database found the row within the rules listed"
            ),
            (
                "delete",
                "allowed",
                Some("10"),
                1,
                "the subject holds absolute rights"
            ),
        ]
    );
    assert_eq!(rules_of(&log[0]), [(rule, "grant".to_owned())]);
    assert_eq!(rules_of(&log[1]), [(rule, "grant".to_owned())]);
    assert!(rules_of(&log[2]).is_empty());
}

fn sampled_records_every_denial_and_a_share_of_the_rest(db: &TestDatabase) {
    let (mut conn, auth, _) = setup(db, "sampled", |c| c.decision_log.sample = 0.25);
    let conn = &mut conn;
    let guard = auth.guard(agent());
    let (one, two) = (contact(conn, 1), contact(conn, 2));
    for _ in 0..800 {
        assert!(guard.can(conn, Right::Update, &one).expect("can"));
    }
    for _ in 0..20 {
        assert!(!guard.can(conn, Right::Update, &two).expect("can"));
    }
    let log = recorded(&auth, conn);
    let denied: Vec<_> = log.iter().filter(|e| e.decision == "denied").collect();
    let allowed: Vec<_> = log.iter().filter(|e| e.decision == "allowed").collect();
    assert_eq!(denied.len(), 20, "every denial");
    assert!(denied.iter().all(|e| e.sampled == 1.0));
    // 800 × 0.25 = 200; far outside 120–280 is a broken draw, not bad luck (p < 1e-9).
    assert!(
        (120..=280).contains(&allowed.len()),
        "{} of 800",
        allowed.len()
    );
    assert!(allowed.iter().all(|e| e.sampled == 0.25));
}

fn the_retention_limit_deletes_the_oldest(db: &TestDatabase) {
    // An entry 3 days old, written before the log starts: the start prunes it.
    let mut old = db.connect().expect("connect");
    old.batch_execute(
        "INSERT INTO authorization_decisions (decided_at, subject, model, action, kind, \
         row_key, decision, reason, rules, sampled, count) VALUES ('2000-01-01 00:00:00', \
         '{}', 'contacts', 'read', 'check', '1', 'denied', 'old', '[]', 1, 1)",
    )
    .expect("old entry");
    let (mut conn, auth, _) = setup(db, "denials", |c| {
        c.decision_log.retention_days = 1;
        c.decision_log.max_rows = 5;
    });
    let conn = &mut conn;
    let guard = auth.guard(agent());
    let two = contact(conn, 2);
    for _ in 0..12 {
        assert!(!guard.can(conn, Right::Update, &two).expect("can"));
    }
    // Written, not pruned: a process prunes after its first minute, or when asked.
    assert_eq!(recorded(&auth, conn).len(), 13);
    let kept: Vec<i64> = recorded(&auth, conn)[8..].iter().map(|e| e.id).collect();
    // An old-looking row with the newest id (an import, a clock that jumped) must not
    // widen what goes: only rows older than the limit go, and then the oldest beyond 5.
    conn.batch_execute(
        "INSERT INTO authorization_decisions (decided_at, subject, model, action, kind, \
         row_key, decision, reason, rules, sampled, count) VALUES ('2000-01-01 00:00:00', \
         '{}', 'contacts', 'read', 'check', '1', 'denied', 'old', '[]', 1, 1)",
    )
    .expect("old entry with the newest id");
    auth.prune_decisions().expect("prune");
    let log = recorded(&auth, conn);
    assert!(
        log.iter().all(|e| e.reason != "old"),
        "the old entries are gone"
    );
    let ids: Vec<i64> = log.iter().map(|e| e.id).collect();
    assert_eq!(ids, kept, "max_rows keeps the newest 5 of the recent ones");
}

/// Holds a lock that stops the log's writer from inserting, until dropped.
fn block_writes(db: &TestDatabase) -> AnyConnection {
    let mut conn = db.connect().expect("connect");
    let sql = match db.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN; LOCK TABLE authorization_decisions IN EXCLUSIVE MODE",
        Backend::Mysql => "LOCK TABLES authorization_decisions WRITE",
    };
    conn.batch_execute(sql).expect("lock");
    conn
}

fn release(db: &TestDatabase, mut conn: AnyConnection) {
    let sql = match db.backend() {
        Backend::Mysql => "UNLOCK TABLES",
        _ => "COMMIT",
    };
    conn.batch_execute(sql).expect("unlock");
}

fn a_full_queue_or_a_failed_write_is_counted_as_lost(db: &TestDatabase) {
    let (mut conn, auth, _) = setup(db, "denials", |c| {
        c.decision_log.queue = 1;
        c.decision_log.batch = 1;
        c.decision_log.flush_ms = 1;
    });
    let conn = &mut conn;
    let guard = auth.guard(agent());
    let two = contact(conn, 2);
    // The writer is stuck behind a lock: the request path neither waits nor fails.
    let lock = block_writes(db);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert!(!guard.can(conn, Right::Update, &two).expect("can"));
    }
    let spent = started.elapsed();
    release(db, lock);
    assert!(
        spent < std::time::Duration::from_secs(2),
        "checks waited: {spent:?}"
    );
    let log = recorded(&auth, conn);
    let denied: i64 = log
        .iter()
        .filter(|e| e.decision == "denied")
        .map(|e| e.count)
        .sum();
    let lost: Vec<&DecisionEntry> = log.iter().filter(|e| e.decision == "lost").collect();
    assert!(!lost.is_empty(), "a queue of 1 behind a lock overflows");
    let lost_count: i64 = lost.iter().map(|e| e.count).sum();
    assert_eq!(
        denied + lost_count,
        50,
        "every decision recorded or counted"
    );
    assert!(
        lost[0].reason.contains("decisions were not recorded"),
        "{}",
        lost[0].reason
    );

    // A write that fails (the table renamed away) reports on flush and is counted.
    let (away, back) = match db.backend() {
        Backend::Mysql => (
            "RENAME TABLE authorization_decisions TO decisions_away",
            "RENAME TABLE decisions_away TO authorization_decisions",
        ),
        _ => (
            "ALTER TABLE authorization_decisions RENAME TO decisions_away",
            "ALTER TABLE decisions_away RENAME TO authorization_decisions",
        ),
    };
    conn.batch_execute(away).expect("rename");
    for _ in 0..3 {
        assert!(!guard.can(conn, Right::Update, &two).expect("can"));
    }
    let failed = auth.flush_decisions();
    assert!(
        matches!(failed, Err(Error::Decisions(DecisionError::Writer(_)))),
        "{failed:?}"
    );
    conn.batch_execute(back).expect("rename back");
    let before = log.len();
    let log = recorded(&auth, conn);
    let new: Vec<&DecisionEntry> = log[before..].iter().collect();
    assert!(new.iter().all(|e| e.decision == "lost"), "{new:?}");
    assert_eq!(new.iter().map(|e| e.count).sum::<i64>(), 3, "{new:?}");
    // What a failed write lost says so (the rest: the buffer of 1 was full meanwhile).
    assert!(
        new.iter()
            .any(|e| e.reason.contains("not recorded: writing them failed")),
        "{new:?}"
    );
    // Shown with any model's decisions: a gap is visible from every model.
    let of_contacts = decisions(
        conn,
        &DecisionQuery {
            model: Some("contacts".into()),
            denied_only: true,
            limit: Some(1_000),
            ..DecisionQuery::default()
        },
    )
    .expect("query");
    assert!(of_contacts.iter().any(|e| e.decision == "lost"));
}

fn bad_start_ups_are_refused_by_name(db: &TestDatabase) {
    let mut config = Config::default();
    config.decision_log.apply_spec("denials").expect("spec");
    // Off: nothing starts, nothing fails.
    assert!(!Authorizer::new(Config::default())
        .log_decisions(db.url())
        .expect("off"));
    let auth = Authorizer::new(config.clone());
    assert!(auth.log_decisions(db.url()).expect("starts"));
    let again = auth.log_decisions(db.url());
    assert!(
        matches!(again, Err(Error::Decisions(DecisionError::AlreadyStarted))),
        "{again:?}"
    );
    let memory = rowguard::DatabaseUrl::parse("sqlite://:memory:").expect("url");
    let err = Authorizer::new(config.clone())
        .log_decisions(&memory)
        .expect_err("in memory");
    assert!(err.to_string().contains("in-memory SQLite"), "{err}");
    // A database without rowguard's tables: the error says to migrate.
    let empty = TestDatabase::empty(db.backend()).expect("empty database");
    let err = Authorizer::new(config)
        .log_decisions(empty.url())
        .expect_err("no table");
    assert!(err.to_string().contains("run rowguard migrate"), "{err}");
}

fn hostile_text_is_stored_as_text(db: &TestDatabase) {
    let (mut conn, auth, _) = setup(db, "denials", |_| {});
    let conn = &mut conn;
    let evil = "x'); DROP TABLE contacts; --";
    let guard = auth.guard(
        Subject::new()
            .with_set("roles", [evil])
            .with_attribute("name\"}", evil),
    );
    let one = contact(conn, 1);
    assert!(!guard.can(conn, Right::Update, &one).expect("can"));
    // A NUL (which PostgreSQL's text cannot hold) neither fails the batch nor is lost: the
    // subject is JSON, which escapes it.
    let nul = auth.guard(Subject::new().with_attribute("note", "a\0b"));
    assert!(!nul.can(conn, Right::Update, &one).expect("can"));
    assert!(!guard.can(conn, Right::Update, &one).expect("can"));
    let log = recorded(&auth, conn);
    assert_eq!(log.len(), 3, "{log:?}");
    let with_nul: serde_json::Value = serde_json::from_str(&log[1].subject).expect("JSON");
    assert_eq!(with_nul["attributes"]["note"][0], "a\0b");
    let subject: serde_json::Value = serde_json::from_str(&log[0].subject).expect("JSON");
    assert_eq!(subject["sets"]["roles"][0], evil);
    assert_eq!(subject["attributes"]["name\"}"][0], evil);
    assert_eq!(
        contacts::table
            .count()
            .get_result::<i64>(conn)
            .expect("contacts still there"),
        10
    );
}
