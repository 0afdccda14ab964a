//! rowguard against what users would pick instead, each contender in the same run on the same
//! data: cedar-policy and casbin (in-memory checks, scaling with stored rules), hand-written
//! Diesel and PostgreSQL row-level security (reads), plain Diesel (writes), plus rule-cache
//! hits from several threads, client-side SQL building and sync-models on a large tree.
//!
//! `cargo bench --bench compare` (add `--features mysql` for MariaDB; results in
//! BENCHMARKS.md); `-- --test` runs each once on small data.
//!
//! Each workload first checks that the contenders agree (same rows, same answers, same plan
//! shape). W1 and W7 also print a paired ratio (contender and baseline alternating, back
//! to back), which this VM's drift between criterion's measurement windows cannot skew.

#[path = "../examples/contacts/app.rs"]
#[allow(dead_code)]
mod app;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{contacts, Contact};
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use cedar_policy::{
    Authorizer as CedarAuthorizer, Context, Decision, Entities, EntityUid, PolicySet, Request,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::deserialize::{self, QueryableByName};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::NamedRow;
use diesel::sql_types::{Nullable, Text, Untyped};
use rowguard::db::MultiBackend;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Backend, Config, Subject};

fn quick() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Whether criterion's name filter (`cargo bench --bench compare -- FILTER`) can select any of
/// `names` (a group and its functions); without a filter, everything runs. Lets a filtered
/// run skip other workloads' setup (W1 fills 1M rows per backend).
fn wanted(names: &[&str]) -> bool {
    // criterion's options that take a value; anything else not starting with `-` is the filter.
    const VALUED: [&str; 13] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--profile-time",
        "--output-format",
        "--color",
        "--noise-threshold",
        "--significance-level",
        "--confidence-level",
        "--nresamples",
        "--plotting-backend",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filter = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if VALUED.contains(&arg.as_str()) {
            i += 1;
        } else if !arg.starts_with('-') {
            filter = Some(arg.clone());
        }
        i += 1;
    }
    let Some(filter) = filter else { return true };
    // A full benchmark path ("W3 write check/rowguard can/…") contains its group's name; a
    // pattern's literal start ("W1 read" of "W1 read.*SQLite") begins it.
    let literal: String = filter
        .chars()
        .take_while(|c| !".*+?()[]{}|^$\\".contains(*c))
        .collect();
    match regex::Regex::new(&filter) {
        Ok(re) => names.iter().any(|n| {
            re.is_match(n) || filter.contains(n) || (!literal.is_empty() && n.starts_with(&literal))
        }),
        Err(_) => true,
    }
}

