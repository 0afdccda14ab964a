//! `authorizable_relations`: the relations rules may reach through, and the [`Schema`] built
//! from them and the stored models.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;

use crate::db::{on_backend, write_transaction, StoreConnection};
use crate::rules::{compile_document_in, Relation, RelationKind, Right, Schema};
use crate::schema::{
    authorizable_models as models, authorizable_relations as relations,
    authorizable_set_types as set_types, authorization_rules as rules,
};

use super::{load_models, StoreError, StoredModel};

/// A stored relation that cannot be used (an unknown kind or right, a model or column that
/// is gone). Only rules that use it fail closed; `rules check` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenRelation {
    /// The model it belongs to.
    pub model: String,
    /// Its name.
    pub name: String,
    /// Its kind, when that much is readable.
    pub kind: Option<RelationKind>,
    /// What is wrong.
    pub error: String,
}

/// Relations with the name of the model each belongs to.
pub type ModelRelations = Vec<(String, Relation)>;

/// Every stored relation, by model name, in name order.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::Relation;
/// let mine = Relation::has_many("same_owner", "owner_id", "contacts", "owner_id");
/// rowguard::store::put_relation(&mut conn, "contacts", &mine)?;
/// let (found, broken) = rowguard::store::load_relations(&mut conn)?;
/// assert_eq!(found, [("contacts".to_owned(), mine)]);
/// assert!(broken.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn load_relations(
    conn: &mut dyn StoreConnection,
) -> Result<(ModelRelations, Vec<BrokenRelation>), StoreError> {
    let names: HashMap<i64, String> = {
        let query = models::table.select((models::id, models::name));
        let rows: Vec<(i64, String)> = on_backend!(conn, c => query.load(c))?;
        rows.into_iter().collect()
    };
    load_relations_named(conn, &names)
}

/// [`load_relations`] with the models' names by row id already known (one query).
pub(crate) fn load_relations_named(
    conn: &mut dyn StoreConnection,
    names: &HashMap<i64, String>,
) -> Result<(ModelRelations, Vec<BrokenRelation>), StoreError> {
    let query = relations::table
        .select((
            relations::authorizable_model_id,
            relations::name,
            relations::kind,
            relations::local_column,
            relations::target_model_id,
            relations::target_column,
            relations::check_right,
        ))
        .order((relations::authorizable_model_id, relations::name));
    type Raw = (i64, String, String, String, i64, String, Option<String>);
    let rows: Vec<Raw> = on_backend!(conn, c => query.load(c))?;
    let mut found = Vec::new();
    let mut broken = Vec::new();
    for (model_id, name, kind, local_column, target_id, target_column, check) in rows {
        let model = names.get(&model_id).cloned().unwrap_or_default();
        let kind_text = kind;
        let parsed = (|| -> Result<Relation, String> {
            let kind: RelationKind = kind_text.parse()?;
            let check = match check.as_deref() {
                None => None,
                Some(key) => Some(Right::from_key(key).ok_or_else(|| {
                    format!("check_right \"{}\" is not a right", key.escape_debug())
                })?),
            };
            let target_model = names
                .get(&target_id)
                .cloned()
                .ok_or_else(|| format!("target model id {target_id} does not exist"))?;
            Ok(Relation {
                name: name.clone(),
                kind,
                local_column,
                target_model,
                target_column,
                check: if kind == RelationKind::BelongsTo {
                    check
                } else {
                    None
                },
            })
        })();
        match parsed {
            Ok(relation) => found.push((model, relation)),
            Err(error) => broken.push(BrokenRelation {
                model,
                name,
                kind: kind_text.parse().ok(),
                error,
            }),
        }
    }
    found.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
    Ok((found, broken))
}

/// The schema rules are compiled in: every usable stored model, and every relation that
/// connects columns they list. Relations that do not fit are returned beside it (rules that
/// use them fail closed; `rules check` lists them).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let (schema, broken) = rowguard::store::load_schema(&mut conn)?;
/// assert_eq!(schema.model("contacts").unwrap().table, "contacts");
/// assert!(broken.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn load_schema(
    conn: &mut dyn StoreConnection,
) -> Result<(Schema, Vec<BrokenRelation>), StoreError> {
    let models = load_models(conn)?;
    let names = model_names(&models);
    let (found, mut broken) = load_relations_named(conn, &names)?;
    let usable: Vec<Arc<StoredModel>> = models.into_iter().flatten().collect();
    Ok((schema_of(&usable, found, &mut broken), broken))
}

