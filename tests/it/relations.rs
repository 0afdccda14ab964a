//! Relations on every backend: conditions through belongs-to and has-many relations, their
//! negation, the same-row object form, nested paths, OR, protection by the related model's
//! read rule, cycles failing closed, writes checked in the database, and the foreign-key
//! target check (the PHP package's own admitted hole).
//!
//! Sample data (`examples/contacts/app.rs`): contact types 1 customer, 2 supplier; contacts
//! 1–10, type 2 for 4 and 8, owner 42 for even ids and 17 for odd, score = id × 10, status
//! 1 open, 2 open, 3 pending, 4 closed, 5 open, 6 pending, 7 open, 8 closed, 9 open, 10 pending.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rowguard::rules::{Relation, Right, Value};
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Config, Error, Subject};

use crate::app::{contact_types, contacts, Contact, ContactType};
use crate::fixture;

rowguard::backend_tests!(
    belongs_to_reads_through_the_parent,
    has_many_some_child_and_no_child,
    the_object_form_holds_on_one_row,
    nested_paths_and_or_compose,
    related_rows_stay_protected,
    cycles_fail_closed_under_negation_too,
    sql_memory_and_keys_agree,
    create_and_update_rules_with_relations_are_checked_in_the_database,
    foreign_key_targets_must_be_readable,
    the_target_check_is_configurable_per_relation,
    relations_are_stored_guarded_and_visible_to_a_dba,
    explain_shows_the_related_rules,
    the_planner_sees_the_same_exists_as_hand_written,
    a_missing_attribute_never_opens_a_negated_relation,
    a_broken_related_rule_never_widens_a_negation,
    a_deny_on_the_related_model_never_widens_a_negation,
    a_broken_relation_stops_writes_instead_of_dropping_the_check,
    an_application_search_may_not_reach_through_relations,
    a_defaulted_foreign_key_is_checked_as_stored,
    a_create_check_on_the_parent_still_needs_it_readable,
    can_and_sql_agree_on_text_keys_whatever_the_collation,
    relation_names_differing_only_in_case_are_one_name,
    can_create_agrees_with_insert_on_the_target_check,
    a_relation_rules_use_cannot_be_pointed_elsewhere,
    a_defaulted_foreign_key_with_a_generated_key_is_checked_or_refused,
    a_generated_text_key_and_a_null_foreign_key_still_insert,
);

diesel::table! {
    gen_tickets (id) { id -> Nullable<BigInt>, contact_type_id -> Nullable<BigInt>, note -> Text }
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = gen_tickets)]
struct GenTicket {
    id: Option<i64>,
    contact_type_id: Option<i64>,
    note: String,
}

rowguard::authorizable!(GenTicket => gen_tickets(id) { id, contact_type_id, note });

diesel::table! {
    gen_notes (id) { id -> Nullable<Text>, contact_type_id -> Nullable<BigInt> }
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = gen_notes)]
struct GenNote {
    id: Option<String>,
    contact_type_id: Option<i64>,
}

rowguard::authorizable!(GenNote => gen_notes(id) { id, contact_type_id });

diesel::table! {
    tickets (id) { id -> BigInt, contact_type_id -> Nullable<BigInt>, note -> Text }
}

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = tickets)]
struct Ticket {
    id: i64,
    contact_type_id: Option<i64>,
    note: String,
}

rowguard::authorizable!(Ticket => tickets(id) { id, contact_type_id, note });

/// The contacts app with both relations stored, on one connection.
fn setup(db: &TestDatabase) -> (AnyConnection, Authorizer) {
    let (pool, auth) = fixture::contacts(db, Config::default(), 1);
    drop(pool);
    let mut conn = db.connect().expect("connect");
    store::put_relation(&mut conn, "contacts", &contact_type_relation()).expect("belongs-to");
    store::put_relation(
        &mut conn,
        "contact_types",
        &Relation::has_many("contacts", "id", "contacts", "contact_type_id"),
    )
    .expect("has-many");
    (conn, auth)
}

/// The belongs-to from contacts to their type, as sync-models derives it (check: read).
fn contact_type_relation() -> Relation {
    Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id")
}

/// Contact 1 as id 11, not stored yet: the row the write tests insert.
fn new_contact(c: &mut AnyConnection) -> Contact {
    let mut row = contacts::table.find(1).first::<Contact>(c).expect("row");
    row.id = 11;
    row
}

fn agent() -> Subject {
    Subject::new()
        .with_set("roles", ["agent"])
        .with_attribute("id", 17)
}

fn rules(conn: &mut AnyConnection, auth: &Authorizer, contacts: &str, types: &str) {
    store::put_rule(conn, "roles", "agent", "contacts", contacts).expect("contacts rule");
    store::put_rule(conn, "roles", "agent", "contact_types", types).expect("types rule");
    auth.invalidate();
}

fn visible_contacts(conn: &mut AnyConnection, auth: &Authorizer) -> Vec<i64> {
    fixture::visible(&auth.guard(agent()), conn)
}

