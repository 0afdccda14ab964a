//! Differential property test: for random valid rules (grants and denies) and random rows,
//! the rows the rendered SQL selects on each backend are exactly the rows the in-memory
//! evaluator accepts, binding `$subject` variables in place accepts the same rows as
//! resolving them first, and no row comes back that a deny matches or might match (NULL).
//!
//! The generators here serve `model_props` too. A fixed seed and case count run in every
//! test run; `cargo xtask test` then runs both property tests again with a random seed that it
//! prints, this one with 10,000 cases per backend (`ROWGUARD_DIFFERENTIAL_CASES`).
//! `ROWGUARD_PROPTEST_SEED=N` replays a seed, `ROWGUARD_PROPTEST_CASES=N` asks for more cases;
//! `cargo xtask differential` runs a million.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rowguard::rules::{
    allowed, compile_document, escape_value, merge, Attributes, ColumnType, Filter, Merged, Right,
    Value,
};
use rowguard::testing::TestDatabase;
use serde_json::{json, Value as Json};

use crate::samples::{self, COLUMNS};

rowguard::backend_tests!(sql_and_memory_agree_on_random_rules);

/// Columns a generator may write rules on: (name, type), the primary key first.
pub type Schema = &'static [(&'static str, ColumnType)];

const DEFAULT_CASES: u32 = 128;
const DEFAULT_SEED: u64 = 0x0005_eed0_0f7a_b1e5;

/// A number from the environment; set but not a number is a mistake worth stopping for (a
/// replay that silently ran the default seed would prove nothing).
pub fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={value:?} is not a decimal number"),
    }
}

/// The values rows and rules draw from: boundaries, case and space variants, SQL wildcards,
/// quotes, backslashes and non-ASCII text.
pub fn pool(ty: ColumnType) -> Vec<Value> {
    let texts: &[&str] = match ty {
        ColumnType::Integer => &["-2147483648", "-1", "0", "1", "2", "3", "2147483647"],
        ColumnType::Bigint => &[
            "-9223372036854775808",
            "-1",
            "0",
            "1",
            "2",
            "10",
            "9223372036854775807",
        ],
        ColumnType::Float => &["-1.5", "0", "0.1", "1", "2.5", "10000000000"],
        ColumnType::Text => &[
            "a",
            "A",
            "a ",
            " a",
            "ab",
            "abc",
            "b",
            "B",
            "%",
            "_",
            "a_c",
            "a%c",
            "O'Brien",
            "\\",
            "x\\y",
            "é",
            "É",
            "日本",
            "x;y",
            "!",
            "$subject.v_t",
            "null",
            "pend",
            "pending",
            "z",
            // SQLite matches patterns with GLOB: its metacharacters must stay literal.
            "*",
            "?",
            "[a]",
            "[",
            "]",
            "a*c",
            "a?c",
            // MySQL's general collations equate all 4-byte characters, ß with s, and
            // ignore trailing spaces; rowguard compares exactly on every backend.
            "😀",
            "😁",
            "e\u{301}",
            "ß",
            "ss",
            "s",
            "a\tb",
            "a\nb",
            "\t",
            "!a",
            "a!",
        ],
        ColumnType::Bool => &["true", "false"],
        ColumnType::Date => &["1970-01-01", "1999-12-31", "2000-02-29", "2024-12-31"],
        ColumnType::Timestamp => &[
            "1970-01-01 00:00:00",
            "2024-01-01 12:00:00",
            "2024-01-01 12:00:00.5",
            "2038-01-19 03:14:07",
        ],
        ColumnType::Uuid => &[
            "00000000-0000-0000-0000-000000000001",
            "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ],
    };
    texts
        .iter()
        .map(|t| Value::parse(ty, t).expect("pool value"))
        .collect()
}

/// How a value is written in a rule.
pub fn rule_text(value: &Value) -> String {
    match value {
        Value::Int(v) => v.to_string(),
        Value::Float(v) => format!("{v:?}"),
        Value::Text(v) => escape_value(v),
        Value::Uuid(v) => v.clone(),
        Value::Bool(v) => v.to_string(),
        Value::Date(v) => v.format("%Y-%m-%d").to_string(),
        Value::Timestamp(v) => v.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        Value::Null => "null".into(),
    }
}

pub fn cell(ty: ColumnType) -> BoxedStrategy<Value> {
    let mut values = pool(ty);
    if ty == ColumnType::Text {
        values.push(Value::from(""));
    }
    prop_oneof![1 => Just(Value::Null), 4 => select(values)].boxed()
}

pub fn rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    let row: Vec<BoxedStrategy<Value>> = COLUMNS[1..].iter().map(|(_, ty)| cell(*ty)).collect();
    prop::collection::vec(row, 0..12).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, rest)| {
                std::iter::once(Value::Int(i as i64 + 1))
                    .chain(rest)
                    .collect()
            })
            .collect()
    })
}