/// A fresh database on `backend`, or a notice and `None` where the backend cannot be had
/// here (never silently: under `CI=true` that is a failure).
fn require(backend: Backend) -> Option<TestDatabase> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !backend.is_compiled_in() {
        assert!(
            !ci,
            "{backend} is required under CI=true: build with --features mysql"
        );
        eprintln!("notice: skipping {backend} benchmarks: build with --features mysql");
        return None;
    }
    match TestDatabase::migrated(backend) {
        Ok(db) => Some(db),
        Err(e) if !ci => {
            eprintln!("notice: skipping {backend} benchmarks: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------- EXPLAIN plan shapes

/// `EXPLAIN` of a query, binds and all, in the backend's own form.
struct Explain<Q> {
    prefix: &'static str,
    query: Q,
}

impl<Q> Explain<Q> {
    fn new(backend: Backend, query: Q) -> Self {
        let prefix = match backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
            Backend::Postgres => "EXPLAIN (COSTS OFF) ",
            Backend::Mysql => "EXPLAIN ",
        };
        Self { prefix, query }
    }
}

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Untyped;
}

impl<Q, C> RunQueryDsl<C> for Explain<Q> {}

/// One line of a plan's shape: the plan without costs, row estimates or bound values.
struct PlanLine(String);

impl QueryableByName<MultiBackend> for PlanLine {
    fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> deserialize::Result<Self> {
        let text = |name: &str| {
            NamedRow::get::<Nullable<Text>, Option<String>>(row, name)
                .ok()
                .flatten()
        };
        // PostgreSQL: a node ("Index Scan using contacts_pkey on contacts") or a condition
        // line, kept without its values ("Index Cond").
        if let Some(line) = text("QUERY PLAN") {
            let shape = match line.split_once(": ") {
                Some((label, _)) => label.to_owned(),
                None => line,
            };
            return Ok(PlanLine(shape.trim_end().to_owned()));
        }
        // SQLite: the step's detail ("SEARCH contacts USING INTEGER PRIMARY KEY (rowid=?)").
        if let Some(detail) = text("detail") {
            return Ok(PlanLine(detail));
        }
        // MySQL/MariaDB: one row per table access.
        let parts = ["select_type", "table", "type", "key"].map(|c| text(c).unwrap_or_default());
        Ok(PlanLine(parts.join(" ")))
    }
}

fn plan_shape<Q: QueryFragment<MultiBackend>>(conn: &mut AnyConnection, query: Q) -> Vec<String> {
    Explain::new(conn.backend(), query)
        .load::<PlanLine>(conn)
        .expect("explain")
        .into_iter()
        .map(|l| l.0)
        .collect()
}

// ---------------------------------------------------------------- the same policy, three ways

/// rowguard: r1 creates anything, r2 updates its own open rows, r3 reads everything.
fn rowguard_rules(conn: &mut AnyConnection, auth: &Authorizer) {
    auth.register::<Contact>(conn).expect("register");
    for (role, doc) in [
        ("r1", r#"{"create":"*"}"#),
        (
            "r2",
            r#"{"update":{"search":{"owner_id":"=$subject.id","status":"=open"}}}"#,
        ),
        ("r3", r#"{"read":"*"}"#),
    ] {
        store::put_rule(conn, "roles", role, "contacts", doc).expect("rule");
    }
    auth.invalidate();
}

const CEDAR_POLICIES: &str = r#"
permit(principal in Role::"r1", action == Action::"create", resource);
permit(principal in Role::"r2", action == Action::"update", resource)
  when { resource.owner == principal && resource.status == "open" };
permit(principal in Role::"r3", action == Action::"read", resource);
"#;

const CEDAR_ENTITIES: &str = r#"[
  {"uid": {"type": "User", "id": "17"}, "attrs": {}, "parents": [
     {"type": "Role", "id": "r1"}, {"type": "Role", "id": "r2"}, {"type": "Role", "id": "r3"}]},
  {"uid": {"type": "Role", "id": "r1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "r2"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Role", "id": "r3"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Contact", "id": "1"}, "attrs": {"owner": {"__entity": {"type": "User", "id": "17"}}, "status": "open"}, "parents": []}
]"#;

const CASBIN_MODEL: &str = r#"
[request_definition]
r = sub, obj, act, owner, status

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act && (r.act != "update" || (r.owner == r.sub && r.status == "open"))
"#;

fn casbin(extra_roles: usize) -> Enforcer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let model = DefaultModel::from_str(CASBIN_MODEL).await.expect("model");
        let mut e = Enforcer::new(model, MemoryAdapter::default())
            .await
            .expect("enforcer");
        let mut policies = vec![
            vec!["r1".to_string(), "contacts".into(), "create".into()],
            vec!["r2".to_string(), "contacts".into(), "update".into()],
            vec!["r3".to_string(), "contacts".into(), "read".into()],
        ];
        policies.extend(
            (0..extra_roles).map(|i| vec![format!("other{i}"), "contacts".into(), "update".into()]),
        );
        e.add_policies(policies).await.expect("policies");
        for role in ["r1", "r2", "r3"] {
            e.add_grouping_policy(vec!["17".into(), role.into()])
                .await
                .expect("grouping");
        }
        e
    })
}

fn cedar_policies(extra_roles: usize) -> PolicySet {
    let mut src = CEDAR_POLICIES.to_string();
    for i in 0..extra_roles {
        src.push_str(&format!(
            "permit(principal in Role::\"other{i}\", action == Action::\"update\", resource) when {{ resource.owner == principal }};\n"
        ));
    }
    src.parse().expect("cedar policies")
}

fn cedar_request(action: &str) -> Request {
    let uid = |s: &str| s.parse::<EntityUid>().expect("uid");
    Request::new(
        uid(r#"User::"17""#),
        uid(&format!("Action::\"{action}\"")),
        uid(r#"Contact::"1""#),
        Context::empty(),
        None,
    )
    .expect("request")
}

/// The W3/W4/W5 setting: a SQLite database with 10 contacts, rowguard's 3-role policy, and a
/// guard for user 17 holding the three roles.
struct Policy {
    db: TestDatabase,
    conn: AnyConnection,
    auth: Authorizer,
    guard: rowguard::Guard,
}

fn policy() -> Option<Policy> {
    let db = require(Backend::Sqlite)?;
    let mut conn = db.connect().expect("connect");
    app::fill_bulk(&mut conn, 10).expect("rows");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    rowguard_rules(&mut conn, &auth);
    let guard = auth.guard(
        Subject::new()
            .with_set("roles", ["r1", "r2", "r3"])
            .with_attribute("id", 17),
    );
    Some(Policy {
        db,
        conn,
        auth,
        guard,
    })
}

/// W3: one write check, in memory, the same policy in each contender.
fn w3_write_check(c: &mut Criterion) {
    if !wanted(&[
        "W3 write check",
        "rowguard can",
        "cedar-policy",
        "casbin enforce",
    ]) {
        return;
    }
    let Some(Policy {
        db: _db,
        mut conn,
        guard,
        ..
    }) = policy()
    else {
        return;
    };
    let mut row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
    row.owner_id = 17;
    row.status = "open".into();
    let policies = cedar_policies(0);
    let entities = Entities::from_json_str(CEDAR_ENTITIES, None).expect("entities");
    let cedar = CedarAuthorizer::new();
    let enforcer = casbin(0);
    // Sanity: the three agree.
    for (right, action, expected) in [
        (Right::Create, "create", true),
        (Right::Update, "update", true),
        (Right::Delete, "delete", false),
    ] {
        assert_eq!(
            guard.can(&mut conn, right, &row).expect("can"),
            expected,
            "rowguard {action}"
        );
        let d = cedar
            .is_authorized(&cedar_request(action), &policies, &entities)
            .decision();
        assert_eq!(d == Decision::Allow, expected, "cedar {action}");
        assert_eq!(
            enforcer
                .enforce(("17", "contacts", action, "17", "open"))
                .expect("casbin"),
            expected,
            "casbin {action}"
        );
    }
    let mut group = c.benchmark_group("W3 write check");
    for (label, right, action) in [
        ("create (plain)", Right::Create, "create"),
        ("update (row condition)", Right::Update, "update"),
        ("delete (deny)", Right::Delete, "delete"),
    ] {
        group.bench_function(BenchmarkId::new("rowguard can", label), |b| {
            b.iter(|| black_box(guard.can(&mut conn, right, black_box(&row)).expect("can")))
        });
        let request = cedar_request(action);
        group.bench_function(
            BenchmarkId::new("cedar-policy prebuilt request", label),
            |b| {
                b.iter(|| {
                    black_box(
                        cedar
                            .is_authorized(black_box(&request), &policies, &entities)
                            .decision(),
                    )
                })
            },
        );
        group.bench_function(
            BenchmarkId::new("cedar-policy request per call", label),
            |b| {
                b.iter(|| {
                    black_box(
                        cedar
                            .is_authorized(&cedar_request(action), &policies, &entities)
                            .decision(),
                    )
                })
            },
        );
        group.bench_function(BenchmarkId::new("casbin enforce", label), |b| {
            b.iter(|| {
                black_box(
                    enforcer
                        .enforce(black_box(("17", "contacts", action, "17", "open")))
                        .expect("casbin"),
                )
            })
        });
    }
    group.finish();
}

/// W15: an IAM-style policy check, in memory: rowguard's `policy` against cedar-policy on
/// the same decisions. The policy is the ACL README's last example plus a `Deny`, and
/// `extra` statements of other accounts (cedar: the same number of `permit`s). Cedar gets
/// the ARN in the request's context and matches it with `like`, its wildcard operator.
fn w15_policy(c: &mut Criterion) {
    if !wanted(&["W15 policy check", "rowguard policy", "cedar-policy"]) {
        return;
    }
    use rowguard::policy::{Arn, Policy as IamPolicy};
    const ACCOUNT: &str = "arn:rowguard:default:local:123";
    let iam = |extra: usize| {
        let mut statements = vec![
            format!(
                r#"{{"Effect":"Allow","Action":["server:List","server:Create"],"Resource":"{ACCOUNT}:server"}}"#
            ),
            format!(
                r#"{{"Effect":"Allow","Action":["server:Describe","server:Update","server:Delete"],"Resource":"{ACCOUNT}:server/*"}}"#
            ),
            format!(
                r#"{{"Effect":"Deny","Action":"server:Delete","Resource":"{ACCOUNT}:server/1"}}"#
            ),
        ];
        statements.extend((0..extra).map(|i| {
            format!(r#"{{"Effect":"Allow","Action":"server:*","Resource":"arn:rowguard:default:local:{}:server/*"}}"#, 1000 + i)
        }));
        IamPolicy::parse(&format!("[{}]", statements.join(","))).expect("policy")
    };
    let cedar_set = |extra: usize| -> PolicySet {
        let mut src = format!(
            "permit(principal, action in [Action::\"server:List\", Action::\"server:Create\"], resource) when {{ context.arn == \"{ACCOUNT}:server\" }};\n\
             permit(principal, action in [Action::\"server:Describe\", Action::\"server:Update\", Action::\"server:Delete\"], resource) when {{ context.arn like \"{ACCOUNT}:server/*\" }};\n\
             forbid(principal, action == Action::\"server:Delete\", resource) when {{ context.arn == \"{ACCOUNT}:server/1\" }};\n"
        );
        for i in 0..extra {
            src.push_str(&format!(
                "permit(principal, action, resource) when {{ context.arn like \"arn:rowguard:default:local:{}:server/*\" }};\n",
                1000 + i
            ));
        }
        src.parse().expect("cedar policies")
    };
    let cedar_request = |action: &str, arn: &str| {
        let uid = |s: &str| s.parse::<EntityUid>().expect("uid");
        let context = Context::from_pairs([(
            "arn".to_string(),
            cedar_policy::RestrictedExpression::new_string(arn.to_string()),
        )])
        .expect("context");
        Request::new(
            uid(r#"User::"u""#),
            uid(&format!("Action::\"{action}\"")),
            uid(r#"Server::"s""#),
            context,
            None,
        )
        .expect("request")
    };
    let cedar = CedarAuthorizer::new();
    let entities = Entities::empty();
    let cases = [
        (
            "allow",
            "server:Delete",
            format!("{ACCOUNT}:server/2"),
            true,
        ),
        (
            "deny wins",
            "server:Delete",
            format!("{ACCOUNT}:server/1"),
            false,
        ),
        (
            "no match",
            "server:List",
            "arn:rowguard:default:local:124:server".to_string(),
            false,
        ),
    ];
    let mut group = c.benchmark_group("W15 policy check");
    for extra in [0, 100] {
        let (ours, theirs) = (iam(extra), cedar_set(extra));
        for (label, action, arn, expected) in &cases {
            let parsed: Arn = arn.parse().expect("arn");
            let request = cedar_request(action, arn);
            // Sanity: the two agree.
            assert_eq!(
                ours.decide(action, &parsed).expect("decide").allowed,
                *expected,
                "rowguard {label}"
            );
            let d = cedar.is_authorized(&request, &theirs, &entities).decision();
            assert_eq!(d == Decision::Allow, *expected, "cedar {label}");
            let label = format!("{label}, {} statements", 3 + extra);
            group.bench_function(BenchmarkId::new("rowguard policy decide", &label), |b| {
                b.iter(|| {
                    black_box(
                        ours.decide(black_box(action), black_box(&parsed))
                            .expect("decide"),
                    )
                })
            });
            group.bench_function(
                BenchmarkId::new("rowguard policy is_allowed (ARN parsed per call)", &label),
                |b| {
                    b.iter(|| {
                        black_box(
                            ours.is_allowed(black_box(action), black_box(arn))
                                .expect("check"),
                        )
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new("cedar-policy prebuilt request", &label),
                |b| {
                    b.iter(|| {
                        black_box(
                            cedar
                                .is_authorized(black_box(&request), &theirs, &entities)
                                .decision(),
                        )
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new("cedar-policy request per call", &label),
                |b| {
                    b.iter(|| {
                        let request = cedar_request(action, arn);
                        black_box(cedar.is_authorized(&request, &theirs, &entities).decision())
                    })
                },
            );
        }
    }
    group.finish();
}

/// W5: the same check with 10 … 110,000 rules of other roles stored.
fn w5_scaling(c: &mut Criterion) {
    if !wanted(&[
        "W5 update check vs stored rules",
        "rowguard can",
        "cedar-policy",
        "casbin enforce",
    ]) {
        return;
    }
    let Some(Policy {
        db: _db,
        mut conn,
        auth,
        guard,
    }) = policy()
    else {
        return;
    };
    let mut row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
    row.owner_id = 17;
    let sizes: &[usize] = if quick() {
        &[10, 1_100]
    } else {
        &[10, 1_100, 11_000, 110_000]
    };
    let mut group = c.benchmark_group("W5 update check vs stored rules");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let mut stored = 3usize;
    for &n in sizes {
        // Top up authorization_rules to n rows of other roles.
        conn.batch_execute(&format!(
            "INSERT INTO authorization_rules (authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules) \
             WITH RECURSIVE seq(x) AS (SELECT {stored} UNION ALL SELECT x + 1 FROM seq WHERE x < {n} + 2) \
             SELECT (SELECT id FROM authorizable_set_types WHERE name = 'roles'), 'other' || x, \
                    (SELECT id FROM authorizable_models WHERE name = 'contacts'), '{{\"update\":{{\"search\":{{\"owner_id\":\"=$subject.id\"}}}}}}' FROM seq"
        ))
        .expect("rules");
        stored = n + 3;
        auth.invalidate();
        assert!(guard.can(&mut conn, Right::Update, &row).expect("warm"));
        group.bench_function(BenchmarkId::new("rowguard can", n), |b| {
            b.iter(|| {
                black_box(
                    guard
                        .can(&mut conn, Right::Update, black_box(&row))
                        .expect("can"),
                )
            })
        });
        let enforcer = casbin(n);
        group.bench_function(BenchmarkId::new("casbin enforce", n), |b| {
            b.iter(|| {
                black_box(
                    enforcer
                        .enforce(("17", "contacts", "update", "17", "open"))
                        .expect("casbin"),
                )
            })
        });
        let policies = cedar_policies(n);
        let entities = Entities::from_json_str(CEDAR_ENTITIES, None).expect("entities");
        let request = cedar_request("update");
        let cedar = CedarAuthorizer::new();
        group.bench_function(BenchmarkId::new("cedar-policy prebuilt request", n), |b| {
            b.iter(|| {
                black_box(
                    cedar
                        .is_authorized(&request, &policies, &entities)
                        .decision(),
                )
            })
        });
    }
    group.finish();
}

/// W4: rule-cache hits from 1, 2 and 8 threads at once (time per hit, per thread).
fn w4_cache_threads(c: &mut Criterion) {
    if !wanted(&["W4 rule-cache hit", "threads"]) {
        return;
    }
    let Some(Policy {
        db, mut conn, auth, ..
    }) = policy()
    else {
        return;
    };
    let subject = Subject::new().with_set("roles", ["r1", "r2", "r3"]);
    auth.access(&mut conn, &subject, "contacts").expect("warm");
    let mut group = c.benchmark_group("W4 rule-cache hit");
    for threads in [1usize, 2, 8] {
        let conns: Vec<_> = (0..threads)
            .map(|_| db.connect().expect("connect"))
            .collect();
        let conns = Arc::new(std::sync::Mutex::new(conns));
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let mut taken = conns.lock().expect("conns");
                let mut mine: Vec<AnyConnection> = taken.drain(..).collect();
                let start = Instant::now();
                std::thread::scope(|s| {
                    for conn in mine.iter_mut() {
                        let (auth, subject) = (&auth, &subject);
                        s.spawn(move || {
                            for _ in 0..iters {
                                black_box(auth.access(conn, subject, "contacts").expect("hit"));
                            }
                        });
                    }
                });
                let elapsed = start.elapsed();
                taken.extend(mine);
                elapsed
            })
        });
    }
    group.finish();

    // A miss is one query; freshness is one version query per refresh interval.
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = queries.clone();
    conn.set_instrumentation(move |e: InstrumentationEvent<'_>| {
        if matches!(e, InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let eager = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    eager
        .access(&mut conn, &subject, "contacts")
        .expect("first");
    queries.store(0, Ordering::SeqCst);
    eager
        .access(
            &mut conn,
            &Subject::new().with_set("roles", ["r1"]),
            "contacts",
        )
        .expect("miss");
    eprintln!(
        "W4: queries for a cache miss (new subject sets): {}",
        queries.load(Ordering::SeqCst)
    );
    // The version (read first, so the entry is never stamped newer than its rules), the
    // rules and the subject's policies.
    assert_eq!(queries.load(Ordering::SeqCst), 3);
    queries.store(0, Ordering::SeqCst);
    for _ in 0..10_000 {
        eager.access(&mut conn, &subject, "contacts").expect("hit");
    }
    eprintln!(
        "W4: queries for 10,000 hits within one refresh interval: {}",
        queries.load(Ordering::SeqCst)
    );
    assert_eq!(queries.load(Ordering::SeqCst), 0);
}

/// W2: client CPU to build the SQL and binds of one read, no database.
fn w2_client_cpu(c: &mut Criterion) {
    if !wanted(&[
        "W2 build SQL + binds (PostgreSQL dialect)",
        "diesel query",
        "rowguard read",
    ]) {
        return;
    }
    let Some(db) = require(Backend::Sqlite) else {
        return;
    };
    let mut conn = db.connect().expect("connect");
    app::fill_bulk(&mut conn, 10).expect("rows");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    auth.register::<Contact>(&mut conn).expect("register");
    for (role, owner) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        let doc = format!(r#"{{"read":{{"search":{{"owner_id":"={owner}"}}}}}}"#);
        store::put_rule(&mut conn, "roles", role, "contacts", &doc).expect("rule");
    }
    auth.invalidate();
    let guard = auth.guard(Subject::new().with_set("roles", ["r1", "r2", "r3"]));
    let mut group = c.benchmark_group("W2 build SQL + binds (PostgreSQL dialect)");
    group.bench_function("static diesel query", |b| {
        b.iter(|| {
            diesel::debug_query::<diesel::pg::Pg, _>(
                &contacts::table.filter(contacts::owner_id.eq_any(black_box([1i64, 2, 3]))),
            )
            .to_string()
        })
    });
    group.bench_function("boxed diesel query", |b| {
        b.iter(|| {
            let q = contacts::table
                .into_boxed::<diesel::pg::Pg>()
                .filter(contacts::owner_id.eq_any(black_box(vec![1i64, 2, 3])));
            diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string()
        })
    });
    group.bench_function("rowguard read (cached rule)", |b| {
        b.iter(|| {
            let filter = guard
                .filter::<Contact>(&mut conn, Right::Read)
                .expect("filter");
            let q = contacts::table
                .into_boxed::<diesel::pg::Pg>()
                .filter(filter);
            diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string()
        })
    });
    group.finish();
}

struct CountQueries(Arc<AtomicUsize>);

impl Instrumentation for CountQueries {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// contender ÷ baseline, drift-robust: pairs run back to back (alternating which goes first),
/// so both see the same machine state; the median of the pair ratios with its interquartile
/// range. criterion's medians come from separate time windows, and this VM's speed drifts
/// between them by more than the differences W1 and W7 look for.
struct Paired {
    median: f64,
    low: f64,
    high: f64,
    pairs: usize,
}

impl std::fmt::Display for Paired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} (IQR {:.2}–{:.2}, {} pairs)",
            self.median, self.low, self.high, self.pairs
        )
    }
}

fn paired_ratio<C: ?Sized>(
    conn: &mut C,
    contender: impl FnMut(&mut C),
    baseline: impl FnMut(&mut C),
) -> Paired {
    paired_ratio_reset(conn, PAIRED_BUDGET, |_| {}, contender, baseline)
}

/// How long [`paired_ratio`] measures a case (`-- --test`: 100 ms).
const PAIRED_BUDGET: Duration = Duration::from_secs(4);

/// A MySQL/MariaDB session status counter.
struct Status(i64);

impl QueryableByName<MultiBackend> for Status {
    fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> deserialize::Result<Self> {
        let value = NamedRow::get::<Text, String>(row, "Value")?;
        Ok(Status(value.parse()?))
    }
}

/// How many statements this MySQL/MariaDB session has prepared so far.
fn statements_prepared(conn: &mut AnyConnection) -> i64 {
    diesel::sql_query("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
        .get_result::<Status>(conn)
        .expect("status")
        .0
}

/// What one write costs the connection: statements run, statements prepared anew (SQLite's
/// parse, PostgreSQL's parse and plan, MySQL's prepare round trip) and round trips.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WriteCost {
    statements: f64,
    prepares: f64,
    round_trips: f64,
}

impl std::fmt::Display for WriteCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} statement(s), {} prepared anew, {} round trip(s)",
            self.statements, self.prepares, self.round_trips
        )
    }
}

/// Counts what `write` costs per call, over 20 calls after a warm-up. Statements are counted
/// by Diesel's instrumentation. Prepares: on MySQL/MariaDB the server's own counter
/// (`Com_stmt_prepare`); on SQLite and PostgreSQL a statement Diesel keeps is cached on its
/// first run (Diesel reports that) and never prepared again, and every other statement is
/// prepared on each run. Round trips: none on SQLite (in process); on PostgreSQL one per
/// statement (a kept statement is executed by name, any other is sent with its parameters);
/// on MySQL/MariaDB one per execution and one per prepare (the close has no answer).
fn write_cost(
    backend: Backend,
    conn: &mut AnyConnection,
    write: &mut dyn FnMut(&mut AnyConnection),
) -> WriteCost {
    #[derive(Default)]
    struct Counts {
        started: usize,
        cached: usize,
    }
    struct Count(Arc<std::sync::Mutex<Counts>>);
    impl Instrumentation for Count {
        fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
            let Ok(mut counts) = self.0.lock() else {
                return;
            };
            match event {
                InstrumentationEvent::StartQuery { .. } => counts.started += 1,
                InstrumentationEvent::CacheQuery { .. } => counts.cached += 1,
                _ => {}
            }
        }
    }
    let counts = Arc::new(std::sync::Mutex::new(Counts::default()));
    conn.set_instrumentation(Count(counts.clone()));
    // The first run on this connection caches what Diesel keeps.
    write(conn);
    let first = std::mem::take(&mut *counts.lock().expect("counts"));
    let prepared_before = (backend == Backend::Mysql).then(|| statements_prepared(conn));
    let calls = 20;
    let started_before = counts.lock().expect("counts").started;
    for _ in 0..calls {
        write(conn);
    }
    let statements =
        (counts.lock().expect("counts").started - started_before) as f64 / calls as f64;
    let per_call = |n: i64| n as f64 / calls as f64;
    let prepares = match prepared_before {
        // The status query itself is one prepare.
        Some(before) => per_call(statements_prepared(conn) - before - 1),
        None => (first.started - first.cached) as f64,
    };
    let round_trips = match backend {
        Backend::Sqlite => 0.0,
        Backend::Postgres => statements,
        Backend::Mysql => statements + prepares,
    };
    conn.set_instrumentation(CountQueries(Arc::new(AtomicUsize::new(0))));
    WriteCost {
        statements,
        prepares,
        round_trips,
    }
}

/// [`paired_ratio`] for a write that needs the database put back between runs (a deleted
/// row re-inserted, an inserted one deleted): `reset` runs before each timed call, untimed.
fn paired_ratio_reset<C: ?Sized>(
    conn: &mut C,
    budget: Duration,
    mut reset: impl FnMut(&mut C),
    mut contender: impl FnMut(&mut C),
    mut baseline: impl FnMut(&mut C),
) -> Paired {
    let budget = if quick() {
        Duration::from_millis(100)
    } else {
        budget
    };
    let mut ratios: Vec<f64> = Vec::new();
    let start = Instant::now();
    let mut time = |conn: &mut C, run: &mut dyn FnMut(&mut C)| {
        reset(conn);
        let t = Instant::now();
        run(conn);
        t.elapsed().as_secs_f64()
    };
    for _ in 0..3 {
        time(conn, &mut contender);
        time(conn, &mut baseline);
    }
    // At least 400 pairs (a slow case gets up to 15 budgets for them): enough for the
    // interquartile range to tell 2 % apart.
    let least = if quick() { 11 } else { 400 };
    // Never fewer than 3 pairs: a slow warm-up may already have used the whole budget.
    while ratios.len() < 3
        || ((start.elapsed() < budget || ratios.len() < least)
            && start.elapsed() < budget * 15
            && ratios.len() < 20_000)
    {
        let (c, b) = if ratios.len() % 2 == 0 {
            let c = time(conn, &mut contender);
            (c, time(conn, &mut baseline))
        } else {
            let b = time(conn, &mut baseline);
            (time(conn, &mut contender), b)
        };
        ratios.push(c / b);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    Paired {
        median: at(0.5),
        low: at(0.25),
        high: at(0.75),
        pairs: ratios.len(),
    }
}

/// W7: guarded writes vs the plain Diesel write of the same row: UPDATE, DELETE, and INSERT
/// under a create rule with a search. Each prints what a write costs the connection
/// (statements, prepares, round trips) and a paired ratio; criterion times each.
fn w7_update(c: &mut Criterion) {
    if !wanted(&[
        "W7 update one row",
        "W7 delete one row",
        "W7 insert one row",
        "plain diesel",
        "hand-written owner check",
        "rowguard update",
        "rowguard delete",
        "rowguard insert",
    ]) {
        return;
    }
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, 1_000).expect("rows");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        store::put_rule(
            &mut conn,
            "roles",
            "r",
            "contacts",
            r#"{"read":"*","create":{"search":{"owner_id":"=$subject.id"}},
                "update":{"search":{"owner_id":"=$subject.id"}},
                "delete":{"search":{"owner_id":"=$subject.id"}}}"#,
        )
        .expect("rule");
        auth.invalidate();
        let guard = auth.guard(
            Subject::new()
                .with_set("roles", ["r"])
                .with_attribute("id", 7),
        );
        let mut mine: Contact = contacts::table.find(7i64).first(&mut conn).expect("row");
        let theirs: Contact = contacts::table.find(8i64).first(&mut conn).expect("row");
        // Sanity: allowed costs one statement; denied changes nothing.
        guard.update(&mut conn, &mine).expect("warm");
        let queries = Arc::new(AtomicUsize::new(0));
        conn.set_instrumentation(CountQueries(queries.clone()));
        guard.update(&mut conn, &mine).expect("allowed");
        assert_eq!(
            queries.load(Ordering::SeqCst),
            1,
            "no extra round trip on the allowed path"
        );
        let mut changed = theirs.clone();
        changed.score = -1;
        assert!(guard.update(&mut conn, &changed).is_err());
        assert!(guard.delete::<Contact>(&mut conn, theirs.id).is_err());
        let after: Contact = contacts::table.find(8i64).first(&mut conn).expect("row");
        assert_eq!(after, theirs, "a denied write changes nothing");
        let mut foreign = mine.clone();
        (foreign.id, foreign.owner_id) = (5_000, 8);
        assert!(guard.insert(&mut conn, &foreign).is_err());
        assert_eq!(
            contacts::table
                .find(5_000i64)
                .count()
                .get_result::<i64>(&mut conn)
                .expect("count"),
            0,
            "a denied insert writes nothing"
        );

        // What each write costs the connection, rowguard and plain Diesel alike.
        let mut row = mine.clone();
        let mut plain_update = |c: &mut AnyConnection| {
            row.score += 1;
            diesel::update(contacts::table.find(row.id))
                .set(&row)
                .execute(c)
                .expect("update");
        };
        let mut guarded_update = |c: &mut AnyConnection| {
            mine.score += 1;
            guard.update(c, &mine).expect("update");
        };
        let fresh = |db: &TestDatabase| db.connect().expect("connect");
        let costs = [
            (
                "update, rowguard",
                write_cost(backend, &mut fresh(&db), &mut guarded_update),
            ),
            (
                "update, plain diesel",
                write_cost(backend, &mut fresh(&db), &mut plain_update),
            ),
        ];
        for (what, cost) in costs {
            eprintln!("W7 {backend}: one {what}: {cost}");
        }
        assert!(
            costs[0].1.statements <= costs[1].1.statements
                && costs[0].1.round_trips <= costs[1].1.round_trips,
            "a guarded update costs no more statements or round trips than plain Diesel's"
        );

        let mut group = c.benchmark_group(format!("W7 update one row/{backend}"));
        group.bench_function("plain diesel update", |b| {
            b.iter(|| {
                mine.score += 1;
                diesel::update(contacts::table.find(mine.id))
                    .set(&mine)
                    .execute(&mut conn)
                    .expect("update")
            })
        });
        group.bench_function("rowguard update", |b| {
            b.iter(|| {
                mine.score += 1;
                guard.update(&mut conn, &mine).expect("update")
            })
        });
        group.finish();

        // DELETE: the row is put back (untimed) before each delete. The hand-written delete
        // states the same ownership condition the rule adds.
        let restore = |c: &mut AnyConnection| {
            diesel::insert_into(contacts::table)
                .values(&mine)
                .execute(c)
                .expect("restore");
        };
        let guarded_delete = |c: &mut AnyConnection| {
            guard.delete::<Contact>(c, mine.id).expect("delete");
        };
        let plain_delete = |c: &mut AnyConnection| {
            let n = diesel::delete(contacts::table.find(mine.id))
                .execute(c)
                .expect("delete");
            assert_eq!(n, 1);
        };
        let owned_delete = |c: &mut AnyConnection| {
            let n = diesel::delete(
                contacts::table
                    .find(mine.id)
                    .filter(contacts::owner_id.eq(mine.owner_id)),
            )
            .execute(c)
            .expect("delete");
            assert_eq!(n, 1);
        };
        diesel::delete(contacts::table.find(mine.id))
            .execute(&mut conn)
            .expect("delete");
        let delete = ResetWrite {
            what: "delete",
            reset_what: "the restoring insert",
            reset: &restore,
            guarded: &guarded_delete,
            baselines: &[
                ("plain diesel", &plain_delete),
                ("hand-written owner check", &owned_delete),
            ],
        };
        delete.run(c, &db, backend, &mut conn);
        restore(&mut conn);

        // INSERT under `create: {"search": {"owner_id": "=$subject.id"}}`: a new row,
        // removed (untimed) before each insert.
        let mut new = mine.clone();
        new.id = 9_000;
        let remove = |c: &mut AnyConnection| {
            diesel::delete(contacts::table.find(new.id))
                .execute(c)
                .expect("remove");
        };
        let guarded_insert = |c: &mut AnyConnection| guard.insert(c, &new).expect("insert");
        let plain_insert = |c: &mut AnyConnection| {
            diesel::insert_into(contacts::table)
                .values(&new)
                .execute(c)
                .expect("insert");
        };
        let insert = ResetWrite {
            what: "insert",
            reset_what: "the removing delete",
            reset: &remove,
            guarded: &guarded_insert,
            baselines: &[("plain diesel", &plain_insert)],
        };
        insert.run(c, &db, backend, &mut conn);

        // Paired ratios of the three writes, on `AnyConnection` and on the backend's own
        // connection, where plain Diesel skips `MultiConnection`'s layer too: what an
        // application on `PgConnection`, `SqliteConnection` or `MysqlConnection` sees.
        let subject = guard.subject().clone();
        macro_rules! paired_writes {
            ($c:expr, $on:expr) => {{
                let (c, on) = ($c, $on);
                let guard = auth.guard(subject.clone());
                let (mut a, mut b) = (mine.clone(), mine.clone());
                let update = paired_ratio_reset(
                    c,
                    PAIRED_BUDGET,
                    |_| {},
                    |c| {
                        a.score += 1;
                        guard.update(c, &a).expect("update");
                    },
                    |c| {
                        b.score += 1;
                        diesel::update(contacts::table.find(b.id))
                            .set(&b)
                            .execute(c)
                            .expect("update");
                    },
                );
                eprintln!("W7 paired {backend}, {on}: rowguard / plain diesel update {update}");
                let restore = |c: &mut _| {
                    diesel::insert_into(contacts::table)
                        .values(&mine)
                        .execute(c)
                        .expect("restore");
                };
                diesel::delete(contacts::table.find(mine.id))
                    .execute(c)
                    .expect("delete");
                // rowguard's delete against each baseline, the row put back before each run.
                macro_rules! delete_vs {
                    ($name:expr, $baseline:expr) => {{
                        let ratio = paired_ratio_reset(
                            c,
                            PAIRED_BUDGET,
                            restore,
                            |c| guard.delete::<Contact>(c, mine.id).expect("delete"),
                            $baseline,
                        );
                        eprintln!(
                            "W7 paired {backend}, {on}: rowguard / {} delete {ratio}",
                            $name
                        );
                    }};
                }
                delete_vs!("plain diesel", |c| {
                    let n = diesel::delete(contacts::table.find(mine.id))
                        .execute(c)
                        .expect("delete");
                    assert_eq!(n, 1);
                });
                // The same ownership check by hand: as a static query (Diesel keys its
                // statement by type) and boxed (keyed by its SQL text, as every statement
                // built at run time is, rowguard's included).
                delete_vs!("hand-written owner check", |c| {
                    let mine = contacts::table
                        .find(mine.id)
                        .filter(contacts::owner_id.eq(mine.owner_id));
                    assert_eq!(diesel::delete(mine).execute(c).expect("delete"), 1);
                });
                delete_vs!("boxed hand-written owner check", |c| {
                    let mine = diesel::delete(contacts::table)
                        .filter(contacts::id.eq(mine.id))
                        .filter(contacts::owner_id.eq(mine.owner_id))
                        .into_boxed();
                    assert_eq!(mine.execute(c).expect("delete"), 1);
                });
                restore(c);
                let remove = |c: &mut _| {
                    diesel::delete(contacts::table.find(new.id))
                        .execute(c)
                        .expect("remove");
                };
                let insert = paired_ratio_reset(
                    c,
                    PAIRED_BUDGET,
                    remove,
                    |c| guard.insert(c, &new).expect("insert"),
                    |c| {
                        diesel::insert_into(contacts::table)
                            .values(&new)
                            .execute(c)
                            .expect("insert");
                    },
                );
                eprintln!("W7 paired {backend}, {on}: rowguard / plain diesel insert {insert}");
                remove(c);
            }};
        }
        paired_writes!(&mut conn, "AnyConnection");
        match &mut conn {
            AnyConnection::Sqlite(c) => paired_writes!(c, "own connection"),
            AnyConnection::Postgres(c) => paired_writes!(c, "own connection"),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(c) => paired_writes!(c, "own connection"),
        }
    }
}

