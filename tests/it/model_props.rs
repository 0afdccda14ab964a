//! Differential property test through a registered `authorizable!` model with a column of
//! every type a model can declare: random rule documents for all four rights, stored for
//! several roles, random rows and subject attributes. For every row and right, three answers
//! must agree: a decision made by hand from each role's compiled document (any `"*"` or any
//! passing search grants, unless some role's deny is TRUE or unknown for the row; update and
//! delete also need read), the guard's in-memory `can()`,
//! and the SQL the guard renders. The guard's writes then store exactly what that decision
//! allows: inserts, updates to other rows' values (the stored row and the new values must
//! both pass), an all-or-nothing `update_all`, single deletes and `delete_all`; a refusal
//! writes nothing and is `NotFound` exactly where the stored row is unreadable.
//!
//! UUID columns are not declarable here: Diesel's `Uuid` SQL type exists on PostgreSQL only,
//! so a model shared by all backends keeps UUIDs as text. The raw-value differential test in
//! `rules_props` covers the UUID rule type.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rowguard::rules::{
    compile_document, Access, Attributes, ColumnType, CompiledRules, Filter, Right, Value,
};
use rowguard::testing::TestDatabase;
use rowguard::{store, AnyConnection, Authorizable, Authorizer, Backend, Config, Error, Subject};
use serde_json::{json, Value as Json};

use crate::rules_props::{attributes, cell, search, Run, Schema};

rowguard::backend_tests!(every_right_agrees_in_memory_in_sql_and_in_writes);

const DEFAULT_CASES: u32 = 64;

diesel::table! {
    specimens (id) {
        id -> BigInt,
        small -> Nullable<SmallInt>,
        i -> Nullable<Integer>,
        b -> Nullable<BigInt>,
        real -> Nullable<Float>,
        f -> Nullable<Double>,
        t -> Nullable<Text>,
        flag -> Nullable<Bool>,
        d -> Nullable<Date>,
        ts -> Nullable<Timestamp>,
    }
}

/// A row with one column of every declarable type, all nullable but the key.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = specimens, treat_none_as_null = true)]
pub struct Specimen {
    pub id: i64,
    pub small: Option<i16>,
    pub i: Option<i32>,
    pub b: Option<i64>,
    pub real: Option<f32>,
    pub f: Option<f64>,
    pub t: Option<String>,
    pub flag: Option<bool>,
    pub d: Option<NaiveDate>,
    pub ts: Option<NaiveDateTime>,
}

rowguard::authorizable!(Specimen => specimens(id) {
    id, small, i, b, real, f, t, flag, d, ts
});

/// The model's columns as the generators see them (the macro's own list, checked below).
const SCHEMA: Schema = &[
    ("id", ColumnType::Bigint),
    ("small", ColumnType::Integer),
    ("i", ColumnType::Integer),
    ("b", ColumnType::Bigint),
    ("real", ColumnType::Float),
    ("f", ColumnType::Float),
    ("t", ColumnType::Text),
    ("flag", ColumnType::Bool),
    ("d", ColumnType::Date),
    ("ts", ColumnType::Timestamp),
];

/// MySQL text keeps the server's case-, accent- and pad-insensitive collation on purpose:
/// rowguard must compare exactly anyway.
fn create_table(conn: &mut AnyConnection) {
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "CREATE TABLE specimens (id BIGINT PRIMARY KEY, small SMALLINT, i INTEGER, \
             b BIGINT, real REAL, f DOUBLE, t TEXT, flag BOOLEAN, d DATE, ts TIMESTAMP)"
        }
        Backend::Postgres => {
            "CREATE TABLE specimens (id BIGINT PRIMARY KEY, small SMALLINT, i INTEGER, \
             b BIGINT, real REAL, f DOUBLE PRECISION, t TEXT, flag BOOLEAN, d DATE, \
             ts TIMESTAMP)"
        }
        Backend::Mysql => {
            "CREATE TABLE specimens (id BIGINT PRIMARY KEY, small SMALLINT, i INT, b BIGINT, \
             `real` FLOAT, f DOUBLE, \
             t VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, flag BOOLEAN, \
             d DATE, ts DATETIME(6)) ENGINE = InnoDB"
        }
    };
    conn.batch_execute(sql).expect("create specimens");
}

