//! Seeding at scale: 10,000 permissions and 1,000 roles (10 permissions each, each role
//! inheriting from the previous one) into an empty SQLite database, in one transaction.
//! Target: under 5 s. `cargo bench --bench seed`; `-- --test` runs it once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rowguard::seed::{self, Seed, SeedOptions};
use rowguard::testing::TestDatabase;
use rowguard::Backend;
use serde_json::json;

fn big_seed() -> Seed {
    let permissions: Vec<String> = (0..10_000)
        .map(|i| format!("area{}.perm{i}", i / 100))
        .collect();
    let roles: Vec<serde_json::Value> = (0..1_000)
        .map(|r| {
            let perms: Vec<&String> = permissions[r * 10..r * 10 + 10].iter().collect();
            let inherits: Vec<String> = if r == 0 {
                vec![]
            } else {
                vec![format!("role{}", r - 1)]
            };
            json!({"name": format!("role{r}"), "permissions": perms, "inherits": inherits})
        })
        .collect();
    let file = json!({"permissions": permissions, "roles": roles}).to_string();
    Seed::parse(vec![("big.json".into(), file)]).expect("seed")
}

fn seeding(c: &mut Criterion) {
    let seed = big_seed();
    let mut group = c.benchmark_group("seed");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(
        "10,000 permissions + 1,000 roles with inheritance, SQLite, empty db",
        |b| {
            b.iter_with_setup(
                || {
                    let db = TestDatabase::migrated(Backend::Sqlite).expect("sqlite");
                    let conn = db.connect().expect("connect");
                    (db, conn)
                },
                |(db, mut conn)| {
                    black_box(
                        seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |_| {})
                            .expect("seed"),
                    );
                    drop(conn);
                    drop(db);
                },
            )
        },
    );
    group.bench_function("the same seed again (no-op)", |b| {
        let db = TestDatabase::migrated(Backend::Sqlite).expect("sqlite");
        let mut conn = db.connect().expect("connect");
        seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |_| {}).expect("seed");
        b.iter(|| {
            black_box(
                seed::apply(&mut conn, &seed, SeedOptions::default(), &mut |_| {}).expect("reseed"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, seeding);
criterion_main!(benches);