/// A write on the bench's connection.
type Write<'a> = &'a dyn Fn(&mut AnyConnection);

/// A write that must be undone between runs (a delete, an insert), measured against
/// baselines: what each costs the connection, and a criterion group
/// `W7 <what> one row/<backend>` (the paired ratios are `paired_writes!`'s). `reset` runs untimed before every write.
struct ResetWrite<'a> {
    what: &'a str,
    /// What `reset` is, for the cost lines (its statement is counted with the write's).
    reset_what: &'a str,
    reset: Write<'a>,
    guarded: Write<'a>,
    baselines: &'a [(&'a str, Write<'a>)],
}

impl ResetWrite<'_> {
    fn run(
        &self,
        c: &mut Criterion,
        db: &TestDatabase,
        backend: Backend,
        conn: &mut AnyConnection,
    ) {
        let what = self.what;
        let cost = |write: &dyn Fn(&mut AnyConnection)| {
            let mut fresh = db.connect().expect("connect");
            write_cost(backend, &mut fresh, &mut |c| {
                (self.reset)(c);
                write(c);
            })
        };
        let ours = cost(self.guarded);
        eprintln!(
            "W7 {backend}: one {what}, rowguard (+ {}): {ours}",
            self.reset_what
        );
        for (name, baseline) in self.baselines {
            let theirs = cost(*baseline);
            eprintln!(
                "W7 {backend}: one {what}, {name} (+ {}): {theirs}",
                self.reset_what
            );
            assert!(
                ours.statements <= theirs.statements && ours.round_trips <= theirs.round_trips,
                "a guarded {what} costs no more statements or round trips than {name}"
            );
        }
        let mut group = c.benchmark_group(format!("W7 {what} one row/{backend}"));
        let ours: (String, &dyn Fn(&mut AnyConnection)) =
            (format!("rowguard {what}"), self.guarded);
        let theirs = self
            .baselines
            .iter()
            .map(|(name, write)| (format!("{name} {what}"), *write));
        for (name, write) in theirs.chain([ours]) {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        (self.reset)(conn);
                        let t = Instant::now();
                        write(conn);
                        spent += t.elapsed();
                    }
                    spent
                })
            });
        }
        group.finish();
    }
}

