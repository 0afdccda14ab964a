//! `sync-models`: finds the models declared with [`authorizable!`](crate::authorizable) in a
//! source tree (parsed with `syn`, not pattern-matched), takes their column types from the
//! Diesel `table!` definitions beside them, and brings `authorizable_models` in line.
//!
//! Why one file of about 500 lines: scanning (files → declarations), planning (declarations
//! vs. the store) and applying are one pipeline over the same private types; the parser is
//! the bulk, and it reads exactly the two macros this crate defines.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Ident, Item, LitStr, Token};

use crate::policy::{ArnAccount, ModelArn};
use crate::rules::{ColumnType, Columns, Relation};
use crate::store;
use crate::AnyConnection;

mod relations;

/// A model found in the source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundModel {
    /// Stable name.
    pub name: String,
    /// Table.
    pub table: String,
    /// Primary key.
    pub primary_key: String,
    /// Columns rules may use.
    pub columns: Columns,
    /// Where it is declared.
    pub file: PathBuf,
    /// Its relations (from `joinable!` and its own declaration), by name.
    pub relations: Vec<Relation>,
    /// How policies name it and its rows (`arn { … }`).
    pub arn: ModelArn<String>,
}

/// Errors of `sync-models`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A directory could not be walked or a file read (as UTF-8 text).
    #[error("{path}: {source}")]
    Io {
        /// The directory or file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A Rust file does not parse (use `--keep-going` to skip it).
    #[error("{path}: does not parse as Rust: line {line}: {source}")]
    Parse {
        /// The Rust file that does not parse.
        path: String,
        /// Where the parser stopped.
        line: usize,
        /// The parser's error.
        source: syn::Error,
    },
    /// A declaration is inconsistent (unknown table, column, type, duplicate name).
    #[error("{path}: {cause}")]
    Model {
        /// The file with the declaration (or the table at fault).
        path: String,
        /// What is wrong.
        cause: String,
    },
    /// Vanished models still have rules: nothing was changed.
    #[error("refusing to remove models that still have rules (delete their rules first): {}", .0.iter().map(|(m, n)| format!("{m} ({n} rule(s))")).collect::<Vec<_>>().join(", "))]
    ModelsWithRules(Vec<(String, i64)>),
    /// A changed model no longer fits rules stored for it (a column they use is gone or
    /// has another type, see [`store::rules_broken_by`](crate::store::rules_broken_by)):
    /// nothing was changed.
    #[error("refusing to change models whose stored rules depend on what changes (fix those rules first): {}", .0.join("; "))]
    RulesWouldBreak(Vec<String>),
    /// A database error.
    #[error(transparent)]
    Db(#[from] crate::DbError),
}

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        SyncError::Db(e.into())
    }
}

/// What a scan found: models, and files skipped with `--keep-going`.
#[derive(Debug, Default)]
pub struct Scan {
    /// Models by name.
    pub models: BTreeMap<String, FoundModel>,
    /// Files that did not parse (only with `keep_going`).
    pub skipped: Vec<SyncError>,
    /// `joinable!` lines that gave no relation, and why.
    pub notes: Vec<String>,
}

