//! The rule language as SQL on every backend: fixed cases with known answers, SQL and the
//! in-memory evaluator agreeing on each, and injection attempts staying inert.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use rowguard::rules::{
    compile_document, escape_value, ColumnType, Filter, Operand, Right, Test, TestKind, Value,
};
use rowguard::testing::TestDatabase;
use rowguard::Backend;

use crate::samples::{self, COLUMNS};

rowguard::backend_tests!(
    fixed_cases_match_sql_and_memory,
    injection_attempts_are_inert,
    long_lists_match_and_cache_as_designed,
    lists_of_100000_values_of_every_type,
);

const TEXTS: [&str; 14] = [
    "Ann",
    "ann",
    "Ann ",
    "ANN",
    "pending_review",
    "pending",
    "50%",
    "a_c",
    "abc",
    "",
    "O'Brien",
    "日本",
    "é",
    "back\\slash",
];

/// Rows 1..=14; row 10 is NULL in every column but `id`.
fn rows() -> Vec<Vec<Value>> {
    (1..=14i64)
        .map(|id| {
            if id == 10 {
                let mut row = vec![Value::Null; COLUMNS.len()];
                row[0] = Value::Int(id);
                return row;
            }
            let texts = [
                id.to_string(),
                id.to_string(),
                (id * 10).to_string(),
                (id as f64 / 2.0).to_string(),
                TEXTS[id as usize - 1].to_string(),
                (id % 2 == 1).to_string(),
                format!("2000-01-{id:02}"),
                format!("2024-01-01 00:00:{id:02}"),
                format!("00000000-0000-0000-0000-0000000000{id:02}"),
            ];
            COLUMNS
                .iter()
                .zip(texts)
                .map(|((_, ty), text)| Value::parse(*ty, &text).expect("sample value"))
                .collect()
        })
        .collect()
}

fn read_filter(column: &str, expr: &str) -> Filter {
    let doc = serde_json::json!({ "read": { "search": { column: expr } } }).to_string();
    compile_document(&doc, &samples::columns())
        .unwrap_or_else(|e| panic!("{doc}: {e}"))
        .filter(Right::Read)
        .expect("read right")
}

fn setup(db: &TestDatabase) -> (rowguard::AnyConnection, Vec<Vec<Value>>) {
    let mut conn = db.connect().expect("connect");
    samples::create_table(&mut conn);
    let rows = rows();
    samples::insert(&mut conn, &rows).expect("insert samples");
    (conn, rows)
}

fn fixed_cases_match_sql_and_memory(db: &TestDatabase) {
    let (mut conn, rows) = setup(db);
    let cases: &[(&str, &str, &[i64])] = &[
        ("t", "=Ann", &[1]),
        ("t", "=ann", &[2]),
        ("t", "=Ann\\ ", &[3]),
        ("t", "starts_with A", &[1, 3, 4]),
        ("t", "contains nn", &[1, 2, 3]),
        ("t", "ends_with \\ ", &[3]),
        ("t", "=pend%;!pending_review", &[6]),
        ("t", "=50\\%", &[7]),
        ("t", "=a_c", &[8]),
        ("t", "=a%c", &[8, 9]),
        ("t", "<a", &[1, 3, 4, 7, 11]),
        ("t", "=null", &[10]),
        ("t", "=!null", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]),
        ("t", "=O'Brien", &[11]),
        ("t", "=日本;é", &[12, 13]),
        ("t", ">z", &[12, 13]),
        ("t", "=back\\\\slash", &[14]),
        ("t", "=%", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]),
        ("i", "<>2;3", &[2, 3]),
        ("i", "!<>2;12", &[1, 13, 14]),
        ("i", "=!2", &[1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]),
        ("i", "!=1;2", &[3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]),
        ("i", "<3 || >12 && <14", &[1, 2, 13]),
        ("b", ">=120", &[12, 13, 14]),
        ("f", "=0.5;7", &[1, 14]),
        ("flag", "=false", &[2, 4, 6, 8, 12, 14]),
        ("d", "<2000-01-03", &[1, 2]),
        ("ts", ">2024-01-01 00:00:12.5", &[13, 14]),
        ("u", "=00000000-0000-0000-0000-000000000003", &[3]),
        ("u", "=00000000-0000-0000-0000-00000000000A;!null", &[]),
    ];
    for (column, expr, expected) in cases {
        let filter = read_filter(column, expr);
        let sql = samples::select_ids(&mut conn, &filter)
            .unwrap_or_else(|e| panic!("{column} {expr}: {e}"));
        assert_eq!(&sql, expected, "SQL for {column} {expr:?} ({filter})");
        assert_eq!(
            samples::matching_ids(&rows, &filter),
            *expected,
            "memory for {column} {expr:?}"
        );
    }
    // A NULL comparison is NULL: neither the row nor its negation passes.
    let lt = read_filter("i", "<5");
    let not_lt = read_filter("i", "!=1;2;3;4");
    let both: Vec<i64> = [
        samples::select_ids(&mut conn, &lt).unwrap(),
        samples::select_ids(&mut conn, &not_lt).unwrap(),
    ]
    .concat();
    assert!(!both.contains(&10));
}