/// W1 on PostgreSQL: rowguard vs hand-written vs row-level security, deployed
/// (BEGIN; SET LOCAL; query; COMMIT) and bare (the setting made once per session).
fn w1_rls(c: &mut Criterion) {
    if !wanted(&[
        "W1 read 1000000 rows, 3 owners/PostgreSQL",
        "hand-written diesel",
        "rowguard read",
        "RLS",
    ]) {
        return;
    }
    let Some(db) = require(Backend::Postgres) else {
        return;
    };
    let mut conn = db.connect().expect("connect");
    let n = if quick() { 10_000 } else { 1_000_000 };
    app::fill_bulk(&mut conn, n).expect("rows");
    conn.batch_execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_bench') THEN CREATE ROLE rowguard_bench LOGIN; END IF; END $$;
         GRANT SELECT ON contacts TO rowguard_bench;
         ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
         CREATE POLICY owners ON contacts USING (owner_id = ANY (string_to_array(current_setting('rowguard.owners', true), ',')::bigint[]));",
    )
    .expect("rls");
    let rls_url =
        db.url()
            .target()
            .replacen("postgres://postgres@", "postgres://rowguard_bench@", 1);
    let mut rls = rowguard::establish(&rowguard::DatabaseUrl::parse(&rls_url).expect("url"))
        .expect("rls conn");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    auth.register::<Contact>(&mut conn).expect("register");
    for (role, owner) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        store::put_rule(
            &mut conn,
            "roles",
            role,
            "contacts",
            &format!(r#"{{"read":{{"search":{{"owner_id":"={owner}"}}}}}}"#),
        )
        .expect("rule");
    }
    auth.invalidate();
    let guard = auth.guard(Subject::new().with_set("roles", ["r1", "r2", "r3"]));
    let deployed = |c: &mut AnyConnection| {
        c.transaction(|c| {
            diesel::sql_query("SET LOCAL rowguard.owners = '1,2,3'").execute(c)?;
            contacts::table.load::<Contact>(c)
        })
        .expect("rls deployed")
    };
    let ours = |c: &mut AnyConnection| {
        guard
            .read::<Contact>(c)
            .expect("read")
            .load::<Contact>(c)
            .expect("load")
    };
    let mut a = deployed(&mut rls);
    let mut b = ours(&mut conn);
    a.sort_by_key(|c| c.id);
    b.sort_by_key(|c| c.id);
    assert_eq!(a, b, "RLS and rowguard select the same rows");
    let hand = |c: &mut AnyConnection| {
        contacts::table
            .filter(contacts::owner_id.eq_any(vec![1i64, 2, 3]))
            .load::<Contact>(c)
            .expect("hand")
    };
    // Paired, with a sample large enough to tell 2 % apart (20 s a pair of contenders).
    let long = Duration::from_secs(20);
    let paired = paired_ratio_reset(
        &mut conn,
        long,
        |_| {},
        |c| drop(ours(c)),
        |c| drop(hand(c)),
    );
    eprintln!("W1 3 owners paired PostgreSQL: rowguard / hand-written {paired}");
    let paired = paired_ratio_reset(
        &mut conn,
        long,
        |_| {},
        |c| drop(ours(c)),
        |_| drop(deployed(&mut rls)),
    );
    eprintln!("W1 3 owners paired PostgreSQL: rowguard / RLS as deployed {paired}");
    let mut group = c.benchmark_group(format!("W1 read {n} rows, 3 owners/PostgreSQL"));
    group.bench_function("hand-written diesel", |bch| {
        bch.iter(|| {
            contacts::table
                .filter(contacts::owner_id.eq_any(vec![1i64, 2, 3]))
                .load::<Contact>(&mut conn)
                .expect("hand")
        })
    });
    group.bench_function("rowguard read", |bch| {
        bch.iter(|| black_box(ours(&mut conn)))
    });
    group.bench_function("RLS as deployed (BEGIN; SET LOCAL; query; COMMIT)", |bch| {
        bch.iter(|| black_box(deployed(&mut rls)))
    });
    diesel::sql_query("SET rowguard.owners = '1,2,3'")
        .execute(&mut rls)
        .expect("set");
    group.bench_function("RLS bare (setting per session)", |bch| {
        bch.iter(|| contacts::table.load::<Contact>(&mut rls).expect("rls bare"))
    });
    group.finish();
}