/// Rows from generated cells (`id` first); values out of a narrow column's range saturate,
/// which is still a value the rules must agree on.
fn specimen(cells: &[Value]) -> Specimen {
    let int = |v: &Value| match v {
        Value::Int(n) => Some(*n),
        _ => None,
    };
    Specimen {
        id: int(&cells[0]).expect("id"),
        small: int(&cells[1]).map(|n| n.clamp(i16::MIN.into(), i16::MAX.into()) as i16),
        i: int(&cells[2]).map(|n| n.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
        b: int(&cells[3]),
        real: match &cells[4] {
            Value::Float(x) => Some(*x as f32),
            _ => None,
        },
        f: match &cells[5] {
            Value::Float(x) => Some(*x),
            _ => None,
        },
        t: match &cells[6] {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        },
        flag: match &cells[7] {
            Value::Bool(b) => Some(*b),
            _ => None,
        },
        d: match &cells[8] {
            Value::Date(d) => Some(*d),
            _ => None,
        },
        ts: match &cells[9] {
            Value::Timestamp(t) => Some(*t),
            _ => None,
        },
    }
}

fn rows() -> impl Strategy<Value = Vec<Specimen>> {
    let row: Vec<BoxedStrategy<Value>> = SCHEMA[1..].iter().map(|(_, ty)| cell(*ty)).collect();
    prop::collection::vec(row, 0..10).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, rest)| {
                let cells: Vec<Value> = std::iter::once(Value::Int(i as i64 + 1))
                    .chain(rest)
                    .collect();
                specimen(&cells)
            })
            .collect()
    })
}

/// One role's document: each right absent, everything, or a search; and sometimes a deny
/// of a right (everything, or a search).
fn document() -> impl Strategy<Value = String> {
    let grant = || {
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(json!("*"))),
            5 => search(SCHEMA).prop_map(|s| Some(json!({ "search": s }))),
        ]
    };
    let deny = || {
        prop_oneof![
            10 => Just(None),
            1 => Just(Some(json!("*"))),
            3 => search(SCHEMA).prop_map(|s| Some(json!({ "search": s }))),
        ]
    };
    let grants = (grant(), grant(), grant(), grant());
    let denies = (deny(), deny(), deny(), deny());
    (grants, denies).prop_map(|((c, r, u, d), (dc, dr, du, dd))| {
        let mut doc = serde_json::Map::new();
        for (right, grant) in [("create", c), ("read", r), ("update", u), ("delete", d)] {
            if let Some(grant) = grant {
                doc.insert(right.to_owned(), grant);
            }
        }
        let mut denied = serde_json::Map::new();
        for (right, deny) in [("create", dc), ("read", dr), ("update", du), ("delete", dd)] {
            if let Some(deny) = deny {
                denied.insert(right.to_owned(), deny);
            }
        }
        if !denied.is_empty() {
            doc.insert("deny".to_owned(), Json::Object(denied));
        }
        Json::Object(doc).to_string()
    })
}

/// What the documents allow, decided by hand from each role's compiled document (not
/// through rowguard's merge): a right is granted by any role with `"*"` or whose search the
/// row passes; update and delete also need read.
struct Expected {
    compiled: Vec<CompiledRules>,
    attrs: Attributes,
}

