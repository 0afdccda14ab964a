//! What the fuzz target does with one input, as a library function, so that the corpus
//! test (`tests/corpus.rs`) and `cargo fuzz` run the same code.

use std::fmt::Write;

use rowguard::rules::{
    allowed, compile_document, merge, parse_condition, Attributes, ColumnType, Columns, Filter,
    Right, SqlFilter, Value,
};

/// Arbitrary bytes into the rule parser, validator, merge, resolver, evaluator and the SQL
/// renderer of every backend: nothing may panic or hang, whatever a DBA (or an attacker)
/// writes, and binding `$subject` variables in place must decide exactly as resolving them
/// first does. Returns whether the input was a valid rule document (and so went all the way).
///
/// ```
/// assert!(rowguard_fuzz::rules(br#"{"read":{"search":{"name":"=$subject.name;x%"}}}"#));
/// assert!(!rowguard_fuzz::rules(b"{\"read\":"));
/// ```
pub fn rules(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let columns = columns();
    // The text as a condition string of a column, and as a whole document.
    let _ = parse_condition("name", text, "fuzz");
    let Ok(rules) = compile_document(text, &columns) else {
        return false;
    };
    // Attributes drawn from the input, so that variables meet hostile values too.
    let prefix: String = text.chars().take(4).collect();
    let attrs = Attributes::new()
        .with("id", 1)
        .with("name", text)
        .with("born", "2024-02-29")
        .with("seen", &prefix)
        .with_all("list", ["1", prefix.as_str(), text]);
    let rows = rows(text);
    for right in Right::ALL {
        // Grants minus denies, as the guard decides (denies put conditions under a NOT).
        let unresolved = allowed(&merge(rules.access(right)), &merge(rules.deny(right)));
        let resolved = unresolved.resolve(&attrs);
        for row in &rows {
            assert_eq!(
                unresolved.eval_with(row.as_slice(), &attrs),
                resolved.eval(row.as_slice()),
                "in-place binding disagrees with resolving first: {unresolved} / {resolved}"
            );
        }
        render(resolved);
    }
    let all = merge(Right::ALL.iter().filter_map(|r| rules.access(*r)));
    render(all.to_filter().resolve(&attrs));
    true
}

fn columns() -> Columns {
    Columns::new([
        ("id", ColumnType::Integer),
        ("big", ColumnType::Bigint),
        ("score", ColumnType::Float),
        ("name", ColumnType::Text),
        ("active", ColumnType::Bool),
        ("born", ColumnType::Date),
        ("seen", ColumnType::Timestamp),
        ("key", ColumnType::Uuid),
    ])
    .expect("fixed columns are valid")
}

/// A row of NULLs, and a row of values (its text from the input).
fn rows(text: &str) -> [Vec<Value>; 2] {
    let parse = |ty, v| Value::parse(ty, v).expect("fixed values parse");
    [
        vec![Value::Null; 8],
        vec![
            Value::Int(1),
            Value::Int(-1),
            Value::Float(0.5),
            Value::Text(text.chars().take(8).collect()),
            Value::Bool(true),
            parse(ColumnType::Date, "2024-02-29"),
            parse(ColumnType::Timestamp, "2024-02-29 12:00:00.5"),
            parse(ColumnType::Uuid, "67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ],
    ]
}

/// The filter as SQL with its binds, on every backend compiled in.
fn render(filter: Filter) {
    let sql = SqlFilter::new(Some("t"), filter);
    let mut out = String::new();
    // A renderer error is an answer, not a crash; only a panic is a finding.
    let _ = write!(out, "{}", diesel::debug_query::<diesel::pg::Pg, _>(&sql));
    let _ = write!(
        out,
        "{}",
        diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql)
    );
    #[cfg(feature = "mysql")]
    let _ = write!(
        out,
        "{}",
        diesel::debug_query::<diesel::mysql::Mysql, _>(&sql)
    );
}

/// Arbitrary bytes into the policy parser, the evaluator, and the translation of statements
/// into row filters (for an account column of each kind and a fixed account), rendered on
/// every backend: nothing may panic or hang. Where every pattern a row meets is exact, the
/// row filter must agree with the ARN the row has. Returns whether the input was a valid
/// policy.
///
/// ```
/// assert!(rowguard_fuzz::policies(br#"[{"Effect":"Deny","Action":"t:*","Resource":"arn:rowguard:default:local:*:t/1"}]"#));
/// assert!(!rowguard_fuzz::policies(b"[{\"Effect\":"));
/// ```
pub fn policies(data: &[u8]) -> bool {
    use rowguard::policy::{ArnAccount, ModelArn, Policy, RowModel};
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(policy) = Policy::parse(text) else {
        return false;
    };
    let _ = policy.to_json();
    let prefix: String = text.chars().take(12).collect();
    for arn in [
        "arn:rowguard:default:local:1:t/1".to_owned(),
        format!(
            "arn:rowguard:default:local:1:t/{}",
            prefix.replace(['*', '?'], "x")
        ),
        "arn:rowguard:default:local:default:t".to_owned(),
    ] {
        if let Ok(arn) = arn.parse::<rowguard::policy::Arn>() {
            for action in ["t:Read", "t:Create", "x:Y"] {
                let _ = policy.decide(action, &arn);
            }
        }
    }
    let columns = columns();
    let forms = [
        ModelArn::default(),
        ModelArn {
            account: ArnAccount::Column("id".to_owned()),
            ..ModelArn::default()
        },
        ModelArn {
            account: ArnAccount::Column("name".to_owned()),
            ..ModelArn::default()
        },
        ModelArn {
            account: ArnAccount::Column("key".to_owned()),
            ..ModelArn::default()
        },
    ];
    for arn in &forms {
        for primary_key in ["id", "name", "born"] {
            let model = RowModel {
                name: "t",
                arn,
                columns: &columns,
                primary_key,
            };
            for right in Right::ALL {
                let (grants, denies) = model.access(&policy, right);
                render(allowed(&grants, &denies));
            }
        }
    }
    true
}
