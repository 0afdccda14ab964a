//! Relations found in the source tree: `diesel::joinable!` lines give every model pair a
//! belongs-to and a has-many under default names; `authorizable!(… relations { … })` adds,
//! renames or reconfigures them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use syn::parse::ParseStream;
use syn::{Ident, Token};

use super::{FoundModel, SyncError};
use crate::rules::{Relation, RelationKind, Right, Schema};

/// `diesel::joinable!(child -> parent (foreign_key))`.
pub(super) struct Join {
    pub(super) child: String,
    pub(super) parent: String,
    pub(super) foreign_key: String,
}

/// One entry of `relations { name: belongs_to parents(fk) check update, … }`.
pub(super) struct Declared {
    name: String,
    kind: RelationKind,
    target_table: String,
    column: String,
    /// `None`: the default (`read` for a belongs-to); `Some(None)`: `check none`.
    check: Option<Option<Right>>,
}

/// The tokens of `joinable!`: `child -> parent (fk)`.
pub(super) fn parse_join(input: ParseStream<'_>) -> syn::Result<Join> {
    let child: Ident = input.parse()?;
    input.parse::<Token![->]>()?;
    let parent: Ident = input.parse()?;
    let inner;
    syn::parenthesized!(inner in input);
    let foreign_key: Ident = inner.parse()?;
    Ok(Join {
        child: child.to_string(),
        parent: parent.to_string(),
        foreign_key: foreign_key.to_string(),
    })
}

