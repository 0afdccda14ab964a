//! Differential property test of policy statements as row filters: for random ARN forms,
//! random statements (exact and inexact resource patterns, allows and denies) and random
//! rule documents beside them, the rows the rendered SQL selects on each backend are the rows
//! the in-memory evaluator accepts; and where every pattern is one a column test says
//! exactly, the rows the policy alone lets through are exactly those whose own ARN
//! (`arn:…:<account>:samples/<id>`) the policy allows, decided ARN by ARN as
//! `Authorizer::is_allowed` decides.
//!
//! `cargo xtask test` runs it with a tenth of the rule differential's cases
//! (`ROWGUARD_DIFFERENTIAL_CASES`); `ROWGUARD_PROPTEST_SEED` replays a seed.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use rowguard::policy::{ArnAccount, ModelArn, Policy, RowModel};
use rowguard::rules::{allowed, compile_document, merge, ColumnType, Right, Value};
use rowguard::testing::TestDatabase;

use crate::rules_props::{document, env_number, pool, rows, Run};
use crate::samples::{self, COLUMNS};

rowguard::backend_tests!(policy_filters_agree_with_sql_and_with_arns);

const DEFAULT_CASES: u32 = 96;

/// The ARN forms tried: an account column of each nameable type, or a fixed account.
const FORMS: [(&str, Option<&str>); 5] = [
    ("b", Some("b")),
    ("t", Some("t")),
    ("u", Some("u")),
    ("i", Some("i")),
    ("fixed", None),
];

fn form(which: &str) -> ModelArn<String> {
    match FORMS
        .iter()
        .find(|(name, _)| *name == which)
        .and_then(|(_, c)| *c)
    {
        Some(column) => ModelArn {
            account: ArnAccount::Column(column.to_owned()),
            ..ModelArn::default()
        },
        None => ModelArn::default(),
    }
}

/// A part's text as an ARN writes it, if it can be written there at all.
fn arn_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Int(i) => i.to_string(),
        Value::Text(t) | Value::Uuid(t) => t.clone(),
        _ => return None,
    };
    let plain = !text.contains([':', '/', '*', '?'])
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    (!text.is_empty() && plain).then_some(text)
}

/// A resource pattern and whether a column test says it exactly (for the ARN oracle).
fn resource(account_type: Option<ColumnType>) -> BoxedStrategy<(String, bool)> {
    let literals: Vec<String> = account_type
        .map(pool)
        .unwrap_or_else(|| vec![Value::from("default"), Value::from("other")])
        .iter()
        .filter_map(arn_text)
        .collect();
    let text_account = account_type == Some(ColumnType::Text);
    let account = prop_oneof![
        3 => Just(("*".to_owned(), true)),
        6 => select(literals.clone()).prop_map(|l| (l, true)),
        // A prefix pattern: exact on text, inexact on numbers and UUIDs (no column test says it).
        2 => select(literals).prop_map(move |l| {
            let prefix: String = l.chars().take(1).collect();
            (format!("{prefix}*"), text_account || account_type.is_none())
        }),
        1 => Just(("?".to_owned(), account_type.is_none())),
    ];
    let ids: Vec<String> = pool(ColumnType::Bigint)
        .iter()
        .filter_map(arn_text)
        .collect();
    let key = prop_oneof![
        3 => Just(("samples/*".to_owned(), true)),
        1 => Just(("*".to_owned(), true)),
        6 => select(ids).prop_map(|id| (format!("samples/{id}"), true)),
        1 => Just(("samples/010".to_owned(), true)),
        1 => Just(("samples".to_owned(), true)),
        1 => Just(("other/*".to_owned(), true)),
        1 => Just(("samples/1*".to_owned(), false)),
        1 => Just(("sam*".to_owned(), false)),
        1 => Just(("*/1".to_owned(), false)),
        1 => Just(("samples/?".to_owned(), false)),
    ];
    let fixed = prop_oneof![
        6 => Just(("rowguard:default:local".to_owned(), true)),
        1 => Just(("other:default:local".to_owned(), true)),
        1 => Just(("row*:*:l?cal".to_owned(), true)),
        1 => Just(("rowguard:default:eu".to_owned(), true)),
    ];
    prop_oneof![
        1 => Just(("*".to_owned(), true)),
        12 => (fixed, account, key).prop_map(|((f, _), (a, ae), (k, ke))| {
            (format!("arn:{f}:{a}:{k}"), ae && ke)
        }),
    ]
    .boxed()
}