/// W1 across backends: 1M rows; 3 roles whose rules together show 3, 300 or 30,000 rows
/// (id ranges) or id lists of 3, 100 and 1,000 (one `IN` after merging); against the same
/// hand-written Diesel filter, static and boxed. W6: pool checkout + load, on PostgreSQL.
fn w1_matrix(c: &mut Criterion) {
    if !wanted(&[
        "W1 read 1000000 rows, 3 roles",
        "hand-written diesel",
        "rowguard read",
        "W6 pool checkout",
    ]) {
        return;
    }
    let n: i64 = if quick() { 40_000 } else { 1_000_000 };
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if !wanted(&[&format!("W1 read {n} rows, 3 roles/{backend}")]) {
            continue;
        }
        let Some(db) = require(backend) else { continue };
        let pool = db
            .pool(rowguard::PoolOptions {
                max_size: 2,
                ..rowguard::PoolOptions::default()
            })
            .expect("pool");
        let mut conn = pool.get().expect("conn");
        app::fill_bulk(&mut conn, n).expect("rows");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        // (case, rule per role, hand-written filter: static, and boxed)
        type Hand = Box<dyn Fn(&mut AnyConnection) -> Vec<Contact>>;
        type Boxed = Box<dyn Fn() -> contacts::BoxedQuery<'static, MultiBackend>>;
        type Case = ([String; 3], Hand, Boxed);
        let ranges = |visible: i64| -> Case {
            let third = visible / 3;
            let bounds = [0, 1, 2].map(|k| {
                (
                    k * third + 1,
                    if k == 2 { visible } else { (k + 1) * third },
                )
            });
            let docs =
                bounds.map(|(lo, hi)| format!(r#"{{"read":{{"search":{{"id":"<>{lo};{hi}"}}}}}}"#));
            // The same filter by hand: the three ranges, ORed.
            let [(a, b), (c1, d), (e, f)] = bounds;
            (
                docs,
                Box::new(move |c: &mut AnyConnection| {
                    contacts::table
                        .filter(
                            contacts::id
                                .between(a, b)
                                .or(contacts::id.between(c1, d))
                                .or(contacts::id.between(e, f)),
                        )
                        .load(c)
                        .expect("hand")
                }),
                Box::new(move || {
                    contacts::table.into_boxed().filter(
                        contacts::id
                            .between(a, b)
                            .or(contacts::id.between(c1, d))
                            .or(contacts::id.between(e, f)),
                    )
                }),
            )
        };
        let lists = |size: i64| -> Case {
            let ids: Vec<i64> = (0..size).map(|i| 1 + i * 997 % n).collect();
            let docs = [0usize, 1, 2].map(|k| {
                let part: Vec<String> = ids
                    .iter()
                    .skip(k)
                    .step_by(3)
                    .map(|i| i.to_string())
                    .collect();
                format!(r#"{{"read":{{"search":{{"id":"={}"}}}}}}"#, part.join(";"))
            });
            let boxed_ids = ids.clone();
            (
                docs,
                Box::new(move |c: &mut AnyConnection| {
                    contacts::table
                        .filter(contacts::id.eq_any(ids.clone()))
                        .load(c)
                        .expect("hand")
                }),
                Box::new(move || {
                    contacts::table
                        .into_boxed()
                        .filter(contacts::id.eq_any(boxed_ids.clone()))
                }),
            )
        };
        let cases: Vec<(String, Case)> = vec![
            ("3 visible (id list of 3)".into(), lists(3)),
            ("id list of 100".into(), lists(100)),
            ("id list of 1,000".into(), lists(1_000)),
            ("300 visible (id ranges)".into(), ranges(300)),
            ("30,000 visible (id ranges)".into(), ranges(30_000)),
        ];
        let mut group = c.benchmark_group(format!("W1 read {n} rows, 3 roles/{backend}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(3));
        for (case, (docs, hand, boxed)) in &cases {
            for (k, doc) in docs.iter().enumerate() {
                store::put_rule(&mut conn, "roles", &format!("m{k}"), "contacts", doc)
                    .expect("rule");
            }
            auth.invalidate();
            let guard = auth.guard(Subject::new().with_set("roles", ["m0", "m1", "m2"]));
            let ours = |c: &mut AnyConnection| {
                guard
                    .read::<Contact>(c)
                    .expect("read")
                    .load::<Contact>(c)
                    .expect("load")
            };
            let (mut a, mut b) = (hand(&mut conn), ours(&mut conn));
            let mut c: Vec<Contact> = boxed().load(&mut conn).expect("boxed");
            for rows in [&mut a, &mut b, &mut c] {
                rows.sort_by_key(|x| x.id);
            }
            assert_eq!(a, b, "{backend} {case}: the same rows");
            assert_eq!(a, c, "{backend} {case}: the same rows, boxed");
            // The same plan: rowguard's filter uses the index as the hand-written one does.
            let hand_plan = plan_shape(&mut conn, boxed());
            let read = guard.read::<Contact>(&mut conn).expect("read");
            let our_plan = plan_shape(&mut conn, read);
            eprintln!("W1 plan {backend} [{case}]: {}", our_plan.join(" / "));
            assert_eq!(hand_plan, our_plan, "{backend} {case}: the same plan shape");
            let paired = paired_ratio(
                &mut *conn,
                |c| {
                    black_box(ours(c));
                },
                |c| {
                    black_box(hand(c));
                },
            );
            eprintln!("W1 paired {backend} [{case}]: rowguard / hand-written {paired}");
            group.bench_function(BenchmarkId::new("hand-written diesel", case), |bch| {
                bch.iter(|| black_box(hand(&mut conn)))
            });
            group.bench_function(
                BenchmarkId::new("hand-written diesel, boxed", case),
                |bch| bch.iter(|| black_box(boxed().load::<Contact>(&mut conn).expect("boxed"))),
            );
            group.bench_function(BenchmarkId::new("rowguard read", case), |bch| {
                bch.iter(|| black_box(ours(&mut conn)))
            });
            if backend == Backend::Postgres && case.starts_with("id list of 100") {
                drop(conn);
                group.bench_function(
                    BenchmarkId::new("W6 pool checkout + hand-written", case),
                    |bch| bch.iter(|| black_box(hand(&mut pool.get().expect("checkout")))),
                );
                group.bench_function(
                    BenchmarkId::new("W6 pool checkout + rowguard read", case),
                    |bch| bch.iter(|| black_box(ours(&mut pool.get().expect("checkout")))),
                );
                conn = pool.get().expect("conn");
            }
        }
        group.finish();
    }
}

/// W16: a read scoped by an IAM-style statement (`Allow contacts:Read` on three accounts'
/// contacts, `…:<owner>:contacts/*`) against the hand-written query with the same meaning
/// (`owner_id IN (…)`), on every backend: the statement becomes the same indexed filter.
fn w16_statement_read(c: &mut Criterion) {
    if !wanted(&["W16 read scoped by a statement"]) {
        return;
    }
    let n: i64 = if quick() { 40_000 } else { 1_000_000 };
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if !wanted(&[&format!("W16 read scoped by a statement/{backend}")]) {
            continue;
        }
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, n).expect("rows");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        // fill_bulk: owner_id = id % 100,000, so each account owns n / 100,000 contacts.
        let owners: [i64; 3] = [7, 70, 700];
        let resources: Vec<String> = owners
            .iter()
            .map(|o| format!("\"arn:rowguard:default:local:{o}:contacts/*\""))
            .collect();
        store::put_policy(
            &mut conn,
            "roles",
            "reader",
            &format!(
                r#"[{{"Effect":"Allow","Action":"contacts:Read","Resource":[{}]}}]"#,
                resources.join(",")
            ),
        )
        .expect("policy");
        let guard = auth.guard(Subject::new().with_set("roles", ["reader"]));
        let ours = |c: &mut AnyConnection| {
            guard
                .read::<Contact>(c)
                .expect("read")
                .load::<Contact>(c)
                .expect("load")
        };
        let hand = |c: &mut AnyConnection| {
            contacts::table
                .filter(contacts::owner_id.eq_any(owners))
                .load::<Contact>(c)
                .expect("hand")
        };
        let (mut a, mut b) = (hand(&mut conn), ours(&mut conn));
        a.sort_by_key(|x| x.id);
        b.sort_by_key(|x| x.id);
        assert_eq!(a, b, "{backend}: the same rows");
        let hand_plan = plan_shape(
            &mut conn,
            contacts::table
                .into_boxed()
                .filter(contacts::owner_id.eq_any(owners)),
        );
        let read = guard.read::<Contact>(&mut conn).expect("read");
        let our_plan = plan_shape(&mut conn, read);
        eprintln!("W16 plan {backend}: {}", our_plan.join(" / "));
        assert_eq!(hand_plan, our_plan, "{backend}: the same plan shape");
        let paired = paired_ratio(
            &mut conn,
            |c| {
                black_box(ours(c));
            },
            |c| {
                black_box(hand(c));
            },
        );
        eprintln!("W16 paired {backend}: rowguard statement read / hand-written {paired}");
        // Diesel prepares a query with an `IN` list of binds anew on every call where the
        // backend has no array binds (its statement cache skips it); the same meaning
        // written with `=` and `OR` is cached.
        let [o1, o2, o3] = owners;
        let ored = paired_ratio(
            &mut conn,
            |c| {
                black_box(ours(c));
            },
            |c| {
                let rows: Vec<Contact> = contacts::table
                    .filter(
                        contacts::owner_id
                            .eq(o1)
                            .or(contacts::owner_id.eq(o2))
                            .or(contacts::owner_id.eq(o3)),
                    )
                    .load(c)
                    .expect("hand, ORed");
                black_box(rows);
            },
        );
        eprintln!(
            "W16 paired {backend}: rowguard statement read / hand-written with = and OR {ored}"
        );
        // On AnyConnection a hand-written query goes through Diesel's MultiConnection, which
        // renders it more than once, while rowguard's read runs on the backend's own
        // connection (W7): the same pair on that connection too.
        macro_rules! native {
            ($c:expr) => {{
                let c = $c;
                let guard = auth.guard(Subject::new().with_set("roles", ["reader"]));
                let paired = paired_ratio(
                    c,
                    |c| {
                        let rows: Vec<Contact> = guard.read::<Contact>(c).expect("read").load(c).expect("load");
                        black_box(rows);
                    },
                    |c| {
                        let rows: Vec<Contact> = contacts::table
                            .filter(contacts::owner_id.eq_any(owners))
                            .load(c)
                            .expect("hand");
                        black_box(rows);
                    },
                );
                eprintln!("W16 paired {backend}, own connection: rowguard statement read / hand-written {paired}");
            }};
        }
        match &mut conn {
            AnyConnection::Sqlite(c) => native!(c),
            AnyConnection::Postgres(c) => native!(c),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(c) => native!(c),
        }
        let mut group = c.benchmark_group(format!("W16 read scoped by a statement/{backend}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(3));
        group.bench_function("hand-written diesel", |bch| {
            bch.iter(|| black_box(hand(&mut conn)))
        });
        group.bench_function("rowguard read, policy statement", |bch| {
            bch.iter(|| black_box(ours(&mut conn)))
        });
        group.finish();
    }
}

/// W10: long id lists (10, 1,000, 100,000 values) on every backend, against the hand-written
/// query with the same meaning: Diesel's `eq_any` where the backend takes that many binds,
/// and past that the same one-bind form written by hand (`json_each` on SQLite,
/// `JSON_TABLE` on MariaDB; PostgreSQL's `eq_any` is already one array).
fn w10_long_lists(c: &mut Criterion) {
    if !wanted(&["W10 long id lists"]) {
        return;
    }
    let n: i64 = if quick() { 20_000 } else { 200_000 };
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if !wanted(&[&format!("W10 long id lists/{backend}")]) {
            continue;
        }
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, n).expect("rows");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        let mut group = c.benchmark_group(format!("W10 long id lists/{backend}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3));
        for size in [10usize, 1_000, 100_000] {
            // Every other id of the table exists (1, 3, 5, …, then past the end).
            let ids: Vec<i64> = (0..size as i64).map(|i| 1 + 2 * i).collect();
            let doc = format!(
                r#"{{"read":{{"search":{{"id":"={}"}}}}}}"#,
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(";")
            );
            store::put_rule(&mut conn, "roles", "lists", "contacts", &doc).expect("rule");
            auth.invalidate();
            let guard = auth.guard(Subject::new().with_set("roles", ["lists"]));
            let ours = |c: &mut AnyConnection| -> Vec<i64> {
                guard
                    .read::<Contact>(c)
                    .expect("read")
                    .select(contacts::id)
                    .load(c)
                    .expect("load")
            };
            let json = format!(
                "[{}]",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            );
            let by_hand = size > rowguard::rules::LONG_LIST && backend != Backend::Postgres;
            let hand = |c: &mut AnyConnection| -> Vec<i64> {
                if !by_hand {
                    return contacts::table
                        .select(contacts::id)
                        .filter(contacts::id.eq_any(&ids))
                        .load(c)
                        .expect("hand");
                }
                let predicate = if backend == Backend::Sqlite {
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "contacts.id IN (SELECT value FROM json_each(",
                    )
                    .bind::<Text, _>(json.clone())
                    .sql("))")
                } else {
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "contacts.id IN (SELECT v FROM JSON_TABLE(",
                    )
                    .bind::<Text, _>(json.clone())
                    .sql(", '$[*]' COLUMNS (v BIGINT PATH '$')) AS t)")
                };
                contacts::table
                    .select(contacts::id)
                    .filter(predicate)
                    .load(c)
                    .expect("hand, one bind")
            };
            let (mut a, mut b) = (hand(&mut conn), ours(&mut conn));
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{backend} {size}: the same rows");
            let paired = paired_ratio(
                &mut conn,
                |c| {
                    black_box(ours(c));
                },
                |c| {
                    black_box(hand(c));
                },
            );
            eprintln!("W10 paired {backend} [{size} ids]: rowguard / hand-written {paired}");
            group.bench_function(BenchmarkId::new("hand-written diesel", size), |bch| {
                bch.iter(|| black_box(hand(&mut conn)))
            });
            group.bench_function(BenchmarkId::new("rowguard read", size), |bch| {
                bch.iter(|| black_box(ours(&mut conn)))
            });
        }
        group.finish();
    }
}

/// W9: reads with relation conditions on PostgreSQL, 1M contacts over 1,000 contact types:
/// a belongs-to (`contact_type.name`) and a has-many (`contacts.status`), each against the
/// hand-written Diesel query with the same correlated `EXISTS` and a row-level-security
/// policy with the same `EXISTS`. The related model's read rule is `"*"`, so all three run
/// the same statement shape.
fn w9_relations(c: &mut Criterion) {
    if !wanted(&["W9 relations"]) {
        return;
    }
    let Some(db) = require(Backend::Postgres) else {
        return;
    };
    use app::{contact_types, ContactType};
    use diesel::dsl::exists;
    let mut conn = db.connect().expect("connect");
    let n: i64 = if quick() { 20_000 } else { 1_000_000 };
    app::create_tables(&mut conn).expect("tables");
    conn.batch_execute(&format!(
        "INSERT INTO contact_types SELECT t, 'type-' || t FROM generate_series(1, 1000) AS t;
         INSERT INTO contacts SELECT x, 'contact ' || x, NULL,
             CASE WHEN x % 5000 = 0 THEN 'escalated' ELSE 'open' END,
             x % 1000 + 1, x % 100000, (x % 100)::int, TIMESTAMP '2026-11-01 00:00:00'
         FROM generate_series(1, {n}) AS x;
         CREATE INDEX contacts_type_status ON contacts (contact_type_id, status);
         ANALYZE contacts; ANALYZE contact_types;"
    ))
    .expect("rows");
    let auth = Authorizer::new(Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    });
    auth.register::<Contact>(&mut conn).expect("register");
    auth.register::<ContactType>(&mut conn).expect("register");
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
    .expect("belongs-to");
    store::put_relation(
        &mut conn,
        "contact_types",
        &rowguard::rules::Relation::has_many("contacts", "id", "contacts", "contact_type_id"),
    )
    .expect("has-many");
    // Each subject's rule on the related side is "*": protection adds nothing, so rowguard,
    // the hand-written query and the policy run the same statement shape.
    for (role, model, doc) in [
        (
            "reader_a",
            "contacts",
            r#"{"read":{"search":{"owner_id":"=1;2;3","contact_type.name":"=type-2"}}}"#,
        ),
        ("reader_a", "contact_types", r#"{"read":"*"}"#),
        (
            "reader_b",
            "contact_types",
            r#"{"read":{"search":{"contacts.status":"=escalated"}}}"#,
        ),
        ("reader_b", "contacts", r#"{"read":"*"}"#),
    ] {
        store::put_rule(&mut conn, "roles", role, model, doc).expect("rule");
    }
    auth.invalidate();
    let guard_a = auth.guard(Subject::new().with_set("roles", ["reader_a"]));
    let guard_b = auth.guard(Subject::new().with_set("roles", ["reader_b"]));
    conn.batch_execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_bench') THEN CREATE ROLE rowguard_bench LOGIN; END IF; END $$;
         GRANT SELECT ON contacts, contact_types TO rowguard_bench;",
    )
    .expect("rls role");
    let rls_url =
        db.url()
            .target()
            .replacen("postgres://postgres@", "postgres://rowguard_bench@", 1);
    let mut rls = rowguard::establish(&rowguard::DatabaseUrl::parse(&rls_url).expect("url"))
        .expect("rls conn");

    // A: contacts through their type (belongs-to).
    let hand_a = |c: &mut AnyConnection| {
        contacts::table
            .filter(contacts::owner_id.eq_any(vec![1i64, 2, 3]))
            .filter(exists(
                contact_types::table
                    .filter(contact_types::id.eq(contacts::contact_type_id))
                    .filter(contact_types::name.eq("type-2")),
            ))
            .load::<Contact>(c)
            .expect("hand A")
    };
    let ours_a = |c: &mut AnyConnection| {
        guard_a
            .read::<Contact>(c)
            .expect("read")
            .load::<Contact>(c)
            .expect("ours A")
    };
    conn.batch_execute(
        "ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
         CREATE POLICY w9 ON contacts USING (owner_id IN (1, 2, 3) AND EXISTS
             (SELECT 1 FROM contact_types t WHERE t.id = contacts.contact_type_id AND t.name = 'type-2'));",
    )
    .expect("policy A");
    let rls_a = |c: &mut AnyConnection| contacts::table.load::<Contact>(c).expect("rls A");
    let mut x = ours_a(&mut conn);
    let mut y = hand_a(&mut conn);
    let mut z = rls_a(&mut rls);
    for v in [&mut x, &mut y, &mut z] {
        v.sort_by_key(|c| c.id);
    }
    // Owner 1's contacts (x = 1, 100001, …) are exactly those of type 2.
    assert_eq!(x.len() as i64, (n + 99_999) / 100_000, "owner 1's contacts");
    assert_eq!((&x, &x), (&y, &z), "rowguard, hand-written and RLS agree");
    let paired = paired_ratio(
        &mut conn,
        |c| drop(black_box(ours_a(c))),
        |c| drop(black_box(hand_a(c))),
    );
    eprintln!("W9 paired belongs-to: rowguard / hand-written {paired}");
    let mut group = c.benchmark_group(format!("W9 relations {n} contacts/PostgreSQL"));
    group.bench_function("belongs-to: hand-written diesel EXISTS", |b| {
        b.iter(|| black_box(hand_a(&mut conn)))
    });
    group.bench_function("belongs-to: rowguard read", |b| {
        b.iter(|| black_box(ours_a(&mut conn)))
    });
    group.bench_function("belongs-to: RLS", |b| b.iter(|| black_box(rls_a(&mut rls))));
    conn.batch_execute(
        "DROP POLICY w9 ON contacts; ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;",
    )
    .expect("policy A off");

    // B: contact types with an escalated contact (has-many).
    let hand_b = |c: &mut AnyConnection| {
        contact_types::table
            .filter(exists(
                contacts::table
                    .filter(contacts::contact_type_id.eq(contact_types::id))
                    .filter(contacts::status.eq("escalated")),
            ))
            .load::<ContactType>(c)
            .expect("hand B")
    };
    let ours_b = |c: &mut AnyConnection| {
        guard_b
            .read::<ContactType>(c)
            .expect("read")
            .load::<ContactType>(c)
            .expect("ours B")
    };
    conn.batch_execute(
        "ALTER TABLE contact_types ENABLE ROW LEVEL SECURITY;
         CREATE POLICY w9 ON contact_types USING (EXISTS
             (SELECT 1 FROM contacts c WHERE c.contact_type_id = contact_types.id AND c.status = 'escalated'));",
    )
    .expect("policy B");
    let rls_b = |c: &mut AnyConnection| contact_types::table.load::<ContactType>(c).expect("rls B");
    let mut x = ours_b(&mut conn);
    let mut y = hand_b(&mut conn);
    let mut z = rls_b(&mut rls);
    for v in [&mut x, &mut y, &mut z] {
        v.sort_by_key(|t| t.id);
    }
    assert!(!x.is_empty());
    assert_eq!((&x, &x), (&y, &z), "rowguard, hand-written and RLS agree");
    let paired = paired_ratio(
        &mut conn,
        |c| drop(black_box(ours_b(c))),
        |c| drop(black_box(hand_b(c))),
    );
    eprintln!("W9 paired has-many: rowguard / hand-written {paired}");
    group.bench_function("has-many: hand-written diesel EXISTS", |b| {
        b.iter(|| black_box(hand_b(&mut conn)))
    });
    group.bench_function("has-many: rowguard read", |b| {
        b.iter(|| black_box(ours_b(&mut conn)))
    });
    group.bench_function("has-many: RLS", |b| b.iter(|| black_box(rls_b(&mut rls))));
    group.finish();
    conn.batch_execute(
        "DROP POLICY w9 ON contact_types; ALTER TABLE contact_types DISABLE ROW LEVEL SECURITY;",
    )
    .expect("policy B off");
}

/// W8: sync-models over a generated tree of 5,000 files (scan + plan, SQLite).
fn w8_sync(c: &mut Criterion) {
    if !wanted(&["W8 sync-models", "scan + plan (dry run)"]) {
        return;
    }
    let Some(db) = require(Backend::Sqlite) else {
        return;
    };
    let files = if quick() { 50 } else { 5_000 };
    let dir = std::env::temp_dir().join(format!("rowguard-bench-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for i in 0..files {
        let sub = dir.join(format!("m{}", i / 100));
        std::fs::create_dir_all(&sub).expect("dir");
        std::fs::write(
            sub.join(format!("t{i}.rs")),
            format!(
                "diesel::table! {{ t{i} (id) {{ id -> BigInt, owner_id -> BigInt, name -> Text, at -> Timestamp }} }}\n\
                 #[derive(Debug)] pub struct M{i} {{ pub id: i64, pub owner_id: i64, pub name: String }}\n\
                 rowguard::authorizable!(M{i} => t{i}(id) {{ id, owner_id, name }});\n\
                 pub fn helper_{i}(x: i64) -> i64 {{ x * 2 + {i} }}\n"
            ),
        )
        .expect("file");
    }
    let mut conn = db.connect().expect("connect");
    let mut group = c.benchmark_group("W8 sync-models");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("scan + plan (dry run)", files), |b| {
        b.iter(|| {
            let scan = rowguard::sync::scan(std::slice::from_ref(&dir), false).expect("scan");
            assert_eq!(scan.models.len(), files);
            rowguard::sync::sync(&mut conn, &scan.models, true).expect("plan")
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// W11: what a deny and a column list cost. W1's "300 visible (id ranges)" read on every
/// backend, and W3's update check, each with the plain rules and with a deny, a column list
/// and both added; paired ratios against the plain rules in the same run.
fn w11_deny_and_columns(c: &mut Criterion) {
    if !wanted(&["W11 deny and columns"]) {
        return;
    }
    const DENY: &str = r#""deny":{"read":{"search":{"status":"=archived"}},"update":{"search":{"status":"=archived"}}}"#;
    // Every column but email (nullable), which reads then return as NULL.
    const COLUMNS: &str = r#""columns":{"read":["id","name","status","contact_type_id","owner_id","score","created_at"],"update":["status","score"]}"#;
    let variants = [
        ("plain", None),
        ("deny", Some(DENY.to_owned())),
        ("column list", Some(COLUMNS.to_owned())),
        ("deny + column list", Some(format!("{DENY},{COLUMNS}"))),
    ];
    let n: i64 = if quick() { 40_000 } else { 1_000_000 };
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if !wanted(&[&format!("W11 deny and columns/read {backend}")]) {
            continue;
        }
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, n).expect("rows");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        let guards: Vec<(&str, rowguard::Guard)> = variants
            .iter()
            .enumerate()
            .map(|(v, (label, extra))| {
                let roles: Vec<String> = (0..3).map(|k| format!("w11_{v}_{k}")).collect();
                for (k, role) in roles.iter().enumerate() {
                    let (lo, hi) = (k as i64 * 100 + 1, k as i64 * 100 + 100);
                    let grant =
                        format!(r#""read":{{"search":{{"id":"<>{lo};{hi}"}}}},"update":"*""#);
                    let doc = match (k, extra) {
                        (0, Some(extra)) => format!("{{{grant},{extra}}}"),
                        _ => format!("{{{grant}}}"),
                    };
                    store::put_rule(&mut conn, "roles", role, "contacts", &doc).expect("rule");
                }
                (*label, auth.guard(Subject::new().with_set("roles", roles)))
            })
            .collect();
        auth.invalidate();
        let read = |guard: &rowguard::Guard, c: &mut AnyConnection| -> Vec<Contact> {
            guard
                .read::<Contact>(c)
                .expect("read")
                .load::<Contact>(c)
                .expect("load")
        };
        let plain = &guards[0].1;
        let expected = read(plain, &mut conn);
        assert_eq!(expected.len(), 300, "{backend}: 300 visible");
        let mut group = c.benchmark_group(format!("W11 deny and columns/read {backend}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(3));
        for (label, guard) in &guards {
            assert_eq!(
                read(guard, &mut conn),
                expected,
                "{backend} {label}: the same rows"
            );
            if *label != "plain" {
                let paired = paired_ratio(
                    &mut conn,
                    |c| {
                        black_box(read(guard, c));
                    },
                    |c| {
                        black_box(read(plain, c));
                    },
                );
                eprintln!("W11 paired read {backend} [{label}]: / plain rules {paired}");
            }
            group.bench_function(BenchmarkId::new("rowguard read", label), |b| {
                b.iter(|| black_box(read(guard, &mut conn)))
            });
        }
        group.finish();
    }
    // W3's check: the 3-role policy, plus one more role's row carrying the addition.
    if !wanted(&["W11 deny and columns/update check"]) {
        return;
    }
    let Some(Policy {
        db: _db,
        mut conn,
        auth,
        guard: plain,
    }) = policy()
    else {
        return;
    };
    let mut row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
    row.owner_id = 17;
    row.status = "open".into();
    let mut group = c.benchmark_group("W11 deny and columns/update check");
    for (v, (label, extra)) in variants.iter().enumerate() {
        let guard = match extra {
            None => plain.clone(),
            Some(extra) => {
                let role = format!("w11_check_{v}");
                store::put_rule(
                    &mut conn,
                    "roles",
                    &role,
                    "contacts",
                    &format!("{{{extra}}}"),
                )
                .expect("rule");
                auth.invalidate();
                auth.guard(
                    Subject::new()
                        .with_set("roles", ["r1", "r2", "r3", role.as_str()])
                        .with_attribute("id", 17),
                )
            }
        };
        assert!(
            guard.can(&mut conn, Right::Update, &row).expect("can"),
            "{label}"
        );
        if extra.is_some() {
            let paired = paired_ratio(
                &mut conn,
                |c| {
                    black_box(guard.can(c, Right::Update, black_box(&row)).expect("can"));
                },
                |c| {
                    black_box(plain.can(c, Right::Update, black_box(&row)).expect("can"));
                },
            );
            eprintln!("W11 paired update check [{label}]: / plain rules {paired}");
        }
        group.bench_function(BenchmarkId::new("rowguard can", label), |b| {
            b.iter(|| {
                black_box(
                    guard
                        .can(&mut conn, Right::Update, black_box(&row))
                        .expect("can"),
                )
            })
        });
    }
    group.finish();
}

/// W12: the decision log's cost. W3's checks and W7's update with `[decision_log]` at
/// "denials" (writer running, on the same database) against the same calls with the log off,
/// in the same run: criterion medians and a paired ratio (batches of calls alternating).
fn w12_decision_log(c: &mut Criterion) {
    if !wanted(&[
        "W12 decision log",
        "rowguard can",
        "rowguard update",
        "denials logged",
    ]) {
        return;
    }
    let logged_config = || {
        let mut config = Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        };
        config.decision_log.apply_spec("denials").expect("spec");
        config
    };
    // W3: in memory, the 3-role policy.
    if let Some(Policy {
        db,
        mut conn,
        guard,
        ..
    }) = policy()
    {
        let logging = Authorizer::new(logged_config());
        assert!(logging.log_decisions(db.url()).expect("log"));
        let logged = logging.guard(guard.subject().clone());
        let mut row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
        row.owner_id = 17;
        row.status = "open".into();
        // Sanity: the same answers; a denial is recorded, an allowed check is not.
        for right in [Right::Create, Right::Update, Right::Delete] {
            assert_eq!(
                guard.can(&mut conn, right, &row).expect("can"),
                logged.can(&mut conn, right, &row).expect("can")
            );
        }
        logging.flush_decisions().expect("flush");
        let recorded = rowguard::decisions::decisions(
            &mut conn,
            &rowguard::decisions::DecisionQuery::default(),
        )
        .expect("decisions");
        assert_eq!(recorded.len(), 1, "one denial recorded, no allowed check");
        assert_eq!(recorded[0].action, "delete");
        let mut group = c.benchmark_group("W12 decision log/W3 check");
        for (label, right) in [
            ("create (plain)", Right::Create),
            ("update (row condition)", Right::Update),
            ("delete (deny)", Right::Delete),
        ] {
            let batch = |g: &rowguard::Guard, conn: &mut AnyConnection| {
                for _ in 0..1_000 {
                    black_box(g.can(conn, right, black_box(&row)).expect("can"));
                }
            };
            let paired = paired_ratio(&mut conn, |c| batch(&logged, c), |c| batch(&guard, c));
            eprintln!("W12 W3 {label}: denials logged / log off, paired batches of 1000: {paired}");
            group.bench_function(BenchmarkId::new("rowguard can, log off", label), |b| {
                b.iter(|| black_box(guard.can(&mut conn, right, black_box(&row)).expect("can")))
            });
            group.bench_function(
                BenchmarkId::new("rowguard can, denials logged", label),
                |b| {
                    b.iter(|| {
                        black_box(logged.can(&mut conn, right, black_box(&row)).expect("can"))
                    })
                },
            );
        }
        group.finish();
        // Every record kept: the writer takes them (untimed) before each 1,000 calls, so the
        // thread's buffer never overflows (above, it mostly does: millions of denials a second
        // are more than any database takes, and the overflow path is the cheaper one).
        let mut group = c.benchmark_group("W12 decision log/W3 check, every record kept");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1));
        group.bench_function("rowguard can, denials logged/delete (deny)", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    logging.flush_decisions().expect("flush");
                    let n = left.min(1_000);
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(
                            logged
                                .can(&mut conn, Right::Delete, black_box(&row))
                                .expect("can"),
                        );
                    }
                    spent += start.elapsed();
                    left -= n;
                }
                spent
            })
        });
        group.finish();
        logging.flush_decisions().expect("flush");
    }
    // W7: the guarded UPDATE on every backend.
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, 1_000).expect("rows");
        let off = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        off.register::<Contact>(&mut conn).expect("register");
        store::put_rule(
            &mut conn,
            "roles",
            "r",
            "contacts",
            r#"{"read":"*","update":{"search":{"owner_id":"=$subject.id"}}}"#,
        )
        .expect("rule");
        let logging = Authorizer::new(logged_config());
        assert!(logging.log_decisions(db.url()).expect("log"));
        let subject = Subject::new()
            .with_set("roles", ["r"])
            .with_attribute("id", 7);
        let (plain_guard, logged) = (off.guard(subject.clone()), logging.guard(subject));
        let mine: Contact = contacts::table.find(7i64).first(&mut conn).expect("row");
        let (mut a, mut b) = (mine.clone(), mine.clone());
        let paired = paired_ratio(
            &mut conn,
            |c| {
                a.score += 1;
                logged.update(c, &a).expect("update");
            },
            |c| {
                b.score += 1;
                plain_guard.update(c, &b).expect("update");
            },
        );
        eprintln!("W12 W7 {backend}: denials logged / log off, paired: {paired}");
        // A refused update (another owner's row): refused alike, recorded by one of them.
        let theirs: Contact = contacts::table.find(8i64).first(&mut conn).expect("row");
        let refused = |g: &rowguard::Guard, c: &mut AnyConnection| {
            assert!(g.update(c, &theirs).is_err());
        };
        let paired = paired_ratio(
            &mut conn,
            |c| refused(&logged, c),
            |c| refused(&plain_guard, c),
        );
        eprintln!("W12 W7 {backend} refused: denials logged / log off, paired: {paired}");
        logging.flush_decisions().expect("flush");
        let mut group = c.benchmark_group(format!("W12 decision log/W7 update/{backend}"));
        let mut row = mine.clone();
        group.bench_function("rowguard update, log off", |bench| {
            bench.iter(|| {
                row.score += 1;
                plain_guard.update(&mut conn, &row).expect("update")
            })
        });
        group.bench_function("rowguard update, denials logged", |bench| {
            bench.iter(|| {
                row.score += 1;
                logged.update(&mut conn, &row).expect("update")
            })
        });
        group.bench_function("rowguard refused update, log off", |bench| {
            bench.iter(|| refused(&plain_guard, &mut conn))
        });
        group.bench_function("rowguard refused update, denials logged", |bench| {
            bench.iter(|| refused(&logged, &mut conn))
        });
        group.finish();
    }
}