/// Every stored model's name by row id, usable or not.
pub(crate) fn model_names(
    models: &[Result<Arc<StoredModel>, super::BrokenModel>],
) -> HashMap<i64, String> {
    models
        .iter()
        .map(|m| match m {
            Ok(m) => (m.id, m.name.clone()),
            Err(b) => (b.id, b.name.clone()),
        })
        .collect()
}

/// A schema of `models` with `relations`; those that do not fit are added to `broken`.
pub(crate) fn schema_of(
    models: &[Arc<StoredModel>],
    relations: Vec<(String, Relation)>,
    broken: &mut Vec<BrokenRelation>,
) -> Schema {
    let mut schema = Schema::new();
    for m in models {
        schema.add_model(&m.name, &m.table_name, &m.primary_key, m.columns.clone());
    }
    for b in broken.iter() {
        schema.mark_unusable(&b.model, &b.name, &b.error);
    }
    for (model, relation) in relations {
        let (name, kind) = (relation.name.clone(), Some(relation.kind));
        if let Err(error) = schema.add_relation(&model, relation) {
            schema.mark_unusable(&model, &name, &error);
            broken.push(BrokenRelation {
                model,
                name,
                kind,
                error,
            });
        }
    }
    schema
}

/// Adds (or replaces, by name) a relation of `model`, after checking it against the stored
/// models (both exist, both columns are listed, the name is free). Replacing a relation
/// that stored rules use in a way that breaks them is refused ([`StoreError::RulesWouldBreak`]).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::Relation;
/// let bad = Relation::belongs_to("owner", "owner_id", "users", "id");
/// let err = rowguard::store::put_relation(&mut conn, "contacts", &bad).unwrap_err();
/// assert!(err.to_string().contains("there is no model \"users\""), "{err}");
/// # Ok(())
/// # }
/// ```
pub fn put_relation(
    conn: &mut dyn StoreConnection,
    model: &str,
    relation: &Relation,
) -> Result<(), StoreError> {
    write_transaction(conn, |conn| {
        let (mut schema, _) = load_schema(conn)?;
        let before = schema.clone();
        if let Some(old) = before.model(model).and_then(|m| m.relation(&relation.name)) {
            if old.reaches_differently(relation) {
                let users = rules_using_relation(conn, &before, model, &relation.name)?;
                if !users.is_empty() {
                    return Err(StoreError::RulesWouldBreak(users));
                }
            }
        }
        schema.remove_relation(model, &relation.name);
        schema
            .add_relation(model, relation.clone())
            .map_err(StoreError::BadRelation)?;
        let broken = rules_broken_by_schema(conn, &before, &schema)?;
        if !broken.is_empty() {
            return Err(StoreError::RulesWouldBreak(broken));
        }
        remove_relations(conn, &[(model.to_owned(), relation.name.clone())])?;
        add_relations(conn, &[(model.to_owned(), relation.clone())])
    })
}

/// Removes the relation `name` of `model`; refused with [`StoreError::RulesWouldBreak`]
/// while stored rules use it. Returns whether it existed.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::Relation;
/// let mine = Relation::has_many("same_owner", "owner_id", "contacts", "owner_id");
/// rowguard::store::put_relation(&mut conn, "contacts", &mine)?;
/// rowguard::store::put_rule(&mut conn, "roles", "peer", "contacts",
///     r#"{"read":{"search":{"same_owner.status":"=open"}}}"#)?;
/// let refused = rowguard::store::delete_relation(&mut conn, "contacts", "same_owner");
/// assert!(matches!(refused, Err(rowguard::store::StoreError::RulesWouldBreak(_))));
/// rowguard::store::delete_rule(&mut conn, "roles", "peer", "contacts")?;
/// assert!(rowguard::store::delete_relation(&mut conn, "contacts", "same_owner")?);
/// # Ok(())
/// # }
/// ```
pub fn delete_relation(
    conn: &mut dyn StoreConnection,
    model: &str,
    name: &str,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let (schema, _) = load_schema(conn)?;
        let mut after = schema.clone();
        if !after.remove_relation(model, name) {
            return Ok(false);
        }
        let broken = rules_broken_by_schema(conn, &schema, &after)?;
        if !broken.is_empty() {
            return Err(StoreError::RulesWouldBreak(broken));
        }
        Ok(remove_relations(conn, &[(model.to_owned(), name.to_owned())])? > 0)
    })
}

