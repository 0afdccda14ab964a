//! Regression tests for the ways around the guard that a review found (README, *Threat
//! model*). Each test is named after the hole it closes and runs on every backend.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rowguard::rules::{Right, Value};
use rowguard::testing::TestDatabase;
use rowguard::{
    store, AnyConnection, Authorizable, Authorizer, Backend, Config, Error, Pool, Subject,
};

use crate::app::{self, contacts, Contact};
use crate::fixture::visible;

rowguard::backend_tests!(
    or_filter_cannot_widen_the_rule,
    revoked_rule_is_not_cached_from_an_old_snapshot,
    a_database_whose_version_goes_back_is_noticed,
    a_snapshot_older_than_rowguards_own_write_is_not_cached,
    stored_column_order_is_not_trusted,
    update_judges_the_row_as_stored,
    insert_judges_the_row_as_stored,
    update_all_counts_what_it_wrote,
    one_bad_model_row_disables_only_that_model,
    long_lists_stay_within_bind_limits,
);

fn setup(db: &TestDatabase, config: Config) -> (Pool, Authorizer) {
    crate::fixture::contacts(db, config, 4)
}

fn agent() -> Subject {
    Subject::new().with_set("roles", ["agent"])
}

fn ids(mut rows: Vec<i64>) -> Vec<i64> {
    rows.sort_unstable();
    rows
}

