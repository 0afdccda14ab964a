//! Differential property test for relation conditions: for random rules with belongs-to,
//! has-many, negated, nested and same-row (object form) relation conditions, mixed with plain
//! ones under `&&` / `||`, and random rows, the rows the rendered SQL (correlated `EXISTS`)
//! selects on each backend are exactly the rows an in-memory oracle accepts — one that sees
//! every row of the table and evaluates `EXISTS` by looking at them.
//!
//! The relations are on the `samples` table itself (`parent`: `b` → `id`; `children`: `id` ←
//! `b`; `twins`: `i` = `i`), so every path also exercises the aliases that keep a level's
//! rows apart from the level above. Seed and case count as in `rules_props`.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use rowguard::rules::{
    compile_document_in, merge, Columns, Filter, Relation, Right, Schema, Value,
};
use rowguard::testing::TestDatabase;
use serde_json::{json, Value as Json};

use crate::rules_props::{attributes, search, Run};
use crate::samples::{self, COLUMNS};

rowguard::backend_tests!(sql_and_an_oracle_agree_on_random_relation_rules);

const DEFAULT_CASES: u32 = 96;

fn schema() -> Schema {
    let mut s = Schema::new();
    s.add_model("samples", "samples", "id", samples::columns());
    for r in [
        Relation::belongs_to("parent", "b", "samples", "id"),
        Relation::has_many("children", "id", "samples", "b"),
        Relation::has_many("twins", "i", "samples", "i"),
    ] {
        s.add_relation("samples", r).expect("relation");
    }
    s
}

/// Rows whose `b` often names another row (so `parent` and `children` find something) and
/// whose `i` often repeats (so `twins` does).
fn rows() -> impl Strategy<Value = Vec<Vec<Value>>> {
    let rest: Vec<BoxedStrategy<Value>> = COLUMNS[1..]
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| match i {
            // i: a few small integers
            0 => prop_oneof![1 => Just(Value::Null), 4 => (0i64..3).prop_map(Value::Int)].boxed(),
            // b: mostly the id of a row
            1 => prop_oneof![1 => Just(Value::Null), 5 => (1i64..8).prop_map(Value::Int)].boxed(),
            _ => crate::rules_props::cell(*ty),
        })
        .collect();
    prop::collection::vec(rest, 0..9).prop_map(|rows| {
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

/// A relation condition: a path of 1–3 relations, maybe negated, on a plain search — written
/// as `path.column` when the search is one condition, else in the object form.
fn related(plain: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    let paths = vec![
        "parent",
        "children",
        "twins",
        "parent.parent",
        "parent.children",
        "children.parent",
        "children.twins.parent",
    ];
    (select(paths), any::<bool>(), plain, any::<bool>())
        .prop_map(|(path, negated, inner, object_form)| {
            let bang = if negated { "!" } else { "" };
            let Json::Object(members) = &inner else {
                return inner;
            };
            match members.iter().next() {
                Some((column, cond))
                    if members.len() == 1 && !object_form && column != "&&" && column != "||" =>
                {
                    json!({ format!("{bang}{path}.{column}"): cond })
                }
                _ => json!({ format!("{bang}{path}"): inner }),
            }
        })
        .boxed()
}

fn document() -> impl Strategy<Value = String> {
    let plain = search(&COLUMNS).boxed();
    let leaf = prop_oneof![
        1 => plain.clone(),
        2 => related(plain),
    ];
    let tree = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..=3).prop_map(|v| json!({ "&&": v })),
            prop::collection::vec(inner.clone(), 2..=3).prop_map(|v| json!({ "||": v })),
        ]
    });
    tree.prop_map(|s| json!({ "read": { "search": s } }).to_string())
}

/// SQL's three-valued truth of `filter` on `row`, with `EXISTS` decided by looking at `all`.
fn oracle(filter: &Filter, row: &[Value], all: &[Vec<Value>], columns: &Columns) -> Option<bool> {
    match filter {
        Filter::True => Some(true),
        Filter::False => Some(false),
        Filter::And(c) => and(c.iter().map(|f| oracle(f, row, all, columns))),
        Filter::Or(c) => or(c.iter().map(|f| oracle(f, row, all, columns))),
        Filter::Not(x) => oracle(x, row, all, columns).map(|b| !b),
        Filter::Scoped(x) => oracle(x, row, all, columns),
        Filter::Test(_) => filter.eval(row),
        Filter::Exists(e) => {
            let (target, _) = columns.get(&e.target_column).expect("target column");
            let local = &row[e.local_index];
            let found = all.iter().any(|candidate| {
                !local.is_null()
                    && candidate[target] == *local
                    && oracle(&e.filter, candidate, all, columns) == Some(true)
            });
            Some(found)
        }
    }
}

fn and(values: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(true);
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => out = None,
            Some(true) => {}
        }
    }
    out
}

fn or(values: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(false);
    for v in values {
        match v {
            Some(true) => return Some(true),
            None => out = None,
            Some(false) => {}
        }
    }
    out
}

fn sql_and_an_oracle_agree_on_random_relation_rules(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    samples::create_table(&mut conn);
    let conn = std::cell::RefCell::new(conn);
    let schema = schema();
    let columns = samples::columns();
    let Run {
        mut runner,
        seed,
        cases,
    } = Run::from_env(DEFAULT_CASES);
    let strategy = (
        rows(),
        prop::collection::vec(document(), 1..=2),
        attributes(&COLUMNS),
    );
    let result = runner.run(&strategy, |(rows, docs, attrs)| {
        let compiled: Vec<_> = docs
            .iter()
            .map(|d| {
                compile_document_in(d, &columns, &schema, "samples")
                    .map_err(|e| TestCaseError::fail(format!("{d}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let merged = merge(compiled.iter().filter_map(|c| c.access(Right::Read)));
        let filter = merged.to_filter().resolve(&attrs);
        let sql_ids = samples::ids_with_rows(&mut conn.borrow_mut(), &rows, &filter)
            .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
        let oracle_ids = samples::ids_where(&rows, |row| {
            oracle(&filter, row, &rows, &columns) == Some(true)
        });
        prop_assert_eq!(&sql_ids, &oracle_ids, "filter {} from {:?}", filter, docs);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{} (seed {seed}, {cases} cases): {e}", db.backend());
    }
}