/// A policy of 1 to 4 statements, and whether every pattern of those naming `samples:Read`
/// is exact.
fn policy(account_type: Option<ColumnType>) -> BoxedStrategy<(String, bool)> {
    let action = prop_oneof![
        4 => Just(("samples:Read", true)),
        2 => Just(("samples:*", true)),
        1 => Just(("*", true)),
        1 => Just(("SAMPLES:read", true)),
        1 => Just(("samples:Update", false)),
        1 => Just(("other:Read", false)),
    ];
    let statement = (
        prop::bool::weighted(0.3),
        action,
        prop::collection::vec(resource(account_type), 1..=2),
    )
        .prop_map(|(deny, (action, reads), resources)| {
            let exact = !reads || resources.iter().all(|(_, exact)| *exact);
            let list: Vec<String> = resources.into_iter().map(|(r, _)| r).collect();
            let effect = if deny { "Deny" } else { "Allow" };
            (
                serde_json::json!({"Effect": effect, "Action": action, "Resource": list}),
                exact,
            )
        });
    prop::collection::vec(statement, 1..=4)
        .prop_map(|statements| {
            let exact = statements.iter().all(|(_, e)| *e);
            let list: Vec<serde_json::Value> = statements.into_iter().map(|(s, _)| s).collect();
            (serde_json::Value::Array(list).to_string(), exact)
        })
        .boxed()
}

fn policy_filters_agree_with_sql_and_with_arns(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    samples::create_table(&mut conn);
    let conn = std::cell::RefCell::new(conn);
    let columns = samples::columns();
    let cases = env_number("ROWGUARD_DIFFERENTIAL_CASES")
        .map(|n| u32::try_from(n / 10).unwrap_or(u32::MAX).max(DEFAULT_CASES));
    let Run {
        mut runner,
        seed,
        cases,
    } = match cases {
        Some(n) => Run::with_cases(n),
        None => Run::from_env(DEFAULT_CASES),
    };
    let strategy = select(FORMS.map(|(name, _)| name).to_vec()).prop_flat_map(|which| {
        let account_type = FORMS
            .iter()
            .find(|(name, _)| *name == which)
            .and_then(|(_, c)| *c)
            .and_then(|c| COLUMNS.iter().find(|(name, _)| *name == c).map(|(_, t)| *t));
        (
            Just(which),
            rows(),
            policy(account_type),
            prop::collection::vec(document(), 0..=2),
        )
    });
    let result = runner.run(&strategy, |(which, rows, (policy_text, exact), docs)| {
        let arn = form(which);
        let policy = Policy::parse(&policy_text)
            .map_err(|e| TestCaseError::fail(format!("{policy_text}: {e}")))?;
        let model = RowModel {
            name: "samples",
            arn: &arn,
            columns: &columns,
            primary_key: "id",
        };
        let (policy_grants, policy_denies) = model.access(&policy, Right::Read);
        let compiled: Vec<_> = docs
            .iter()
            .map(|d| {
                compile_document(d, &columns).map_err(|e| TestCaseError::fail(format!("{d}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let grants =
            merge(compiled.iter().filter_map(|c| c.access(Right::Read))).union(&policy_grants);
        let denies =
            merge(compiled.iter().filter_map(|c| c.deny(Right::Read))).union(&policy_denies);
        // Rule documents here use no variables: an empty subject resolves nothing away.
        let filter = allowed(&grants, &denies).resolve(&Default::default());
        let sql_ids = samples::ids_with_rows(&mut conn.borrow_mut(), &rows, &filter)
            .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
        let memory_ids = samples::matching_ids(&rows, &filter);
        prop_assert_eq!(
            &sql_ids,
            &memory_ids,
            "filter {} from {} and {:?}",
            filter,
            policy_text,
            docs
        );
        if exact {
            let alone = allowed(&policy_grants, &policy_denies);
            let account = match arn.account() {
                ArnAccount::Column(c) => columns.get(c).map(|(i, _)| i),
                ArnAccount::Fixed(_) => None,
            };
            for row in &rows {
                let account_cell =
                    account.map_or(rowguard::rules::ValueRef::Null, |i| row[i].borrowed());
                // A row whose account or key makes no ARN is named by wildcards only.
                let Ok(row_arn) = arn.row_arn("samples", account_cell, row[0].borrowed()) else {
                    continue;
                };
                let decided = policy
                    .decide("samples:Read", &row_arn)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(
                    alone.matches(row),
                    decided.allowed,
                    "{} in {} ({} / {})",
                    row_arn,
                    policy_text,
                    policy_grants.to_filter(),
                    policy_denies.to_filter()
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{} (seed {seed}, {cases} cases): {e}", db.backend());
    }
}
