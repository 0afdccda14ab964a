//! Column lists at decision time: which columns a subject may set, read and change; reads
//! that hide the others (as NULL, computed in SQL); writes that refuse touching them.

use std::borrow::Cow;
use std::sync::Arc;

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::QueryResult;

use crate::db::{MultiBackend, StoreConnection};
use crate::error::Error;
use crate::rules::{
    merge_columns, ColumnAccess, ColumnType, Columns, CompiledRules, Dialect, Right, SqlFilter,
    Value,
};
use crate::store::{self, TableColumn};
use crate::Backend;

/// What the subject's column lists allow on one model.
#[derive(Debug, Clone)]
pub struct ColumnRights {
    /// Per right, the columns the subject may touch (positions in the columns the rules were
    /// compiled against): create sets, read sees, update changes (only what it may also
    /// read); delete is always all.
    rights: [ColumnAccess; 4],
    /// How reads hide columns (`None`: nothing is hidden).
    hidden: Option<Arc<Projection>>,
    /// Per right, whether the right's own lists limit it (update: its own, not the read's).
    listed: [bool; 4],
    /// Columns of the table the model does not declare (only looked for when a list limits
    /// something): create and update under their own list are refused while there are any.
    undeclared: Vec<String>,
}

/// The table's columns in order, each with whether the subject may read it.
#[derive(Debug)]
pub struct Projection {
    columns: Vec<(String, bool)>,
    /// A hidden column that cannot hold NULL: reads fail closed.
    not_null: Option<String>,
}

impl ColumnRights {
    /// No list limits anything.
    pub(super) fn unrestricted() -> Self {
        Self {
            rights: std::array::from_fn(|_| ColumnAccess::All),
            hidden: None,
            listed: [false; 4],
            undeclared: Vec::new(),
        }
    }

    /// The merged lists of `rules` (the valid rows of one decision) for the model stored in
    /// `table` with `columns`; the table's own columns are read from the database when a
    /// list limits anything.
    pub(super) fn of(
        conn: &mut dyn StoreConnection,
        model: &str,
        table: &str,
        columns: &Columns,
        rules: &[&CompiledRules],
    ) -> Result<Self, Error> {
        let read = merge_columns(rules.iter().copied(), Right::Read);
        let create = merge_columns(rules.iter().copied(), Right::Create);
        let own_update = merge_columns(rules.iter().copied(), Right::Update);
        let update = own_update.intersect(&read);
        if [&read, &create, &update]
            .iter()
            .all(|c| **c == ColumnAccess::All)
        {
            return Ok(Self::unrestricted());
        }
        let backend = conn.backend();
        let table_columns = store::table_columns(conn, table)?;
        if table_columns.is_empty() {
            return Err(Error::ModelMismatch {
                model: model.to_owned(),
                detail: format!(
                    "column lists apply, but the database has no table {table} (the \
                     application's migrations create it; a schema-qualified or renamed table is \
                     not found), so they cannot be enforced"
                ),
            });
        }
        // A list is enforced against the table as the database has it: a declared column
        // the catalog does not show (a schema, another name, an attached database) means
        // the lookup found the wrong table or none, so the model fails closed.
        if let Some((missing, _)) = columns.iter().find(|(name, _)| {
            !table_columns
                .iter()
                .any(|c| store::same_column(backend, &c.name, name))
        }) {
            return Err(Error::ModelMismatch {
                model: model.to_owned(),
                detail: format!(
                    "column lists apply, but the database shows no column {missing} in a table \
                     {table} (a schema-qualified or renamed table?), so they cannot be enforced"
                ),
            });
        }
        let position = |column: &TableColumn| declared_position(columns, &column.name, backend);
        let undeclared = table_columns
            .iter()
            .filter(|c| position(c).is_none())
            .map(|c| c.name.clone())
            .collect();
        let hidden = (read != ColumnAccess::All).then(|| {
            let columns: Vec<(String, bool)> = table_columns
                .iter()
                .map(|c| {
                    let visible = position(c).is_some_and(|i| read.includes(i));
                    (c.name.clone(), visible)
                })
                .collect();
            let not_null = table_columns
                .iter()
                .zip(&columns)
                .find(|(c, (_, visible))| !visible && c.not_null)
                .map(|(c, _)| c.name.clone());
            Arc::new(Projection { columns, not_null })
        });
        Ok(Self {
            listed: [
                create != ColumnAccess::All,
                read != ColumnAccess::All,
                own_update != ColumnAccess::All,
                false,
            ],
            rights: [create, read, update, ColumnAccess::All],
            hidden,
            undeclared,
        })
    }

    /// The columns `right` may touch.
    pub fn access(&self, right: Right) -> &ColumnAccess {
        &self.rights[right as usize]
    }