/// One request of W13's mix: three reads of the subject's rows and one update of one of them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Contender {
    HandWritten,
    Rowguard,
    RlsDeployed,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::HandWritten => "hand-written diesel",
            Contender::Rowguard => "rowguard",
            Contender::RlsDeployed => "RLS as deployed",
        }
    }
}

/// W13: throughput under concurrency. 8 threads share a pool of 8 connections; each request
/// reads the subject's rows three times and updates one of them; requests per second over a
/// fixed time, for rowguard (a guard per request, as a service builds one), the same requests
/// hand-written (the owner filter in each query) and, on PostgreSQL, row-level security as
/// deployed (one transaction per request: BEGIN; SET LOCAL; the four statements; COMMIT).
/// Rounds alternate the contenders so the machine's drift reaches each alike.
fn w13_throughput(_c: &mut Criterion) {
    if !wanted(&["W13 throughput"]) {
        return;
    }
    const THREADS: usize = 8;
    for backend in [Backend::Postgres, Backend::Mysql] {
        let Some(db) = require(backend) else { continue };
        let mut conn = db.connect().expect("connect");
        let rows = if quick() { 10_000 } else { 200_000 };
        app::fill_bulk(&mut conn, rows).expect("rows");
        let options = || rowguard::PoolOptions {
            max_size: THREADS as u32,
            ..rowguard::PoolOptions::default()
        };
        let rls_pool = (backend == Backend::Postgres).then(|| {
            conn.batch_execute(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_bench') THEN CREATE ROLE rowguard_bench LOGIN; END IF; END $$;
                 GRANT SELECT, UPDATE ON contacts TO rowguard_bench;
                 ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY owner_rw ON contacts USING (owner_id = current_setting('rowguard.owner', true)::bigint);",
            )
            .expect("rls");
            let url = db
                .url()
                .target()
                .replacen("postgres://postgres@", "postgres://rowguard_bench@", 1);
            let url = rowguard::DatabaseUrl::parse(&url).expect("url");
            rowguard::connect_pool(&url, options()).expect("rls pool")
        });
        let pool = rowguard::connect_pool(db.url(), options()).expect("pool");
        let auth = Authorizer::new(Config {
            refresh_interval_ms: 600_000,
            ..Config::default()
        });
        auth.register::<Contact>(&mut conn).expect("register");
        store::put_rule(
            &mut conn,
            "roles",
            "owner",
            "contacts",
            r#"{"read":{"search":{"owner_id":"=$subject.id"}},"update":{"search":{"owner_id":"=$subject.id"}}}"#,
        )
        .expect("rule");
        auth.invalidate();
        let subject = |owner: i64| {
            Subject::new()
                .with_set("roles", ["owner"])
                .with_attribute("id", owner)
        };

        // One request; returns the rows it read (for the agreement check).
        let request = |who: Contender, owner: i64| -> Vec<Contact> {
            let read_and_update =
                |c: &mut AnyConnection,
                 read: &dyn Fn(&mut AnyConnection) -> Vec<Contact>,
                 update: &dyn Fn(&mut AnyConnection, &Contact)| {
                    let mut seen = Vec::new();
                    for _ in 0..3 {
                        seen = read(c);
                    }
                    let mut row = seen[0].clone();
                    row.score += 1;
                    update(c, &row);
                    seen
                };
            match who {
                Contender::HandWritten => {
                    let mut c = pool.get().expect("checkout");
                    read_and_update(
                        &mut c,
                        &|c| {
                            contacts::table
                                .filter(contacts::owner_id.eq(owner))
                                .order(contacts::id)
                                .load::<Contact>(c)
                                .expect("read")
                        },
                        &|c, row| {
                            let n = diesel::update(
                                contacts::table
                                    .find(row.id)
                                    .filter(contacts::owner_id.eq(owner)),
                            )
                            .set(row)
                            .execute(c)
                            .expect("update");
                            assert_eq!(n, 1);
                        },
                    )
                }
                Contender::Rowguard => {
                    let guard = auth.guard(subject(owner));
                    let mut c = pool.get().expect("checkout");
                    read_and_update(
                        &mut c,
                        &|c| {
                            guard
                                .read::<Contact>(c)
                                .expect("read")
                                .order(contacts::id)
                                .load::<Contact>(c)
                                .expect("load")
                        },
                        &|c, row| guard.update(c, row).expect("update"),
                    )
                }
                Contender::RlsDeployed => {
                    let rls = rls_pool.as_ref().expect("RLS on PostgreSQL");
                    let mut c = rls.get().expect("checkout");
                    c.transaction(|c| {
                        diesel::sql_query(format!("SET LOCAL rowguard.owner = '{owner}'"))
                            .execute(c)?;
                        Ok::<_, diesel::result::Error>(read_and_update(
                            c,
                            &|c| {
                                contacts::table
                                    .order(contacts::id)
                                    .load::<Contact>(c)
                                    .expect("read")
                            },
                            &|c, row| {
                                let n = diesel::update(contacts::table.find(row.id))
                                    .set(row)
                                    .execute(c)
                                    .expect("update");
                                assert_eq!(n, 1);
                            },
                        ))
                    })
                    .expect("rls request")
                }
            }
        };
        let contenders: Vec<Contender> = if rls_pool.is_some() {
            vec![
                Contender::HandWritten,
                Contender::Rowguard,
                Contender::RlsDeployed,
            ]
        } else {
            vec![Contender::HandWritten, Contender::Rowguard]
        };
        // Agreement: every contender reads the same rows for an owner.
        let strip = |rows: Vec<Contact>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let expected = strip(request(Contender::HandWritten, 10));
        // owner_id is the id modulo 100,000.
        assert_eq!(expected.len() as i64, (rows / 100_000).max(1));
        for &who in &contenders {
            assert_eq!(strip(request(who, 10)), expected, "{}", who.name());
        }

        let seconds = if quick() { 0.2 } else { 5.0 };
        let rounds = if quick() { 1 } else { 5 };
        let run = |who: Contender| -> f64 {
            let done = AtomicUsize::new(0);
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            std::thread::scope(|scope| {
                for t in 0..THREADS {
                    let (done, request) = (&done, &request);
                    scope.spawn(move || {
                        let owner = 10 + t as i64;
                        while Instant::now() < deadline {
                            black_box(request(who, owner));
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            });
            done.load(Ordering::Relaxed) as f64 / seconds
        };
        let mut per_round: Vec<Vec<f64>> = Vec::new();
        for round in 0..rounds {
            let mut rates = vec![0.0; contenders.len()];
            // A different contender first in each round.
            for k in 0..contenders.len() {
                let i = (round + k) % contenders.len();
                rates[i] = run(contenders[i]);
            }
            per_round.push(rates);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for (i, who) in contenders.iter().enumerate() {
            let rate = median(per_round.iter().map(|r| r[i]).collect());
            eprintln!(
                "W13 throughput {backend}, {THREADS} threads, pool of {THREADS}: {}: {rate:.0} requests/s (median of {rounds} rounds of {seconds} s)",
                who.name()
            );
        }
        let ratio = |a: usize, b: usize| median(per_round.iter().map(|r| r[a] / r[b]).collect());
        eprintln!(
            "W13 throughput {backend}: rowguard / hand-written {:.3} (per round: {})",
            ratio(1, 0),
            per_round
                .iter()
                .map(|r| format!("{:.3}", r[1] / r[0]))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if contenders.len() == 3 {
            eprintln!(
                "W13 throughput {backend}: rowguard / RLS as deployed {:.2} (per round: {})",
                ratio(1, 2),
                per_round
                    .iter()
                    .map(|r| format!("{:.2}", r[1] / r[2]))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}

/// W14: cost curves, each against its hand-written baseline in the same group, for
/// `scripts/bench_charts.py` to draw (criterion's estimates under `target/criterion/W14 …`):
/// a read and an in-memory update check vs the subject's roles (1 → 1,000, SQLite); a read vs
/// conditions ORed in one rule (1 → 100, SQLite); a read vs the length of an id list
/// (1 → 100,000, PostgreSQL); a read of three owners' rows vs rows in the table
/// (10k → 10M, PostgreSQL).
fn w14_curves(c: &mut Criterion) {
    if !wanted(&["W14 curve"]) {
        return;
    }
    let quick_or = |full: Vec<i64>, small: Vec<i64>| if quick() { small } else { full };
    let config = || Config {
        refresh_interval_ms: 600_000,
        ..Config::default()
    };
    let tune = |group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30);
    };

    // Roles and conditions: SQLite, 100,000 rows, one owner per row.
    if let Some(db) = require(Backend::Sqlite) {
        let mut conn = db.connect().expect("connect");
        app::fill_bulk(&mut conn, 100_000).expect("rows");
        let auth = Authorizer::new(config());
        auth.register::<Contact>(&mut conn).expect("register");
        let most = *quick_or(vec![1_000], vec![10]).last().expect("size");
        conn.transaction(|conn| {
            for i in 1..=most {
                store::put_rule(
                    conn,
                    "roles",
                    &format!("r{i}"),
                    "contacts",
                    &format!(
                        r#"{{"read":{{"search":{{"owner_id":"={i}"}}}},"update":{{"search":{{"owner_id":"={i}"}}}}}}"#
                    ),
                )?;
            }
            Ok::<_, rowguard::Error>(())
        })
        .expect("rules");
        auth.invalidate();
        let sizes = quick_or(vec![1, 10, 100, 1_000], vec![1, 10]);
        let mut read = c.benchmark_group("W14 curve roles, read/SQLite");
        tune(&mut read);
        for &n in &sizes {
            let guard =
                auth.guard(Subject::new().with_set("roles", (1..=n).map(|i| format!("r{i}"))));
            let owners: Vec<i64> = (1..=n).collect();
            let hand = |c: &mut AnyConnection| {
                contacts::table
                    .filter(contacts::owner_id.eq_any(&owners))
                    .load::<Contact>(c)
                    .expect("hand")
            };
            let ours = |c: &mut AnyConnection| {
                guard
                    .read::<Contact>(c)
                    .expect("read")
                    .load::<Contact>(c)
                    .expect("load")
            };
            let (mut a, mut b) = (hand(&mut conn), ours(&mut conn));
            a.sort_by_key(|r| r.id);
            b.sort_by_key(|r| r.id);
            assert_eq!(a, b, "{n} roles: the same rows");
            assert_eq!(a.len() as i64, n);
            read.bench_function(BenchmarkId::new("hand-written diesel", n), |bch| {
                bch.iter(|| black_box(hand(&mut conn)))
            });
            read.bench_function(BenchmarkId::new("rowguard", n), |bch| {
                bch.iter(|| black_box(ours(&mut conn)))
            });
        }
        read.finish();
        let mut check = c.benchmark_group("W14 curve roles, update check/in memory");
        tune(&mut check);
        let row: Contact = contacts::table.find(1i64).first(&mut conn).expect("row");
        for &n in &sizes {
            let guard =
                auth.guard(Subject::new().with_set("roles", (1..=n).map(|i| format!("r{i}"))));
            // Owned by the last role: the merged list is searched to its end.
            let mut mine = row.clone();
            mine.owner_id = n;
            let owners: std::collections::HashSet<i64> = (1..=n).collect();
            assert!(guard.can(&mut conn, Right::Update, &mine).expect("can"));
            check.bench_function(
                BenchmarkId::new("hand-written (HashSet of owners)", n),
                |bch| bch.iter(|| black_box(owners.contains(&black_box(&mine).owner_id))),
            );
            check.bench_function(BenchmarkId::new("rowguard", n), |bch| {
                bch.iter(|| {
                    guard
                        .can(&mut conn, Right::Update, black_box(&mine))
                        .expect("can")
                })
            });
        }
        check.finish();

        // Conditions ORed in one rule: N disjoint id ranges of one row each.
        let mut group = c.benchmark_group("W14 curve conditions, read/SQLite");
        tune(&mut group);
        for n in quick_or(vec![1, 10, 100], vec![1, 10]) {
            let starts: Vec<i64> = (0..n).map(|k| 1 + k * 97).collect();
            let search = starts
                .iter()
                .map(|a| format!("<>{a};{a}"))
                .collect::<Vec<_>>()
                .join(" || ");
            let value = format!("c{n}");
            store::put_rule(
                &mut conn,
                "roles",
                &value,
                "contacts",
                &format!(r#"{{"read":{{"search":{{"id":"{search}"}}}}}}"#),
            )
            .expect("rule");
            auth.invalidate();
            let guard = auth.guard(Subject::new().with_set("roles", [value.as_str()]));
            let hand = |c: &mut AnyConnection| {
                let mut q = contacts::table
                    .into_boxed()
                    .filter(contacts::id.between(starts[0], starts[0]));
                for &a in &starts[1..] {
                    q = q.or_filter(contacts::id.between(a, a));
                }
                q.load::<Contact>(c).expect("hand")
            };
            let ours = |c: &mut AnyConnection| {
                guard
                    .read::<Contact>(c)
                    .expect("read")
                    .load::<Contact>(c)
                    .expect("load")
            };
            let (mut a, mut b) = (hand(&mut conn), ours(&mut conn));
            a.sort_by_key(|r| r.id);
            b.sort_by_key(|r| r.id);
            assert_eq!(a, b, "{n} conditions: the same rows");
            assert_eq!(a.len() as i64, n);
            group.bench_function(BenchmarkId::new("hand-written diesel", n), |bch| {
                bch.iter(|| black_box(hand(&mut conn)))
            });
            group.bench_function(BenchmarkId::new("rowguard", n), |bch| {
                bch.iter(|| black_box(ours(&mut conn)))
            });
        }
        group.finish();
    }

    // Lists and rows: PostgreSQL.
    let Some(db) = require(Backend::Postgres) else {
        return;
    };
    let mut conn = db.connect().expect("connect");
    let sizes = quick_or(vec![10_000, 100_000, 1_000_000, 10_000_000], vec![10_000]);
    app::fill_bulk(&mut conn, sizes[0]).expect("rows");
    let auth = Authorizer::new(config());
    auth.register::<Contact>(&mut conn).expect("register");
    store::put_rule(
        &mut conn,
        "roles",
        "three",
        "contacts",
        r#"{"read":{"search":{"owner_id":"=1;2;3"}}}"#,
    )
    .expect("rule");
    auth.invalidate();
    let guard = auth.guard(Subject::new().with_set("roles", ["three"]));
    let mut group = c.benchmark_group("W14 curve table rows, read of 3 owners/PostgreSQL");
    tune(&mut group);
    let mut filled = sizes[0];
    for &n in &sizes {
        if n > filled {
            conn.batch_execute(&format!(
                "INSERT INTO contacts SELECT x, 'contact ' || x, NULL, 'open', 1, x % 100000, \
                 (x % 100)::int, TIMESTAMP '2026-11-01 00:00:00' FROM generate_series({}, {n}) AS x; \
                 ANALYZE contacts;",
                filled + 1
            ))
            .expect("more rows");
            filled = n;
        }
        let hand = |c: &mut AnyConnection| {
            contacts::table
                .filter(contacts::owner_id.eq_any([1i64, 2, 3]))
                .load::<Contact>(c)
                .expect("hand")
        };
        let ours = |c: &mut AnyConnection| {
            guard
                .read::<Contact>(c)
                .expect("read")
                .load::<Contact>(c)
                .expect("load")
        };
        // owner_id is the id modulo 100,000.
        assert_eq!(hand(&mut conn).len() as i64, 3 * (n / 100_000).max(1));
        assert_eq!(hand(&mut conn).len(), ours(&mut conn).len(), "{n} rows");
        group.bench_function(BenchmarkId::new("hand-written diesel", n), |bch| {
            bch.iter(|| black_box(hand(&mut conn)))
        });
        group.bench_function(BenchmarkId::new("rowguard", n), |bch| {
            bch.iter(|| black_box(ours(&mut conn)))
        });
    }
    group.finish();

    // On the largest table: an id list of the rule's length.
    let mut group = c.benchmark_group("W14 curve list length, read/PostgreSQL");
    tune(&mut group);
    for n in quick_or(vec![1, 10, 100, 1_000, 10_000, 100_000], vec![1, 100]) {
        let ids: Vec<i64> = (1..=n).collect();
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(";");
        let value = format!("l{n}");
        store::put_rule(
            &mut conn,
            "roles",
            &value,
            "contacts",
            &format!(r#"{{"read":{{"search":{{"id":"={list}"}}}}}}"#),
        )
        .expect("rule");
        auth.invalidate();
        let guard = auth.guard(Subject::new().with_set("roles", [value.as_str()]));
        let hand = |c: &mut AnyConnection| {
            contacts::table
                .filter(contacts::id.eq_any(&ids))
                .load::<Contact>(c)
                .expect("hand")
        };
        let ours = |c: &mut AnyConnection| {
            guard
                .read::<Contact>(c)
                .expect("read")
                .load::<Contact>(c)
                .expect("load")
        };
        assert_eq!(hand(&mut conn).len() as i64, n, "list of {n}");
        assert_eq!(hand(&mut conn).len(), ours(&mut conn).len(), "list of {n}");
        group.bench_function(BenchmarkId::new("hand-written diesel", n), |bch| {
            bch.iter(|| black_box(hand(&mut conn)))
        });
        group.bench_function(BenchmarkId::new("rowguard", n), |bch| {
            bch.iter(|| black_box(ours(&mut conn)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    w1_matrix,
    w3_write_check,
    w15_policy,
    w16_statement_read,
    w5_scaling,
    w4_cache_threads,
    w2_client_cpu,
    w7_update,
    w1_rls,
    w8_sync,
    w9_relations,
    w10_long_lists,
    w11_deny_and_columns,
    w12_decision_log,
    w13_throughput,
    w14_curves
);
criterion_main!(benches);