/// The body of `relations { … }`: `name: belongs_to table(fk) [check RIGHT | check none]`
/// or `name: has_many table(fk)`, comma-separated.
pub(super) fn parse_declared(input: ParseStream<'_>) -> syn::Result<Vec<Declared>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let kind_ident: Ident = input.parse()?;
        let kind: RelationKind = kind_ident
            .to_string()
            .parse()
            .map_err(|e: String| syn::Error::new(kind_ident.span(), e))?;
        let target: Ident = input.parse()?;
        let inner;
        syn::parenthesized!(inner in input);
        let column: Ident = inner.parse()?;
        let mut check = None;
        if input.peek(Ident) {
            let word: Ident = input.parse()?;
            if word != "check" {
                return Err(syn::Error::new(
                    word.span(),
                    "expected `check RIGHT`, `check none`, or a comma",
                ));
            }
            if kind != RelationKind::BelongsTo {
                return Err(syn::Error::new(
                    word.span(),
                    "`check` applies to belongs_to relations (the foreign-key target check)",
                ));
            }
            let right: Ident = input.parse()?;
            check = Some(if right == "none" {
                None
            } else {
                Some(Right::from_key(&right.to_string()).ok_or_else(|| {
                    syn::Error::new(
                        right.span(),
                        "expected create, read, update, delete or none",
                    )
                })?)
            });
        }
        out.push(Declared {
            name: name.to_string(),
            kind,
            target_table: target.to_string(),
            column: column.to_string(),
            check,
        });
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

/// Gives every found model its relations: the defaults from `joins`, then the `declared`
/// ones (model name, file, entries) on top. A join between tables that are not both exactly
/// one model's, or whose columns a model does not list, is skipped with a note; a declared
/// relation that does not fit is an error naming its file.
pub(super) fn resolve(
    models: &mut BTreeMap<String, FoundModel>,
    joins: &[Join],
    declared: &[(String, PathBuf, Vec<Declared>)],
    notes: &mut Vec<String>,
) -> Result<(), SyncError> {
    let by_table = |table: &str| -> Vec<String> {
        models
            .values()
            .filter(|m| m.table == table)
            .map(|m| m.name.clone())
            .collect()
    };
    let mut derived: Vec<(String, Relation)> = Vec::new();
    for join in joins {
        let (children, parents) = (by_table(&join.child), by_table(&join.parent));
        let ([child], [parent]) = (children.as_slice(), parents.as_slice()) else {
            if !children.is_empty() && !parents.is_empty() {
                notes.push(format!(
                    "joinable!({} -> {}): a table belongs to several models; declare the \
                     relation in authorizable!(… relations {{ … }})",
                    join.child, join.parent
                ));
            }
            continue;
        };
        let parent_key = models[parent].primary_key.clone();
        let child_key_listed = models[child].columns.get(&join.foreign_key).is_some();
        if !child_key_listed {
            notes.push(format!(
                "joinable!({} -> {} ({})): model {child} does not list {}; no relation",
                join.child, join.parent, join.foreign_key, join.foreign_key
            ));
            continue;
        }
        derived.push((
            child.clone(),
            Relation::belongs_to(
                Relation::default_belongs_to_name(&join.foreign_key),
                &join.foreign_key,
                parent,
                &parent_key,
            ),
        ));
        derived.push((
            parent.clone(),
            Relation::has_many(&join.child, &parent_key, child, &join.foreign_key),
        ));
    }
    let mut explicit: Vec<(String, Relation, PathBuf)> = Vec::new();
    for (model, file, entries) in declared {
        let Some(owner) = models.get(model) else {
            continue;
        };
        for d in entries {
            let fail = |cause: String| SyncError::Model {
                path: file.display().to_string(),
                cause: format!("model {model}, relation {}: {cause}", d.name),
            };
            let target = match by_table(&d.target_table).as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(fail(format!(
                        "no authorizable model uses table `{}`",
                        d.target_table
                    )))
                }
                _ => {
                    return Err(fail(format!(
                        "several models use table `{}`",
                        d.target_table
                    )))
                }
            };
            let mut relation = match d.kind {
                RelationKind::BelongsTo => {
                    Relation::belongs_to(&d.name, &d.column, &target, &models[&target].primary_key)
                }
                RelationKind::HasMany => {
                    Relation::has_many(&d.name, &owner.primary_key, &target, &d.column)
                }
            };
            if let Some(check) = d.check {
                relation.check = check;
            }
            explicit.push((model.clone(), relation, file.clone()));
        }
    }
    // A declaration replaces the default of the same name, or of the same columns (a rename).
    derived.retain(|(model, r)| {
        !explicit.iter().any(|(m, e, _)| {
            m == model
                && (e.name == r.name
                    || (e.kind == r.kind
                        && e.local_column == r.local_column
                        && e.target_model == r.target_model
                        && e.target_column == r.target_column))
        })
    });
    let mut schema = Schema::new();
    for m in models.values() {
        schema.add_model(&m.name, &m.table, &m.primary_key, m.columns.clone());
    }
    for (model, relation, file) in explicit {
        schema
            .add_relation(&model, relation.clone())
            .map_err(|cause| SyncError::Model {
                path: file.display().to_string(),
                cause,
            })?;
        if let Some(m) = models.get_mut(&model) {
            m.relations.push(relation);
        }
    }
    for (model, relation) in derived {
        // A has-many that does not fit carries no check: a note. A belongs-to (its name is a
        // column: a foreign key without `_id`) is an error: dropping it would silently drop a
        // target check.
        if relation.kind == RelationKind::HasMany {
            if let Err(why) = schema.add_relation(&model, relation.clone()) {
                notes.push(format!("no default relation: {why}"));
                continue;
            }
            if let Some(m) = models.get_mut(&model) {
                m.relations.push(relation);
            }
            continue;
        }
        schema
            .add_relation(&model, relation.clone())
            .map_err(|why| SyncError::Model {
                path: models
                    .get(&model)
                    .map(|m| m.file.display().to_string())
                    .unwrap_or_default(),
                cause: format!(
                    "the default relation from diesel::joinable! does not fit: {why}; name it \
                     yourself: authorizable!(… relations {{ NAME: {} {}({}) }})",
                    relation.kind,
                    models
                        .get(&relation.target_model)
                        .map(|m| m.table.as_str())
                        .unwrap_or_default(),
                    if relation.kind == RelationKind::BelongsTo {
                        &relation.local_column
                    } else {
                        &relation.target_column
                    }
                ),
            })?;
        if let Some(m) = models.get_mut(&model) {
            m.relations.push(relation);
        }
    }
    // A has-many without the belongs-to back: writes to the child are not target-checked.
    for (parent, m) in models.iter() {
        for r in m
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::HasMany)
        {
            let checked = models.get(&r.target_model).is_some_and(|child| {
                child.relations.iter().any(|b| {
                    b.kind == RelationKind::BelongsTo
                        && b.check.is_some()
                        && b.local_column == r.target_column
                        && b.target_model == *parent
                })
            });
            if !checked {
                notes.push(format!(
                    "relation {parent}.{}: {} has no belongs-to on {} back to {parent}, so writes \
                     to {} do not check that it points at a {parent} row the subject may read",
                    r.name, r.target_model, r.target_column, r.target_model
                ));
            }
        }
    }
    for m in models.values_mut() {
        m.relations.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(())
}