/// The stored rules that use relation `name` of `model`, each as `"model set_type/set_value:
/// uses relation model.name, which would reach other rows"`: a change of its kind, columns
/// or target would silently change what they mean, so it is refused while they exist.
pub fn rules_using_relation(
    conn: &mut dyn StoreConnection,
    schema: &Schema,
    model: &str,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    let mut without = schema.clone();
    if !without.remove_relation(model, name) {
        return Ok(Vec::new());
    }
    Ok(rules_broken_by_schema(conn, schema, &without)?
        .into_iter()
        .map(|line| {
            let who = line.split_once(": ").map_or(line.as_str(), |(who, _)| who);
            format!("{who}: uses relation {model}.{name}, which would reach other rows")
        })
        .collect())
}

/// The row ids of `names`, in order; an unknown one is [`StoreError::BadRelation`].
fn model_ids(conn: &mut dyn StoreConnection, names: &[&str]) -> Result<Vec<i64>, StoreError> {
    let query = models::table.select((models::name, models::id));
    let rows: HashMap<String, i64> = on_backend!(conn, c => query.load::<(String, i64)>(c))?
        .into_iter()
        .collect();
    names
        .iter()
        .map(|n| {
            rows.get(*n)
                .copied()
                .ok_or_else(|| StoreError::BadRelation(format!("there is no model \"{n}\"")))
        })
        .collect()
}

/// The stored rules that compile in `before` but not in `after`, each as
/// `"model set_type/set_value: why"`: what a change of relations (or models) would break.
pub fn rules_broken_by_schema(
    conn: &mut dyn StoreConnection,
    before: &Schema,
    after: &Schema,
) -> Result<Vec<String>, StoreError> {
    let query = rules::table
        .inner_join(set_types::table)
        .inner_join(models::table)
        .select((
            models::name,
            set_types::name,
            rules::authorizable_set_value,
            rules::rules,
        ))
        .order((models::name, set_types::name, rules::authorizable_set_value));
    let stored: Vec<(String, String, String, String)> = on_backend!(conn, c => query.load(c))?;
    let mut broken = Vec::new();
    for (model, set_type, value, doc) in stored {
        let compiles = |schema: &Schema| {
            schema
                .model(&model)
                .map(|m| compile_document_in(&doc, &m.columns, schema, &model))
        };
        if !matches!(compiles(before), Some(Ok(_))) {
            continue;
        }
        let why = match compiles(after) {
            Some(Ok(_)) => continue,
            Some(Err(e)) => e.to_string(),
            None => format!("model \"{model}\" would be gone"),
        };
        broken.push(format!("{model} {set_type}/{value}: {why}"));
    }
    Ok(broken)
}

/// Deletes relations by (model, name), without checks (the callers, `put_relation`,
/// `delete_relation` and `sync-models`, check first, in the same transaction). Returns how
/// many rows went.
pub(crate) fn remove_relations(
    conn: &mut dyn StoreConnection,
    remove: &[(String, String)],
) -> Result<usize, StoreError> {
    if remove.is_empty() {
        return Ok(0);
    }
    let query = models::table.select((models::name, models::id));
    let ids: HashMap<String, i64> = on_backend!(conn, c => query.load::<(String, i64)>(c))?
        .into_iter()
        .collect();
    // In the caller's transaction (sync-models'), under its application user.
    write_transaction(conn, |conn| {
        let mut removed = 0;
        for (model, name) in remove {
            let Some(&id) = ids.get(model) else { continue };
            let delete = diesel::delete(
                relations::table
                    .filter(relations::authorizable_model_id.eq(id))
                    .filter(relations::name.eq(name)),
            );
            removed += on_backend!(conn, c => delete.execute(c))?;
        }
        Ok(removed)
    })
}