fn injection_attempts_are_inert(db: &TestDatabase) {
    let (mut conn, _) = setup(db);
    let nasty = [
        "' OR 1=1 --",
        "\"; DROP TABLE samples; --",
        "`; DROP TABLE samples; --",
        "x') OR ('1'='1",
        "\\'; DELETE FROM samples; --",
        "Ann' OR t LIKE '%",
    ];
    for text in nasty {
        for expr in [
            format!("={}", escape_value(text)),
            format!("contains {}", escape_value(text)),
            format!("<>{};{}", escape_value(text), escape_value(text)),
        ] {
            let filter = read_filter("t", &expr);
            assert_eq!(
                samples::select_ids(&mut conn, &filter).unwrap(),
                Vec::<i64>::new(),
                "{expr}"
            );
        }
    }
    // Unescaped, the same text is still only values (split at `;`), never SQL.
    let filter = read_filter("t", "=x'; DROP TABLE samples; --");
    assert!(samples::select_ids(&mut conn, &filter).unwrap().is_empty());
    // A hostile table name is quoted as one identifier: the query fails, nothing runs.
    let hostile = rowguard::rules::SqlFilter::new(
        Some("samples\" WHERE 1=1; DROP TABLE samples; --"),
        read_filter("t", "=Ann"),
    );
    let err = samples::samples::table
        .select(samples::samples::id)
        .filter(hostile)
        .load::<i64>(&mut conn);
    assert!(err.is_err());
    // A hostile column name never becomes a column.
    assert!(rowguard::rules::Columns::new([("t; DROP TABLE samples", ColumnType::Text)]).is_err());
    let count: i64 = samples::samples::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(count, 14, "samples intact");
}

/// Counts the statements Diesel adds to its prepared-statement cache.
struct CountCached(Arc<AtomicUsize>);

impl Instrumentation for CountCached {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::CacheQuery { .. }) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Lists of up to 1,000 values (PostgreSQL: one array bind) select what the evaluator
/// accepts, hostile text included; and on PostgreSQL every list length shares one cached
/// statement, where the `IN (?, …)` form caches one per length up to 64 values.
fn long_lists_match_and_cache_as_designed(db: &TestDatabase) {
    let (mut conn, rows) = setup(db);
    let ids = |n: i64| -> String {
        // Every tenth value is a row's `b` (10, 20, …, 140); the rest match nothing.
        let values: Vec<String> = (1..=n).map(|k| (k * 7 + 3).to_string()).collect();
        let mut values = values;
        values.extend((1..=14).map(|k| (k * 10).to_string()));
        values.join(";")
    };
    let texts: Vec<String> = (0..300)
        .map(|k| escape_value(&format!("' OR 1=1 -- {k}")))
        .chain(["Ann", "O'Brien", "日本", "back\\\\slash"].map(String::from))
        .collect();
    let cases: Vec<(&str, String, Vec<i64>)> = vec![
        (
            "b",
            format!("={}", ids(1_000)),
            (1..=14).filter(|&k| k != 10).collect(),
        ),
        ("b", format!("!={}", ids(1_000)), vec![]),
        ("t", format!("={}", texts.join(";")), vec![1, 11, 12, 14]),
        (
            "t",
            format!("!={}", texts.join(";")),
            vec![2, 3, 4, 5, 6, 7, 8, 9, 13],
        ),
        (
            "f",
            format!(
                "={}",
                (0..200)
                    .map(|k| format!("{}.5", k))
                    .collect::<Vec<_>>()
                    .join(";")
            ),
            vec![1, 3, 5, 7, 9, 11, 13],
        ),
        (
            "u",
            format!(
                "={}",
                (0..150)
                    .map(|k| format!("00000000-0000-0000-0000-{:012X}", k * 2))
                    .collect::<Vec<_>>()
                    .join(";")
            ),
            vec![2, 4, 6, 8, 12, 14],
        ),
    ];
    for (column, expr, expected) in &cases {
        let filter = read_filter(column, expr);
        let sql = samples::select_ids(&mut conn, &filter)
            .unwrap_or_else(|e| panic!("{column} list: {e}"));
        assert_eq!(&sql, expected, "SQL for the {column} list");
        assert_eq!(
            &samples::matching_ids(&rows, &filter),
            expected,
            "memory for {column}"
        );
    }

    let cached = Arc::new(AtomicUsize::new(0));
    conn.set_instrumentation(CountCached(cached.clone()));
    for n in [2, 3, 10] {
        let list: Vec<String> = (1..=n).map(|k| k.to_string()).collect();
        samples::select_ids(
            &mut conn,
            &read_filter("i", &format!("={}", list.join(";"))),
        )
        .expect("short list");
    }
    let short = cached.swap(0, Ordering::SeqCst);
    for n in [100, 1_000] {
        samples::select_ids(&mut conn, &read_filter("i", &format!("={}", ids(n))))
            .expect("long list");
    }
    let long = cached.load(Ordering::SeqCst);
    if db.backend() == Backend::Postgres {
        assert_eq!(
            (short, long),
            (1, 0),
            "one array statement for every length"
        );
    } else {
        // 100 values: an IN list past 64, not cached; 1,014 values: past LONG_LIST, one JSON
        // bind, whose single statement is cached.
        assert_eq!(
            (short, long),
            (3, 1),
            "IN lists: one statement per length, none past 64; JSON lists: one statement"
        );
    }
}

