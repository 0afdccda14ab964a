//! The rule and RBAC caches under the conditions that break caches: other threads, more
//! subjects than the cache holds, refresh and invalidation, a DBA's inconsistent edit.

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use rowguard::rbac::Rbac;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Config, Subject};

rowguard::backend_tests!(
    other_threads_see_writes_and_invalidations,
    more_subjects_than_the_caches_hold_stay_correct,
    rbac_refreshes_and_invalidates,
    a_role_cycle_written_by_a_dba_is_an_error,
);

fn visible(auth: &Authorizer, subject: Subject, conn: &mut AnyConnection) -> Vec<i64> {
    crate::fixture::visible(&auth.guard(subject), conn)
}

fn agent() -> Subject {
    Subject::new().with_set("roles", ["agent"])
}

/// A reader thread keeps its thread-local front cache; rowguard's writes and
/// `Authorizer::invalidate` on the main thread reach it at once.
fn other_threads_see_writes_and_invalidations(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(
        db,
        Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        },
        3,
    );
    let mut main = pool.get().unwrap();
    let doc = |ids: &str| format!(r#"{{"read":{{"search":{{"id":"={ids}"}}}}}}"#);
    store::put_rule(&mut main, "roles", "agent", "contacts", &doc("1")).unwrap();
    let (ask, asked) = mpsc::channel::<()>();
    let (tell, told) = mpsc::channel::<Vec<i64>>();
    let reader = {
        let (pool, auth) = (pool.clone(), auth.clone());
        std::thread::spawn(move || {
            let mut conn = pool.get().unwrap();
            while asked.recv().is_ok() {
                tell.send(visible(&auth, agent(), &mut conn)).unwrap();
            }
        })
    };
    let read = || {
        ask.send(()).unwrap();
        told.recv().unwrap()
    };
    assert_eq!(read(), [1]);
    assert_eq!(read(), [1], "from the reader's front cache");
    store::put_rule(&mut main, "roles", "agent", "contacts", &doc("1;2")).unwrap();
    assert_eq!(read(), [1, 2], "rowguard's write reached the other thread");
    // A DBA's edit, then invalidate on this thread.
    main.batch_execute(&format!(
        "UPDATE authorization_rules SET rules = '{}'",
        doc("3")
    ))
    .unwrap();
    auth.invalidate();
    assert_eq!(read(), [3], "invalidate reached the other thread");
    drop(ask);
    reader.join().unwrap();
}

/// 300 subjects through a cache of 16 entries and a front cache of 256: evictions and
/// restarts never give one subject another's rules.
fn more_subjects_than_the_caches_hold_stay_correct(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(
        db,
        Config {
            cache_size: 16,
            refresh_interval_ms: 600_000,
            ..Config::default()
        },
        1,
    );
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"owner_id":"=$subject.id"}}}"#,
    )
    .unwrap();
    let subject = |n: i64| {
        Subject::new()
            .with_set("roles", ["agent"])
            .with_set("id", [n])
            .with_attribute("id", n)
    };
    for round in 0..2 {
        for n in 0..300i64 {
            let expected: Vec<i64> = match n {
                17 => vec![1, 3, 5, 7, 9],
                42 => vec![2, 4, 6, 8, 10],
                _ => vec![],
            };
            assert_eq!(
                visible(&auth, subject(n), &mut c),
                expected,
                "round {round}, subject {n}"
            );
        }
    }
}

/// RBAC: a grant written with SQL shows after the refresh interval, `Rbac::invalidate`
/// shows a revocation at once.
fn rbac_refreshes_and_invalidates(db: &TestDatabase) {
    let mut c = db.connect().unwrap();
    c.batch_execute(
        "INSERT INTO roles (name) VALUES ('cache_r'); INSERT INTO permissions (name) VALUES ('cache.p')",
    )
    .unwrap();
    let grant = "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'cache_r' AND p.name = 'cache.p'";
    let interval = Duration::from_millis(300);
    let rbac = Rbac::new(&Config {
        refresh_interval_ms: interval.as_millis() as u64,
        ..Config::default()
    });
    assert!(!rbac.role_can(&mut c, &["cache_r"], "cache.p").unwrap());
    c.batch_execute(grant).unwrap();
    std::thread::sleep(interval * 3);
    assert!(
        rbac.role_can(&mut c, &["cache_r"], "cache.p").unwrap(),
        "after the interval"
    );
    c.batch_execute("DELETE FROM role_permissions").unwrap();
    rbac.invalidate();
    assert!(
        !rbac.role_can(&mut c, &["cache_r"], "cache.p").unwrap(),
        "at once after invalidate"
    );
    // Not before the interval (a long one), when nothing else was written meanwhile.
    let patient = Rbac::new(&Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    let mut conclusive = false;
    for _ in 0..50 {
        let writes = rowguard::cache::store_writes();
        c.batch_execute("DELETE FROM role_permissions").unwrap();
        patient.invalidate();
        assert!(!patient.role_can(&mut c, &["cache_r"], "cache.p").unwrap());
        c.batch_execute(grant).unwrap();
        let seen = patient.role_can(&mut c, &["cache_r"], "cache.p").unwrap();
        if rowguard::cache::store_writes() == writes {
            assert!(!seen, "not before the interval");
            conclusive = true;
            break;
        }
    }
    assert!(conclusive, "other tests kept writing");
}

/// Two roles inheriting from each other, written with SQL: loading the RBAC model is an
/// error naming the cycle, not a hang or a silent grant.
fn a_role_cycle_written_by_a_dba_is_an_error(db: &TestDatabase) {
    let mut c = db.connect().unwrap();
    c.batch_execute(
        "INSERT INTO roles (name) VALUES ('cycle_a'); INSERT INTO roles (name) VALUES ('cycle_b'); \
         INSERT INTO role_inheritance (role_id, parent_role_id) SELECT a.id, b.id FROM roles a, roles b WHERE a.name = 'cycle_a' AND b.name = 'cycle_b'; \
         INSERT INTO role_inheritance (role_id, parent_role_id) SELECT a.id, b.id FROM roles a, roles b WHERE a.name = 'cycle_b' AND b.name = 'cycle_a'",
    )
    .unwrap();
    let rbac = Rbac::new(&Config::default());
    let err = rbac
        .role_can(&mut c, &["cycle_a"], "anything")
        .expect_err("a cycle is an error")
        .to_string();
    assert!(
        err.contains("role inheritance cycle")
            && err.contains("cycle_a")
            && err.contains("cycle_b"),
        "{err}"
    );
}