/// Inserts relations, without the rule check (see [`remove_relations`]); an unknown model
/// is [`StoreError::BadRelation`].
pub(crate) fn add_relations(
    conn: &mut dyn StoreConnection,
    add: &[(String, Relation)],
) -> Result<(), StoreError> {
    write_transaction(conn, |conn| insert_relations(conn, add))
}

fn insert_relations(
    conn: &mut dyn StoreConnection,
    add: &[(String, Relation)],
) -> Result<(), StoreError> {
    for (model, relation) in add {
        let ids = model_ids(conn, &[model, &relation.target_model])?;
        let check = relation.check.map(Right::key);
        let insert = diesel::insert_into(relations::table).values((
            relations::authorizable_model_id.eq(ids[0]),
            relations::name.eq(&relation.name),
            relations::kind.eq(relation.kind.key()),
            relations::local_column.eq(&relation.local_column),
            relations::target_model_id.eq(ids[1]),
            relations::target_column.eq(&relation.target_column),
            relations::check_right.eq(check),
        ));
        on_backend!(conn, c => insert.execute(c))?;
    }
    Ok(())
}

/// Cycles among stored read rules through relations: model A's read rule reaches B, whose
/// read rule reaches back to A (directly or further on). Protection cuts such chains at
/// [`MAX_PROTECTED_DEPTH`](crate::rules::MAX_PROTECTED_DEPTH) and grants nothing beyond the
/// cut; `rules check` warns about each, naming the rule rows. One line per cycle.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::rules::Relation;
/// let same_owner = Relation::has_many("same_owner", "owner_id", "contacts", "owner_id");
/// rowguard::store::put_relation(&mut conn, "contacts", &same_owner)?;
/// rowguard::store::put_rule(&mut conn, "roles", "peer", "contacts",
///     r#"{"read":{"search":{"same_owner.status":"=open"}}}"#)?;
/// let cycles = rowguard::store::relation_cycles(&mut conn)?;
/// assert_eq!(cycles, [r#"contacts (rule 2, roles "peer") → contacts"#]);
/// # Ok(())
/// # }
/// ```
pub fn relation_cycles(conn: &mut dyn StoreConnection) -> Result<Vec<String>, StoreError> {
    let (schema, _) = load_schema(conn)?;
    // model → [(target, rule label)] through read rules.
    let mut edges: std::collections::BTreeMap<String, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for row in super::all_rules(conn)? {
        let Some(model) = schema.model(&row.model) else {
            continue;
        };
        let Ok(compiled) = compile_document_in(&row.rules, &model.columns, &schema, &row.model)
        else {
            continue;
        };
        let Some(read) = compiled.filter(Right::Read) else {
            continue;
        };
        let label = format!("rule {}, {} \"{}\"", row.id, row.set_type, row.set_value);
        for target in read.relation_targets() {
            edges
                .entry(row.model.clone())
                .or_default()
                .push((target.to_string(), label.clone()));
        }
    }
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for start in edges.keys() {
        // Depth-first; a path is the (model, rule that leads on) pairs walked so far.
        let mut stack: Vec<(String, Vec<(String, String)>)> = vec![(start.clone(), Vec::new())];
        while let Some((here, path)) = stack.pop() {
            for (next, label) in edges.get(&here).into_iter().flatten() {
                let mut longer = path.clone();
                longer.push((here.clone(), label.clone()));
                if next == start {
                    let mut members: Vec<String> = longer.iter().map(|(m, _)| m.clone()).collect();
                    members.sort();
                    if !seen.contains(&members) {
                        seen.push(members);
                        let steps: Vec<String> =
                            longer.iter().map(|(m, l)| format!("{m} ({l})")).collect();
                        out.push(format!("{} → {start}", steps.join(" → ")));
                    }
                } else if !longer.iter().any(|(m, _)| m == next) {
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    Ok(out)
}
