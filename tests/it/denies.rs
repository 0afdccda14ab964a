//! Explicit denies on every backend: the precedence truth table (printed in the README), a
//! NULL in a deny never letting a row through, the universal role hiding rows from everyone,
//! denied writes writing nothing, and an invalid row that may hold a deny refusing all.

use diesel::prelude::*;
use rowguard::rules::Right;
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizer, Config, Error, Guard, Subject};

use crate::app::{contacts, Contact};
use crate::fixture::visible;

rowguard::backend_tests!(
    precedence_truth_table_matches_the_readme,
    a_null_in_a_deny_never_lets_a_row_through,
    a_universal_deny_hides_rows_from_everyone,
    denied_writes_write_nothing,
    an_invalid_row_that_may_deny_refuses_everything,
    explain_shows_denies,
);

/// A subject with role `tester` (plus `root`, the absolute-rights role, when `absolute`).
fn tester(absolute: bool) -> Subject {
    let roles: &[&str] = if absolute {
        &["tester", "root"]
    } else {
        &["tester"]
    };
    Subject::new()
        .with_set("roles", roles.iter().copied())
        .with_attribute("id", 17)
}

fn put(conn: &mut AnyConnection, set_type: &str, value: &str, doc: &str) {
    store::put_rule(conn, set_type, value, "contacts", doc).expect("put rule");
}

/// A fresh open contact with id `id`, written without the guard.
fn open_contact(conn: &mut AnyConnection, id: i64) -> Contact {
    let mut row = conn_contact(conn, 1);
    row.id = id;
    row.status = "open".into();
    diesel::insert_into(contacts::table)
        .values(&row)
        .execute(conn)
        .expect("insert");
    row
}

fn conn_contact(conn: &mut AnyConnection, id: i64) -> Contact {
    contacts::table.find(id).first(conn).expect("contact")
}

fn exists(conn: &mut AnyConnection, id: i64) -> bool {
    contacts::table
        .find(id)
        .count()
        .get_result::<i64>(conn)
        .expect("count")
        == 1
}

/// Does `right` go through for `guard` on a fresh open contact? Each attempt is real: the
/// read finds it, the create inserts it, the update writes it, the delete removes it.
fn attempt(guard: &Guard, conn: &mut AnyConnection, right: Right, id: i64) -> bool {
    match right {
        Right::Create => {
            let mut row = conn_contact(conn, 1);
            row.id = id;
            row.status = "open".into();
            let done = guard.insert(conn, &row).is_ok();
            assert_eq!(
                done,
                exists(conn, id),
                "create {id}: result and table agree"
            );
            done
        }
        Right::Read => {
            open_contact(conn, id);
            guard.find::<Contact>(conn, id).is_ok()
        }
        Right::Update => {
            let mut row = open_contact(conn, id);
            row.name = "changed".into();
            let done = guard.update(conn, &row).is_ok();
            let stored = conn_contact(conn, id).name == "changed";
            assert_eq!(done, stored, "update {id}: result and table agree");
            done
        }
        Right::Delete => {
            open_contact(conn, id);
            let done = guard.delete::<Contact>(conn, id).is_ok();
            assert_eq!(
                done,
                !exists(conn, id),
                "delete {id}: result and table agree"
            );
            done
        }
    }
}