fn visible_types(conn: &mut AnyConnection, auth: &Authorizer) -> Vec<i64> {
    auth.guard(agent())
        .read::<ContactType>(conn)
        .expect("query")
        .select(contact_types::id)
        .order(contact_types::id)
        .load(conn)
        .expect("load")
}

const ALL: &str = r#"{"read":"*"}"#;

fn belongs_to_reads_through_the_parent(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
        ALL,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [4, 8]);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"!contact_type.name":"=supplier"}}}"#,
        ALL,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [1, 2, 3, 5, 6, 7, 9, 10]);
}

fn has_many_some_child_and_no_child(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"contacts.status":"=closed"}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [2]);
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"!contacts.status":"=closed"}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [1]);
    // A type without any contact has no child that matches, and none that does not.
    c.batch_execute("INSERT INTO contact_types (id, name) VALUES (3, 'partner')")
        .expect("type 3");
    assert_eq!(visible_types(&mut c, &auth), [1, 3]);
}

fn the_object_form_holds_on_one_row(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // Type 1 has a pending contact and a contact scoring under 30, but not one that is both.
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"contacts.status":"=pending","contacts.score":"<30"}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [1]);
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"contacts":{"status":"=pending","score":"<30"}}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), Vec::<i64>::new());
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"contacts":{"status":"=pending","score":"<=30"}}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [1]);
    // Negated object form: no single closed contact scoring under 50 (contact 4 scores 40).
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"!contacts":{"status":"=closed","score":"<50"}}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [1]);
}

fn nested_paths_and_or_compose(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // Contacts whose type has a closed contact: through belongs-to, then has-many. (As the
    // update rule: as a read rule it would reach the contacts' own read rule again, a cycle.)
    rules(
        &mut c,
        &auth,
        r#"{"read":"*","update":{"search":{"contact_type.contacts.status":"=closed"}}}"#,
        ALL,
    );
    let updatable = auth
        .permitted_keys(&mut c, &agent(), "contacts", Right::Update)
        .expect("keys");
    assert_eq!(updatable, [Value::Int(4), Value::Int(8)]);
    // As a read rule it is a cycle (a readable closed contact needs a readable closed
    // contact): nothing bootstraps it, so nothing is granted.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.contacts.status":"=closed"}}}"#,
        ALL,
    );
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
    // OR means OR, also with relations (the PHP package ANDed them).
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"||":{"status":"=pending","contact_type.name":"=supplier"}}}}"#,
        ALL,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [3, 4, 6, 8, 10]);
    // Relation conditions use subject variables like any other.
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"contacts":{"owner_id":"=$subject.id","status":"=open"}}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), [1]);
}

fn related_rows_stay_protected(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // The agent may read the customer type only: a rule on the supplier type's name can
    // neither show its contacts nor reveal that the type exists.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
    // Negated, it is about readable types only: every contact lacks a readable supplier type.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"!contact_type.name":"=supplier"}}}"#,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    assert_eq!(
        visible_contacts(&mut c, &auth),
        (1..=10).collect::<Vec<_>>()
    );
    // Has-many: only readable children count (the agent reads its own contacts, all type 1).
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"owner_id":"=$subject.id"}}}"#,
        r#"{"read":{"search":{"contacts.status":"=closed"}}}"#,
    );
    assert_eq!(visible_types(&mut c, &auth), Vec::<i64>::new());
    // No rule on the related model at all: nothing there is readable, nothing matches.
    store::delete_rule(&mut c, "roles", "agent", "contact_types").expect("delete");
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "contacts",
        r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#,
    )
    .expect("rule");
    auth.invalidate();
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
}

fn cycles_fail_closed_under_negation_too(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // Each model's read rule reaches the other: protection would recurse forever.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#,
        r#"{"read":{"search":{"contacts.status":"=open"}}}"#,
    );
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
    assert_eq!(visible_types(&mut c, &auth), Vec::<i64>::new());
    let access = auth.access(&mut c, &agent(), "contacts").expect("access");
    assert!(access.cut, "the cut is reported");
    // `rules check` warns about it, naming both rule rows.
    let cycles = store::relation_cycles(&mut c).expect("cycles");
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("contacts (rule ") && cycles[0].contains("contact_types (rule "),
        "{cycles:?}"
    );
    // Under a negation the cut must not turn into a grant: contacts "not of a readable
    // customer type", where a type is readable through a readable open contact, is a
    // paradox for type 1; only the supplier type's contacts (4, 8) are granted whatever the
    // cut hides.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"!contact_type.name":"=customer"}}}"#,
        r#"{"read":{"search":{"contacts.status":"=open"}}}"#,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [4, 8]);
    let access = auth.access(&mut c, &agent(), "contacts").expect("access");
    assert!(access.cut);
    // A plain condition beside the cut one keeps working.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"||":{"status":"=closed","contact_type.name":"=customer"}}}}"#,
        r#"{"read":{"search":{"contacts.status":"=open"}}}"#,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [4, 8]);
}