pub fn literal(ty: ColumnType) -> BoxedStrategy<String> {
    select(pool(ty)).prop_map(|v| rule_text(&v)).boxed()
}

/// One value of an `=` / `!=` list.
fn list_value(column: &'static str, ty: ColumnType) -> BoxedStrategy<String> {
    let var = format!("$subject.v_{column}");
    let mut options = vec![
        (6, literal(ty)),
        (1, Just("null".to_owned()).boxed()),
        (1, Just(var).boxed()),
    ];
    if ty == ColumnType::Text {
        let patterns = [
            "a%", "%b", "%", "a%c", "%_%", "pend%", "%é", "O'%", "%\\%", "%\\\\%", "%*%", "[%",
            "%?", "%]", "a!%", "a\\!%", "%😀", "%ß%", "e%", "%\t%", "%\n%",
        ];
        options.push((2, select(patterns.to_vec()).prop_map(str::to_owned).boxed()));
    }
    let value = prop::strategy::Union::new_weighted(options);
    (any::<bool>(), value)
        .prop_map(|(negated, v)| if negated { format!("!{v}") } else { v })
        .boxed()
}

fn condition(column: &'static str, ty: ColumnType) -> BoxedStrategy<String> {
    let mut options: Vec<(u32, BoxedStrategy<String>)> = vec![(
        5,
        (
            select(vec!["=", "!="]),
            prop::collection::vec(list_value(column, ty), 1..=3),
        )
            .prop_map(|(op, values)| format!("{op}{}", values.join(";")))
            .boxed(),
    )];
    if ty.is_ordered() {
        let var = format!("$subject.v_{column}");
        let scalar = prop_oneof![5 => literal(ty), 1 => Just(var)];
        options.push((
            3,
            (select(vec!["<", ">", "<=", ">="]), scalar.clone())
                .prop_map(|(op, v)| format!("{op}{v}"))
                .boxed(),
        ));
        options.push((
            2,
            (select(vec!["<>", "!<>"]), scalar.clone(), scalar)
                .prop_map(|(op, lo, hi)| format!("{op}{lo};{hi}"))
                .boxed(),
        ));
    }
    if ty == ColumnType::Text {
        let word = select(pool(ty))
            .prop_map(|v| rule_text(&v))
            .prop_filter("non-empty", |t| !t.is_empty());
        options.push((
            3,
            (
                select(vec!["contains", "starts_with", "ends_with"]),
                prop::collection::vec(word, 1..=3),
            )
                .prop_map(|(op, words)| format!("{op} {}", words.join(";")))
                .boxed(),
        ));
    }
    prop::strategy::Union::new_weighted(options).boxed()
}

/// `{column: "cond"}` or `{column: "cond || cond"}` / `&&` inside the string, on any
/// column of `schema` but its key.
fn leaf(schema: Schema) -> BoxedStrategy<Json> {
    select((1..schema.len()).collect::<Vec<_>>())
        .prop_flat_map(move |i| {
            let (column, ty) = schema[i];
            (
                prop::collection::vec(condition(column, ty), 1..=2),
                select(vec![" || ", " && "]),
            )
                .prop_map(move |(conds, sep)| json!({ column: conds.join(sep) }))
        })
        .boxed()
}

/// A search of nested `&&` / `||` over leaves.
pub fn search(schema: Schema) -> impl Strategy<Value = Json> {
    leaf(schema).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..=3).prop_map(|v| json!({ "&&": v })),
            prop::collection::vec(inner.clone(), 2..=3).prop_map(|v| json!({ "||": v })),
            (inner.clone(), inner).prop_map(|(a, b)| json!({ "||": { "&&": [a, b] } })),
        ]
    })
}

/// A rule document: a read grant (`"*"` or a search), and sometimes a read deny.
pub fn document() -> impl Strategy<Value = String> {
    let grant = prop_oneof![
        1 => Just(json!("*")),
        12 => search(&COLUMNS).prop_map(|s| json!({ "search": s })),
    ];
    let deny = prop_oneof![
        6 => Just(None),
        1 => Just(Some(json!("*"))),
        6 => search(&COLUMNS).prop_map(|s| Some(json!({ "search": s }))),
    ];
    (grant, deny).prop_map(|(grant, deny)| match deny {
        None => json!({ "read": grant }).to_string(),
        Some(deny) => json!({ "read": grant, "deny": { "read": deny } }).to_string(),
    })
}

