//! Unit tests of relation conditions: parsing, validation messages, the SQL shape on every
//! backend. Their results on real data run in `tests/it/relations.rs`.

use super::*;

/// contacts → contact_types → categories, contact_types has many contacts, categories has a
/// parent category (a relation back to the same table).
fn schema() -> Schema {
    let cols = |c: &[(&str, ColumnType)]| Columns::new(c.iter().copied()).unwrap();
    let mut s = Schema::new();
    s.add_model(
        "categories",
        "categories",
        "id",
        cols(&[
            ("id", ColumnType::Bigint),
            ("name", ColumnType::Text),
            ("parent_id", ColumnType::Bigint),
        ]),
    );
    s.add_model(
        "contact_types",
        "contact_types",
        "id",
        cols(&[
            ("id", ColumnType::Bigint),
            ("name", ColumnType::Text),
            ("category_id", ColumnType::Bigint),
        ]),
    );
    s.add_model("contacts", "contacts", "id", contacts_columns());
    let rel = [
        (
            "contacts",
            Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id"),
        ),
        (
            "contact_types",
            Relation::has_many("contacts", "id", "contacts", "contact_type_id"),
        ),
        (
            "contact_types",
            Relation::belongs_to("category", "category_id", "categories", "id"),
        ),
        (
            "categories",
            Relation::belongs_to("parent", "parent_id", "categories", "id"),
        ),
    ];
    for (model, r) in rel {
        s.add_relation(model, r).unwrap();
    }
    s
}

fn contacts_columns() -> Columns {
    Columns::new([
        ("id", ColumnType::Bigint),
        ("status", ColumnType::Text),
        ("score", ColumnType::Integer),
        ("contact_type_id", ColumnType::Bigint),
    ])
    .unwrap()
}