fn sql_memory_and_keys_agree(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    let docs = [
        r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
        r#"{"read":{"search":{"!contact_type.name":"=supplier","status":"=open"}}}"#,
        r#"{"read":{"search":{"||":{"score":">80","contact_type.contacts.status":"=closed"}}}}"#,
    ];
    let all: Vec<Contact> = contacts::table
        .order(contacts::id)
        .load(&mut c)
        .expect("rows");
    for doc in docs {
        rules(&mut c, &auth, doc, ALL);
        let sql = visible_contacts(&mut c, &auth);
        let guard = auth.guard(agent());
        let can: Vec<i64> = all
            .iter()
            .filter(|row| guard.can(&mut c, Right::Read, *row).expect("can"))
            .map(|row| row.id)
            .collect();
        assert_eq!(can, sql, "{doc}: can() vs SQL");
        let keys = auth
            .permitted_keys(&mut c, &agent(), "contacts", Right::Read)
            .expect("keys");
        assert_eq!(
            keys,
            sql.iter().map(|&id| Value::Int(id)).collect::<Vec<_>>(),
            "{doc}: rules try vs SQL"
        );
    }
}

fn create_and_update_rules_with_relations_are_checked_in_the_database(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":"*","create":{"search":{"contact_type.name":"=customer"}},
            "update":{"search":{"contact_type.name":"=customer"}}}"#,
        ALL,
    );
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    guard
        .insert(&mut c, &row)
        .expect("a customer contact may be created");
    let mut supplier = row.clone();
    supplier.id = 12;
    supplier.contact_type_id = 2;
    assert!(!guard.can(&mut c, Right::Create, &supplier).expect("can"));
    assert!(guard.can(&mut c, Right::Create, &row).expect("can"));
    assert!(matches!(
        guard.insert(&mut c, &supplier),
        Err(Error::Forbidden { .. })
    ));
    assert!(contacts::table
        .find(12)
        .first::<Contact>(&mut c)
        .optional()
        .expect("query")
        .is_none());
    // The post-image: moving a customer contact to the supplier type leaves the rule.
    row.contact_type_id = 2;
    assert!(matches!(
        guard.update(&mut c, &row),
        Err(Error::Forbidden { .. })
    ));
    let stored = contacts::table
        .find(11)
        .first::<Contact>(&mut c)
        .expect("row");
    assert_eq!(stored.contact_type_id, 1, "rolled back");
    let moved = guard.update_all::<Contact>(&mut c, None, |r| r.contact_type_id = 2);
    assert!(matches!(moved, Err(Error::Forbidden { .. })), "{moved:?}");
    let count: i64 = contacts::table
        .filter(contacts::contact_type_id.eq(2))
        .count()
        .get_result(&mut c)
        .expect("count");
    assert_eq!(count, 2, "nothing written");
}

fn foreign_key_targets_must_be_readable(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // The PHP README's example: the agent may create contacts, but sees only the customer
    // type; it must not create a contact of a type it cannot see.
    rules(
        &mut c,
        &auth,
        r#"{"create":"*","read":"*","update":"*"}"#,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    row.contact_type_id = 2;
    let err = guard.insert(&mut c, &row).expect_err("unreadable target");
    assert!(
        matches!(&err, Error::ForbiddenTarget { relation, right: Right::Read, .. } if relation == "contact_type"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "forbidden: create on contacts: contact_type_id points at a contact_types row the \
         subject may not read"
    );
    let before: i64 = contacts::table.count().get_result(&mut c).expect("count");
    assert_eq!(before, 10, "nothing written");
    row.contact_type_id = 1;
    guard.insert(&mut c, &row).expect("readable target");
    // Update: pointing an existing contact at the unreadable type is refused, and so is
    // update_all; nothing changes.
    row.contact_type_id = 2;
    assert!(matches!(
        guard.update(&mut c, &row),
        Err(Error::ForbiddenTarget { .. })
    ));
    assert!(matches!(
        guard.update_all::<Contact>(&mut c, None, |r| r.contact_type_id = 2),
        Err(Error::ForbiddenTarget { .. })
    ));
    let suppliers: i64 = contacts::table
        .filter(contacts::contact_type_id.eq(2))
        .count()
        .get_result(&mut c)
        .expect("count");
    assert_eq!(suppliers, 2);
    // A subject with absolute rights is not checked.
    let admin = auth.guard(Subject::new().with_absolute_rights());
    row.id = 12;
    admin.insert(&mut c, &row).expect("absolute rights");
}

fn the_target_check_is_configurable_per_relation(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"create":"*","read":"*"}"#,
        r#"{"read":"*","update":{"search":{"name":"=customer"}}}"#,
    );
    let mut relation = contact_type_relation();
    relation.check = Some(Right::Update);
    store::put_relation(&mut c, "contacts", &relation).expect("check update");
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    row.contact_type_id = 2;
    assert!(matches!(
        guard.insert(&mut c, &row),
        Err(Error::ForbiddenTarget {
            right: Right::Update,
            ..
        })
    ));
    relation.check = None;
    store::put_relation(&mut c, "contacts", &relation).expect("check none");
    guard.insert(&mut c, &row).expect("no check");
}

