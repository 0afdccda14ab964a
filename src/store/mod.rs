//! Reading and writing rowguard's own tables: model metadata, rule rows, set types, the
//! state version. This module owns them: models ([`upsert_model`]), rule rows
//! ([`put_rule`]), and the seeder's batch writes ([`put_rules`], [`upsert_set_types`]).

mod history;
mod models;
mod policies;
mod relations;
mod rule_rows;
mod table_columns;
mod write;

pub(crate) use self::history::{acting, mark, marked};
pub use self::history::{
    acting_as, authorization_history, history, history_entry, recorded_rule, restore, restore_rule,
    rule_names, HistoryEntry, HistoryQuery, Recorded, RecordedRule, RuleNames,
};
pub use self::models::{
    delete_model, load_models, rule_count, rules_broken_by, upsert_model, BrokenModel, StoredModel,
};
pub use self::policies::{
    all_policies, delete_policy, get_policy, invalid_policies, load_policies, policy_problems,
    put_policies, put_policy, stored_policy_problems, InvalidPolicy, PolicyDefinition, PolicyRow,
};
pub(crate) use self::policies::{clear_policies, policies_using_set_type};
#[cfg(feature = "sync")]
pub(crate) use self::relations::{add_relations, remove_relations};
pub use self::relations::{
    delete_relation, load_relations, load_schema, put_relation, relation_cycles,
    rules_broken_by_schema, rules_using_relation, BrokenRelation, ModelRelations,
};
pub(crate) use self::relations::{load_relations_named, model_names, schema_of};
pub use self::rule_rows::{
    all_rules, delete_rule, invalid_rules, load_rules, orphan_rules, put_rule, InvalidRule,
    OrphanRule, RuleRow,
};
pub(crate) use self::table_columns::same_column;
pub use self::table_columns::{
    column_problems, document_column_problems, table_columns, ColumnProblem, TableColumn,
};
pub(crate) use self::write::upsert_named_rows;
pub use self::write::{
    clear_rules_and_set_types, delete_set_type, plan_named, put_rules, upsert_set_types, Counts,
    Named, RuleDefinition,
};

/// The set types every database has (created by the migration, never removed).
pub const BUILT_IN_SET_TYPES: [&str; 4] = ["roles", "groups", "id", "universal"];

use diesel::prelude::*;

use crate::db::{on_backend, StoreConnection};
use crate::rules::RuleError;
use crate::schema::authorization_state as state;
use crate::DbError;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A model's new columns would break rules stored for it (see [`rules_broken_by`]);
    /// nothing was written.
    #[error("refusing to change models whose stored rules depend on what changes (fix those rules first): {}", .0.join("; "))]
    RulesWouldBreak(Vec<String>),
    /// A model's stored `columns` JSON is invalid.
    #[error("model \"{model}\": {source}")]
    BadColumns {
        /// The model.
        model: String,
        /// What is wrong.
        source: RuleError,
    },
    /// A model's ARN form does not fit it (a bad part, an account column it does not have).
    #[error("model \"{model}\": {source}")]
    BadArn {
        /// The model.
        model: String,
        /// What is wrong.
        source: crate::policy::PolicyError,
    },
    /// A model still has rule rows; delete them first.
    #[error("model \"{model}\" still has {rules} rule row(s); delete them first")]
    ModelHasRules {
        /// The model.
        model: String,
        /// How many rule rows use it.
        rules: i64,
    },
    /// A relation does not fit the stored models (an unknown model or column, a taken name).
    #[error("{0}")]
    BadRelation(String),
    /// A built-in set type (`roles`, `groups`, `id`, `universal`) cannot be deleted.
    #[error("set type \"{0}\" is built in and cannot be deleted")]
    BuiltInSetType(String),
    /// A set type still has rule rows; delete them first.
    #[error("set type \"{set_type}\" still has {rules} rule row(s); delete them first")]
    SetTypeHasRules {
        /// The set type.
        set_type: String,
        /// How many rule rows use it.
        rules: i64,
    },
    /// A set type still has a policy; delete it first.
    #[error("set type \"{set_type}\" still has {policies} policy row(s); delete them first")]
    SetTypeHasPolicies {
        /// The set type.
        set_type: String,
        /// How many policies use it.
        policies: i64,
    },
    /// A policy document does not parse; nothing was written.
    #[error("{policy}: {source}")]
    InvalidPolicy {
        /// The policy (`policy roles "agent"`).
        policy: String,
        /// The policy language's error, naming the statement and field.
        source: crate::policy::PolicyError,
    },
    /// A set value that names nothing one can address or show: empty, `.` or `..`, white
    /// space at either end, or a control character or bidirectional mark.
    #[error("{item}: the set value {value:?} {why}")]
    BadSetValue {
        /// The rule or policy (`policy roles "agent"`).
        item: String,
        /// The value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A set type's name is not an identifier.
    #[error("invalid set type name \"{0}\": letters, digits and _, not starting with a digit")]
    BadSetTypeName(String),
    /// A rule names a set type that does not exist.
    #[error("{rule}: there is no set type named \"{set_type}\"")]
    UnknownSetType {
        /// The rule (`rule roles "agent" on contacts`).
        rule: String,
        /// The set type.
        set_type: String,
    },
    /// A rule names a model that is not registered.
    #[error("{rule}: there is no model named \"{model}\"; run rowguard sync-models first")]
    UnknownModel {
        /// The rule.
        rule: String,
        /// The model.
        model: String,
    },
    /// A rule document does not compile against its model.
    #[error("{rule}: {source}")]
    InvalidRule {
        /// The rule.
        rule: String,
        /// The rule language's error, with its path.
        source: RuleError,
    },
    /// No history entry has this id.
    #[error("there is no history entry {0}")]
    NoSuchHistoryEntry(i64),
    /// The rule history's table is missing: its migration has not run (or was reverted).
    #[error("the rule history is not there ({0}); run `rowguard migrate`")]
    NoHistory(String),
    /// Only rule rows and policies are restored from history ([`restore_rule`]: rule rows
    /// only).
    #[error(
        "history entry {id} is a change of {table}, not of a rule row or policy; only those are restored"
    )]
    NotARuleEntry {
        /// The entry.
        id: i64,
        /// The table it changed.
        table: String,
    },
    /// The recorded rule row cannot be put back.
    #[error("history entry {id} cannot be restored: {why}")]
    NotRestorable {
        /// The entry.
        id: i64,
        /// Why not.
        why: String,
    },
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::Db(DbError::Query(e))
    }
}