impl Expected {
    fn new(docs: &[String], attrs: &Attributes) -> Result<Self, TestCaseError> {
        let compiled = docs
            .iter()
            .map(|d| {
                compile_document(d, Specimen::columns())
                    .map_err(|e| TestCaseError::fail(format!("{d}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            compiled,
            attrs: attrs.clone(),
        })
    }

    /// Some role grants it and no role's deny is TRUE or unknown for the row (a deny is
    /// checked as `NOT deny` being TRUE, so a missing variable in it refuses).
    fn own(&self, right: Right, row: &Specimen) -> bool {
        let granted = self.compiled.iter().any(|c| match c.access(right) {
            None => false,
            Some(Access::Everything) => true,
            Some(Access::Rows(filter)) => filter.matches_with(row, &self.attrs),
        });
        let denied = self.compiled.iter().any(|c| match c.deny(right) {
            None => false,
            Some(Access::Everything) => true,
            Some(Access::Rows(filter)) => {
                Filter::Not(Box::new(filter.clone())).eval_with(row, &self.attrs) != Some(true)
            }
        });
        granted && !denied
    }

    fn allows(&self, right: Right, row: &Specimen) -> bool {
        match right {
            Right::Update | Right::Delete => self.own(Right::Read, row) && self.own(right, row),
            _ => self.own(right, row),
        }
    }
}

fn ids(rows: &[Specimen], keep: impl Fn(&Specimen) -> bool) -> Vec<i64> {
    rows.iter().filter(|r| keep(r)).map(|r| r.id).collect()
}

fn stored(conn: &mut AnyConnection) -> Vec<Specimen> {
    specimens::table
        .order(specimens::id)
        .load(conn)
        .expect("stored rows")
}

fn stored_ids(conn: &mut AnyConnection) -> Vec<i64> {
    stored(conn).into_iter().map(|r| r.id).collect()
}

/// Puts `rows` back as they were, bypassing the guard.
fn restore(conn: &mut AnyConnection, rows: &[Specimen]) -> Result<(), TestCaseError> {
    for row in rows {
        diesel::update(specimens::table.find(row.id))
            .set(row.clone())
            .execute(conn)
            .map_err(|e| TestCaseError::fail(format!("restore {row:?}: {e}")))?;
    }
    Ok(())
}

fn fail(what: &str) -> impl Fn(Error) -> TestCaseError + '_ {
    move |e| TestCaseError::fail(format!("{what}: {e}"))
}

/// One generated case, on a table emptied first.
fn check_case(
    conn: &mut AnyConnection,
    auth: &Authorizer,
    case: usize,
    rows: &[Specimen],
    docs: &[String],
    attrs: &Attributes,
) -> Result<(), TestCaseError> {
    conn.batch_execute("DELETE FROM specimens")
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for row in rows {
        diesel::insert_into(specimens::table)
            .values(row.clone())
            .execute(conn)
            .map_err(|e| TestCaseError::fail(format!("insert {row:?}: {e}")))?;
    }
    prop_assert_eq!(&stored(conn), &rows.to_vec(), "stored as generated");
    // Fresh role names each case: rules of earlier cases never apply.
    let roles: Vec<String> = (0..docs.len()).map(|k| format!("c{case}r{k}")).collect();
    for (role, doc) in roles.iter().zip(docs) {
        store::put_rule(conn, "roles", role, "specimens", doc)
            .map_err(|e| TestCaseError::fail(format!("{doc}: {e}")))?;
    }
    let mut subject = Subject::new().with_set("roles", roles.iter());
    for (column, _) in SCHEMA {
        let name = format!("v_{column}");
        if let Some(values) = attrs.get(&name) {
            subject = subject.with_attribute_list(name, values.iter());
        }
    }
    let guard = auth.guard(subject);
    let expected = Expected::new(docs, attrs)?;
    let context = || format!("docs {docs:?}, attributes {attrs:?}");

    // Decisions: by hand, can() in memory, and the SQL the guard renders.
    for right in Right::ALL {
        let want = ids(rows, |r| expected.allows(right, r));
        let mut in_memory = Vec::new();
        for row in rows {
            if guard.can(conn, right, row).map_err(fail("can"))? {
                in_memory.push(row.id);
            }
        }
        prop_assert_eq!(
            &in_memory,
            &want,
            "can({}) vs the rules: {}",
            right,
            context()
        );
        let filter = guard
            .filter::<Specimen>(conn, right)
            .map_err(fail("filter"))?;
        let in_sql: Vec<i64> = specimens::table
            .select(specimens::id)
            .filter(filter)
            .order(specimens::id)
            .load(conn)
            .map_err(|e| TestCaseError::fail(format!("SQL for {right}: {e}")))?;
        prop_assert_eq!(&in_sql, &want, "SQL {} vs the rules: {}", right, context());
    }

    // Inserts of each row under a new key: stored exactly where create allows it.
    let mut copies = Vec::new();
    for row in rows {
        let copy = Specimen {
            id: row.id + 1000,
            ..row.clone()
        };
        let outcome = guard.insert(conn, &copy);
        let allowed = expected.allows(Right::Create, row);
        match (&outcome, allowed) {
            (Ok(()), true) => copies.push(copy),
            (Err(Error::Forbidden { .. }), false) => {}
            _ => prop_assert!(false, "insert of {:?}: {:?}; {}", row, outcome, context()),
        }
    }
    let all: Vec<Specimen> = rows.iter().chain(&copies).cloned().collect();
    prop_assert_eq!(
        stored_ids(conn),
        ids(&all, |_| true),
        "only allowed copies stored"
    );

    // Each row updated to the next row's values: written exactly when the stored row and
    // the new values both pass (read AND update); refused as NotFound exactly when the
    // stored row is unreadable; nothing written on refusal.
    let next = |row: &Specimen| {
        let at = all.iter().position(|r| r.id == row.id).unwrap_or(0);
        Specimen {
            id: row.id,
            ..all[(at + 1) % all.len()].clone()
        }
    };
    for row in &all {
        let new = next(row);
        let outcome = guard.update(conn, &new);
        let allowed = expected.allows(Right::Update, row) && expected.allows(Right::Update, &new);
        refused_as_expected(&outcome, allowed, expected.allows(Right::Read, row)).map_err(|e| {
            TestCaseError::fail(format!("update {row:?} → {new:?}: {e}; {}", context()))
        })?;
        let now = specimens::table
            .find(row.id)
            .first::<Specimen>(conn)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            &now,
            if allowed { &new } else { row },
            "stored after update"
        );
        restore(conn, std::slice::from_ref(row))?;
    }

    // update_all moving every row it reaches to the next row's values: all or nothing.
    let reached = ids(&all, |r| expected.allows(Right::Update, r));
    let all_pass = all
        .iter()
        .filter(|r| reached.contains(&r.id))
        .all(|r| expected.allows(Right::Update, &next(r)));
    let outcome = guard.update_all::<Specimen>(conn, None, |r| *r = next(r));
    let after = stored(conn);
    let want_after: Vec<Specimen> = all
        .iter()
        .map(|r| {
            if all_pass && reached.contains(&r.id) {
                next(r)
            } else {
                r.clone()
            }
        })
        .collect();
    match (&outcome, all_pass) {
        (Ok(n), true) => prop_assert_eq!(*n, reached.len()),
        (Err(Error::Forbidden { .. }), false) => {}
        _ => prop_assert!(false, "update_all: {:?}; {}", outcome, context()),
    }
    let mut sorted_want = want_after;
    sorted_want.sort_by_key(|r| r.id);
    prop_assert_eq!(&after, &sorted_want, "stored after update_all");
    restore(conn, &all)?;

    // Single deletes of the even keys, then delete_all takes exactly what else the rule
    // allows.
    for row in all.iter().filter(|r| r.id % 2 == 0) {
        let outcome = guard.delete::<Specimen>(conn, row.id);
        refused_as_expected(
            &outcome,
            expected.allows(Right::Delete, row),
            expected.allows(Right::Read, row),
        )
        .map_err(|e| TestCaseError::fail(format!("delete {}: {e}; {}", row.id, context())))?;
    }
    let left = ids(&all, |r| {
        r.id % 2 == 1 || !expected.allows(Right::Delete, r)
    });
    prop_assert_eq!(
        stored_ids(conn),
        left.clone(),
        "single deletes; {}",
        context()
    );
    let deleted = guard
        .delete_all::<Specimen>(conn, None)
        .map_err(fail("delete_all"))?;
    let kept = ids(&all, |r| !expected.allows(Right::Delete, r));
    prop_assert_eq!(
        deleted,
        left.len() - kept.len(),
        "delete_all; {}",
        context()
    );
    prop_assert_eq!(stored_ids(conn), kept, "delete_all; {}", context());
    Ok(())
}

/// A write succeeds when allowed; otherwise it is refused as `Forbidden` when the subject
/// may read the row, `NotFound` when not.
fn refused_as_expected(
    outcome: &Result<(), Error>,
    allowed: bool,
    readable: bool,
) -> Result<(), String> {
    match (outcome, allowed, readable) {
        (Ok(()), true, _) => Ok(()),
        (Err(Error::Forbidden { .. }), false, true) => Ok(()),
        (Err(Error::NotFound { .. }), false, false) => Ok(()),
        (outcome, allowed, readable) => Err(format!(
            "{outcome:?} but allowed = {allowed}, readable = {readable}"
        )),
    }
}

fn every_right_agrees_in_memory_in_sql_and_in_writes(db: &TestDatabase) {
    let mut conn = db.connect().expect("connect");
    create_table(&mut conn);
    let auth = Authorizer::new(Config::default());
    auth.register::<Specimen>(&mut conn).expect("register");
    let declared: Vec<(&str, ColumnType)> = Specimen::columns().iter().collect();
    assert_eq!(
        declared,
        SCHEMA.to_vec(),
        "SCHEMA lists the model's columns"
    );
    let conn = std::cell::RefCell::new(conn);
    let case = std::cell::Cell::new(0usize);
    let Run {
        mut runner,
        seed,
        cases,
    } = Run::from_env(DEFAULT_CASES);
    let strategy = (
        rows(),
        prop::collection::vec(document(), 1..=3),
        attributes(SCHEMA),
    );
    let result = runner.run(&strategy, |(rows, docs, attrs)| {
        case.set(case.get() + 1);
        check_case(
            &mut conn.borrow_mut(),
            &auth,
            case.get(),
            &rows,
            &docs,
            &attrs,
        )
    });
    if let Err(e) = result {
        panic!("{} (seed {seed}, {cases} cases): {e}", db.backend());
    }
}