fn relations_are_stored_guarded_and_visible_to_a_dba(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    let (found, broken) = store::load_relations(&mut c).expect("load");
    assert!(broken.is_empty());
    assert_eq!(
        found
            .iter()
            .map(|(m, r)| format!("{m}.{}", r.name))
            .collect::<Vec<_>>(),
        ["contact_types.contacts", "contacts.contact_type"]
    );
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        model: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        target_model: String,
    }
    let lines: Vec<Line> = diesel::sql_query(
        "SELECT model, target_model FROM authorizable_relations_by_name WHERE name = 'contact_type'",
    )
    .load(&mut c)
    .expect("view");
    assert_eq!(
        (lines[0].model.as_str(), lines[0].target_model.as_str()),
        ("contacts", "contact_types")
    );
    // A relation a rule uses cannot be removed, nor its model.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#,
        ALL,
    );
    let err = store::delete_relation(&mut c, "contacts", "contact_type").expect_err("in use");
    assert!(err.to_string().contains("contacts roles/agent"), "{err}");
    let err = store::delete_model(&mut c, "contact_types").expect_err("has rules/relations");
    assert!(!err.to_string().is_empty());
    // Bad relations are refused with the reason.
    for (bad, why) in [
        (
            Relation::belongs_to("kind", "kind_id", "contact_types", "id"),
            "does not list column \"kind_id\"",
        ),
        (
            Relation::belongs_to("status", "contact_type_id", "contact_types", "id"),
            "already a relation or column",
        ),
        (
            Relation::belongs_to("bad name", "contact_type_id", "contact_types", "id"),
            "letters, digits and _",
        ),
        (
            Relation::belongs_to("named", "name", "contact_types", "id"),
            "name is text",
        ),
    ] {
        let err = store::put_relation(&mut c, "contacts", &bad).expect_err(why);
        assert!(err.to_string().contains(why), "{err}");
    }
    // A DBA deletes the relation in SQL: the version moves, and the rule that used it fails
    // closed (it no longer compiles) instead of being misread.
    let before = store::state_version(&mut c).expect("version");
    c.batch_execute("DELETE FROM authorizable_relations WHERE name = 'contact_type'")
        .expect("dba delete");
    assert!(store::state_version(&mut c).expect("version") > before);
    auth.invalidate();
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
    let invalid = store::invalid_rules(&mut c).expect("check");
    assert_eq!(invalid.len(), 1);
    assert!(
        invalid[0]
            .error
            .contains("unknown relation \"contact_type\""),
        "{}",
        invalid[0].error
    );
}

fn explain_shows_the_related_rules(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=customer"}}}"#,
        r#"{"read":{"search":{"name":"!=partner"}}}"#,
    );
    let text = auth
        .explain(&mut c, &agent(), "contacts", Right::Read)
        .expect("explain")
        .to_string();
    assert!(text.contains("EXISTS contact_type("), "{text}");
    assert!(
        text.contains("related read rules (protection): contact_types: NOT (name = 'partner')"),
        "{text}"
    );
    assert!(text.contains("rowguard_r1"), "{text}");
}

/// EXPLAIN of rowguard's query and of the same query with the `EXISTS` written by hand:
/// the planner gets the same plan, on every backend.
fn the_planner_sees_the_same_exists_as_hand_written(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    c.batch_execute("CREATE INDEX contacts_type ON contacts (contact_type_id)")
        .expect("index");
    let backend = c.backend();
    let q = |s: &str| match backend {
        rowguard::Backend::Mysql => format!("`{s}`"),
        _ => format!("\"{s}\""),
    };
    let exact = if backend == rowguard::Backend::Mysql {
        "BINARY "
    } else {
        ""
    };
    let cases = [
        (
            r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
            ALL,
            "contacts",
            format!(
                "EXISTS (SELECT 1 FROM {ct} AS {r} WHERE {r}.{id} = {t}.{fk} AND {exact}{r}.{name} = 'supplier')",
                ct = q("contact_types"),
                r = q("rowguard_r1"),
                id = q("id"),
                t = q("contacts"),
                fk = q("contact_type_id"),
                name = q("name"),
            ),
        ),
        (
            ALL,
            r#"{"read":{"search":{"!contacts.status":"=closed"}}}"#,
            "contact_types",
            format!(
                "NOT (EXISTS (SELECT 1 FROM {c} AS {r} WHERE {r}.{fk} = {t}.{id} AND {exact}{r}.{status} = 'closed'))",
                c = q("contacts"),
                r = q("rowguard_r1"),
                id = q("id"),
                t = q("contact_types"),
                fk = q("contact_type_id"),
                status = q("status"),
            ),
        ),
    ];
    for (contacts_rule, types_rule, table, hand_where) in cases {
        rules(&mut c, &auth, contacts_rule, types_rule);
        let filter = auth
            .filter(&mut c, &agent(), table, Right::Read)
            .expect("filter");
        let sql =
            rowguard::SqlFilter::from_arc(Some(table.to_owned().into()), filter).debug_sql(backend);
        let (ours_where, binds) = sql.split_once(" -- binds: ").expect("binds");
        let binds: Vec<String> = serde_json::from_str(binds).expect("text binds");
        let ours = inline(
            &format!(
                "SELECT {t}.{id} FROM {t} WHERE {ours_where}",
                t = q(table),
                id = q("id")
            ),
            &binds,
            backend,
        );
        let hand = format!(
            "SELECT {t}.{id} FROM {t} WHERE {hand_where}",
            t = q(table),
            id = q("id")
        );
        let (ours_plan, hand_plan) = (plan(&mut c, &ours), plan(&mut c, &hand));
        assert!(!ours_plan.is_empty());
        assert_eq!(ours_plan, hand_plan, "\nours: {ours}\nhand: {hand}");
    }
}

