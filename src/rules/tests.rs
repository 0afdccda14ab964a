//! Unit tests of the rule language (in memory). The SQL side of the same cases runs on every
//! backend in `tests/it/rules_sql.rs`.

use chrono::{NaiveDate, NaiveDateTime};

use super::*;

fn cols() -> Columns {
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
    .unwrap()
}

fn read_filter(search: &str) -> Filter {
    let doc = format!(r#"{{"read":{{"search":{search}}}}}"#);
    compile_document(&doc, &cols())
        .unwrap_or_else(|e| panic!("{doc}: {e}"))
        .filter(Right::Read)
        .unwrap()
}

fn row(column: &str, value: Value) -> Vec<Value> {
    let cols = cols();
    let mut row = vec![Value::Null; cols.len()];
    row[cols.get(column).unwrap().0] = value;
    row
}

fn check(column: &str, expr: &str, cases: &[(Value, Option<bool>)]) {
    let filter = read_filter(&serde_json::json!({ column: expr }).to_string());
    for (value, expected) in cases {
        assert_eq!(
            filter.eval(&row(column, value.clone())),
            *expected,
            "{column} {expr} on {value:?} (filter {filter})"
        );
    }
}

fn date(s: &str) -> Value {
    Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn ts(s: &str) -> Value {
    Value::Timestamp(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const N: Option<bool> = None;

#[test]
fn equality_on_every_type() {
    check(
        "id",
        "=1;2;3",
        &[(1.into(), T), (4.into(), F), (Value::Null, N)],
    );
    check(
        "big",
        "=9223372036854775807",
        &[(i64::MAX.into(), T), (0.into(), F)],
    );
    check("score", "=1.5", &[(1.5.into(), T), (1.25.into(), F)]);
    check(
        "name",
        "=Ann",
        &[("Ann".into(), T), ("ann".into(), F), ("Ann ".into(), F)],
    );
    check("active", "=true", &[(true.into(), T), (false.into(), F)]);
    check(
        "born",
        "=2000-01-31",
        &[(date("2000-01-31"), T), (date("2000-02-01"), F)],
    );
    check(
        "seen",
        "=2024-01-02T03:04:05",
        &[
            (ts("2024-01-02 03:04:05"), T),
            (ts("2024-01-02 03:04:06"), F),
        ],
    );
    check(
        "key",
        "=67E55044-10B1-426F-9247-BB680E5FE0C8",
        &[(
            Value::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".into()),
            T,
        )],
    );
}

#[test]
fn exclusions_negation_and_null() {
    // The seed document's update rule.
    check(
        "id",
        "=!2",
        &[(1.into(), T), (2.into(), F), (Value::Null, N)],
    );
    check(
        "id",
        "=1;2;!2",
        &[(1.into(), T), (2.into(), F), (3.into(), F)],
    );
    check(
        "id",
        "!=1;2",
        &[(1.into(), F), (3.into(), T), (Value::Null, N)],
    );
    check("name", "=null", &[(Value::Null, T), ("x".into(), F)]);
    check("name", "=!null", &[(Value::Null, F), ("x".into(), T)]);
    check(
        "name",
        "=a;null",
        &[(Value::Null, T), ("a".into(), T), ("b".into(), F)],
    );
    check("name", "!=null", &[(Value::Null, F), ("x".into(), T)]);
}

#[test]
fn design_example_pattern_with_exclusion() {
    check(
        "name",
        "=open;pend%;!pending_review",
        &[
            ("open".into(), T),
            ("pending".into(), T),
            ("pending_review".into(), F),
            ("Pending".into(), F),
            ("closed".into(), F),
            (Value::Null, N),
        ],
    );
}

#[test]
fn comparisons_and_ranges() {
    check(
        "id",
        "<5",
        &[(4.into(), T), (5.into(), F), (Value::Null, N)],
    );
    check("id", "<=5", &[(5.into(), T), (6.into(), F)]);
    check("id", ">5", &[(6.into(), T), (5.into(), F)]);
    check("id", ">=5", &[(5.into(), T), (4.into(), F)]);
    check(
        "score",
        "<>10;20",
        &[(10.0.into(), T), (20.0.into(), T), (20.5.into(), F)],
    );
    check(
        "score",
        "!<>10;20",
        &[(9.0.into(), T), (15.0.into(), F), (Value::Null, N)],
    );
    check(
        "born",
        ">=2000-01-01",
        &[(date("2000-01-01"), T), (date("1999-12-31"), F)],
    );
    check(
        "seen",
        "<2024-01-01 00:00:00",
        &[(ts("2023-12-31 23:59:59"), T)],
    );
    // Text orders by bytes: uppercase before lowercase.
    check(
        "name",
        "<a",
        &[("B".into(), T), ("a".into(), F), ("b".into(), F)],
    );
    check(
        "name",
        "<>a;c",
        &[
            ("b".into(), T),
            ("B".into(), F),
            ("c".into(), T),
            ("ca".into(), F),
        ],
    );
}

#[test]
fn text_operators() {
    check(
        "name",
        "contains an",
        &[("Joanne".into(), T), ("AN".into(), F), (Value::Null, N)],
    );
    check(
        "name",
        "starts_with A",
        &[("Ann".into(), T), ("ann".into(), F)],
    );
    check(
        "name",
        "ends_with son;sen",
        &[
            ("Jansen".into(), T),
            ("Jonson".into(), T),
            ("Jones".into(), F),
        ],
    );
    check(
        "name",
        "=a%b%c",
        &[
            ("abc".into(), T),
            ("axxbyyc".into(), T),
            ("acb".into(), F),
            ("abcx".into(), F),
        ],
    );
    check(
        "name",
        "=%",
        &[("".into(), T), ("x".into(), T), (Value::Null, N)],
    );
    // `_` is always literal.
    check("name", "=a_c", &[("a_c".into(), T), ("abc".into(), F)]);
    check("name", "=a_%", &[("a_x".into(), T), ("abx".into(), F)]);
    check(
        "name",
        r"starts_with 50\%",
        &[("50%x".into(), T), ("500".into(), F)],
    );
}

#[test]
fn escapes() {
    check("name", r"=a\;b", &[("a;b".into(), T), ("a".into(), F)]);
    check("name", r"=50\%", &[("50%".into(), T), ("500".into(), F)]);
    check("name", r"=\null", &[("null".into(), T), (Value::Null, N)]);
    check("name", r"=\!x", &[("!x".into(), T), ("x".into(), F)]);
    check("name", r"=\$subject.id", &[("$subject.id".into(), T)]);
    check("name", r"=a\|\|b", &[("a||b".into(), T)]);
    check("name", r"=a\&\&b", &[("a&&b".into(), T)]);
    check("name", r"=back\\slash", &[(r"back\slash".into(), T)]);
    check(
        "name",
        r"=\ padded\ ",
        &[(" padded ".into(), T), ("padded".into(), F)],
    );
    // Unescaped white space around values and operators is not part of a value.
    check(
        "name",
        " = a ; b ",
        &[("a".into(), T), ("b".into(), T), (" a".into(), F)],
    );
    check("name", "contains a|b", &[("xa|by".into(), T)]);
}

#[test]
fn or_and_inside_a_string() {
    check(
        "id",
        "<2 || >8",
        &[(1.into(), T), (5.into(), F), (9.into(), T)],
    );
    check(
        "id",
        ">2 && <8 || =100",
        &[(5.into(), T), (9.into(), F), (100.into(), T)],
    );
}

#[test]
fn json_grouping() {
    // Members of one object are ANDed.
    let f = read_filter(r#"{"id":"=1","name":"=a"}"#);
    let r = |id: i64, name: &str| {
        let mut r = row("id", id.into());
        r[3] = name.into();
        r
    };
    assert!(f.matches(&r(1, "a")) && !f.matches(&r(1, "b")));
    // (id = 1 OR name = a) AND score > 5: the PHP package spliced this without parentheses.
    let f = read_filter(r#"{"&&":{"||":{"id":"=1","name":"=a"},"score":">5"}}"#);
    let r = |id: i64, name: &str, score: f64| {
        let mut r = r(id, name);
        r[2] = score.into();
        r
    };
    assert!(f.matches(&r(1, "x", 6.0)));
    assert!(f.matches(&r(2, "a", 6.0)));
    assert!(!f.matches(&r(2, "x", 6.0)));
    assert!(!f.matches(&r(1, "a", 1.0)));
    // A list under || is a list of groups, each ANDed inside.
    let f = read_filter(r#"{"||":[{"id":"=1","name":"=a"},{"id":"=2"}]}"#);
    assert!(f.matches(&r(1, "a", 0.0)));
    assert!(!f.matches(&r(1, "b", 0.0)));
    assert!(f.matches(&r(2, "b", 0.0)));
}

#[test]
fn variables_resolve_or_fail_closed() {
    let f = read_filter(r#"{"id":"=$subject.id"}"#);
    let with = |attrs: &Attributes, id: i64| f.resolve(attrs).matches(&row("id", id.into()));
    let attrs = Attributes::new().with("id", 7);
    assert!(with(&attrs, 7) && !with(&attrs, 8));
    // Missing or unparseable: false as a whole, also under !=.
    assert!(!with(&Attributes::new(), 7));
    assert!(!with(&Attributes::new().with("id", "seven"), 7));
    let not_own = read_filter(r#"{"id":"!=$subject.id"}"#);
    assert_eq!(not_own.resolve(&Attributes::new()), Filter::False);
    assert!(not_own.resolve(&attrs).matches(&row("id", 8.into())));
    // A list attribute expands in = lists.
    let teams = read_filter(r#"{"id":"=$subject.teams;100"}"#);
    let resolved = teams.resolve(&Attributes::new().with_all("teams", [1, 2]));
    assert_eq!(resolved.to_string(), "id IN (1, 2, 100)");
    // Comparisons need exactly one value.
    let cmp = read_filter(r#"{"id":"<$subject.limit"}"#);
    assert_eq!(
        cmp.resolve(&Attributes::new().with_all("limit", [1, 2])),
        Filter::False
    );
    assert!(cmp
        .resolve(&Attributes::new().with("limit", 5))
        .matches(&row("id", 4.into())));
}

fn error(doc: &str) -> RuleError {
    compile_document(doc, &cols()).expect_err(doc)
}

#[test]
fn every_validation_error_names_place_text_and_reason() {
    let cases: &[(&str, RuleErrorKind, &str)] = &[
        (
            "{",
            RuleErrorKind::Json,
            "invalid JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            "[]",
            RuleErrorKind::Shape,
            "a rule document is a JSON object like {\"read\": \"*\"}, found a list",
        ),
        (
            r#"{"reed":"*"}"#,
            RuleErrorKind::UnknownRight,
            "reed: unknown right; expected create, read, update, delete, deny or columns",
        ),
        (
            r#"{"columns":["id"]}"#,
            RuleErrorKind::Shape,
            "columns: \"columns\" is a JSON object like {\"read\": [\"id\", \"name\"]}, found a list",
        ),
        (
            r#"{"columns":{"delete":["id"]}}"#,
            RuleErrorKind::Shape,
            "columns.delete: a delete removes whole rows; columns apply to create, read and update",
        ),
        (
            r#"{"columns":{"reed":["id"]}}"#,
            RuleErrorKind::UnknownRight,
            "columns.reed: unknown right; expected create, read or update",
        ),
        (
            r#"{"columns":{"read":"id"}}"#,
            RuleErrorKind::Shape,
            "columns.read: a list of column names, found the string \"id\"",
        ),
        (
            r#"{"columns":{"read":["id",7]}}"#,
            RuleErrorKind::Shape,
            "columns.read[1]: a column name is a string, found the number 7",
        ),
        (
            r#"{"columns":{"update":["id","nmae"]}}"#,
            RuleErrorKind::UnknownColumn,
            "columns.update[1]: unknown column \"nmae\"; the model's columns are: id, big, score, name, active, born, seen, key",
        ),
        (
            r#"{"columns":{"read":["id; DROP TABLE t"]}}"#,
            RuleErrorKind::UnknownColumn,
            "columns.read[0]: unknown column \"id; DROP TABLE t\"; the model's columns are: id, big, score, name, active, born, seen, key",
        ),
        (
            r#"{"deny":"*"}"#,
            RuleErrorKind::Shape,
            "deny: \"deny\" is a JSON object like {\"delete\": \"*\"}, found the string \"*\"",
        ),
        (
            r#"{"deny":{"remove":"*"}}"#,
            RuleErrorKind::UnknownRight,
            "deny.remove: unknown right; expected create, read, update or delete",
        ),
        (
            r#"{"deny":{"read":"all"}}"#,
            RuleErrorKind::Shape,
            "deny.read: expected \"*\" or {\"search\": {…}}, found the string \"all\"",
        ),
        (
            r#"{"deny":{"read":{"search":{"nme":"=x"}}}}"#,
            RuleErrorKind::UnknownColumn,
            "deny.read.search.nme: \"=x\": unknown column \"nme\"; the model's columns are: id, big, score, name, active, born, seen, key",
        ),
        (
            r#"{"read":"all"}"#,
            RuleErrorKind::Shape,
            "read: expected \"*\" or {\"search\": {…}}, found the string \"all\"",
        ),
        (
            r#"{"read":{"serch":{}}}"#,
            RuleErrorKind::Shape,
            "read: expected \"*\" or {\"search\": {…}}, found an object",
        ),
        (
            r#"{"read":{"search":{"id":"=1"},"x":1}}"#,
            RuleErrorKind::Shape,
            "read.x: unexpected key; a right holds only \"search\"",
        ),
        (
            r#"{"read":{"search":{}}}"#,
            RuleErrorKind::Shape,
            "read.search: empty search; use \"*\" to grant every row",
        ),
        (
            r#"{"read":{"search":{"id":1}}}"#,
            RuleErrorKind::Shape,
            "read.search.id: a condition is a string like \"=1;2\" (or, on a relation, an object of conditions), found the number 1",
        ),
        (
            r#"{"read":{"search":{"||":[]}}}"#,
            RuleErrorKind::Shape,
            "read.search.||: expected an object or a non-empty list of objects, found a list",
        ),
        (
            r#"{"read":{"search":{"||":["=1"]}}}"#,
            RuleErrorKind::Shape,
            "read.search.||[0]: a group is a JSON object, found the string \"=1\"",
        ),
        (
            r#"{"read":{"search":{"id":"=1;x"}}}"#,
            RuleErrorKind::Value,
            r#"read.search.id: "=1;x": "x" is not an integer (32-bit)"#,
        ),
        (
            r#"{"read":{"search":{"idd":"=1"}}}"#,
            RuleErrorKind::UnknownColumn,
            r#"read.search.idd: "=1": unknown column "idd"; the model's columns are: id, big, score, name, active, born, seen, key"#,
        ),
        (
            r#"{"read":{"search":{"id":"~1"}}}"#,
            RuleErrorKind::UnknownOperator,
            r#"read.search.id: "~1": unknown operator at "~1"; a condition starts with one of = != < > <= >= <> !<> contains starts_with ends_with (word operators are followed by a space)"#,
        ),
        (
            r#"{"read":{"search":{"id":"1;2"}}}"#,
            RuleErrorKind::UnknownOperator,
            r#"read.search.id: "1;2": unknown operator at "1;2"; a condition starts with one of = != < > <= >= <> !<> contains starts_with ends_with (word operators are followed by a space)"#,
        ),
        (
            r#"{"read":{"search":{"name":"containsx"}}}"#,
            RuleErrorKind::UnknownOperator,
            r#"read.search.name: "containsx": unknown operator at "containsx"; a condition starts with one of = != < > <= >= <> !<> contains starts_with ends_with (word operators are followed by a space)"#,
        ),
        (
            r#"{"read":{"search":{"id":"<1;2"}}}"#,
            RuleErrorKind::ValueCount,
            r#"read.search.id: "<1;2": < takes exactly one value, found 2"#,
        ),
        (
            r#"{"read":{"search":{"id":"<>1"}}}"#,
            RuleErrorKind::ValueCount,
            r#"read.search.id: "<>1": <> takes exactly two values (low;high), found 1"#,
        ),
        (
            r#"{"read":{"search":{"id":"=1;"}}}"#,
            RuleErrorKind::Syntax,
            r#"read.search.id: "=1;": empty value after ="#,
        ),
        (
            r#"{"read":{"search":{"id":"=1||"}}}"#,
            RuleErrorKind::Syntax,
            r#"read.search.id: "=1||": empty condition (check for a doubled or trailing || or &&)"#,
        ),
        (
            r#"{"read":{"search":{"name":"=a\\"}}}"#,
            RuleErrorKind::Syntax,
            r#"read.search.name: "=a\\": a trailing backslash escapes nothing; write \\ for a backslash"#,
        ),
        (
            r#"{"read":{"search":{"id":"=$user.id"}}}"#,
            RuleErrorKind::Syntax,
            r#"read.search.id: "=$user.id": "$user.id" is not a variable; variables are $subject.NAME (letters, digits, _); write \$ for a literal $"#,
        ),
        (
            r#"{"read":{"search":{"id":"<!1"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.id: "<!1": "!1": ! (exclusion) only applies in = and != lists; write \! for a literal !"#,
        ),
        (
            r#"{"read":{"search":{"id":"=1%"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.id: "=1%": "1%": % patterns apply to text columns only; write \% for a literal %"#,
        ),
        (
            r#"{"read":{"search":{"name":"<a%"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.name: "<a%": "a%": < takes no % pattern; write \% for a literal %"#,
        ),
        (
            r#"{"read":{"search":{"id":"<null"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.id: "<null": < cannot compare with null; use =null or =!null"#,
        ),
        (
            r#"{"read":{"search":{"active":"<true"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.active: "<true": < does not apply to bool columns; use = or !="#,
        ),
        (
            r#"{"read":{"search":{"id":"contains 1"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.id: "contains 1": contains applies to text columns only; "id" is integer"#,
        ),
        (
            r#"{"read":{"search":{"name":"contains $subject.x"}}}"#,
            RuleErrorKind::OperatorType,
            r#"read.search.name: "contains $subject.x": "$subject.x": contains takes literal text (no null, % or variables)"#,
        ),
        (
            r#"{"read":{"search":{"born":"=2023-02-29"}}}"#,
            RuleErrorKind::Value,
            r#"read.search.born: "=2023-02-29": "2023-02-29" is not a date (YYYY-MM-DD)"#,
        ),
        (
            r#"{"update":{"search":{"||":{"id":"=1","score":"=abc"}}}}"#,
            RuleErrorKind::Value,
            r#"update.search.||.score: "=abc": "abc" is not a finite number"#,
        ),
        (
            r#"{"read":{"search":{"id":"=1"}},"read":"*"}"#,
            RuleErrorKind::Json,
            "invalid JSON: key \"read\" appears twice at line 1 column 42",
        ),
    ];
    for (doc, kind, message) in cases {
        let err = error(doc);
        assert_eq!(err.to_string(), *message, "{doc}");
        assert_eq!(err.kind, *kind, "{doc}");
    }
}

#[test]
fn merge_unions_and_compacts() {
    let c = cols();
    let doc = |s: &str| compile_document(s, &c).unwrap();
    let roles: Vec<CompiledRules> = (0..1000)
        .map(|r| {
            doc(&format!(
                r#"{{"read":{{"search":{{"id":"={};{}"}}}}}}"#,
                r,
                r + 1
            ))
        })
        .collect();
    let merged = merge(roles.iter().filter_map(|r| r.access(Right::Read)));
    let Merged::Rows(Filter::Test(Test {
        kind: TestKind::In(ids),
        ..
    })) = &merged
    else {
        panic!("one IN list expected, got {merged:?}");
    };
    assert_eq!(ids.len(), 1001, "duplicates removed");

    let star = doc(r#"{"read":"*"}"#);
    let some = doc(r#"{"read":{"search":{"id":"=1"}}}"#);
    assert_eq!(
        merge(
            [some.access(Right::Read), star.access(Right::Read)]
                .into_iter()
                .flatten()
        ),
        Merged::Everything
    );
    assert_eq!(merge(some.access(Right::Delete)), Merged::Nothing);
    let twice = merge(
        [some.access(Right::Read), some.access(Right::Read)]
            .into_iter()
            .flatten(),
    );
    assert_eq!(twice.to_filter().to_string(), "id = 1");
    let mixed = merge(
        [
            some.access(Right::Read),
            doc(r#"{"read":{"search":{"name":"=a"}}}"#).access(Right::Read),
        ]
        .into_iter()
        .flatten(),
    );
    assert_eq!(mixed.to_filter().to_string(), "(id = 1 OR name = 'a')");
}

#[test]
fn injection_attempts_stay_values() {
    for nasty in [
        "' OR 1=1 --",
        "\"; DROP TABLE contacts; --",
        "`id`",
        "x') OR ('1'='1",
        "a\\'--",
    ] {
        let expr = format!("={}", escape_value(nasty));
        let f = read_filter(&serde_json::json!({ "name": expr }).to_string());
        let sql = SqlFilter::new(Some("contacts"), f);
        let text = diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string();
        let (query, binds) = text.split_once(" -- binds: ").unwrap();
        assert_eq!(query, r#""contacts"."name" = $1"#, "{nasty}");
        assert_eq!(binds, format!("[{nasty:?}]"), "{nasty}");
    }
    // Column names come only from the model: an unknown one is an error, never SQL.
    let err = error(r#"{"read":{"search":{"id\" OR 1=1 --":"=1"}}}"#);
    assert_eq!(err.kind, RuleErrorKind::UnknownColumn);
    // NUL bytes cannot reach a text value.
    let err = error("{\"read\":{\"search\":{\"name\":\"=a\\u0000b\"}}}");
    assert_eq!(err.kind, RuleErrorKind::Value);
}

#[test]
fn rendering_per_backend() {
    let f = read_filter(
        r#"{"name":"=a;b%","score":"<>1;2","key":"=67e55044-10b1-426f-9247-bb680e5fe0c8"}"#,
    );
    let sql = SqlFilter::new(None, f.clone());
    let pg = diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string();
    assert_eq!(
        pg,
        r#"(("name" = $1 OR "name" LIKE $2 ESCAPE '!') AND "score" BETWEEN $3 AND $4 AND "key" = CAST($5 AS uuid)) -- binds: ["a", "b%", 1.0, 2.0, "67e55044-10b1-426f-9247-bb680e5fe0c8"]"#
    );
    let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string();
    assert_eq!(
        sqlite,
        r#"((`name` = ? OR `name` GLOB ?) AND `score` BETWEEN ? AND ? AND `key` = ?) -- binds: ["a", "b*", 1.0, 2.0, "67e55044-10b1-426f-9247-bb680e5fe0c8"]"#
    );
    let text = read_filter(r#"{"name":"<m"}"#);
    let pg = diesel::debug_query::<diesel::pg::Pg, _>(&SqlFilter::new(None, text)).to_string();
    assert!(pg.starts_with(r#""name" COLLATE "C" < $1"#), "{pg}");
    let empty = SqlFilter::new(Some("t"), Filter::False);
    assert_eq!(
        diesel::debug_query::<diesel::pg::Pg, _>(&empty).to_string(),
        "1=0 -- binds: []"
    );
}

/// PostgreSQL binds a list of two or more known values as one array (`= ANY($1)`) and one
/// value as `=`; the array's binds show its values.
#[test]
fn postgres_lists_bind_one_array() {
    let pg = |search: &str| {
        let sql = SqlFilter::new(None, read_filter(search));
        diesel::debug_query::<diesel::pg::Pg, _>(&sql).to_string()
    };
    assert_eq!(
        pg(r#"{"id":"=1;2;3"}"#),
        r#""id" = ANY($1) -- binds: [[1, 2, 3]]"#
    );
    assert_eq!(
        pg(r#"{"name":"=a;O'Brien"}"#),
        r#""name" = ANY($1) -- binds: [['a', 'O''Brien']]"#
    );
    assert_eq!(pg(r#"{"id":"=7"}"#), r#""id" = $1 -- binds: [7]"#);
    // NULL is its own test; the known values still travel as one array.
    assert_eq!(
        pg(r#"{"id":"=1;null;3"}"#),
        r#"("id" = ANY($1) OR "id" IS NULL) -- binds: [[1, 3]]"#
    );
    // A list of one known value after NULL is split off is a plain `=`.
    assert_eq!(
        pg(r#"{"id":"=null;3"}"#),
        r#"("id" = $1 OR "id" IS NULL) -- binds: [3]"#
    );
}

/// SQLite and MySQL keep the `IN` list up to `LONG_LIST` values and bind a longer one as a
/// single JSON text.
#[test]
fn long_lists_become_one_json_bind_past_the_limit() {
    let list = |n: usize| {
        let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let sql = SqlFilter::new(
            None,
            read_filter(&format!(r#"{{"id":"={}"}}"#, values.join(";"))),
        );
        diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string()
    };
    let at_limit = list(LONG_LIST);
    assert!(at_limit.starts_with("`id` IN (?, ?"), "{}", &at_limit[..40]);
    assert_eq!(at_limit.matches('?').count(), LONG_LIST);
    assert_eq!(
        list(LONG_LIST + 1),
        "`id` IN (SELECT value FROM json_each(?)) -- binds: [json list of 1001 values]"
    );
}

/// MySQL compares text byte for byte (`BINARY`), except where it only asks for NULL.
#[cfg(feature = "mysql")]
#[test]
fn mysql_text_comparisons_are_binary() {
    let my = |search: &str| {
        let sql = SqlFilter::new(None, read_filter(search));
        diesel::debug_query::<diesel::mysql::Mysql, _>(&sql).to_string()
    };
    assert_eq!(
        my(r#"{"name":"=a"}"#),
        "BINARY `name` = ? -- binds: [\"a\"]"
    );
    assert_eq!(my(r#"{"name":"=null"}"#), "`name` IS NULL -- binds: []");
}

#[test]
fn patterns_escape_their_sql_wildcards() {
    let p = Pattern::new(vec![Piece::Text("a_%!*?[".into()), Piece::Wildcard]);
    assert_eq!(p.like(), "a!_!%!!*?[%");
    assert_eq!(p.glob(), "a_%![*][?][[]*");
    assert!(p.matches("a_%!*?[zzz"));
    assert!(!p.matches("ab%!*?["));
}

#[test]
fn escape_value_round_trips_through_the_parser() {
    for text in [
        "plain",
        "a;b",
        "50%",
        "null",
        "!x",
        "$subject.id",
        "a||b&&c",
        r"back\slash",
        " pad ",
        "日本;é",
    ] {
        let f = read_filter(
            &serde_json::json!({ "name": format!("={}", escape_value(text)) }).to_string(),
        );
        assert_eq!(
            f.to_string(),
            format!("name = {}", Value::from(text)),
            "{text:?}"
        );
    }
}

#[test]
fn attributes_replace_and_compare_by_content() {
    let a = Attributes::new()
        .with("team", 1)
        .with("id", 2)
        .with("team", 3);
    let b = Attributes::new().with("id", 2).with_all("team", [3]);
    assert_eq!(
        a, b,
        "insertion order does not matter; a second insert replaces"
    );
    assert_eq!(a.get("team"), Some(&["3".to_owned()][..]));
    assert_eq!(a.get("missing"), None);
}

#[test]
fn uuid_variables_bind_in_place_ignoring_case() {
    let filter = read_filter(r#"{"key":"=$subject.key"}"#);
    let stored = "0000000a-0000-0000-0000-00000000000b";
    let row = row("key", Value::parse(ColumnType::Uuid, stored).unwrap());
    for (given, expected) in [
        ("0000000A-0000-0000-0000-00000000000B", Some(true)),
        (stored, Some(true)),
        ("0000000a-0000-0000-0000-00000000000c", Some(false)),
        ("not-a-uuid", Some(false)), // fails closed: the condition is false
    ] {
        let attrs = Attributes::new().with("key", given);
        assert_eq!(filter.eval_with(&row, &attrs), expected, "{given}");
        assert_eq!(
            filter.resolve(&attrs).eval(&row),
            expected,
            "{given}, resolved"
        );
    }
}

#[test]
fn denies_refuse_unknown_and_null_and_only_exempt_null_when_told() {
    let doc = r#"{"read":"*","deny":{"read":{"search":{"name":"=x"}},"delete":"*"}}"#;
    let rules = compile_document(doc, &cols()).unwrap();
    let read = allowed(
        &merge(rules.access(Right::Read)),
        &merge(rules.deny(Right::Read)),
    );
    assert_eq!(read.to_string(), "NOT (name = 'x')");
    assert_eq!(read.eval(&row("name", Value::from("x"))), Some(false));
    assert_eq!(read.eval(&row("name", Value::from("y"))), Some(true));
    // NULL: the deny is unknown, so is its NOT, and only TRUE passes: refused.
    assert!(!read.matches(&row("id", Value::Int(1))));
    let delete = allowed(
        &merge(rules.access(Right::Delete)),
        &merge(rules.deny(Right::Delete)),
    );
    assert_eq!(delete, Filter::False);
    // Exempting NULL rows is written out.
    let doc = r#"{"read":"*","deny":{"read":{"search":{"name":"=x && !=null"}}}}"#;
    let rules = compile_document(doc, &cols()).unwrap();
    let read = allowed(
        &merge(rules.access(Right::Read)),
        &merge(rules.deny(Right::Read)),
    );
    assert!(read.matches(&row("id", Value::Int(1))));
    assert!(!read.matches(&row("name", Value::from("x"))));
    // Under the deny's NOT, a missing variable refuses; bound, it decides per row.
    let doc = r#"{"read":"*","deny":{"read":{"search":{"id":"!=$subject.id"}}}}"#;
    let rules = compile_document(doc, &cols()).unwrap();
    let read = allowed(
        &merge(rules.access(Right::Read)),
        &merge(rules.deny(Right::Read)),
    );
    let seven = row("id", Value::Int(7));
    assert_eq!(read.eval_with(&seven, &Attributes::new()), Some(false));
    assert_eq!(read.resolve(&Attributes::new()).eval(&seven), Some(false));
    let attrs = Attributes::new().with("id", 7);
    assert_eq!(read.eval_with(&seven, &attrs), Some(true));
    assert_eq!(read.resolve(&attrs).eval(&seven), Some(true));
    assert_eq!(
        read.eval_with(&row("id", Value::Int(8)), &attrs),
        Some(false)
    );
}

#[test]
fn a_deny_takes_own_columns_only() {
    let mut schema = Schema::new();
    let types = Columns::new([("id", ColumnType::Integer), ("name", ColumnType::Text)]).unwrap();
    schema.add_model("types", "types", "id", types);
    let things = Columns::new([
        ("id", ColumnType::Integer),
        ("type_id", ColumnType::Integer),
    ])
    .unwrap();
    schema.add_model("things", "things", "id", things.clone());
    schema
        .add_relation(
            "things",
            Relation::belongs_to("kind", "type_id", "types", "id"),
        )
        .unwrap();
    let doc = r#"{"read":{"search":{"kind.name":"=a"}},"deny":{"read":{"search":{"||":{"id":"=1","kind.name":"=secret"}}}}}"#;
    let err = compile_document_in(doc, &things, &schema, "things").unwrap_err();
    assert_eq!(err.kind, RuleErrorKind::RelationInDeny);
    assert!(
        err.to_string()
            .starts_with("deny.read.search.||.kind.name: a deny takes the model's own columns"),
        "{err}"
    );
}