/// Item 1: `or_filter` is not offered (compile-fail doc tests on `Scoped`); everything the
/// scoped query offers returns only rows inside the rule.
fn or_filter_cannot_widen_the_rule(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1;2;3;4;5"}}}"#,
    )
    .unwrap();
    auth.invalidate();
    let guard = auth.guard(agent());

    // A search form's OR inside `filter` is ANDed with the rule.
    let widened: Vec<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .filter(contacts::id.eq(6).or(contacts::id.eq(1)))
        .select(contacts::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(ids(widened), [1]);
    // Raw SQL with a top-level OR stays inside its own operand of the AND.
    let raw: Vec<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1=0 OR 1=1"))
        .select(contacts::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(ids(raw), [1, 2, 3, 4, 5]);
    // An always-true condition does not escape either.
    let all: Vec<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .filter(contacts::id.gt(0).or(contacts::id.le(0)))
        .select(contacts::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(ids(all), [1, 2, 3, 4, 5]);
    // Count, pagination, ordering, distinct, aggregates, first.
    let count: i64 = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(count, 5);
    let page: Vec<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .select(contacts::id)
        .order(contacts::id.desc())
        .then_order_by(contacts::name)
        .limit(3)
        .offset(4)
        .load(&mut c)
        .unwrap();
    assert_eq!(page, [1], "the fifth visible row is the last one");
    let owners: Vec<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .select(contacts::owner_id)
        .distinct()
        .load(&mut c)
        .unwrap();
    assert_eq!(ids(owners), [17, 42]);
    let top: Option<i64> = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .select(diesel::dsl::max(contacts::id))
        .get_result(&mut c)
        .unwrap();
    assert_eq!(top, Some(5), "aggregates see only visible rows");
    let first: Contact = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .order_by(contacts::id.desc())
        .first(&mut c)
        .unwrap();
    assert_eq!(first.id, 5);
    let none = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .filter(contacts::id.eq(6))
        .first::<Contact>(&mut c);
    assert!(matches!(none, Err(diesel::result::Error::NotFound)));
}

/// Opens a snapshot on `conn`: the reads that follow see the database as it is now.
fn open_snapshot(conn: &mut AnyConnection) {
    if conn.backend() == Backend::Postgres {
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(conn)
            .unwrap();
    }
    let _: i64 = rowguard::schema::authorization_state::table
        .select(rowguard::schema::authorization_state::version)
        .first(conn)
        .unwrap();
    let _: i64 = contacts::table.count().get_result(conn).unwrap();
}

/// Item 2: a connection in an old snapshot loads the old rule, but it is never cached for
/// anyone else.
fn revoked_rule_is_not_cached_from_an_old_snapshot(db: &TestDatabase) {
    let (pool, auth) = setup(
        db,
        Config {
            refresh_interval_ms: 60_000,
            ..Config::default()
        },
    );
    let mut setup_conn = pool.get().unwrap();
    store::put_rule(
        &mut setup_conn,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1;2;3"}}}"#,
    )
    .unwrap();
    store::put_rule(
        &mut setup_conn,
        "roles",
        "sales",
        "contacts",
        r#"{"read":{"search":{"id":"=1"}}}"#,
    )
    .unwrap();
    drop(setup_conn);
    let mut a = pool.get().unwrap();
    let mut dba = pool.get().unwrap();
    let mut other = pool.get().unwrap();
    a.transaction(|a| {
        open_snapshot(a);
        // The DBA narrows the agent's rule with plain SQL.
        diesel::sql_query(
            "UPDATE authorization_rules SET rules = '{\"read\":{\"search\":{\"id\":\"=1\"}}}' \
             WHERE authorizable_set_value = 'agent'",
        )
        .execute(&mut dba)
        .unwrap();
        // Another request notices the new version (the first check of this authorizer).
        let sales = auth.guard(Subject::new().with_set("roles", ["sales"]));
        assert_eq!(visible(&sales, &mut other), [1]);
        // A, still in its snapshot, reads with the rule of its snapshot ...
        let in_snapshot = visible(&auth.guard(agent()), a);
        assert_eq!(in_snapshot, [1, 2, 3]);
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    // ... which nobody else is served afterwards, though the next check is a minute away.
    assert_eq!(visible(&auth.guard(agent()), &mut other), [1]);
    assert_eq!(visible(&auth.guard(agent()), &mut a), [1]);
}

/// Item 2 with rowguard's own write: `put_rule` moves every cache's epoch at once, but a
/// connection whose snapshot predates the write still reads the old rule; that rule is not
/// cached for anyone else.
fn a_snapshot_older_than_rowguards_own_write_is_not_cached(db: &TestDatabase) {
    let (pool, auth) = setup(
        db,
        Config {
            refresh_interval_ms: 60_000,
            ..Config::default()
        },
    );
    let mut writer = pool.get().unwrap();
    store::put_rule(
        &mut writer,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1;2;3"}}}"#,
    )
    .unwrap();
    let mut a = pool.get().unwrap();
    a.transaction(|a| {
        open_snapshot(a);
        // Revoked through rowguard, committed, while A's snapshot is open.
        store::put_rule(
            &mut writer,
            "roles",
            "agent",
            "contacts",
            r#"{"read":{"search":{"id":"=1"}}}"#,
        )
        .unwrap();
        assert_eq!(visible(&auth.guard(agent()), a), [1, 2, 3], "A's snapshot");
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    drop(a);
    let mut other = pool.get().unwrap();
    assert_eq!(visible(&auth.guard(agent()), &mut other), [1]);
}

/// Item 2, the other way round: a restore (or a DBA resetting the counter) moves the
/// version back; read outside a transaction, that drops what the cache holds.
fn a_database_whose_version_goes_back_is_noticed(db: &TestDatabase) {
    let (pool, auth) = setup(
        db,
        Config {
            refresh_interval_ms: 0,
            ..Config::default()
        },
    );
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"id":"=1;2;3"}}}"#,
    )
    .unwrap();
    auth.invalidate();
    let guard = auth.guard(agent());
    let count = |c: &mut AnyConnection| -> i64 {
        guard
            .read::<Contact>(c)
            .unwrap()
            .count()
            .get_result(c)
            .unwrap()
    };
    assert_eq!(count(&mut c), 3);
    // "Restore" an older state: a narrower rule and a lower version.
    diesel::sql_query(
        "UPDATE authorization_rules SET rules = '{\"read\":{\"search\":{\"id\":\"=1\"}}}'",
    )
    .execute(&mut c)
    .unwrap();
    diesel::sql_query("UPDATE authorization_state SET version = 1")
        .execute(&mut c)
        .unwrap();
    assert_eq!(count(&mut c), 1);
}

/// Item 3: rules are compiled against the model's declared columns by name; a stored
/// definition that disagrees fails closed with an error naming the model.
fn stored_column_order_is_not_trusted(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "sales",
        "contacts",
        r#"{"read":{"search":{"owner_id":"=$subject.id"}},"create":{"search":{"owner_id":"=$subject.id"}}}"#,
    )
    .unwrap();
    // A DBA (or a rolling deploy) swaps two entries of the stored columns.
    let swapped = r#"{"id":"bigint","name":"text","email":"text","status":"text","contact_type_id":"bigint","score":"integer","owner_id":"bigint","created_at":"timestamp"}"#;
    diesel::update(
        rowguard::schema::authorizable_models::table
            .filter(rowguard::schema::authorizable_models::name.eq("contacts")),
    )
    .set(rowguard::schema::authorizable_models::column_types.eq(swapped))
    .execute(&mut c)
    .unwrap();
    auth.invalidate();
    let sales = auth.guard(
        Subject::new()
            .with_set("roles", ["sales"])
            .with_attribute("id", 17),
    );
    let mut stranger = contacts::table.find(1i64).first::<Contact>(&mut c).unwrap();
    stranger.id = 50;
    stranger.owner_id = 99;
    stranger.score = 17; // would pass if the check read `score` for `owner_id`
    assert!(!sales.can(&mut c, Right::Create, &stranger).unwrap());
    assert!(matches!(
        sales.insert(&mut c, &stranger),
        Err(Error::Forbidden { .. })
    ));
    let mut own = stranger.clone();
    own.owner_id = 17;
    own.score = 99;
    sales.insert(&mut c, &own).expect("own row");

    // A stored definition that disagrees in names or types: that model fails closed.
    let renamed = swapped.replace("\"owner_id\"", "\"owner\"");
    diesel::update(
        rowguard::schema::authorizable_models::table
            .filter(rowguard::schema::authorizable_models::name.eq("contacts")),
    )
    .set(rowguard::schema::authorizable_models::column_types.eq(&renamed))
    .execute(&mut c)
    .unwrap();
    auth.invalidate();
    let err = sales.read::<Contact>(&mut c).err().expect("fails closed");
    assert!(matches!(err, Error::ModelMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("\"contacts\"") && text.contains("owner_id"),
        "{text}"
    );
    own.id = 51;
    assert!(sales.insert(&mut c, &own).is_err());
    assert!(contacts::table
        .find(51i64)
        .first::<Contact>(&mut c)
        .optional()
        .unwrap()
        .is_none());
}

diesel::table! {
    tagged (id) {
        id -> BigInt,
        tag -> Nullable<Text>,
        score -> Integer,
    }
}

/// Diesel's default changeset: a `None` field is skipped, not set to NULL.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = tagged)]
struct Tagged {
    id: i64,
    tag: Option<String>,
    score: i32,
}

rowguard::authorizable!(Tagged => tagged(id) { id, tag, score });

fn tagged_setup(db: &TestDatabase) -> (Pool, Authorizer) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    diesel::sql_query(
        "CREATE TABLE tagged (id BIGINT PRIMARY KEY, tag VARCHAR(50), score INTEGER NOT NULL)",
    )
    .execute(&mut c)
    .unwrap();
    diesel::sql_query("INSERT INTO tagged VALUES (1, 'locked', 5), (2, NULL, 5)")
        .execute(&mut c)
        .unwrap();
    auth.register::<Tagged>(&mut c).unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "tagged",
        r#"{"read":"*","update":{"search":{"||":[{"tag":"=null"},{"score":"<100"}]}}}"#,
    )
    .unwrap();
    auth.invalidate();
    (pool, auth)
}