/// The SQL with its text binds written in as literals (so EXPLAIN needs no parameters).
fn inline(sql: &str, binds: &[String], backend: rowguard::Backend) -> String {
    let mut out = sql.to_owned();
    for (i, b) in binds.iter().enumerate() {
        let literal = format!("'{}'", b.replace('\'', "''"));
        out = match backend {
            rowguard::Backend::Postgres => out.replacen(&format!("${}", i + 1), &literal, 1),
            _ => out.replacen('?', &literal, 1),
        };
    }
    out
}

/// The plan of `sql`, as the backend's EXPLAIN writes it.
fn plan(c: &mut AnyConnection, sql: &str) -> Vec<String> {
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Sqlite {
        #[diesel(sql_type = Text)]
        detail: String,
    }
    #[derive(QueryableByName)]
    struct Postgres {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    #[derive(QueryableByName)]
    struct Mysql {
        #[diesel(sql_type = Text, column_name = "EXPLAIN")]
        json: String,
    }
    match c.backend() {
        rowguard::Backend::Sqlite => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Sqlite>(c)
            .expect("explain")
            .into_iter()
            .map(|r| r.detail)
            .collect(),
        rowguard::Backend::Postgres => diesel::sql_query(format!("EXPLAIN (COSTS OFF) {sql}"))
            .load::<Postgres>(c)
            .expect("explain")
            .into_iter()
            .map(|r| r.line)
            .collect(),
        rowguard::Backend::Mysql => diesel::sql_query(format!("EXPLAIN FORMAT=JSON {sql}"))
            .load::<Mysql>(c)
            .expect("explain")
            .into_iter()
            .map(|r| r.json)
            .collect(),
    }
}

fn a_missing_attribute_never_opens_a_negated_relation(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"!contacts.owner_id":"=$subject.id"}}}"#,
    );
    assert_eq!(
        visible_types(&mut c, &auth),
        [2],
        "17 owns only type-1 contacts"
    );
    // Without the attribute the whole negated condition is false, as under `!=`.
    let anonymous = auth.guard(Subject::new().with_set("roles", ["agent"]));
    let types: Vec<i64> = anonymous
        .read::<ContactType>(&mut c)
        .expect("query")
        .select(contact_types::id)
        .load(&mut c)
        .expect("load");
    assert_eq!(types, Vec::<i64>::new());
    let customer = contact_types::table
        .find(1)
        .first::<ContactType>(&mut c)
        .expect("row");
    assert!(!anonymous.can(&mut c, Right::Read, &customer).expect("can"));
    // In a related model's read rule (protection) under a negation, too: a missing
    // attribute there counts every related row, so the negation grants less.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"owner_id":"=$subject.id"}}}"#,
        r#"{"read":{"search":{"!contacts.status":"=closed"}}}"#,
    );
    let types: Vec<i64> = anonymous
        .read::<ContactType>(&mut c)
        .expect("query")
        .select(contact_types::id)
        .load(&mut c)
        .expect("load");
    // Type 2 has closed contacts (with the attribute missing, every contact counts as
    // readable there); type 1 has none at all. Read as "no contact readable", the negation
    // would have granted both.
    assert_eq!(types, [1]);
}

fn a_broken_related_rule_never_widens_a_negation(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"!contact_type.name":"=supplier"}}}"#,
        ALL,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [1, 2, 3, 5, 6, 7, 9, 10]);
    // A DBA's typo in the related rule: that row grants nothing on contact_types, and must
    // not thereby widen contacts.
    c.batch_execute(
        r#"UPDATE authorization_rules SET rules = '{"read":{"search":{"nmae":"=x"}}}'
           WHERE authorizable_model_id = (SELECT id FROM authorizable_models WHERE name = 'contact_types')"#,
    )
    .expect("dba typo");
    auth.invalidate();
    assert_eq!(visible_contacts(&mut c, &auth), [1, 2, 3, 5, 6, 7, 9, 10]);
    // The same with a policy: contacts readable only through a statement, then a DBA's
    // broken policy (no Deny in it: it grants nothing) must not widen the negation either.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"id":"=0"}}}"#,
        r#"{"read":{"search":{"!contacts.status":"=closed"}}}"#,
    );
    store::put_policy(
        &mut c,
        "roles",
        "agent",
        r#"[{"Effect":"Allow","Action":"contacts:Read","Resource":"*"}]"#,
    )
    .expect("policy");
    auth.invalidate();
    assert_eq!(visible_types(&mut c, &auth), [1]);
    c.batch_execute(
        r#"UPDATE authorization_policies SET policy = '[{"Effect":"Allow","Action":"contacts:Read","Resource":"*","Condition":{}}]'"#,
    )
    .expect("dba's edit");
    auth.invalidate();
    assert_eq!(visible_contacts(&mut c, &auth), Vec::<i64>::new());
    assert_eq!(visible_types(&mut c, &auth), [1]);
}