    /// The names `right` may touch, in column order (`None`: all columns).
    pub fn names<'c>(&self, right: Right, columns: &'c Columns) -> Option<Vec<&'c str>> {
        match self.access(right) {
            ColumnAccess::All => None,
            ColumnAccess::Only(list) => Some(list.iter().map(|&i| columns.name(i)).collect()),
        }
    }

    /// How reads hide columns, if any are hidden: an error when a hidden column cannot
    /// be NULL (the model's reads fail closed for this subject).
    pub(super) fn hidden(&self, model: &str) -> Result<Option<Arc<Projection>>, Error> {
        match &self.hidden {
            Some(p) => match &p.not_null {
                Some(column) => Err(Error::HiddenColumnNotNull {
                    model: model.to_owned(),
                    column: column.clone(),
                }),
                None => Ok(Some(p.clone())),
            },
            None => Ok(None),
        }
    }

    /// Whether a list limits `right` (create or update) at all (for update, a read list
    /// does: update is limited to readable columns).
    pub(super) fn limits(&self, right: Right) -> bool {
        *self.access(right) != ColumnAccess::All
    }

    /// The hidden columns' names (for `rules explain`).
    pub fn hidden_names(&self) -> Vec<&str> {
        self.hidden
            .iter()
            .flat_map(|p| {
                p.columns
                    .iter()
                    .filter(|(_, visible)| !visible)
                    .map(|(name, _)| name.as_str())
            })
            .collect()
    }

    /// A hidden column that is `NOT NULL` in the database, if any (`rules explain`).
    pub fn hidden_not_null(&self) -> Option<&str> {
        self.hidden.as_ref().and_then(|p| p.not_null.as_deref())
    }

    /// Refuses a write of `right` under its own list while the table has undeclared columns
    /// (a change to one could not be checked). Only hidden by a read list, they are simply
    /// left as stored.
    pub(super) fn check_declared(&self, right: Right, model: &str) -> Result<(), Error> {
        match self.undeclared.first() {
            Some(column) if self.listed[right as usize] => Err(Error::UndeclaredColumn {
                action: right,
                model: model.to_owned(),
                column: column.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The position of the table's column `name` among the model's `columns`.
fn declared_position(columns: &Columns, name: &str, backend: Backend) -> Option<usize> {
    columns.get(name).map(|(i, _)| i).or_else(|| {
        columns
            .iter()
            .position(|(declared, _)| store::same_column(backend, declared, name))
    })
}

/// The prefix of a read that hides columns: the rule is applied to the real table inside a
/// common table expression named like the table, whose hidden columns are NULL, so whatever
/// the rest of the query selects, filters, orders or groups on sees only that:
///
/// `WITH rowguard_visible AS (SELECT t.a, CASE WHEN 1=0 THEN t.b END AS b FROM t AS t WHERE
/// rule), t AS (SELECT * FROM rowguard_visible)` then the application's query on `t`.
///
/// (SQLite names the real table `main.t` inside: it would take a later CTE's name as a
/// circular reference.)
#[derive(Debug, Clone)]
pub struct ReadMask {
    projection: Arc<Projection>,
    table: Cow<'static, str>,
    filter: SqlFilter,
}

impl ReadMask {
    pub(super) fn new(
        projection: Arc<Projection>,
        table: Cow<'static, str>,
        filter: SqlFilter,
    ) -> Self {
        Self {
            projection,
            table,
            // Inside the CTE the table's name means the CTE (SQLite): related tables are
            // named in `main`.
            filter: filter.in_main_schema(),
        }
    }
}

impl<DB: Dialect> QueryFragment<DB> for ReadMask {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("WITH rowguard_visible AS (SELECT ");
        for (i, (name, visible)) in self.projection.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            if !visible {
                out.push_sql("CASE WHEN 1=0 THEN ");
            }
            out.push_identifier(&self.table)?;
            out.push_sql(".");
            out.push_identifier(name)?;
            if !visible {
                out.push_sql(" END AS ");
                out.push_identifier(name)?;
            }
        }
        out.push_sql(" FROM ");
        if DB::BACKEND == Backend::Sqlite {
            out.push_sql("main.");
        }
        out.push_identifier(&self.table)?;
        out.push_sql(" AS ");
        out.push_identifier(&self.table)?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        out.push_sql("), ");
        out.push_identifier(&self.table)?;
        out.push_sql(" AS (SELECT * FROM rowguard_visible) ");
        Ok(())
    }
}

impl QueryFragment<MultiBackend> for ReadMask {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

/// `UPDATE t SET a = ?, b = ? WHERE filter`: a write of only the columns the subject may
/// change, from the row's values (the guard's typed changeset would write every field).
#[derive(Debug)]
pub(super) struct ColumnUpdate {
    pub(super) table: &'static str,
    pub(super) sets: Vec<(&'static str, ColumnType, Value)>,
    pub(super) filter: SqlFilter,
}

impl<DB: Dialect> QueryFragment<DB> for ColumnUpdate {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        out.push_identifier(self.table)?;
        out.push_sql(" SET ");
        for (i, (column, ty, value)) in self.sets.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
            out.push_sql(" = ");
            if *ty == ColumnType::Uuid && DB::BACKEND == Backend::Postgres && !value.is_null() {
                out.push_sql("CAST(");
                DB::push_value(&mut out, value)?;
                out.push_sql(" AS uuid)");
            } else {
                DB::push_value(&mut out, value)?;
            }
        }
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

impl QueryFragment<MultiBackend> for ColumnUpdate {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

impl<C> diesel::RunQueryDsl<C> for ColumnUpdate {}

impl QueryId for ColumnUpdate {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// `[mask] SELECT <the row as a JSON object of columns> FROM t WHERE filter ORDER BY key`:
/// rows of a table known only by its stored metadata, with what the subject may see
/// (`rules try --json --columns`). One text column per row, whatever the columns' types.
#[derive(Debug)]
pub(super) struct RowsQuery {
    pub(super) mask: Option<ReadMask>,
    pub(super) table: String,
    pub(super) key: String,
    pub(super) columns: Vec<String>,
    pub(super) filter: SqlFilter,
}

impl<DB: Dialect> QueryFragment<DB> for RowsQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if let Some(mask) = &self.mask {
            mask.walk_ast(out.reborrow())?;
        }
        out.push_sql("SELECT ");
        push_row_json(&mut out, &self.table, &self.columns)?;
        out.push_sql(" FROM ");
        out.push_identifier(&self.table)?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        out.push_sql(" ORDER BY ");
        out.push_identifier(&self.table)?;
        out.push_sql(".");
        out.push_identifier(&self.key)
    }
}

/// The backend's text type for a `CAST`.
fn text_type<DB: Dialect>() -> &'static str {
    match DB::BACKEND {
        Backend::Mysql => "CHAR",
        Backend::Postgres | Backend::Sqlite => "TEXT",
    }
}

/// `CAST(json_object('a', t.a, …) AS TEXT)`: a row of `table` as one JSON text.
fn push_row_json<'b, DB: Dialect>(
    out: &mut AstPass<'_, 'b, DB>,
    table: &'b str,
    columns: &'b [String],
) -> QueryResult<()> {
    let function = match DB::BACKEND {
        Backend::Postgres => "json_build_object(",
        Backend::Sqlite => "json_object(",
        Backend::Mysql => "JSON_OBJECT(",
    };
    out.push_sql("CAST(");
    out.push_sql(function);
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        DB::push_text(out, column)?;
        out.push_sql(", ");
        out.push_identifier(table)?;
        out.push_sql(".");
        out.push_identifier(column)?;
    }
    out.push_sql(") AS ");
    out.push_sql(text_type::<DB>());
    out.push_sql(")");
    Ok(())
}

/// The first `limit` rows of a table by key, each as stored (JSON text) with `'y'` or `'n'`:
/// whether `verdict` lets it through (NULL counts as no, as in a `WHERE`).
pub(super) struct SampleQuery {
    pub(super) table: String,
    pub(super) key: String,
    pub(super) columns: Vec<String>,
    pub(super) verdict: SqlFilter,
    pub(super) limit: u32,
}

impl<DB: Dialect> QueryFragment<DB> for SampleQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        push_row_json(&mut out, &self.table, &self.columns)?;
        out.push_sql(", CAST(CASE WHEN ");
        self.verdict.walk_ast(out.reborrow())?;
        out.push_sql(" THEN 'y' ELSE 'n' END AS ");
        out.push_sql(text_type::<DB>());
        out.push_sql(") FROM ");
        out.push_identifier(&self.table)?;
        out.push_sql(" ORDER BY ");
        out.push_identifier(&self.table)?;
        out.push_sql(".");
        out.push_identifier(&self.key)?;
        // A number of ours, not input text.
        out.push_sql(&format!(" LIMIT {}", self.limit));
        Ok(())
    }
}

impl QueryFragment<MultiBackend> for SampleQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

impl QueryId for SampleQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for SampleQuery {
    type SqlType = (diesel::sql_types::Text, diesel::sql_types::Text);
}

impl<C> diesel::RunQueryDsl<C> for SampleQuery {}

impl QueryFragment<MultiBackend> for RowsQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

impl QueryId for RowsQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for RowsQuery {
    type SqlType = diesel::sql_types::Text;
}

impl<C> diesel::RunQueryDsl<C> for RowsQuery {}

impl QueryId for ReadMask {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}