fn stored_tagged(c: &mut AnyConnection, id: i64) -> Tagged {
    tagged::table.find(id).first(c).unwrap()
}

/// Item 4: `update` judges the row as it will be stored, not the struct.
fn update_judges_the_row_as_stored(db: &TestDatabase) {
    let (pool, auth) = tagged_setup(db);
    let mut c = pool.get().unwrap();
    let guard = auth.guard(agent());
    // `tag: None` keeps "locked"; score 1000 then breaks the rule on the stored row.
    let sneaky = Tagged {
        id: 1,
        tag: None,
        score: 1000,
    };
    assert!(matches!(
        guard.update(&mut c, &sneaky),
        Err(Error::Forbidden {
            action: Right::Update,
            ..
        })
    ));
    assert_eq!(stored_tagged(&mut c, 1).score, 5, "rolled back");
    // The same change on a row whose stored tag is NULL is allowed.
    guard
        .update(
            &mut c,
            &Tagged {
                id: 2,
                tag: None,
                score: 1000,
            },
        )
        .unwrap();
    assert_eq!(stored_tagged(&mut c, 2).score, 1000);
    // Bulk updates are judged the same way.
    let err = guard
        .update_all::<Tagged>(&mut c, None, |row| {
            row.tag = None;
            row.score = 2000;
        })
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert_eq!(stored_tagged(&mut c, 1).score, 5);
    assert_eq!(stored_tagged(&mut c, 2).score, 1000);
}

