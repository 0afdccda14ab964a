//! The guard on every backend: scoped reads, checked writes, merging, the universal role,
//! absolute rights, override, freshness after a DBA edit, and concurrency.

use std::time::Duration;

use diesel::prelude::*;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, Authorizer, Backend, Config, Error, Guard, Pool, PoolOptions, Subject};

use crate::app::{contacts, Contact};

rowguard::backend_tests!(
    seed_example_holds,
    roles_and_groups_merge,
    universal_role_applies_to_everyone,
    absolute_rights_bypass_rules,
    override_grants_everything,
    no_rules_means_nothing,
    create_with_a_search_rule,
    update_post_image_is_checked,
    bulk_writes_touch_only_allowed_rows,
    dba_edits_show_after_the_refresh_interval,
    eight_threads_read_and_write,
    explain_names_rows_and_sql,
    a_cache_hit_costs_no_query,
);

const AGENT: &str =
    r#"{"create":"*","read":{"search":{"id":"=1;2;3;4;5"}},"update":{"search":{"id":"=!2"}}}"#;

/// The application under test: a pool and an authorizer.
#[derive(Clone)]
struct App {
    pool: Pool,
    auth: Authorizer,
}

impl App {
    fn pool(&self) -> &Pool {
        &self.pool
    }

    fn guard(&self, subject: Subject) -> Guard {
        self.auth.guard(subject)
    }

    fn invalidate(&self) {
        self.auth.invalidate();
    }
}

fn setup(db: &TestDatabase, config: Config) -> App {
    let (pool, auth) = crate::fixture::contacts(db, config, 8);
    App { pool, auth }
}

fn rule(auth: &App, set_type: &str, value: &str, doc: &str) {
    let mut conn = auth.pool().get().expect("conn");
    store::put_rule(&mut conn, set_type, value, "contacts", doc).expect("put rule");
    auth.invalidate();
}

fn ids(guard: &Guard, auth: &App) -> Vec<i64> {
    crate::fixture::visible(guard, &mut auth.pool().get().expect("conn"))
}

fn contact(auth: &App, id: i64) -> Contact {
    let mut conn = auth.pool().get().expect("conn");
    contacts::table
        .find(id)
        .first(&mut conn)
        .expect("contact exists")
}

fn agent(auth: &App) -> Guard {
    auth.guard(Subject::new().with_set("roles", ["agent"]))
}