/// An explicit deny only ever takes access away: one on the related model must not make a
/// negation through it true, whether it is a rule's `"deny"` or a policy's Deny statement.
fn a_deny_on_the_related_model_never_widens_a_negation(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // Types with no closed contact: type 2 has contacts 4 and 8, both closed.
    let no_closed = r#"{"read":{"search":{"!contacts.status":"=closed"}}}"#;
    rules(&mut c, &auth, ALL, no_closed);
    assert_eq!(visible_types(&mut c, &auth), [1]);
    // A rule denying the closed contacts: they are hidden from reads of contacts...
    rules(
        &mut c,
        &auth,
        r#"{"read":"*","deny":{"read":{"search":{"status":"=closed"}}}}"#,
        no_closed,
    );
    assert_eq!(visible_contacts(&mut c, &auth), [1, 2, 3, 5, 6, 7, 9, 10]);
    // ...but denying them does not open type 2.
    assert_eq!(visible_types(&mut c, &auth), [1]);
    let supplier = contact_types::table
        .find(2)
        .first::<ContactType>(&mut c)
        .expect("row");
    let guard = auth.guard(agent());
    assert!(!guard.can(&mut c, Right::Read, &supplier).expect("can"));
    // The same with a policy's Deny on the closed contacts' owner (42).
    rules(&mut c, &auth, ALL, no_closed);
    store::put_policy(
        &mut c,
        "roles",
        "agent",
        r#"[{"Effect":"Deny","Action":"contacts:Read","Resource":"arn:rowguard:default:local:42:contacts/*"}]"#,
    )
    .expect("policy");
    auth.invalidate();
    assert_eq!(visible_contacts(&mut c, &auth), [1, 3, 5, 7, 9]);
    assert_eq!(visible_types(&mut c, &auth), [1]);
    assert!(!guard.can(&mut c, Right::Read, &supplier).expect("can"));
    // A grant still scopes it: a negation counts only related rows the subject may read.
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"owner_id":"=17"}}}"#,
        no_closed,
    );
    assert_eq!(visible_types(&mut c, &auth), [1, 2]);
}

fn a_broken_relation_stops_writes_instead_of_dropping_the_check(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"create":"*","read":"*"}"#,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    row.contact_type_id = 2;
    assert!(matches!(
        guard.insert(&mut c, &row),
        Err(Error::ForbiddenTarget { .. })
    ));
    c.batch_execute(
        "UPDATE authorizable_relations SET local_column = 'contact_typeid' WHERE name = 'contact_type'",
    )
    .expect("dba typo");
    auth.invalidate();
    let err = guard.insert(&mut c, &row).expect_err("refused");
    assert!(
        err.to_string().contains("writes to contacts are refused"),
        "{err}"
    );
    row.contact_type_id = 1;
    assert!(
        guard.insert(&mut c, &row).is_err(),
        "every write, until it is fixed"
    );
    // Reads of contacts are unaffected (no rule uses the relation here).
    assert_eq!(visible_contacts(&mut c, &auth).len(), 10);
}

fn an_application_search_may_not_reach_through_relations(db: &TestDatabase) {
    use rowguard::Authorizable;
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    let (schema, _) = store::load_schema(&mut c).expect("schema");
    let search = rowguard::rules::compile_document_in(
        r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
        Contact::columns(),
        &schema,
        "contacts",
    )
    .expect("compiles")
    .filter(Right::Read)
    .expect("filter");
    let guard = auth.guard(agent());
    for result in [
        guard
            .load_all::<Contact>(&mut c, Some(search.clone()))
            .map(|_| ()),
        guard
            .delete_all::<Contact>(&mut c, Some(search.clone()))
            .map(|_| ()),
        guard
            .update_all::<Contact>(&mut c, Some(search.clone()), |_| {})
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidSearch { .. })),
            "{result:?}"
        );
    }
    assert!(guard
        .search::<Contact>(r#"{"contact_type.name":"=supplier"}"#)
        .is_err());
}