/// Walks `paths` for `.rs` files and collects the authorizable models.
pub fn scan(paths: &[PathBuf], keep_going: bool) -> Result<Scan, SyncError> {
    let mut tables: Tables = HashMap::new();
    let mut decls: Vec<(PathBuf, Decl)> = Vec::new();
    let mut joins: Vec<relations::Join> = Vec::new();
    let mut out = Scan::default();
    for root in paths {
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| SyncError::Io {
                path: root.display().to_string(),
                source: e.into(),
            })?;
            let path = entry.path();
            if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).map_err(|source| SyncError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let file = match syn::parse_file(&text) {
                Ok(f) => f,
                Err(e) => {
                    let err = SyncError::Parse {
                        path: path.display().to_string(),
                        line: e.span().start().line,
                        source: e,
                    };
                    if keep_going {
                        out.skipped.push(err);
                        continue;
                    }
                    return Err(err);
                }
            };
            collect(&file.items, path, &mut tables, &mut decls, &mut joins)?;
        }
    }
    let mut declared = Vec::new();
    for (file, mut decl) in decls {
        declared.push((
            decl.name.clone(),
            file.clone(),
            std::mem::take(&mut decl.relations),
        ));
        let fail = |cause: String| SyncError::Model {
            path: file.display().to_string(),
            cause,
        };
        let table = tables.get(&decl.table).ok_or_else(|| {
            fail(format!(
                "model {} uses table `{}`, but no diesel::table! for it was found",
                decl.name, decl.table
            ))
        })?;
        if !table.primary_key.contains(&decl.primary_key) {
            return Err(fail(format!(
                "model {}: `{}` is not the primary key of table `{}` ({})",
                decl.name,
                decl.primary_key,
                decl.table,
                table.primary_key.join(", ")
            )));
        }
        let mut columns = Vec::new();
        for col in &decl.columns {
            let ty = table
                .columns
                .iter()
                .find(|(n, _)| n == col)
                .ok_or_else(|| {
                    fail(format!(
                        "model {}: table `{}` has no column `{col}`",
                        decl.name, decl.table
                    ))
                })?
                .1
                .ok_or_else(|| {
                    fail(format!(
                        "model {}: column `{col}` has a SQL type rules cannot use",
                        decl.name
                    ))
                })?;
            columns.push((col.clone(), ty));
        }
        let columns =
            Columns::new(columns).map_err(|e| fail(format!("model {}: {e}", decl.name)))?;
        if columns.get(&decl.primary_key).is_none() {
            return Err(fail(format!(
                "model {}: list the primary key `{}` among the columns",
                decl.name, decl.primary_key
            )));
        }
        decl.arn
            .validate(&columns)
            .map_err(|e| fail(format!("model {}: arn {{ … }}: {e}", decl.name)))?;
        let found = FoundModel {
            name: decl.name.clone(),
            table: decl.table,
            primary_key: decl.primary_key,
            columns,
            file: file.clone(),
            relations: Vec::new(),
            arn: decl.arn,
        };
        if let Some(other) = out.models.insert(decl.name.clone(), found) {
            return Err(fail(format!(
                "model name \"{}\" is also declared in {}",
                decl.name,
                other.file.display()
            )));
        }
    }
    relations::resolve(&mut out.models, &joins, &declared, &mut out.notes)?;
    Ok(out)
}

struct Decl {
    name: String,
    table: String,
    primary_key: String,
    columns: Vec<String>,
    relations: Vec<relations::Declared>,
    arn: ModelArn<String>,
}

/// A `table!` definition: primary key columns and (column, rule type) pairs.
struct TableDef {
    name: String,
    primary_key: Vec<String>,
    columns: Vec<(String, Option<ColumnType>)>,
}

type Tables = HashMap<String, TableDef>;