fn seed_example_holds(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(&auth, "roles", "agent", AGENT);
    let guard = agent(&auth);
    let mut conn = auth.pool().get().unwrap();

    assert_eq!(ids(&guard, &auth), [1, 2, 3, 4, 5]);
    assert_eq!(guard.find::<Contact>(&mut conn, 3i64).unwrap().id, 3);
    assert!(matches!(
        guard.find::<Contact>(&mut conn, 6i64),
        Err(Error::NotFound { .. })
    ));

    for id in [1, 3, 4, 5] {
        let mut c = contact(&auth, id);
        c.score += 1;
        guard
            .update(&mut conn, &c)
            .unwrap_or_else(|e| panic!("update {id}: {e}"));
        assert_eq!(contact(&auth, id).score, c.score);
    }
    let mut two = contact(&auth, 2);
    two.score = 999;
    assert!(matches!(
        guard.update(&mut conn, &two),
        Err(Error::Forbidden {
            action: Right::Update,
            ..
        })
    ));
    assert_eq!(contact(&auth, 2).score, 20, "denied update changed nothing");
    let mut six = contact(&auth, 6);
    six.score = 999;
    assert!(matches!(
        guard.update(&mut conn, &six),
        Err(Error::NotFound { .. })
    ));

    assert!(matches!(
        guard.delete::<Contact>(&mut conn, 1i64),
        Err(Error::Forbidden {
            action: Right::Delete,
            ..
        })
    ));
    assert!(matches!(
        guard.delete::<Contact>(&mut conn, 6i64),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(guard.delete_all::<Contact>(&mut conn, None).unwrap(), 0);
    let count: i64 = contacts::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 10, "deletes nothing");

    let mut new = contact(&auth, 1);
    new.id = 11;
    new.owner_id = 99;
    guard.insert(&mut conn, &new).expect("creates freely");
    assert_eq!(contact(&auth, 11).owner_id, 99);
    assert!(guard
        .can(&mut conn, Right::Update, &contact(&auth, 1))
        .unwrap());
    assert!(!guard
        .can(&mut conn, Right::Update, &contact(&auth, 2))
        .unwrap());
}

fn roles_and_groups_merge(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(
        &auth,
        "roles",
        "agent",
        r#"{"read":{"search":{"id":"=1;2"}}}"#,
    );
    rule(
        &auth,
        "roles",
        "auditor",
        r#"{"read":{"search":{"id":"=2;3"}}}"#,
    );
    rule(
        &auth,
        "groups",
        "team-b",
        r#"{"read":{"search":{"status":"=closed"}}}"#,
    );
    rule(
        &auth,
        "id",
        "42",
        r#"{"read":{"search":{"owner_id":"=$subject.id"}}}"#,
    );
    let both = auth.guard(Subject::new().with_set("roles", ["agent", "auditor"]));
    assert_eq!(ids(&both, &auth), [1, 2, 3]);
    let with_group = auth.guard(
        Subject::new()
            .with_set("roles", ["agent"])
            .with_set("groups", ["team-b"]),
    );
    assert_eq!(ids(&with_group, &auth), [1, 2, 4, 8]);
    let user = auth.guard(Subject::new().with_set("id", [42]).with_attribute("id", 42));
    assert_eq!(ids(&user, &auth), [2, 4, 6, 8, 10]);
    // Set types not in authorizable_set_types are ignored.
    let unknown = auth.guard(Subject::new().with_set("teams", ["agent"]));
    assert!(ids(&unknown, &auth).is_empty());
}

fn universal_role_applies_to_everyone(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(
        &auth,
        "universal",
        "rowguard-universal",
        r#"{"read":{"search":{"id":"=9"}}}"#,
    );
    rule(
        &auth,
        "roles",
        "agent",
        r#"{"read":{"search":{"id":"=1"}}}"#,
    );
    assert_eq!(ids(&auth.guard(Subject::new()), &auth), [9]);
    assert_eq!(ids(&agent(&auth), &auth), [1, 9]);
    // explain marks the universal role's row, and only that one (a role that happens to
    // share its name is an ordinary role).
    rule(
        &auth,
        "roles",
        "rowguard-universal",
        r#"{"read":{"search":{"id":"=2"}}}"#,
    );
    let subject = Subject::new().with_set("roles", ["agent", "rowguard-universal"]);
    let guard = auth.guard(subject.clone());
    assert_eq!(guard.subject(), &subject);
    assert_eq!(ids(&guard, &auth), [1, 2, 9]);
    let text = guard
        .explain::<Contact>(&mut auth.pool().get().unwrap(), Right::Read)
        .unwrap()
        .to_string();
    let marked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(universal role)"))
        .collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].contains("universal \"rowguard-universal\" (universal role)"),
        "{text}"
    );
    assert!(text.contains("roles \"rowguard-universal\": "), "{text}");
    assert!(text.contains("roles \"agent\": "), "{text}");
    // A configured universal role replaces the default one.
    let custom = setup_again(
        db,
        Config {
            universal_role: "everyone".into(),
            ..Config::default()
        },
    );
    rule(
        &custom,
        "universal",
        "everyone",
        r#"{"read":{"search":{"id":"=7"}}}"#,
    );
    assert_eq!(ids(&custom.guard(Subject::new()), &custom), [7]);
}

/// A second authorizer on the same (already set-up) database.
fn setup_again(db: &TestDatabase, config: Config) -> App {
    App {
        pool: db.pool(PoolOptions::default()).expect("pool"),
        auth: Authorizer::new(config),
    }
}

fn absolute_rights_bypass_rules(db: &TestDatabase) {
    let mut config = Config::default();
    config
        .absolute_rights
        .insert("roles".into(), vec!["admin".into()]);
    let auth = setup(db, config);
    let admin = auth.guard(Subject::new().with_set("roles", ["admin"]));
    assert_eq!(ids(&admin, &auth).len(), 10);
    let mut conn = auth.pool().get().unwrap();
    admin
        .delete::<Contact>(&mut conn, 10i64)
        .expect("absolute rights delete");
    assert!(
        ids(&agent(&auth), &auth).is_empty(),
        "others still have nothing"
    );
}

