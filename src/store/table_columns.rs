//! The columns a model's table really has, read from the database's own catalog: what a
//! column list hides or protects must cover every column, declared or not.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::StoreError;
use crate::db::{BackendConnection, StoreConnection};

/// One column of a table, as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TableColumn {
    /// The column's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Whether it has a `NOT NULL` constraint.
    #[diesel(sql_type = Bool)]
    pub not_null: bool,
}

/// Whether `a` and `b` name the same column on `backend`: exactly on PostgreSQL (quoted names
/// keep their case), ignoring ASCII case on SQLite and MySQL, as those databases do.
pub(crate) fn same_column(backend: crate::Backend, a: &str, b: &str) -> bool {
    a == b || (backend != crate::Backend::Postgres && a.eq_ignore_ascii_case(b))
}

/// The columns of `table` in the database, in their order (empty when there is no such
/// table). On SQLite the table is looked up in `main`; on PostgreSQL along the search path; on
/// MySQL/MariaDB in the current database.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let columns = rowguard::store::table_columns(&mut conn, "contacts")?;
/// let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
/// assert_eq!(names, ["id", "name", "status", "owner_id"]);
/// assert!(columns[0].not_null);
/// assert!(rowguard::store::table_columns(&mut conn, "no_such_table")?.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn table_columns(
    conn: &mut dyn StoreConnection,
    table: &str,
) -> Result<Vec<TableColumn>, StoreError> {
    let table = table.to_owned();
    Ok(match conn.backend_connection() {
        BackendConnection::Sqlite(c) => diesel::sql_query(
            // `pk`: SQLite lets a non-INTEGER primary key hold NULL, but rows have one.
            r#"SELECT name, ("notnull" <> 0 OR pk > 0) AS not_null
               FROM pragma_table_info(?, 'main') ORDER BY cid"#,
        )
        .bind::<Text, _>(table)
        .load(c)?,
        BackendConnection::Postgres(c) => diesel::sql_query(
            "SELECT attname::text AS name, attnotnull AS not_null FROM pg_attribute \
             WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
        )
        .bind::<Text, _>(table)
        .load(c)?,
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => diesel::sql_query(
            "SELECT CAST(column_name AS CHAR) AS name, is_nullable = 'NO' AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    })
}

/// A rule row's column list that cannot work as written (`rules check` reports these).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProblem {
    /// The row.
    pub row: super::RuleRow,
    /// What is wrong, naming the list, the column and the table.
    pub problem: String,
}

/// The column lists of stored rules that fail closed at run time: a `read` list that leaves
/// out a column that is `NOT NULL` in the database (reads that hide it are refused), and a
/// `create` or `update` list on a table with columns the model does not declare (such writes
/// are refused). Rows that do not parse are [`invalid_rules`](super::invalid_rules)' business.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// rowguard::store::put_rule(&mut conn, "roles", "agent", "contacts",
///     r#"{"read":"*","columns":{"read":["id","status","owner_id"]}}"#)?;
/// let problems = rowguard::store::column_problems(&mut conn)?;
/// assert_eq!(
///     problems[0].problem,
///     "columns.read leaves out name, which is NOT NULL in table contacts: reads that hide it \
///      fail closed (make the column nullable, or list it)"
/// );
/// # Ok(())
/// # }
/// ```
pub fn column_problems(conn: &mut dyn StoreConnection) -> Result<Vec<ColumnProblem>, StoreError> {
    let models: Vec<_> = super::load_models(conn)?.into_iter().flatten().collect();
    let mut tables: std::collections::HashMap<String, Vec<TableColumn>> = Default::default();
    let mut out = Vec::new();
    for row in super::all_rules(conn)? {
        let (Ok(doc), Some(model)) = (
            crate::rules::parse_document(&row.rules),
            models.iter().find(|m| m.name == row.model),
        ) else {
            continue;
        };
        if !tables.contains_key(&model.table_name) {
            let columns = table_columns(conn, &model.table_name)?;
            tables.insert(model.table_name.clone(), columns);
        }
        let table = &tables[&model.table_name];
        for problem in problems_of(&doc, model, table, conn.backend()) {
            out.push(ColumnProblem {
                row: row.clone(),
                problem,
            });
        }
    }
    Ok(out)
}

/// What [`column_problems`] would report for the rule document `json` on `model`, before it
/// is stored (`rules set` warns with it). Nothing for a document that does not parse or an
/// unknown model (other checks name those).
pub fn document_column_problems(
    conn: &mut dyn StoreConnection,
    model: &str,
    json: &str,
) -> Result<Vec<String>, StoreError> {
    let Ok(doc) = crate::rules::parse_document(json) else {
        return Ok(Vec::new());
    };
    let models = super::load_models(conn)?;
    let Some(model) = models.iter().flatten().find(|m| m.name == model) else {
        return Ok(Vec::new());
    };
    let table = table_columns(conn, &model.table_name)?;
    Ok(problems_of(&doc, model, &table, conn.backend()))
}

/// The column lists of `doc` (each where its row grants the right) that fail closed on
/// `model`'s `table`.
fn problems_of(
    doc: &crate::rules::RuleDocument,
    model: &super::StoredModel,
    table: &[TableColumn],
    backend: crate::Backend,
) -> Vec<String> {
    use crate::rules::Right;
    let same = |a: &str, b: &str| same_column(backend, a, b);
    let declared = |name: &str| model.columns.iter().any(|(d, _)| same(d, name));
    let mut out = Vec::new();
    for right in [Right::Create, Right::Read, Right::Update] {
        // A list counts only where its row grants the right.
        let (Some(list), Some(_)) = (doc.columns(right), doc.grant(right)) else {
            continue;
        };
        let listed = |name: &str| list.iter().any(|c| same(&c.name, name));
        let problem = if table.is_empty() {
            Some(format!(
                "columns.{right}: the database has no table {} (yet): the list cannot be \
                 enforced, so the model fails closed for the subjects it applies to",
                model.table_name
            ))
        } else if right == Right::Read {
            table
                .iter()
                .find(|c| c.not_null && !listed(&c.name))
                .map(|c| {
                    format!(
                        "columns.read leaves out {}, which is NOT NULL in table {}: reads that \
                     hide it fail closed (make the column nullable, or list it)",
                        c.name, model.table_name
                    )
                })
        } else {
            table.iter().find(|c| !declared(&c.name)).map(|c| {
                format!(
                    "columns.{right}: column {} of table {} is not declared by model {}, so \
                     writes under this list are refused (declare it in authorizable! and run \
                     sync-models)",
                    c.name, model.table_name, model.name
                )
            })
        };
        out.extend(problem);
    }
    out
}