diesel::table! {
    defaulted (id) {
        id -> BigInt,
        team_id -> Nullable<BigInt>,
    }
}

/// `team_id: None` is inserted as `DEFAULT` (1), not as NULL.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = defaulted)]
struct Defaulted {
    id: i64,
    team_id: Option<i64>,
}

rowguard::authorizable!(Defaulted => defaulted(id) { id, team_id });

/// Item 4 for inserts: the create rule is judged on the row as stored (column defaults).
fn insert_judges_the_row_as_stored(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    diesel::sql_query("CREATE TABLE defaulted (id BIGINT PRIMARY KEY, team_id BIGINT DEFAULT 1)")
        .execute(&mut c)
        .unwrap();
    auth.register::<Defaulted>(&mut c).unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "defaulted",
        r#"{"read":"*","create":{"search":{"team_id":"=null"}}}"#,
    )
    .unwrap();
    auth.invalidate();
    let guard = auth.guard(agent());
    let row = Defaulted {
        id: 1,
        team_id: None,
    };
    assert!(
        guard.can(&mut c, Right::Create, &row).unwrap(),
        "in memory it passes"
    );
    assert!(matches!(
        guard.insert(&mut c, &row),
        Err(Error::Forbidden {
            action: Right::Create,
            ..
        })
    ));
    let n: i64 = defaulted::table.count().get_result(&mut c).unwrap();
    assert_eq!(n, 0, "rolled back");
}

/// Item 5: `update_all` counts what it wrote; a changed key or a vanished row is an error
/// and nothing is written.
fn update_all_counts_what_it_wrote(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":"*","update":"*"}"#,
    )
    .unwrap();
    auth.invalidate();
    let guard = auth.guard(agent());
    let search = guard.search::<Contact>(r#"{"id":"<=6"}"#).unwrap();
    let err = guard
        .update_all::<Contact>(&mut c, Some(search.clone()), |row| row.id += 100)
        .unwrap_err();
    assert!(matches!(err, Error::KeyChanged { .. }), "{err}");
    let mut scores: Vec<i32> = contacts::table
        .filter(contacts::id.le(6))
        .select(contacts::score)
        .load(&mut c)
        .unwrap();
    scores.sort_unstable();
    let before = scores.clone();
    // A change that keeps keys: the count is what was written.
    let n = guard
        .update_all::<Contact>(&mut c, Some(search), |row| row.score += 1)
        .unwrap();
    assert_eq!(n, 6);
    let mut after: Vec<i32> = contacts::table
        .filter(contacts::id.le(6))
        .select(contacts::score)
        .load(&mut c)
        .unwrap();
    after.sort_unstable();
    assert_eq!(
        after,
        before.iter().map(|s| s + 1).collect::<Vec<_>>(),
        "each row written once"
    );
    // A row removed by someone else during the update: error, nothing written. On SQLite
    // the guard's transaction holds the write lock from its start, so the other writer
    // waits and gives up instead, and every row is written once.
    let mut other = pool.get().unwrap();
    let sqlite = c.backend() == Backend::Sqlite;
    if sqlite {
        other.batch_execute("PRAGMA busy_timeout = 100").unwrap();
    }
    let mut deleted = None;
    let result = guard.update_all::<Contact>(&mut c, None, |row| {
        if row.id == 1 {
            deleted = Some(
                diesel::delete(contacts::table.find(10i64))
                    .execute(&mut other)
                    .is_ok(),
            );
        }
        row.score = -1;
    });
    let negatives: i64 = contacts::table
        .filter(contacts::score.eq(-1))
        .count()
        .get_result(&mut c)
        .unwrap();
    let remaining: i64 = contacts::table.count().get_result(&mut c).unwrap();
    if sqlite {
        assert_eq!(deleted, Some(false), "the other writer could not write");
        assert_eq!(result.expect("written"), 10);
        assert_eq!((negatives, remaining), (10, 10));
    } else {
        assert_eq!(
            deleted,
            Some(true),
            "the other connection's delete happened"
        );
        let e = result.expect_err("a vanished row must not count as written");
        assert!(matches!(e, Error::RowChanged { .. }), "{e}");
        assert_eq!(negatives, 0, "rolled back: {e}");
        assert_eq!(remaining, 9);
    }
}

