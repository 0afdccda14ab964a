//! Rule-language costs: parse + validate a typical rule, evaluate one row, and merge +
//! render the rules of a subject with 1, 10 and 1,000 roles.
//!
//! `cargo bench --bench rules` (results in BENCHMARKS.md); `-- --test` runs each once.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rowguard::rules::{
    compile_document, merge, Attributes, ColumnType, Columns, CompiledRules, Right, SqlFilter,
    Value,
};

const TYPICAL: &str = r#"{"create":"*",
  "read":{"search":{"||":{"owner_id":"=$subject.id","status":"=open;pend%;!pending_review"}}},
  "update":{"search":{"owner_id":"=$subject.id","score":"<>10;90"}}}"#;

fn columns() -> Columns {
    Columns::new([
        ("id", ColumnType::Bigint),
        ("owner_id", ColumnType::Bigint),
        ("status", ColumnType::Text),
        ("score", ColumnType::Integer),
    ])
    .expect("columns")
}

fn parse_validate(c: &mut Criterion) {
    let cols = columns();
    c.bench_function("rules/parse+validate typical rule", |b| {
        b.iter(|| compile_document(black_box(TYPICAL), &cols).expect("valid"))
    });
}

fn evaluate(c: &mut Criterion) {
    let cols = columns();
    let rules = compile_document(TYPICAL, &cols).expect("valid");
    let attrs = Attributes::new().with("id", 17);
    let read = rules.filter(Right::Read).expect("read").resolve(&attrs);
    let update = rules.filter(Right::Update).expect("update").resolve(&attrs);
    let row = vec![
        Value::Int(5),
        Value::Int(17),
        Value::from("pending"),
        Value::Int(50),
    ];
    let mut group = c.benchmark_group("rules/eval per row");
    group.bench_function("read (OR of id, = list, pattern)", |b| {
        b.iter(|| black_box(&read).matches(black_box(row.as_slice())))
    });
    group.bench_function("update (= and between)", |b| {
        b.iter(|| black_box(&update).matches(black_box(row.as_slice())))
    });
    group.finish();
}

fn merge_render(c: &mut Criterion) {
    let cols = columns();
    let mut group = c.benchmark_group("rules/merge+render");
    for roles in [1usize, 10, 1000] {
        let compiled: Vec<CompiledRules> = (0..roles)
            .map(|r| {
                let ids: Vec<String> = (0..3).map(|i| (r * 3 + i).to_string()).collect();
                let doc = format!(
                    r#"{{"read":{{"search":{{"||":{{"id":"={}","status":"=team{r}"}}}}}}}}"#,
                    ids.join(";")
                );
                compile_document(&doc, &cols).expect("valid")
            })
            .collect();
        group.bench_with_input(
            BenchmarkId::from_parameter(roles),
            &compiled,
            |b, compiled| {
                b.iter(|| {
                    let merged = merge(compiled.iter().filter_map(|r| r.access(Right::Read)));
                    let sql = SqlFilter::new(Some("contacts"), merged.to_filter());
                    diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, parse_validate, evaluate, merge_render);
criterion_main!(benches);