/// The current `authorization_state.version`.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// let before = rowguard::store::state_version(&mut conn)?;
/// rowguard::store::put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":"*"}"#)?;
/// assert!(rowguard::store::state_version(&mut conn)? > before); // triggers bump it
/// # Ok(())
/// # }
/// ```
pub fn state_version(conn: &mut dyn StoreConnection) -> Result<i64, StoreError> {
    Ok(on_backend!(conn, c => state::table.select(state::version).first(c))?)
}

/// The names of the set types, sorted.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// assert_eq!(rowguard::store::set_type_names(&mut conn)?, ["groups", "id", "roles", "universal"]);
/// # Ok(())
/// # }
/// ```
pub fn set_type_names(conn: &mut dyn StoreConnection) -> Result<Vec<String>, StoreError> {
    use crate::schema::authorizable_set_types as set_types;
    let query = set_types::table
        .select(set_types::name)
        .order(set_types::name);
    Ok(crate::db::on_backend!(conn, c => query.load(c))?)
}

/// A subject's sets as the queries ask for them: the type names and the values, each
/// matched on its own (and by MySQL ignoring case), then only the exact pairs kept.
pub(crate) struct SetLookup<'a> {
    sets: &'a [(String, Vec<String>)],
    /// The set type names.
    pub(crate) types: Vec<&'a str>,
    /// Every value of every set.
    pub(crate) values: Vec<&'a str>,
}

impl<'a> SetLookup<'a> {
    /// `None` when the sets hold no value (nothing can match).
    pub(crate) fn new(sets: &'a [(String, Vec<String>)]) -> Option<Self> {
        let values: Vec<&str> = sets
            .iter()
            .flat_map(|(_, vs)| vs.iter().map(String::as_str))
            .collect();
        (!values.is_empty()).then(|| Self {
            sets,
            types: sets.iter().map(|(t, _)| t.as_str()).collect(),
            values,
        })
    }

    /// Whether (`set_type`, `set_value`) is exactly one of the sets' pairs.
    pub(crate) fn has(&self, set_type: &str, set_value: &str) -> bool {
        self.sets
            .iter()
            .any(|(t, vs)| t == set_type && vs.iter().any(|v| v == set_value))
    }
}

/// Checks a set value before rowguard writes it: a value is data that paths, logs and
/// terminals show, so one that cannot be addressed or shown as it is (empty, `.` or `..`,
/// white space at either end, a control character or bidirectional mark) is refused.
pub(crate) fn check_set_value(
    item: impl FnOnce() -> String,
    value: &str,
) -> Result<(), StoreError> {
    let why = if value.is_empty() {
        Some("is empty")
    } else if value == "." || value == ".." {
        Some("is a path segment (. or ..)")
    } else if value.trim() != value {
        Some("has white space at an end")
    } else if value.chars().any(|c| c != ' ' && crate::policy::unseen(c)) {
        Some("holds a control character or a bidirectional mark")
    } else {
        None
    };
    match why {
        Some(why) => Err(StoreError::BadSetValue {
            item: item(),
            value: value.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}