fn compile(model: &str, search: &str) -> Result<Filter, RuleError> {
    let s = schema();
    let columns = s.model(model).unwrap().columns.clone();
    let doc = format!(r#"{{"read":{{"search":{search}}}}}"#);
    compile_document_in(&doc, &columns, &s, model).map(|c| c.filter(Right::Read).unwrap())
}

fn sqlite(model: &str, search: &str) -> String {
    let filter = compile(model, search).unwrap_or_else(|e| panic!("{search}: {e}"));
    SqlFilter::new(Some(model), filter).debug_sql(crate::Backend::Sqlite)
}

#[test]
fn belongs_to_is_a_correlated_exists_on_the_key() {
    assert_eq!(
        sqlite("contacts", r#"{"contact_type.name":"=customer"}"#),
        "EXISTS (SELECT 1 FROM `contact_types` AS `rowguard_r1` WHERE `rowguard_r1`.`id` = \
         `contacts`.`contact_type_id` AND `rowguard_r1`.`name` = ?) -- binds: [\"customer\"]"
    );
}

#[test]
fn has_many_and_its_negation() {
    assert_eq!(
        sqlite("contact_types", r#"{"contacts.status":"=open"}"#),
        "EXISTS (SELECT 1 FROM `contacts` AS `rowguard_r1` WHERE `rowguard_r1`.`contact_type_id` \
         = `contact_types`.`id` AND `rowguard_r1`.`status` = ?) -- binds: [\"open\"]"
    );
    assert_eq!(
        sqlite("contact_types", r#"{"!contacts.status":"=open"}"#),
        "NOT (EXISTS (SELECT 1 FROM `contacts` AS `rowguard_r1` WHERE \
         `rowguard_r1`.`contact_type_id` = `contact_types`.`id` AND `rowguard_r1`.`status` = ?)) \
         -- binds: [\"open\"]"
    );
}

#[test]
fn the_object_form_holds_on_one_related_row() {
    let sql = sqlite(
        "contact_types",
        r#"{"contacts":{"status":"=open","score":">10"}}"#,
    );
    assert_eq!(sql.matches("EXISTS").count(), 1, "{sql}");
    assert!(
        sql.contains("(`rowguard_r1`.`status` = ? AND `rowguard_r1`.`score` > ?)"),
        "{sql}"
    );
    // Two separate keys are two EXISTS: possibly two different rows.
    let sql = sqlite(
        "contact_types",
        r#"{"contacts.status":"=open","contacts.score":">10"}"#,
    );
    assert_eq!(sql.matches("EXISTS").count(), 2, "{sql}");
}

#[test]
fn nested_paths_correlate_each_level_with_the_one_above() {
    let sql = sqlite("contacts", r#"{"contact_type.category.name":"=vip"}"#);
    assert!(
        sql.contains("`rowguard_r1`.`id` = `contacts`.`contact_type_id`"),
        "{sql}"
    );
    assert!(
        sql.contains("`rowguard_r2`.`id` = `rowguard_r1`.`category_id`"),
        "{sql}"
    );
    // A relation back to the same table: the alias keeps the levels apart.
    let sql = sqlite("categories", r#"{"parent.parent.name":"=root"}"#);
    assert!(
        sql.contains("`rowguard_r1`.`id` = `categories`.`parent_id`"),
        "{sql}"
    );
    assert!(
        sql.contains("`rowguard_r2`.`id` = `rowguard_r1`.`parent_id`"),
        "{sql}"
    );
}

#[test]
fn relations_compose_with_or_as_written() {
    // The PHP package ANDed relation conditions even inside ||; here || means OR.
    let filter = compile(
        "contacts",
        r#"{"||":{"status":"=open","contact_type.name":"=customer"}}"#,
    )
    .unwrap();
    assert!(
        matches!(&filter, Filter::Or(parts) if parts.len() == 2),
        "{filter}"
    );
    assert_eq!(
        filter.to_string(),
        "(status = 'open' OR EXISTS contact_type(name = 'customer'))"
    );
}

#[test]
fn same_shape_on_postgres() {
    let filter = compile("contacts", r#"{"contact_type.name":"=customer"}"#).unwrap();
    assert_eq!(
        SqlFilter::new(Some("contacts"), filter).debug_sql(crate::Backend::Postgres),
        "EXISTS (SELECT 1 FROM \"contact_types\" AS \"rowguard_r1\" WHERE \"rowguard_r1\".\"id\" \
         = \"contacts\".\"contact_type_id\" AND \"rowguard_r1\".\"name\" = $1) -- binds: [\"customer\"]"
    );
}

#[test]
fn errors_name_the_bad_part() {
    let err = |model: &str, search: &str| compile(model, search).unwrap_err().to_string();
    assert_eq!(
        err("contacts", r#"{"kind.name":"=x"}"#),
        "read.search.kind.name: unknown relation \"kind\"; the relations of contacts are: \
         contact_type"
    );
    assert_eq!(
        err("contacts", r#"{"contact_type.nme":"=x"}"#),
        "read.search.contact_type.nme: \"=x\": unknown column \"nme\"; the columns of \
         contact_types are: id, name, category_id"
    );
    assert_eq!(
        err("contacts", r#"{"status.x":"=x"}"#),
        "read.search.status.x: unknown relation \"status\"; the relations of contacts are: \
         contact_type (\"status\" is a column, not a relation)"
    );
    assert!(err("contacts", r#"{"!status":"=x"}"#).contains("a leading ! negates a relation"));
    assert!(err("contacts", r#"{"contact_type..name":"=x"}"#).contains("has an empty name"));
    let as_column = err("contacts", r#"{"contact_type":"=x"}"#);
    assert!(
        as_column.contains("unknown column \"contact_type\"")
            && as_column.contains("\"contact_type\" is a relation: write \"contact_type.COLUMN\""),
        "{as_column}"
    );
    assert!(err("contacts", r#"{"contact_type":{}}"#).contains("empty search"));
    assert!(err("contacts", r#"{"contact_type":[1]}"#).contains("found a list"));
    // Depth: three relations are fine, a fourth is refused and named.
    assert!(compile("categories", r#"{"parent.parent.parent.name":"=x"}"#).is_ok());
    let deep = err("categories", r#"{"parent.parent.parent.parent.name":"=x"}"#);
    assert!(deep.contains("more than 3 relations"), "{deep}");
    // The object form counts its depth too.
    let deep = err(
        "categories",
        r#"{"parent.parent":{"parent.parent.name":"=x"}}"#,
    );
    assert!(deep.contains("more than 3 relations"), "{deep}");
}

#[test]
fn without_a_schema_a_relation_is_refused_not_guessed() {
    let doc = r#"{"read":{"search":{"contact_type.name":"=x"}}}"#;
    let err = compile_document(doc, &contacts_columns()).unwrap_err();
    assert_eq!(err.kind, RuleErrorKind::UnknownRelation);
    assert!(
        err.to_string().contains("relations are not known here"),
        "{err}"
    );
}

#[test]
fn in_memory_a_relation_is_unknown_and_never_grants() {
    let filter = compile("contacts", r#"{"contact_type.name":"=x"}"#).unwrap();
    let row = vec![
        Value::Int(1),
        Value::from("open"),
        Value::Int(1),
        Value::Int(1),
    ];
    assert_eq!(filter.eval(&row), None);
    let negated = compile("contacts", r#"{"!contact_type.name":"=x"}"#).unwrap();
    assert_eq!(negated.eval(&row), None);
    // Decided by the other side of an OR, it is known.
    let either = compile(
        "contacts",
        r#"{"||":{"status":"=open","contact_type.name":"=x"}}"#,
    )
    .unwrap();
    assert_eq!(either.eval(&row), Some(true));
}

#[test]
fn injection_in_relation_names_never_reaches_sql() {
    // Names are looked up in the schema; anything else is an error, never an identifier.
    for key in [
        r#"contact_type`; DROP TABLE contacts; --.name"#,
        r#"contact_type".name"#,
        "contact_type.name`) OR 1=1 --",
    ] {
        let search = serde_json::json!({ key: "=x" }).to_string();
        assert!(compile("contacts", &search).is_err(), "{key}");
    }
    // Values stay bound.
    let sql = sqlite("contacts", r#"{"contact_type.name":"=x') OR 1=1 --"}"#);
    assert!(sql.ends_with("-- binds: [\"x') OR 1=1 --\"]"), "{sql}");
}