fn a_defaulted_foreign_key_is_checked_as_stored(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    c.batch_execute(
        "CREATE TABLE tickets (id BIGINT PRIMARY KEY, \
         contact_type_id BIGINT DEFAULT 2 REFERENCES contact_types (id), note TEXT NOT NULL)",
    )
    .expect("table");
    auth.register::<Ticket>(&mut c).expect("register");
    store::put_relation(&mut c, "tickets", &contact_type_relation()).expect("relation");
    store::put_rule(
        &mut c,
        "roles",
        "agent",
        "tickets",
        r#"{"create":"*","read":"*"}"#,
    )
    .expect("rule");
    rules(
        &mut c,
        &auth,
        ALL,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    let guard = auth.guard(agent());
    let explicit = Ticket {
        id: 1,
        contact_type_id: Some(2),
        note: "x".into(),
    };
    assert!(matches!(
        guard.insert(&mut c, &explicit),
        Err(Error::ForbiddenTarget { .. })
    ));
    // None: Diesel inserts DEFAULT, which is the unreadable type 2.
    let defaulted = Ticket {
        id: 2,
        contact_type_id: None,
        note: "x".into(),
    };
    assert!(matches!(
        guard.insert(&mut c, &defaulted),
        Err(Error::ForbiddenTarget { .. })
    ));
    let stored: i64 = tickets::table.count().get_result(&mut c).expect("count");
    assert_eq!(stored, 0, "rolled back");
    let fine = Ticket {
        id: 3,
        contact_type_id: Some(1),
        note: "x".into(),
    };
    guard.insert(&mut c, &fine).expect("readable type");
}

fn a_create_check_on_the_parent_still_needs_it_readable(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"create":"*","read":"*"}"#,
        r#"{"create":"*","read":{"search":{"name":"=customer"}}}"#,
    );
    let mut relation = contact_type_relation();
    relation.check = Some(Right::Create);
    store::put_relation(&mut c, "contacts", &relation).expect("check create");
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    row.contact_type_id = 2;
    assert!(matches!(
        guard.insert(&mut c, &row),
        Err(Error::ForbiddenTarget {
            right: Right::Create,
            ..
        })
    ));
    row.contact_type_id = 1;
    guard.insert(&mut c, &row).expect("readable and creatable");
}

fn can_and_sql_agree_on_text_keys_whatever_the_collation(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    store::put_relation(
        &mut c,
        "contacts",
        &Relation::has_many("namesakes", "name", "contacts", "name"),
    )
    .expect("relation");
    rules(
        &mut c,
        &auth,
        r#"{"read":"*","update":{"search":{"!namesakes.status":"=closed"}}}"#,
        ALL,
    );
    // Contact 4 is "Edsger Dijkstra", closed; 11 is the same name in capitals, open.
    let mut twin = contacts::table
        .find(4)
        .first::<Contact>(&mut c)
        .expect("row");
    (twin.id, twin.name, twin.status) = (11, "EDSGER DIJKSTRA".into(), "open".into());
    diesel::insert_into(contacts::table)
        .values(&twin)
        .execute(&mut c)
        .expect("insert");
    let keys = auth
        .permitted_keys(&mut c, &agent(), "contacts", Right::Update)
        .expect("keys");
    let guard = auth.guard(agent());
    for row in contacts::table.load::<Contact>(&mut c).expect("rows") {
        let can = guard.can(&mut c, Right::Update, &row).expect("can");
        assert_eq!(
            can,
            keys.contains(&Value::Int(row.id)),
            "contact {}",
            row.id
        );
    }
}

fn relation_names_differing_only_in_case_are_one_name(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contact_type.name":"=supplier"}}}"#,
        ALL,
    );
    let mut shadow = Relation::belongs_to("Contact_Type", "contact_type_id", "contact_types", "id");
    shadow.check = None;
    let err = store::put_relation(&mut c, "contacts", &shadow).expect_err("taken");
    assert!(
        err.to_string().contains("already a relation or column"),
        "{err}"
    );
    // The database itself refuses the duplicate a DBA would write in SQL.
    let dba = c.batch_execute(
        "INSERT INTO authorizable_relations (authorizable_model_id, name, kind, local_column, \
         target_model_id, target_column) \
         SELECT m.id, 'Contact_Type', 'belongs_to', 'contact_type_id', t.id, 'id' \
         FROM authorizable_models m, authorizable_models t \
         WHERE m.name = 'contacts' AND t.name = 'contact_types'",
    );
    assert!(dba.is_err(), "a case-duplicate name was stored");
    auth.invalidate();
    let (found, _) = store::load_relations(&mut c).expect("load");
    assert!(found
        .iter()
        .any(|(m, r)| m == "contacts" && r.name == "contact_type" && r.check == Some(Right::Read)));
    assert_eq!(visible_contacts(&mut c, &auth), [4, 8]);
}

fn can_create_agrees_with_insert_on_the_target_check(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"create":"*","read":"*"}"#,
        r#"{"read":{"search":{"name":"=customer"}}}"#,
    );
    let guard = auth.guard(agent());
    let mut row = new_contact(&mut c);
    for type_id in [2, 1] {
        row.contact_type_id = type_id;
        let can = guard.can(&mut c, Right::Create, &row).expect("can");
        assert_eq!(can, type_id == 1);
        // By model name, as `rules test` asks (cells in the stored column order).
        let cells = [
            Value::Int(12),
            Value::from("x"),
            Value::Null,
            Value::from("open"),
            Value::Int(type_id),
            Value::Int(17),
            Value::Int(1),
            Value::Null,
        ];
        let allows = auth
            .allows(&mut c, &agent(), "contacts", Right::Create, &cells[..])
            .expect("allows");
        assert_eq!(allows, can, "allows vs can, type {type_id}");
        assert_eq!(can, guard.insert(&mut c, &row).is_ok(), "type {type_id}");
    }
}