/// For each column, the attribute `v_<column>`: absent, one value, two values (usable in
/// lists only), or a value that does not parse as the column's type (fails closed).
pub fn attributes(schema: Schema) -> impl Strategy<Value = Attributes> {
    let per_column: Vec<_> = schema
        .iter()
        .map(|(_, ty)| {
            prop_oneof![
                2 => Just(Vec::new()),
                6 => literal(*ty).prop_map(|v| vec![v]),
                1 => (literal(*ty), literal(*ty)).prop_map(|(a, b)| vec![a, b]),
                1 => Just(vec!["not a value: 1.2.3".to_owned()]),
            ]
        })
        .collect();
    per_column.prop_map(|values| {
        let mut attrs = Attributes::new();
        for ((column, ty), texts) in schema.iter().zip(values) {
            if texts.is_empty() {
                continue;
            }
            // Attributes carry plain values: text as it is stored, not as a rule writes it
            // (so `%`, `;`, `!`, `\\`, `null` and edge spaces reach variables literally).
            let plain = texts
                .iter()
                .map(|text| {
                    if *ty == ColumnType::Text {
                        unescape(text)
                    } else {
                        text.clone()
                    }
                })
                .collect();
            attrs.insert(format!("v_{column}"), plain);
        }
        attrs
    })
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if c == '\\' && !escaped {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

/// A seeded runner: the fixed seed unless `ROWGUARD_PROPTEST_SEED` names another.
pub struct Run {
    pub runner: TestRunner,
    pub seed: u64,
    pub cases: u32,
}

impl Run {
    pub fn from_env(default_cases: u32) -> Self {
        Self::with_cases(env_number("ROWGUARD_PROPTEST_CASES").map_or(default_cases, |n| n as u32))
    }

    /// `cases` cases, seeded as [`Run::from_env`] says.
    pub fn with_cases(cases: u32) -> Self {
        let seed = env_number("ROWGUARD_PROPTEST_SEED").unwrap_or(DEFAULT_SEED);
        let mut seed_bytes = [0u8; 32];
        for chunk in seed_bytes.chunks_mut(8) {
            chunk.copy_from_slice(&seed.to_le_bytes());
        }
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let runner = TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
        );
        Run {
            runner,
            seed,
            cases,
        }
    }
}

fn sql_and_memory_agree_on_random_rules(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    samples::create_table(&mut conn);
    let conn = std::cell::RefCell::new(conn);
    let columns = samples::columns();
    // `cargo xtask test` asks for 10,000 cases per backend, `cargo xtask differential` for
    // a million; a plain `cargo test` runs the default.
    let Run {
        mut runner,
        seed,
        cases,
    } = match env_number("ROWGUARD_DIFFERENTIAL_CASES") {
        Some(n) => Run::with_cases(u32::try_from(n).unwrap_or(u32::MAX)),
        None => Run::from_env(DEFAULT_CASES),
    };
    let started = std::time::Instant::now();
    let strategy = (
        rows(),
        prop::collection::vec(document(), 1..=3),
        attributes(&COLUMNS),
    );
    // Every case is a new rule set, so every case's SQL is new to the connection, and Diesel
    // keeps each prepared statement for the connection's life: a million cases would pass
    // MySQL's server-wide max_prepared_stmt_count (16,382). A fresh connection every 2,000
    // cases is what a pool's connection lifetime does for an application (README, Databases).
    let run_cases = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |(rows, docs, attrs)| {
        run_cases.set(run_cases.get() + 1);
        if run_cases.get() % 2_000 == 0 {
            *conn.borrow_mut() = db
                .connect()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let compiled: Vec<_> = docs
            .iter()
            .map(|d| {
                compile_document(d, &columns).map_err(|e| TestCaseError::fail(format!("{d}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let grants = merge(compiled.iter().filter_map(|c| c.access(Right::Read)));
        let denies = merge(compiled.iter().filter_map(|c| c.deny(Right::Read)));
        let unresolved = allowed(&grants, &denies);
        let filter = unresolved.resolve(&attrs);
        let sql_ids = samples::ids_with_rows(&mut conn.borrow_mut(), &rows, &filter)
            .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
        let memory_ids = samples::matching_ids(&rows, &filter);
        prop_assert_eq!(&sql_ids, &memory_ids, "filter {} from {:?}", filter, docs);
        // The deny oracle, from the raw merged deny: a row comes back only where the deny is
        // FALSE (not TRUE, not unknown), and only where the grants hold. Under the NOT a
        // missing variable makes the deny true (it refuses).
        let not_denied = match &denies {
            Merged::Nothing => Filter::True,
            denied => Filter::Not(Box::new(denied.to_filter())).resolve(&attrs),
        };
        let granted = grants.to_filter().resolve(&attrs);
        let oracle_ids = samples::ids_where(&rows, |row| {
            granted.eval(row) == Some(true) && not_denied.eval(row) == Some(true)
        });
        prop_assert_eq!(&sql_ids, &oracle_ids, "oracle: {} from {:?}", filter, docs);
        // What checks use: variables bound in place, the filter never copied.
        let in_place_ids = samples::ids_where(&rows, |row| unresolved.matches_with(row, &attrs));
        prop_assert_eq!(
            in_place_ids,
            memory_ids,
            "in place: {} with {:?}",
            unresolved,
            attrs
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{} (seed {seed}, {cases} cases): {e}", db.backend());
    }
    eprintln!(
        "differential on {}: {cases} cases agreed (seed {seed}) in {:.1} s",
        db.backend(),
        started.elapsed().as_secs_f64()
    );
}