/// A filler value of `ty` that no sample row holds (the `k`th of its kind).
fn filler(ty: ColumnType, k: i64) -> Value {
    let day =
        chrono::NaiveDate::from_ymd_opt(1800, 1, 1).unwrap() + chrono::Duration::days(k % 40_000);
    match ty {
        ColumnType::Integer => Value::Int(1_000_000 + k),
        ColumnType::Bigint => Value::Int(-9_000_000_000 - k),
        ColumnType::Float => Value::Float(1e9 + k as f64 + 0.25),
        ColumnType::Text => Value::Text(format!("filler '{k}\" ; -- %_")),
        ColumnType::Bool => Value::Bool(k % 2 == 0),
        ColumnType::Date => Value::Date(day),
        ColumnType::Timestamp => Value::Timestamp(
            day.and_hms_micro_opt(1, 2, 3, (k % 1_000_000) as u32)
                .unwrap(),
        ),
        ColumnType::Uuid => Value::Uuid(format!("ffffffff-ffff-4fff-8fff-{k:012x}")),
    }
}

/// Item 7 of the threat review: a list of 100,000 values of each type works on every
/// backend with a bounded number of binds, and SQL agrees with memory, also under NOT.
fn lists_of_100000_values_of_every_type(db: &TestDatabase) {
    let (mut conn, rows) = setup(db);
    let columns = samples::columns();
    for (index, (name, ty)) in COLUMNS.iter().enumerate().skip(1) {
        // The values of every other sample row, among 100,000 values no row holds.
        let mut list: Vec<Operand> = rows
            .iter()
            .step_by(2)
            .map(|row| row[index].clone())
            .filter(|v| !v.is_null())
            .map(Operand::Value)
            .collect();
        list.extend((0..100_000).map(|k| Operand::Value(filler(*ty, k))));
        let test = Filter::Test(Test {
            column: (*name).into(),
            index: columns.get(name).unwrap().0,
            ty: *ty,
            kind: TestKind::In(list),
        });
        for filter in [test.clone(), Filter::Not(Box::new(test))] {
            let sql = samples::select_ids(&mut conn, &filter)
                .unwrap_or_else(|e| panic!("{name} ({}): {e}", ty.name()));
            assert_eq!(
                sql,
                samples::matching_ids(&rows, &filter),
                "SQL and memory for {name} ({})",
                ty.name()
            );
        }
    }
    // One bind for the whole list: the SQL has one placeholder, whatever the length.
    let ints = Filter::Test(Test {
        column: "b".into(),
        index: columns.get("b").unwrap().0,
        ty: ColumnType::Bigint,
        kind: TestKind::In(
            (0..100_000)
                .map(|k| Operand::Value(Value::Int(k)))
                .collect(),
        ),
    });
    let sql = rowguard::rules::SqlFilter::new(Some("samples"), ints);
    let text = match conn.backend() {
        Backend::Sqlite => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string(),
        Backend::Postgres => diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string(),
        #[cfg(feature = "mysql")]
        Backend::Mysql => diesel::debug_query::<diesel::mysql::Mysql, _>(&sql).to_string(),
        #[cfg(not(feature = "mysql"))]
        Backend::Mysql => unreachable!("no MySQL tests without the feature"),
    };
    let sql_part = text.split(" -- binds:").next().unwrap();
    assert_eq!(
        sql_part.matches('?').count() + sql_part.matches("$1").count(),
        1,
        "{sql_part}"
    );
    assert!(!sql_part.contains("$2"), "{sql_part}");
}