fn a_relation_rules_use_cannot_be_pointed_elsewhere(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    rules(
        &mut c,
        &auth,
        r#"{"read":{"search":{"contacts.status":"=closed"}}}"#,
        r#"{"read":{"search":{"contacts.status":"=closed"}}}"#,
    );
    // Same name, other columns: every rule using it would silently mean something else.
    let elsewhere = Relation::has_many("contacts", "id", "contacts", "owner_id");
    let err = store::put_relation(&mut c, "contact_types", &elsewhere).expect_err("in use");
    assert!(
        err.to_string()
            .contains("uses relation contact_types.contacts"),
        "{err}"
    );
    // Changing only the target check of a used relation is fine.
    let mut checked = contact_type_relation();
    checked.check = Some(Right::Update);
    store::put_relation(&mut c, "contacts", &checked).expect("check only");
}

/// Registers `model` with a belongs-to `contact_type` and a create/read rule for the agent,
/// the agent reading only the customer type.
fn with_ticket_rules(c: &mut AnyConnection, auth: &Authorizer, model: &str) {
    store::put_relation(c, model, &contact_type_relation()).expect("relation");
    store::put_rule(c, "roles", "agent", model, r#"{"create":"*","read":"*"}"#).expect("rule");
    rules(c, auth, ALL, r#"{"read":{"search":{"name":"=customer"}}}"#);
}

fn a_defaulted_foreign_key_with_a_generated_key_is_checked_or_refused(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    // A generated key the connection reports (SQLite rowid, MySQL AUTO_INCREMENT), or one it
    // cannot (PostgreSQL: lastval() is 1, the key 10): checked, or refused, never passed.
    let ddl = match db.backend() {
        rowguard::Backend::Sqlite => {
            "CREATE TABLE gen_tickets (id INTEGER PRIMARY KEY, \
             contact_type_id BIGINT DEFAULT 2 REFERENCES contact_types (id), note TEXT NOT NULL)"
        }
        rowguard::Backend::Mysql => {
            "CREATE TABLE gen_tickets (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
             contact_type_id BIGINT DEFAULT 2 REFERENCES contact_types (id), note TEXT NOT NULL)"
        }
        rowguard::Backend::Postgres => {
            "CREATE SEQUENCE gen_seq; CREATE TABLE gen_tickets ( \
             id BIGINT PRIMARY KEY DEFAULT nextval('gen_seq') * 10, \
             contact_type_id BIGINT DEFAULT 2 REFERENCES contact_types (id), note TEXT NOT NULL)"
        }
    };
    c.batch_execute(ddl).expect("table");
    auth.register::<GenTicket>(&mut c).expect("register");
    with_ticket_rules(&mut c, &auth, "gen_tickets");
    let row = GenTicket {
        id: None,
        contact_type_id: None,
        note: "x".into(),
    };
    let result = auth.guard(agent()).insert(&mut c, &row);
    let stored: i64 = gen_tickets::table
        .count()
        .get_result(&mut c)
        .expect("count");
    assert!(
        result.is_err() && stored == 0,
        "{result:?}; {stored} stored (type 2 is unreadable)"
    );
}

fn a_generated_text_key_and_a_null_foreign_key_still_insert(db: &TestDatabase) {
    let (mut c, auth) = setup(db);
    let ddl = match db.backend() {
        rowguard::Backend::Sqlite => "CREATE TABLE gen_notes (id TEXT PRIMARY KEY \
             DEFAULT (lower(hex(randomblob(16)))), contact_type_id BIGINT REFERENCES contact_types (id))",
        rowguard::Backend::Mysql => "CREATE TABLE gen_notes (id VARCHAR(64) PRIMARY KEY \
             DEFAULT (UUID()), contact_type_id BIGINT REFERENCES contact_types (id))",
        rowguard::Backend::Postgres => "CREATE TABLE gen_notes (id TEXT PRIMARY KEY \
             DEFAULT md5(random()::text), contact_type_id BIGINT REFERENCES contact_types (id))",
    };
    c.batch_execute(ddl).expect("table");
    auth.register::<GenNote>(&mut c).expect("register");
    with_ticket_rules(&mut c, &auth, "gen_notes");
    let guard = auth.guard(agent());
    let orphan = GenNote {
        id: None,
        contact_type_id: None,
    };
    guard
        .insert(&mut c, &orphan)
        .expect("no parent, nothing to check");
    let unreadable = GenNote {
        id: None,
        contact_type_id: Some(2),
    };
    assert!(matches!(
        guard.insert(&mut c, &unreadable),
        Err(Error::ForbiddenTarget { .. })
    ));
    let stored: i64 = gen_notes::table.count().get_result(&mut c).expect("count");
    assert_eq!(stored, 1);
}