/// The rule document of one row of the table: `grant` and `deny` on every right.
fn document(grant: &str, deny: &str) -> String {
    let grant = match grant {
        "none" => None,
        "*" => Some(r#""*""#),
        _ => Some(r#"{"search":{"status":"=open"}}"#),
    };
    let deny = match deny {
        "none" => None,
        "matching" => Some(r#"{"search":{"status":"=open"}}"#),
        _ => Some(r#"{"search":{"status":"=archived"}}"#),
    };
    let rights = ["create", "read", "update", "delete"];
    let mut parts: Vec<String> = Vec::new();
    if let Some(g) = grant {
        parts.extend(rights.iter().map(|r| format!(r#""{r}":{g}"#)));
    }
    if let Some(d) = deny {
        let denies: Vec<String> = rights.iter().map(|r| format!(r#""{r}":{d}"#)).collect();
        parts.push(format!(r#""deny":{{{}}}"#, denies.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

/// Runs every combination of override × absolute rights × deny × grant for every right, as
/// real reads and writes, and checks the observed table against the one in the README (so the
/// README shows what the code does).
fn precedence_truth_table_matches_the_readme(db: &TestDatabase) {
    let (pool, _) = crate::fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    let authorizer = |override_authorization: bool| {
        let mut config = Config {
            override_authorization,
            ..Config::default()
        };
        config
            .absolute_rights
            .insert("roles".into(), vec!["root".into()]);
        Authorizer::new(config)
    };
    let (plain, overridden) = (authorizer(false), authorizer(true));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut table = vec![
        "| override | absolute rights | deny | grant | create | read | update | delete |"
            .to_owned(),
        "|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    let mut id = 1000;
    for over in [false, true] {
        for absolute in [false, true] {
            for deny in ["none", "matching", "non-matching"] {
                for grant in ["none", "*", "search"] {
                    put(&mut conn, "roles", "tester", &document(grant, deny));
                    let auth = if over { &overridden } else { &plain };
                    auth.invalidate();
                    let guard = auth.guard(tester(absolute));
                    let mut row = format!(
                        "| {} | {} | {deny} | {} | ",
                        yes_no(over),
                        yes_no(absolute),
                        if grant == "*" { "`*`" } else { grant }
                    );
                    for right in Right::ALL {
                        id += 1;
                        let allowed = attempt(&guard, &mut conn, right, id);
                        row.push_str(if allowed { "allowed | " } else { "refused | " });
                    }
                    table.push(row.trim_end().to_owned());
                }
            }
        }
    }
    let observed = table.join("\n");
    let readme = include_str!("../../README.md");
    let start = "<!-- truth table: generated by tests/it/denies.rs -->\n";
    let Some(at) = readme.find(start) else {
        panic!("README lacks the truth table marker; the table is:\n{observed}");
    };
    let printed = readme[at + start.len()..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        printed,
        observed,
        "the README's truth table differs from what {} does; the table is:\n{observed}",
        db.backend()
    );
}

/// A deny on a nullable column refuses rows where the column is NULL: SQL's unknown counts as
/// denied, in the read query, in `can` and in writes.
fn a_null_in_a_deny_never_lets_a_row_through(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    // Contacts 3, 6 and 9 have no email.
    put(
        &mut conn,
        "roles",
        "tester",
        r#"{"read":"*","update":"*","deny":{"read":{"search":{"email":"=blocked@example.com"}}}}"#,
    );
    let guard = auth.guard(tester(false));
    assert_eq!(visible(&guard, &mut conn), [1, 2, 4, 5, 7, 8, 10]);
    let three = conn_contact(&mut conn, 3);
    assert!(!guard.can(&mut conn, Right::Read, &three).expect("can"));
    assert!(!guard.can(&mut conn, Right::Update, &three).expect("can"));
    assert!(matches!(
        guard.find::<Contact>(&mut conn, 3),
        Err(Error::NotFound { .. })
    ));
    // A write that would set the column to NULL leaves the rule: refused, nothing written.
    let mut one = conn_contact(&mut conn, 1);
    one.email = None;
    assert!(matches!(
        guard.update(&mut conn, &one),
        Err(Error::Forbidden { .. })
    ));
    assert!(conn_contact(&mut conn, 1).email.is_some());
    // `!=` in a deny: NULL is unknown there too, so still refused.
    put(
        &mut conn,
        "roles",
        "tester",
        r#"{"read":"*","deny":{"read":{"search":{"email":"!=ada@example.com"}}}}"#,
    );
    auth.invalidate();
    assert_eq!(visible(&guard, &mut conn), [1]);
}

/// The soft-delete pattern: one universal rule row hides archived rows from every subject,
/// whatever their own rules grant; absolute rights still see them.
fn a_universal_deny_hides_rows_from_everyone(db: &TestDatabase) {
    let mut config = Config::default();
    config
        .absolute_rights
        .insert("roles".into(), vec!["root".into()]);
    let (pool, auth) = crate::fixture::contacts(db, config, 2);
    let mut conn = pool.get().expect("conn");
    diesel::update(contacts::table.filter(contacts::id.eq_any([2, 4])))
        .set(contacts::status.eq("archived"))
        .execute(&mut conn)
        .expect("archive");
    put(&mut conn, "roles", "tester", r#"{"read":"*","delete":"*"}"#);
    put(
        &mut conn,
        "universal",
        rowguard::DEFAULT_UNIVERSAL_ROLE,
        r#"{"deny":{"read":{"search":{"status":"=archived"}}}}"#,
    );
    let guard = auth.guard(tester(false));
    assert_eq!(visible(&guard, &mut conn), [1, 3, 5, 6, 7, 8, 9, 10]);
    // A denied read also denies the delete (a row you cannot see you cannot change), and
    // the refusal does not reveal that the row exists.
    assert!(matches!(
        guard.delete::<Contact>(&mut conn, 2),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        guard.delete_all::<Contact>(&mut conn, None).expect("bulk"),
        8
    );
    assert!(exists(&mut conn, 2) && exists(&mut conn, 4));
    let root = auth.guard(tester(true));
    assert_eq!(visible(&root, &mut conn), [2, 4]);
}

/// Denied create, update and delete return an error naming the action and change nothing,
/// on the single-row and the bulk paths.
fn denied_writes_write_nothing(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    put(
        &mut conn,
        "roles",
        "tester",
        r#"{"create":"*","read":"*","update":"*","delete":"*",
            "deny":{"create":{"search":{"status":"=closed"}},
                    "update":{"search":{"status":"=closed"}},
                    "delete":{"search":{"owner_id":"=$subject.id"}}}}"#,
    );
    let guard = auth.guard(tester(false));
    // Create: a closed contact is denied.
    let mut new = conn_contact(&mut conn, 1);
    new.id = 500;
    new.status = "closed".into();
    assert!(matches!(
        guard.insert(&mut conn, &new),
        Err(Error::Forbidden {
            action: Right::Create,
            ..
        })
    ));
    assert!(!exists(&mut conn, 500));
    // Update: into closed (the new values) and out of closed (the stored row) are denied.
    let mut one = conn_contact(&mut conn, 1);
    one.status = "closed".into();
    assert!(matches!(
        guard.update(&mut conn, &one),
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(conn_contact(&mut conn, 1).status, "open");
    let mut four = conn_contact(&mut conn, 4);
    four.status = "open".into();
    assert!(matches!(
        guard.update(&mut conn, &four),
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(conn_contact(&mut conn, 4).status, "closed");
    let closing = guard.update_all::<Contact>(&mut conn, None, |c| c.status = "closed".into());
    assert!(matches!(closing, Err(Error::Forbidden { .. })));
    assert_eq!(
        contacts::table
            .filter(contacts::status.eq("closed"))
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count"),
        2
    );
    // Delete: the subject's own contacts (owner 17: the odd ids) are denied.
    assert!(matches!(
        guard.delete::<Contact>(&mut conn, 1),
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(
        guard.delete_all::<Contact>(&mut conn, None).expect("bulk"),
        5
    );
    let left: Vec<i64> = contacts::table
        .select(contacts::id)
        .order(contacts::id)
        .load(&mut conn)
        .expect("ids");
    assert_eq!(left, [1, 3, 5, 7, 9]);
}

/// A row that does not compile and has a `deny` key (or is not JSON) refuses everything on
/// the model to the subjects it applies to: what it would deny cannot be known. One without a
/// deny only grants nothing.
fn an_invalid_row_that_may_deny_refuses_everything(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    put(&mut conn, "roles", "tester", r#"{"read":"*"}"#);
    put(
        &mut conn,
        "id",
        "17",
        r#"{"read":{"search":{"stauts":"=open"}}}"#,
    );
    let guard = auth.guard(tester(false).with_set("id", ["17"]));
    assert_eq!(
        visible(&guard, &mut conn).len(),
        10,
        "invalid grant: ignored"
    );
    // The DBA's typo is now in a deny: everything is refused until it is fixed.
    diesel::sql_query(
        "UPDATE authorization_rules SET rules = '{\"deny\":{\"read\":{\"search\":{\"stauts\":\"=x\"}}}}' \
         WHERE authorizable_set_value = '17'",
    )
    .execute(&mut conn)
    .expect("DBA edit");
    auth.invalidate();
    assert_eq!(visible(&guard, &mut conn), Vec::<i64>::new());
    let one = conn_contact(&mut conn, 1);
    assert!(!guard.can(&mut conn, Right::Read, &one).expect("can"));
    let text = guard
        .explain::<Contact>(&mut conn, Right::Read)
        .expect("explain")
        .to_string();
    assert!(
        text.contains("INVALID, refuses everything (it may hold a deny)"),
        "{text}"
    );
}

/// `explain` lists each row's deny, the merged denies, and the effective filter with the
/// NULL case spelled out; for update it also names the read denies that apply.
fn explain_shows_denies(db: &TestDatabase) {
    let (pool, auth) = crate::fixture::contacts(db, Config::default(), 2);
    let mut conn = pool.get().expect("conn");
    put(
        &mut conn,
        "roles",
        "tester",
        r#"{"read":"*","update":"*","deny":{"read":{"search":{"status":"=archived"}}}}"#,
    );
    let guard = auth.guard(tester(false));
    let read = guard
        .explain::<Contact>(&mut conn, Right::Read)
        .expect("explain")
        .to_string();
    assert!(
        read.contains(r#""*" (every row); denies status = 'archived'"#),
        "{read}"
    );
    assert!(
        read.contains("denied (wins over every grant; NULL counts as denied): status = 'archived'"),
        "{read}"
    );
    assert!(
        read.contains("effective, subject variables filled in: NOT (status = 'archived')"),
        "{read}"
    );
    let update = guard
        .explain::<Contact>(&mut conn, Right::Update)
        .expect("explain")
        .to_string();
    assert!(
        update.contains("denied read (applies too): status = 'archived'"),
        "{update}"
    );
}
