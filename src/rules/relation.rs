//! Relations between models, and the [`Schema`] a rule is compiled in: what a condition such
//! as `"contact_type.name": "=customer"` may reach.
//!
//! A relation is always one equality between a column of the model and a column of the
//! target model; a condition on it becomes a correlated `EXISTS` on exactly that pair, so
//! the planner can use the foreign-key index.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{Columns, Right};

/// How many relations one path may cross (`a.b.c.column` crosses three). Deeper paths are
/// refused when a rule is validated; `rules check` names them.
pub const MAX_RELATION_DEPTH: usize = 3;

/// How many relation conditions deep a protected filter may go, counting the related models'
/// own read rules that protection adds. Deeper chains (rules whose relations lead back to
/// each other) are cut there, so that the filter grants less, never more.
pub const MAX_PROTECTED_DEPTH: usize = 4;

/// How many `EXISTS` protection may build for one rule (the rule's own relation conditions
/// and those of the related read rules it copies in). Past it, the rest is cut like a chain
/// past [`MAX_PROTECTED_DEPTH`]: a handful of relation conditions per rule stays far below.
pub const MAX_PROTECTED_EXISTS: usize = 64;

/// Which side of a foreign key a relation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationKind {
    /// The model holds the foreign key: `contacts.contact_type_id → contact_types.id`.
    /// A condition means "the parent matches".
    BelongsTo,
    /// The target holds the foreign key: `contact_types.id ← contacts.contact_type_id`.
    /// A condition means "some child matches".
    HasMany,
}

impl RelationKind {
    /// How it is stored and written: `belongs_to` or `has_many`.
    pub fn key(self) -> &'static str {
        match self {
            RelationKind::BelongsTo => "belongs_to",
            RelationKind::HasMany => "has_many",
        }
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for RelationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "belongs_to" => Ok(RelationKind::BelongsTo),
            "has_many" => Ok(RelationKind::HasMany),
            other => Err(format!(
                "unknown relation kind \"{}\"; expected belongs_to or has_many",
                other.escape_debug()
            )),
        }
    }
}

/// One relation of a model.
///
/// ```
/// use rowguard::rules::{Relation, RelationKind, Right};
///
/// let r = Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id");
/// assert_eq!(r.kind, RelationKind::BelongsTo);
/// assert_eq!(r.check, Some(Right::Read)); // the foreign-key target check, by default
/// assert_eq!(r.to_string(), "contact_type: belongs_to contact_types (contact_type_id → id)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The name rules use: `contact_type` in `"contact_type.name"`.
    pub name: String,
    /// Which side holds the foreign key.
    pub kind: RelationKind,
    /// The column of this model that is compared.
    pub local_column: String,
    /// The model on the other side (by model name).
    pub target_model: String,
    /// The column of the target model it equals.
    pub target_column: String,
    /// For a belongs-to: the right the subject needs on the parent a written row points at
    /// (the foreign-key target check); `None` turns the check off. Ignored for has-many.
    pub check: Option<Right>,
}

impl Relation {
    /// A belongs-to relation, with the default foreign-key target check (`read`).
    pub fn belongs_to(
        name: &str,
        local_column: &str,
        target_model: &str,
        target_key: &str,
    ) -> Self {
        Self {
            name: name.to_owned(),
            kind: RelationKind::BelongsTo,
            local_column: local_column.to_owned(),
            target_model: target_model.to_owned(),
            target_column: target_key.to_owned(),
            check: Some(Right::Read),
        }
    }

    /// A has-many relation: `target_model` rows whose `foreign_key` equals this model's `key`.
    pub fn has_many(name: &str, key: &str, target_model: &str, foreign_key: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: RelationKind::HasMany,
            local_column: key.to_owned(),
            target_model: target_model.to_owned(),
            target_column: foreign_key.to_owned(),
            check: None,
        }
    }

    /// The default name of a belongs-to on `foreign_key`: the column without `_id`
    /// (`contact_type_id` → `contact_type`; a column without the suffix keeps its name).
    pub fn default_belongs_to_name(foreign_key: &str) -> &str {
        foreign_key
            .strip_suffix("_id")
            .filter(|s| !s.is_empty())
            .unwrap_or(foreign_key)
    }
}

impl Relation {
    /// Whether `other` reaches other rows than `self` (kind, columns or target differ; a
    /// different check right alone does not).
    pub fn reaches_differently(&self, other: &Relation) -> bool {
        self.kind != other.kind
            || self.local_column != other.local_column
            || self.target_model != other.target_model
            || self.target_column != other.target_column
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} ({} → {})",
            self.name, self.kind, self.target_model, self.local_column, self.target_column
        )
    }
}

/// A model as rules see it: its table, the columns rules may use, its relations.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaModel {
    /// The SQL table.
    pub table: String,
    /// The primary key column.
    pub primary_key: String,
    /// The columns rules may use (the stored ones).
    pub columns: Columns,
    /// The model's relations, by name.
    pub relations: Vec<Relation>,
    /// Stored relations that cannot be used, with why (so a rule using one is told so).
    pub unusable: Vec<(String, String)>,
}