fn override_grants_everything(db: &TestDatabase) {
    let auth = setup(
        db,
        Config {
            override_authorization: true,
            ..Config::default()
        },
    );
    let nobody = auth.guard(Subject::new());
    assert_eq!(ids(&nobody, &auth).len(), 10);
    let mut conn = auth.pool().get().unwrap();
    let explanation = nobody.explain::<Contact>(&mut conn, Right::Read).unwrap();
    assert_eq!(explanation.bypass, Some(rowguard::Bypass::Override));
}

fn no_rules_means_nothing(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    let guard = agent(&auth);
    let mut conn = auth.pool().get().unwrap();
    assert!(ids(&guard, &auth).is_empty());
    let mut new = contact(&auth, 1);
    new.id = 11;
    assert!(matches!(
        guard.insert(&mut conn, &new),
        Err(Error::Forbidden {
            action: Right::Create,
            ..
        })
    ));
    let count: i64 = contacts::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 10);
}

fn create_with_a_search_rule(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(
        &auth,
        "roles",
        "sales",
        r#"{"create":{"search":{"owner_id":"=$subject.id","status":"=open;pending"}}}"#,
    );
    let guard = auth.guard(
        Subject::new()
            .with_set("roles", ["sales"])
            .with_attribute("id", 17),
    );
    let mut conn = auth.pool().get().unwrap();
    let mut new = contact(&auth, 1);
    new.id = 11;
    new.owner_id = 17;
    guard.insert(&mut conn, &new).expect("own, open contact");
    new.id = 12;
    new.owner_id = 42;
    assert!(matches!(
        guard.insert(&mut conn, &new),
        Err(Error::Forbidden { .. })
    ));
    new.owner_id = 17;
    new.status = "closed".into();
    assert!(matches!(
        guard.insert(&mut conn, &new),
        Err(Error::Forbidden { .. })
    ));
    let count: i64 = contacts::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 11, "only the allowed insert happened");
}

fn update_post_image_is_checked(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(
        &auth,
        "roles",
        "agent",
        r#"{"read":"*","update":{"search":{"status":"=open"}}}"#,
    );
    let guard = agent(&auth);
    let mut conn = auth.pool().get().unwrap();
    let mut c = contact(&auth, 1);
    c.score = 5;
    guard.update(&mut conn, &c).expect("stays open");
    c.status = "closed".into();
    assert!(matches!(
        guard.update(&mut conn, &c),
        Err(Error::Forbidden {
            action: Right::Update,
            ..
        })
    ));
    assert_eq!(
        contact(&auth, 1).status,
        "open",
        "post-image violation changed nothing"
    );
}

