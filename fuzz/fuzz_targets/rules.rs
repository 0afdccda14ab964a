//! Arbitrary bytes into the rule parser, validator, merge, resolver, evaluator and SQL
//! renderer: nothing may panic or hang, whatever a DBA (or an attacker) writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rowguard::rules::{
    compile_document, merge, parse_condition, Attributes, ColumnType, Columns, Right, SqlFilter,
    Value,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(columns) = Columns::new([
        ("id", ColumnType::Integer),
        ("big", ColumnType::Bigint),
        ("score", ColumnType::Float),
        ("name", ColumnType::Text),
        ("active", ColumnType::Bool),
        ("born", ColumnType::Date),
        ("seen", ColumnType::Timestamp),
        ("key", ColumnType::Uuid),
    ]) else {
        return;
    };
    // The text as a condition string of a column, and as a whole document.
    let _ = parse_condition("name", text, "fuzz");
    let Ok(rules) = compile_document(text, &columns) else {
        return;
    };
    let merged = merge(Right::ALL.iter().filter_map(|r| rules.access(*r)));
    let attrs = Attributes::new().with("id", 1).with("name", text);
    let filter = merged.to_filter().resolve(&attrs);
    let row: Vec<Value> = vec![
        Value::Int(1),
        Value::Int(-1),
        Value::Float(0.5),
        Value::Text(text.chars().take(8).collect()),
        Value::Bool(true),
        Value::Null,
        Value::Null,
        Value::Null,
    ];
    let _ = filter.eval(row.as_slice());
    let sql = SqlFilter::new(Some("t"), filter);
    let _ = diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string();
    let _ = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string();
});