/// Item 6: a typo in one model's stored columns makes that model fail closed, not every
/// model.
fn one_bad_model_row_disables_only_that_model(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    store::put_rule(&mut c, "roles", "agent", "contacts", r#"{"read":"*"}"#).unwrap();
    store::put_rule(&mut c, "roles", "agent", "contact_types", r#"{"read":"*"}"#).unwrap();
    diesel::update(
        rowguard::schema::authorizable_models::table
            .filter(rowguard::schema::authorizable_models::name.eq("contact_types")),
    )
    .set(rowguard::schema::authorizable_models::column_types.eq(r#"{"id":"bigint","name":"txt"}"#))
    .execute(&mut c)
    .unwrap();
    auth.invalidate();
    let guard = auth.guard(agent());
    let n: i64 = guard
        .read::<Contact>(&mut c)
        .unwrap()
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(n, 10, "contacts still work");
    let err = guard
        .read::<app::ContactType>(&mut c)
        .err()
        .expect("contact_types fails closed");
    assert!(err.to_string().contains("contact_types"), "{err}");
    assert_eq!(
        guard.find::<Contact>(&mut c, 1i64).unwrap().key(),
        Value::Int(1)
    );
}

/// Item 7: a stored rule with 100,000 ids (and one merged from two roles' long lists) is
/// stored, read through the guard and written through it on every backend (each list is one
/// bind; see `rules_sql::lists_of_100000_values_of_every_type` for every type).
fn long_lists_stay_within_bind_limits(db: &TestDatabase) {
    let (pool, auth) = setup(db, Config::default());
    let mut c = pool.get().unwrap();
    let list = |from: i64| -> String {
        (from..from + 100_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(";")
    };
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        &format!(
            r#"{{"read":{{"search":{{"id":"={}"}}}},"update":"*"}}"#,
            list(5)
        ),
    )
    .unwrap();
    store::put_rule(
        &mut c,
        "roles",
        "auditor",
        "contacts",
        &format!(r#"{{"read":{{"search":{{"id":"={}"}}}}}}"#, list(-99_997)),
    )
    .unwrap();
    auth.invalidate();
    let both = auth.guard(Subject::new().with_set("roles", ["agent", "auditor"]));
    let visible: Vec<i64> = both
        .read::<Contact>(&mut c)
        .unwrap()
        .select(contacts::id)
        .load(&mut c)
        .unwrap();
    // -99,997..=2 and 5..: contacts 1, 2 and 5 to 10.
    assert_eq!(ids(visible), [1, 2, 5, 6, 7, 8, 9, 10]);
    let n = both
        .update_all::<Contact>(&mut c, None, |row| row.score += 1)
        .unwrap();
    assert_eq!(
        n, 8,
        "update is the merged read AND the merged update (\"*\")"
    );
}