fn bulk_writes_touch_only_allowed_rows(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(
        &auth,
        "roles",
        "agent",
        r#"{"read":{"search":{"id":"<=6"}},"update":{"search":{"owner_id":"=17"}},"delete":{"search":{"status":"=pending"}}}"#,
    );
    let guard = agent(&auth);
    let mut conn = auth.pool().get().unwrap();
    let n = guard
        .update_all::<Contact>(&mut conn, None, |c| c.score += 1000)
        .unwrap();
    assert_eq!(n, 3, "ids 1, 3, 5: readable and owned by 17");
    let bumped: Vec<i64> = contacts::table
        .filter(contacts::score.gt(1000))
        .select(contacts::id)
        .order(contacts::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(bumped, [1, 3, 5]);
    // A bulk change that would move a row out of the update rule writes nothing.
    let err = guard.update_all::<Contact>(&mut conn, None, |c| c.owner_id = 42);
    assert!(matches!(err, Err(Error::Forbidden { .. })));
    let owners: Vec<i64> = contacts::table
        .filter(contacts::id.eq_any([1, 3, 5]))
        .select(contacts::owner_id)
        .load(&mut conn)
        .unwrap();
    assert!(owners.iter().all(|&o| o == 17), "rolled back");
    // With the application's own search on top.
    let only_open = guard.search::<Contact>(r#"{"status":"=open"}"#).unwrap();
    assert_eq!(
        guard
            .update_all::<Contact>(&mut conn, Some(only_open), |c| c.score = 1)
            .unwrap(),
        2
    );
    let deleted = guard.delete_all::<Contact>(&mut conn, None).unwrap();
    assert_eq!(deleted, 2, "pending and readable: 3 and 6");
    let left: Vec<i64> = contacts::table
        .select(contacts::id)
        .order(contacts::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, [1, 2, 4, 5, 7, 8, 9, 10]);
    assert!(matches!(
        guard.search::<Contact>(r#"{"nope":"=1"}"#),
        Err(Error::InvalidSearch { .. })
    ));
}

fn dba_edits_show_after_the_refresh_interval(db: &TestDatabase) {
    // Not before the interval: an interval far longer than any scheduling hiccup.
    let patient = setup(
        db,
        Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        },
    );
    rule(
        &patient,
        "roles",
        "agent",
        r#"{"read":{"search":{"id":"=1"}}}"#,
    );
    let guard = agent(&patient);
    let mut conn = patient.pool().get().unwrap();
    let dba = |conn: &mut rowguard::AnyConnection, doc: &str| {
        diesel::sql_query(format!("UPDATE authorization_rules SET rules = '{doc}'"))
            .execute(conn)
            .unwrap();
    };
    // rowguard's own writes anywhere in this process (other tests run in parallel) make every
    // cache entry stale; the check is only conclusive when none happened meanwhile.
    let mut conclusive = false;
    for _ in 0..50 {
        let writes = rowguard::cache::store_writes();
        dba(&mut conn, r#"{"read":{"search":{"id":"=1"}}}"#);
        patient.invalidate();
        assert_eq!(ids(&guard, &patient), [1]);
        // The DBA edits the rule with plain SQL, behind rowguard's back.
        dba(&mut conn, r#"{"read":{"search":{"id":"=1;2"}}}"#);
        let seen = ids(&guard, &patient);
        if rowguard::cache::store_writes() == writes {
            assert_eq!(seen, [1], "not before the interval");
            conclusive = true;
            break;
        }
    }
    assert!(conclusive, "other tests kept writing");
    // After the interval: a short one, and a wait several times as long.
    let interval = Duration::from_millis(200);
    let prompt = setup_again(
        db,
        Config {
            refresh_interval_ms: interval.as_millis() as u64,
            ..Config::default()
        },
    );
    let prompt_guard = agent(&prompt);
    assert_eq!(ids(&prompt_guard, &prompt), [1, 2]);
    diesel::sql_query(
        r#"UPDATE authorization_rules SET rules = '{"read":{"search":{"id":"=2"}}}'"#,
    )
    .execute(&mut conn)
    .unwrap();
    std::thread::sleep(interval * 4);
    assert_eq!(ids(&prompt_guard, &prompt), [2], "after the interval");
    // Interval 0: every check looks at the version.
    let eager = setup_again(
        db,
        Config {
            refresh_interval_ms: 0,
            ..Config::default()
        },
    );
    let eager_guard = agent(&eager);
    assert_eq!(ids(&eager_guard, &eager), [2]);
    diesel::sql_query(
        r#"UPDATE authorization_rules SET rules = '{"read":{"search":{"id":"=3"}}}'"#,
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(ids(&eager_guard, &eager), [3]);
}

fn eight_threads_read_and_write(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(&auth, "roles", "agent", r#"{"read":"*","update":"*"}"#);
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                let guard = agent(&auth);
                let id = t + 1;
                for _ in 0..20 {
                    let mut conn = auth.pool().get().expect("checkout");
                    let mut c = guard.find::<Contact>(&mut conn, id).expect("read");
                    c.score += 1;
                    guard.update(&mut conn, &c).expect("write");
                    let all = guard.read::<Contact>(&mut conn).expect("read query");
                    assert_eq!(all.load::<Contact>(&mut conn).expect("load").len(), 10);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    for id in 1..=8 {
        assert_eq!(
            contact(&auth, id).score,
            id as i32 * 10 + 20,
            "no lost write on {id}"
        );
    }
}

fn explain_names_rows_and_sql(db: &TestDatabase) {
    let auth = setup(db, Config::default());
    rule(&auth, "roles", "agent", AGENT);
    rule(
        &auth,
        "roles",
        "broken",
        r#"{"read":{"search":{"nope":"=1"}}}"#,
    );
    let guard = auth.guard(Subject::new().with_set("roles", ["agent", "broken"]));
    let mut conn = auth.pool().get().unwrap();
    let explanation = guard.explain::<Contact>(&mut conn, Right::Update).unwrap();
    let text = explanation.to_string();
    assert!(text.contains("roles \"agent\": NOT (id = 2)"), "{text}");
    assert!(
        text.contains("roles \"broken\": INVALID, ignored: read.search.nope"),
        "{text}"
    );
    assert!(text.contains("effective (read AND update)"), "{text}");
    // PostgreSQL binds the id list as one array; the others bind each value.
    let binds = match db.backend() {
        Backend::Postgres => "binds: [[1, 2, 3, 4, 5], 2]",
        _ => "binds: [1, 2, 3, 4, 5, 2]",
    };
    assert!(text.contains(binds), "{text}");
    let why = explanation.why(&contact(&auth, 2).values_for_test());
    assert_eq!(
        why.iter().filter(|(_, v)| *v == Some(false)).count(),
        1,
        "{why:?}"
    );
    // The broken row grants nothing, the valid one still works.
    assert_eq!(ids(&guard, &auth), [1, 2, 3, 4, 5]);
}

trait ValuesForTest {
    fn values_for_test(&self) -> Vec<rowguard::rules::Value>;
}

impl ValuesForTest for Contact {
    fn values_for_test(&self) -> Vec<rowguard::rules::Value> {
        rowguard::Authorizable::values(self)
    }
}

fn a_cache_hit_costs_no_query(db: &TestDatabase) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let auth = setup(
        db,
        Config {
            refresh_interval_ms: 60_000,
            ..Config::default()
        },
    );
    rule(&auth, "roles", "agent", AGENT);
    let guard = agent(&auth);
    let mut conn = auth.pool().get().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if matches!(
            event,
            diesel::connection::InstrumentationEvent::StartQuery { .. }
        ) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    // A hit is only a hit while nothing is written: rowguard's own writes anywhere in this
    // process (other tests run in parallel) make every entry stale. `hit` measures again
    // when one happened meanwhile; misses cost the same either way.
    let mut count = |f: &mut dyn FnMut(&mut rowguard::AnyConnection), hit: bool| loop {
        let writes = rowguard::cache::store_writes();
        if hit {
            f(&mut conn); // absorbs a write made before this window
        }
        queries.store(0, Ordering::SeqCst);
        f(&mut conn);
        if !hit || rowguard::cache::store_writes() == writes {
            break queries.load(Ordering::SeqCst);
        }
    };
    // The first use: the version check, the model list, the relations, the rules (one
    // query), the subject's policies (one query), the read.
    let first = count(
        &mut |c| {
            guard
                .read::<Contact>(c)
                .unwrap()
                .load::<Contact>(c)
                .unwrap();
        },
        false,
    );
    assert_eq!(
        first, 6,
        "version + models + relations + rules + policies + read"
    );
    let hit = count(
        &mut |c| {
            guard
                .read::<Contact>(c)
                .unwrap()
                .load::<Contact>(c)
                .unwrap();
        },
        true,
    );
    assert_eq!(hit, 1, "a hit adds no query to the read");
    let in_memory = count(
        &mut |c| {
            let one = contact_on(c, 1);
            assert!(guard.can(c, Right::Update, &one).unwrap());
        },
        true,
    );
    assert_eq!(in_memory, 1, "only loading the row itself");
    // Another subject with other sets: a miss costs the version (read first, so the entry
    // is never stamped newer than its rules), one query for all of its rules and one for all
    // of its policies.
    // A fresh subject first brings the model list up to date (a write elsewhere in the
    // process since it was read would add a query); measured again if one happened meanwhile.
    let mut attempt = 0;
    let miss = loop {
        attempt += 1;
        let writes = rowguard::cache::store_writes();
        auth.guard(
            Subject::new().with_set("roles", ["agent".to_string(), format!("warm{attempt}")]),
        )
        .filter::<Contact>(&mut conn, Right::Read)
        .unwrap();
        queries.store(0, Ordering::SeqCst);
        auth.guard(
            Subject::new().with_set("roles", ["agent".to_string(), format!("auditor{attempt}")]),
        )
        .filter::<Contact>(&mut conn, Right::Read)
        .unwrap();
        let n = queries.load(Ordering::SeqCst);
        if rowguard::cache::store_writes() == writes || attempt == 50 {
            break n;
        }
    };
    assert_eq!(miss, 3, "version + rules + policies");
}

fn contact_on(conn: &mut rowguard::AnyConnection, id: i64) -> Contact {
    contacts::table
        .find(id)
        .first(conn)
        .expect("contact exists")
}