impl SchemaModel {
    /// The relation called `name`.
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }

    /// The relation names, comma-separated (for messages), or `none`.
    pub fn relation_names(&self) -> String {
        if self.relations.is_empty() {
            return "none".into();
        }
        let mut names: Vec<&str> = self.relations.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

/// Every model rules may reach, by name: what a rule with relation conditions is compiled in.
///
/// ```
/// use rowguard::rules::{ColumnType, Columns, Relation, Schema};
///
/// let mut schema = Schema::new();
/// let cols = |c: &[(&str, ColumnType)]| Columns::new(c.iter().copied()).unwrap();
/// schema.add_model("contact_types", "contact_types", "id",
///     cols(&[("id", ColumnType::Integer), ("name", ColumnType::Text)]));
/// schema.add_model("contacts", "contacts", "id",
///     cols(&[("id", ColumnType::Integer), ("contact_type_id", ColumnType::Integer)]));
/// schema.add_relation("contacts",
///     Relation::belongs_to("contact_type", "contact_type_id", "contact_types", "id")).unwrap();
/// assert!(schema.model("contacts").unwrap().relation("contact_type").is_some());
/// // A relation must connect columns the two models list.
/// let bad = Relation::belongs_to("owner", "owner_id", "contact_types", "id");
/// assert!(schema.add_relation("contacts", bad).unwrap_err().contains("owner_id"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    models: BTreeMap<String, SchemaModel>,
}

impl Schema {
    /// No models.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a model, without relations.
    pub fn add_model(&mut self, name: &str, table: &str, primary_key: &str, columns: Columns) {
        self.models.insert(
            name.to_owned(),
            SchemaModel {
                table: table.to_owned(),
                primary_key: primary_key.to_owned(),
                columns,
                relations: Vec::new(),
                unusable: Vec::new(),
            },
        );
    }

    /// Records that `model`'s stored relation `name` cannot be used, and why.
    pub fn mark_unusable(&mut self, model: &str, name: &str, why: &str) {
        if let Some(m) = self.models.get_mut(model) {
            m.unusable.push((name.to_owned(), why.to_owned()));
        }
    }

    /// Adds a relation to `model` after checking that both models exist, both columns are
    /// among the models' columns, and the name is free. The error says what is wrong.
    pub fn add_relation(&mut self, model: &str, relation: Relation) -> Result<(), String> {
        self.check_relation(model, &relation)?;
        if let Some(m) = self.models.get_mut(model) {
            m.relations.push(relation);
        }
        Ok(())
    }

    /// Why `relation` cannot be a relation of `model` in this schema, if it cannot.
    pub fn check_relation(&self, model: &str, relation: &Relation) -> Result<(), String> {
        let owner = self
            .models
            .get(model)
            .ok_or_else(|| format!("relation {relation}: there is no model \"{model}\""))?;
        if !super::is_identifier(&relation.name) {
            return Err(format!(
                "relation \"{}\" of {model}: a relation name is letters, digits and _",
                relation.name.escape_debug()
            ));
        }
        // Names differing only in case count as the same (MySQL's default collation does).
        let taken = owner
            .relations
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(&relation.name))
            || owner
                .columns
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(&relation.name));
        if taken {
            return Err(format!(
                "relation \"{}\" of {model}: the name is already a relation or column of {model}",
                relation.name
            ));
        }
        let target = self.models.get(&relation.target_model).ok_or_else(|| {
            format!(
                "relation {relation} of {model}: there is no model \"{}\"",
                relation.target_model
            )
        })?;
        let local = owner.columns.get(&relation.local_column).ok_or_else(|| {
            format!(
                "relation {relation} of {model}: {model} does not list column \"{}\" (its columns: {})",
                relation.local_column,
                owner.columns.names_list()
            )
        })?;
        let remote = target.columns.get(&relation.target_column).ok_or_else(|| {
            format!(
                "relation {relation} of {model}: {} does not list column \"{}\" (its columns: {})",
                relation.target_model,
                relation.target_column,
                target.columns.names_list()
            )
        })?;
        let integer = |t| matches!(t, super::ColumnType::Integer | super::ColumnType::Bigint);
        if local.1 != remote.1 && !(integer(local.1) && integer(remote.1)) {
            return Err(format!(
                "relation {relation} of {model}: {} is {}, {}.{} is {}",
                relation.local_column,
                local.1,
                relation.target_model,
                relation.target_column,
                remote.1
            ));
        }
        Ok(())
    }

    /// Removes the relation `name` of `model`; whether it was there.
    pub fn remove_relation(&mut self, model: &str, name: &str) -> bool {
        let Some(m) = self.models.get_mut(model) else {
            return false;
        };
        let before = m.relations.len();
        m.relations.retain(|r| r.name != name);
        m.relations.len() != before
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&SchemaModel> {
        self.models.get(name)
    }

    /// Every model, by name.
    pub fn models(&self) -> impl Iterator<Item = (&str, &SchemaModel)> {
        self.models.iter().map(|(n, m)| (n.as_str(), m))
    }
}