/// What to do with relations: the plan lines, and the writes.
pub(super) struct RelationPlan {
    pub(super) changes: Vec<super::Change>,
    /// (model, relation name) to delete first (removed or changed).
    pub(super) remove: Vec<(String, String)>,
    /// (model, relation) to insert after the models are written (added or changed).
    pub(super) add: Vec<(String, Relation)>,
}

/// Stored relations against found ones. Relations of `kept` models (rowguard's own, absent
/// from an application's tree) stay as stored; stored rows that cannot even be read (`broken`)
/// are replaced by the code's relation of that name, or removed.
pub(super) fn plan(
    stored: &[(String, Relation)],
    broken: &[crate::store::BrokenRelation],
    found: &BTreeMap<String, FoundModel>,
    kept: &[&str],
) -> RelationPlan {
    use super::Change;
    let mut out = RelationPlan {
        changes: Vec::new(),
        remove: Vec::new(),
        add: Vec::new(),
    };
    let found_relation = |model: &str, name: &str| {
        found
            .get(model)
            .and_then(|m| m.relations.iter().find(|r| r.name == name))
    };
    for (model, relation) in stored {
        let label = format!("{model}.{}", relation.name);
        if kept.contains(&model.as_str()) {
            out.changes.push(Change::RelationUnchanged(label));
            continue;
        }
        match found_relation(model, &relation.name) {
            None => {
                out.remove.push((model.clone(), relation.name.clone()));
                out.changes.push(Change::RelationRemoved(label));
            }
            Some(now) if now != relation => {
                out.remove.push((model.clone(), relation.name.clone()));
                out.add.push((model.clone(), now.clone()));
                out.changes.push(Change::RelationChanged(label));
            }
            Some(_) => out.changes.push(Change::RelationUnchanged(label)),
        }
    }
    for b in broken {
        if kept.contains(&b.model.as_str()) {
            continue;
        }
        let label = format!("{}.{}", b.model, b.name);
        out.remove.push((b.model.clone(), b.name.clone()));
        match found_relation(&b.model, &b.name) {
            Some(now) => {
                out.add.push((b.model.clone(), now.clone()));
                out.changes.push(Change::RelationChanged(label));
            }
            None => out.changes.push(Change::RelationRemoved(label)),
        }
    }
    for m in found.values() {
        for relation in &m.relations {
            // A broken row of this name was planned above (replaced).
            let stored_already = stored
                .iter()
                .any(|(model, r)| *model == m.name && r.name == relation.name)
                || broken
                    .iter()
                    .any(|b| b.model == m.name && b.name == relation.name);
            if !stored_already {
                out.add.push((m.name.clone(), relation.clone()));
                out.changes.push(Change::RelationAdded(format!(
                    "{}.{}",
                    m.name, relation.name
                )));
            }
        }
    }
    out.changes
        .sort_by(|a, b| super::name_of(a).cmp(super::name_of(b)));
    out
}

/// The schema as it will be after the sync: the found models and relations, and the
/// `kept` models as stored (with their stored relations).
pub(super) fn schema_after(
    stored: &[Result<std::sync::Arc<crate::store::StoredModel>, crate::store::BrokenModel>],
    stored_relations: &[(String, Relation)],
    found: &BTreeMap<String, FoundModel>,
    kept: &[&str],
) -> Schema {
    let mut schema = Schema::new();
    for m in found.values() {
        schema.add_model(&m.name, &m.table, &m.primary_key, m.columns.clone());
    }
    for m in stored.iter().flatten() {
        if kept.contains(&m.name.as_str()) {
            schema.add_model(&m.name, &m.table_name, &m.primary_key, m.columns.clone());
        }
    }
    for m in found.values() {
        for relation in &m.relations {
            // Checked when the scan resolved them.
            let _ = schema.add_relation(&m.name, relation.clone());
        }
    }
    for (model, relation) in stored_relations {
        if kept.contains(&model.as_str()) {
            // As stored; one that no longer fits fails here as it does at run time.
            let _ = schema.add_relation(model, relation.clone());
        }
    }
    schema
}