fn collect(
    items: &[Item],
    path: &Path,
    tables: &mut Tables,
    decls: &mut Vec<(PathBuf, Decl)>,
    joins: &mut Vec<relations::Join>,
) -> Result<(), SyncError> {
    for item in items {
        match item {
            Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect(inner, path, tables, decls, joins)?;
                }
            }
            Item::Macro(m) => {
                let Some(last) = m.mac.path.segments.last() else {
                    continue;
                };
                let fail = |e: syn::Error| SyncError::Model {
                    path: path.display().to_string(),
                    cause: format!("line {}: {e}", e.span().start().line),
                };
                if last.ident == "table" {
                    for table in parse_tables.parse2(m.mac.tokens.clone()).map_err(fail)? {
                        tables.insert(table.name.clone(), table);
                    }
                } else if last.ident == "joinable" {
                    joins.push(
                        relations::parse_join
                            .parse2(m.mac.tokens.clone())
                            .map_err(fail)?,
                    );
                } else if last.ident == "authorizable" {
                    decls.push((
                        path.to_owned(),
                        parse_decl.parse2(m.mac.tokens.clone()).map_err(fail)?,
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `Model => table (pk) { a, b, … }` then, in any order and comma-separated, `as "name"`,
/// `immutable`, `on [Connection, …]`
fn parse_decl(input: ParseStream<'_>) -> syn::Result<Decl> {
    input.parse::<syn::Type>()?;
    input.parse::<Token![=>]>()?;
    let table: Ident = input.parse()?;
    let pk_tokens;
    syn::parenthesized!(pk_tokens in input);
    let primary_key: Ident = pk_tokens.parse()?;
    let body;
    syn::braced!(body in input);
    let columns = body.parse_terminated(Ident::parse_any_ident, Token![,])?;
    // The options, in any order, as the macro takes them.
    let mut name = table.to_string();
    let mut declared = Vec::new();
    let mut arn = ModelArn::default();
    while !input.is_empty() {
        if input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            name = input.parse::<LitStr>()?.value();
        } else {
            let option: Ident = input.parse()?;
            if option == "on" {
                let list;
                syn::bracketed!(list in input);
                let types = list.parse_terminated(syn::Type::parse, Token![,])?;
                if types.is_empty() {
                    return Err(syn::Error::new(
                        option.span(),
                        "`on [...]` needs at least one connection type",
                    ));
                }
            } else if option == "relations" {
                let list;
                syn::braced!(list in input);
                declared = relations::parse_declared(&list)?;
            } else if option == "arn" {
                let list;
                syn::braced!(list in input);
                arn = parse_arn(&list)?;
            } else if option != "immutable" {
                return Err(syn::Error::new(
                    option.span(),
                    "expected `as \"name\"`, `immutable`, `on [Connection, …]`, `relations { … }` or `arn { … }`",
                ));
            }
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(Decl {
        name,
        table: table.to_string(),
        primary_key: primary_key.to_string(),
        columns: columns.into_iter().map(|c| c.to_string()).collect(),
        relations: declared,
        arn,
    })
}

/// `arn { partition: "…", service: "…", region: "…", account: column | "…" }`, each optional.
fn parse_arn(input: ParseStream<'_>) -> syn::Result<ModelArn<String>> {
    let mut arn = ModelArn::default();
    let mut seen = Vec::new();
    while !input.is_empty() {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        if seen.contains(&key) {
            return Err(syn::Error::new(
                key.span(),
                format!("arn {{ … }}: `{key}` is given twice"),
            ));
        }
        seen.push(key.clone());
        let text = || -> syn::Result<String> { Ok(input.parse::<LitStr>()?.value()) };
        if key == "partition" {
            arn.partition = text()?;
        } else if key == "service" {
            arn.service = text()?;
        } else if key == "region" {
            arn.region = text()?;
        } else if key == "account" {
            arn.account = if input.peek(LitStr) {
                ArnAccount::Fixed(text()?)
            } else {
                ArnAccount::Column(input.parse::<Ident>()?.to_string())
            };
        } else {
            return Err(syn::Error::new(
                key.span(),
                "arn { … } takes partition: \"…\", service: \"…\", region: \"…\" and account: column or \"…\"",
            ));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(arn)
}

trait ParseAnyIdent {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident>;
}

impl ParseAnyIdent for Ident {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

/// `[#[attr]…] [schema.]name [(pk, …)] { [#[attr]…] col -> Type, … }`, possibly several.
fn parse_tables(input: ParseStream<'_>) -> syn::Result<Vec<TableDef>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        input.call(syn::Attribute::parse_outer)?;
        if input.peek(Token![use]) {
            input.parse::<syn::ItemUse>()?;
            continue;
        }
        let mut name: Ident = input.parse()?;
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            name = input.parse()?;
        }
        let mut pk = vec!["id".to_owned()];
        if input.peek(syn::token::Paren) {
            let keys;
            syn::parenthesized!(keys in input);
            pk = keys
                .parse_terminated(Ident::parse_any_ident, Token![,])?
                .into_iter()
                .map(|i| i.to_string())
                .collect();
        }
        let body;
        syn::braced!(body in input);
        let mut columns = Vec::new();
        while !body.is_empty() {
            body.call(syn::Attribute::parse_outer)?;
            let column = Ident::parse_any_ident(&body)?;
            body.parse::<Token![->]>()?;
            let ty: syn::Type = body.parse()?;
            columns.push((column.to_string(), rule_type(&ty)));
            if body.peek(Token![,]) {
                body.parse::<Token![,]>()?;
            }
        }
        out.push(TableDef {
            name: name.to_string(),
            primary_key: pk,
            columns,
        });
    }
    Ok(out)
}

/// The rule type of a Diesel SQL type as written in `table!` (`Nullable<T>` has `T`'s).
fn rule_type(ty: &syn::Type) -> Option<ColumnType> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let name = last.ident.to_string();
    if name == "Nullable" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return rule_type(inner);
            }
        }
        return None;
    }
    Some(match name.as_str() {
        "SmallInt" | "Int2" | "Integer" | "Int4" => ColumnType::Integer,
        "BigInt" | "Int8" => ColumnType::Bigint,
        "Float" | "Float4" | "Double" | "Float8" => ColumnType::Float,
        "Text" | "VarChar" | "Varchar" | "Char" => ColumnType::Text,
        "Bool" => ColumnType::Bool,
        "Date" => ColumnType::Date,
        "Timestamp" | "Timestamptz" | "Datetime" => ColumnType::Timestamp,
        "Uuid" => ColumnType::Uuid,
        _ => return None,
    })
}

/// Models rowguard itself declares (the job table): `sync` keeps them when the scanned tree
/// (an application's `src/`) does not declare them.
pub const ROWGUARD_MODELS: [&str; 1] = ["job_executions"];

/// Adds rowguard's own models (the job table, with the `jobs` feature) to `found` where the
/// scanned tree does not declare them: what `sync-models` registers in an application, whose
/// `src/` never holds rowguard's source.
///
/// ```
/// let mut found = std::collections::BTreeMap::new();
/// rowguard::sync::add_rowguard_models(&mut found);
/// assert_eq!(found["job_executions"].table, "job_executions");
/// ```
pub fn add_rowguard_models(found: &mut BTreeMap<String, FoundModel>) {
    #[cfg(feature = "jobs")]
    {
        use crate::jobs::JobExecution;
        use crate::Authorizable;
        found
            .entry(JobExecution::NAME.to_owned())
            .or_insert_with(|| FoundModel {
                name: JobExecution::NAME.to_owned(),
                table: JobExecution::TABLE.to_owned(),
                primary_key: JobExecution::PRIMARY_KEY.to_owned(),
                columns: JobExecution::columns().clone(),
                arn: JobExecution::ARN.to_owned(),
                file: PathBuf::from("(rowguard)"),
                relations: Vec::new(),
            });
    }
    #[cfg(not(feature = "jobs"))]
    let _ = found;
}

/// One line of the plan. Relations are named `model.relation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new model.
    Added(String),
    /// Table, primary key or columns changed.
    Changed(String),
    /// No longer declared.
    Removed(String),
    /// As stored.
    Unchanged(String),
    /// A new relation.
    RelationAdded(String),
    /// A relation whose kind, columns, target or check changed.
    RelationChanged(String),
    /// A relation no longer declared (or whose model is gone).
    RelationRemoved(String),
    /// A relation as stored.
    RelationUnchanged(String),
}

impl Change {
    /// Whether the line is about a relation.
    pub fn is_relation(&self) -> bool {
        matches!(
            self,
            Change::RelationAdded(_)
                | Change::RelationChanged(_)
                | Change::RelationRemoved(_)
                | Change::RelationUnchanged(_)
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added(m) => write!(f, "+ {m}"),
            Change::Changed(m) => write!(f, "~ {m}"),
            Change::Removed(m) => write!(f, "- {m}"),
            Change::Unchanged(m) => write!(f, "= {m}"),
            Change::RelationAdded(r) => write!(f, "+ relation {r}"),
            Change::RelationChanged(r) => write!(f, "~ relation {r}"),
            Change::RelationRemoved(r) => write!(f, "- relation {r}"),
            Change::RelationUnchanged(r) => write!(f, "= relation {r}"),
        }
    }
}

/// Compares the scan with `authorizable_models` and `authorizable_relations` and, unless
/// `dry_run`, applies the difference in one transaction. Removing a model that still has
/// rules, or a change (of columns or relations) that would break a stored rule of any model,
/// is refused and nothing changes. Models come first in the plan, then relations.
pub fn sync(
    conn: &mut AnyConnection,
    found: &BTreeMap<String, FoundModel>,
    dry_run: bool,
) -> Result<Vec<Change>, SyncError> {
    // As the seeder: a caller's transaction commits, and so tells the caches, itself.
    let nested = crate::db::in_transaction(conn);
    conn.transaction(|conn| {
        crate::db::lock_for_writing(conn)?;
        let stored =
            store::load_models(conn).map_err(|e| store_error(e, "authorizable_models".into()))?;
        let mut plan = Vec::new();
        let mut blocked = Vec::new();
        let mut broken = Vec::new();
        for model in &stored {
            // A model whose stored columns are unreadable is rewritten if still declared.
            let (id, name, current) = match model {
                Ok(m) => (m.id, &m.name, Some(m)),
                Err(b) => (b.id, &b.name, None),
            };
            match found.get(name) {
                // rowguard's own models are declared in rowguard's source, which an
                // application's tree does not hold: never removed for being absent there.
                None if ROWGUARD_MODELS.contains(&name.as_str()) => {
                    plan.push(Change::Unchanged(name.clone()));
                }
                None => {
                    let count = store::rule_count(conn, id)
                        .map_err(|e| store_error(e, "authorization_rules".into()))?;
                    if count > 0 {
                        blocked.push((name.clone(), count));
                    }
                    plan.push(Change::Removed(name.clone()));
                }
                Some(m) => {
                    let same = current.is_some_and(|s| {
                        s.table_name == m.table
                            && s.primary_key == m.primary_key
                            && s.columns == m.columns
                            && s.arn == m.arn
                    });
                    if same {
                        plan.push(Change::Unchanged(name.clone()));
                    } else {
                        broken.extend(
                            store::rules_broken_by(conn, name, &m.columns)
                                .map_err(|e| store_error(e, m.file.display().to_string()))?,
                        );
                        plan.push(Change::Changed(name.clone()));
                    }
                }
            }
        }
        for name in found.keys() {
            let known = stored.iter().any(|m| match m {
                Ok(s) => s.name == *name,
                Err(b) => b.name == *name,
            });
            if !known {
                plan.push(Change::Added(name.clone()));
            }
        }
        if !blocked.is_empty() {
            return Err(SyncError::ModelsWithRules(blocked));
        }
        // Relations: what changes, and whether a stored rule (of any model) stops compiling
        // in the schema as it will be.
        let (stored_relations, unreadable) = store::load_relations(conn)
            .map_err(|e| store_error(e, "authorizable_relations".into()))?;
        let kept: Vec<&str> = plan
            .iter()
            .filter_map(|c| match c {
                Change::Unchanged(n) if !found.contains_key(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        let relation_plan = relations::plan(&stored_relations, &unreadable, found, &kept);
        let after = relations::schema_after(&stored, &stored_relations, found, &kept);
        let (before, _) = store::load_schema(conn)
            .map_err(|e| store_error(e, "authorizable_relations".into()))?;
        // A relation rules use may not start reaching other rows under the same name.
        for (model, old) in &stored_relations {
            let now = found
                .get(model)
                .and_then(|m| m.relations.iter().find(|r| r.name == old.name));
            if now.is_some_and(|now| old.reaches_differently(now)) {
                for why in store::rules_using_relation(conn, &before, model, &old.name)
                    .map_err(|e| store_error(e, "authorization_rules".into()))?
                {
                    if !broken.contains(&why) {
                        broken.push(why);
                    }
                }
            }
        }
        for why in store::rules_broken_by_schema(conn, &before, &after)
            .map_err(|e| store_error(e, "authorization_rules".into()))?
        {
            if !broken.contains(&why) {
                broken.push(why);
            }
        }
        if !broken.is_empty() {
            return Err(SyncError::RulesWouldBreak(broken));
        }
        plan.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        if dry_run {
            plan.extend(relation_plan.changes);
            return Ok(plan);
        }
        store::remove_relations(conn, &relation_plan.remove)
            .map_err(|e| store_error(e, "authorizable_relations".into()))?;
        for change in &plan {
            match change {
                Change::Added(name) | Change::Changed(name) => {
                    let m = &found[name];
                    store::upsert_model(
                        conn,
                        &m.name,
                        &m.table,
                        &m.primary_key,
                        &m.columns,
                        &m.arn,
                    )
                    .map_err(|e| store_error(e, m.file.display().to_string()))?;
                }
                Change::Removed(name) => {
                    store::delete_model(conn, name)
                        .map_err(|e| store_error(e, "authorizable_models".into()))?;
                }
                _ => {}
            }
        }
        store::add_relations(conn, &relation_plan.add)
            .map_err(|e| store_error(e, "authorizable_relations".into()))?;
        plan.extend(relation_plan.changes);
        Ok(plan)
    })
    .inspect(|_| {
        if !nested {
            crate::cache::note_store_write();
        }
    })
}

/// A store error during sync; `path` names where the model came from (its file, or the
/// table when the stored side is at fault).
fn store_error(e: store::StoreError, path: String) -> SyncError {
    match e {
        store::StoreError::Db(db) => SyncError::Db(db),
        store::StoreError::RulesWouldBreak(broken) => SyncError::RulesWouldBreak(broken),
        other => SyncError::Model {
            path,
            cause: other.to_string(),
        },
    }
}

fn name_of(c: &Change) -> &str {
    match c {
        Change::Added(n)
        | Change::Changed(n)
        | Change::Removed(n)
        | Change::Unchanged(n)
        | Change::RelationAdded(n)
        | Change::RelationChanged(n)
        | Change::RelationRemoved(n)
        | Change::RelationUnchanged(n) => n,
    }
}
