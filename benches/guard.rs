//! The guard against the same hand-written Diesel query, in one run: an authorized read on a
//! 1M-row table (indexed column, 3 roles merged), a rule-cache hit, and an in-memory `can`
//! check with a row condition.
//!
//! `cargo bench --bench guard` (results in BENCHMARKS.md). `-- --test` runs each once on
//! 10,000 rows; `ROWGUARD_BENCH_ROWS=N` sets the table size.

#[path = "../examples/contacts/app.rs"]
#[allow(dead_code)]
mod app;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use app::{contacts, Contact};
use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Backend, Config, Subject};

fn rows() -> i64 {
    if let Some(n) = std::env::var("ROWGUARD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--test") {
        10_000
    } else {
        1_000_000
    }
}

fn rules(conn: &mut AnyConnection, auth: &Authorizer) {
    auth.register::<Contact>(conn).expect("register");
    for (role, owner) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        let doc = format!(
            r#"{{"read":{{"search":{{"owner_id":"={owner}"}}}},"update":{{"search":{{"status":"=open","score":"<50"}}}}}}"#
        );
        store::put_rule(conn, "roles", role, "contacts", &doc).expect("rule");
    }
    auth.invalidate();
}

struct CountQueries(Arc<AtomicUsize>);

impl Instrumentation for CountQueries {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn read_group(c: &mut Criterion, backend: Backend) {
    let db = match TestDatabase::migrated(backend) {
        Ok(db) => db,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("notice: skipping {backend} benchmarks: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut conn = db.connect().expect("connect");
    let n = rows();
    app::fill_bulk(&mut conn, n).expect("rows");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 60_000,
        ..Config::default()
    });
    rules(&mut conn, &auth);
    let guard = auth.guard(Subject::new().with_set("roles", ["r1", "r2", "r3"]));

    let hand = |conn: &mut AnyConnection| {
        contacts::table
            .filter(contacts::owner_id.eq_any(vec![1i64, 2, 3]))
            .load::<Contact>(conn)
            .expect("hand-written")
    };
    let hand_boxed = |conn: &mut AnyConnection| {
        contacts::table
            .into_boxed()
            .filter(contacts::owner_id.eq_any(vec![1i64, 2, 3]))
            .load::<Contact>(conn)
            .expect("hand-written boxed")
    };
    let authorized = |conn: &mut AnyConnection| {
        guard
            .read::<Contact>(conn)
            .expect("read query")
            .load::<Contact>(conn)
            .expect("authorized")
    };
    // Sanity: the same rows, and a warm cache adds no round trip.
    let key = |mut v: Vec<Contact>| {
        v.sort_by_key(|c| c.id);
        v
    };
    assert_eq!(key(hand(&mut conn)), key(authorized(&mut conn)));
    assert_eq!(key(hand_boxed(&mut conn)), key(authorized(&mut conn)));
    let queries = Arc::new(AtomicUsize::new(0));
    conn.set_instrumentation(CountQueries(queries.clone()));
    authorized(&mut conn);
    assert_eq!(
        queries.load(Ordering::SeqCst),
        1,
        "cache hit: the read is the only query"
    );

    let mut group = c.benchmark_group(format!("guard/read {n} rows, 3 roles/{backend}"));
    group.bench_function("hand-written diesel (eq_any)", |b| {
        b.iter(|| black_box(hand(&mut conn)))
    });
    group.bench_function("hand-written diesel, boxed", |b| {
        b.iter(|| black_box(hand_boxed(&mut conn)))
    });
    group.bench_function("rowguard read", |b| {
        b.iter(|| black_box(authorized(&mut conn)))
    });
    group.finish();

    if backend == Backend::Sqlite {
        let subject = Subject::new().with_set("roles", ["r1", "r2", "r3"]);
        let row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
        let filter = auth
            .filter(&mut conn, &subject, "contacts", Right::Update)
            .expect("filter");
        let values = rowguard::Authorizable::values(&row);
        let mut group = c.benchmark_group("guard/in memory");
        group.bench_function("cache hit (subject -> merged rules)", |b| {
            b.iter(|| {
                black_box(
                    auth.access(&mut conn, black_box(&subject), "contacts")
                        .expect("hit"),
                )
            })
        });
        group.bench_function("can(update) with a row condition", |b| {
            b.iter(|| {
                black_box(
                    guard
                        .can(&mut conn, Right::Update, black_box(&row))
                        .expect("can"),
                )
            })
        });
        group.bench_function("evaluate the cached update filter on a row", |b| {
            b.iter(|| black_box(filter.matches(black_box(values.as_slice()))))
        });
        group.finish();
    }
}

fn sqlite(c: &mut Criterion) {
    read_group(c, Backend::Sqlite);
}

fn postgres(c: &mut Criterion) {
    read_group(c, Backend::Postgres);
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
