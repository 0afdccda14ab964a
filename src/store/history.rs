//! Rule history: what the database's triggers record of every change to the rule tables
//! (migration `rule_history`), who made it, reading it back, and restoring a rule row to a
//! recorded version.
//!
//! The triggers record a DBA's SQL edit like any other; a change made through rowguard also
//! carries the application user, set with [`acting_as`] around the write. Each backend hands
//! it to its triggers in its own way, inside the write's transaction: PostgreSQL a
//! transaction-local setting (`rowguard.app_user`), MySQL/MariaDB a session variable
//! (`@rowguard_app_user`, cleared after the write), SQLite a one-row table
//! (`authorization_app_user`, cleared before the commit).

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::{put_policies, put_rules, PolicyDefinition, RuleDefinition, StoreError};
use crate::db::{on_backend, StoreConnection};
use crate::schema::{authorizable_models as models, authorizable_set_types as set_types};
use crate::Backend;

diesel::table! {
    /// Every insert, update and delete of the rule tables, written by triggers.
    authorization_history (id) {
        /// Increasing with every change.
        id -> BigInt,
        /// The table changed.
        table_name -> Text,
        /// `insert`, `update` or `delete`.
        operation -> Text,
        /// The row's key (its id, or the key columns joined by commas).
        row_key -> Text,
        /// The row before the change, as a JSON object (none for an insert).
        old_row -> Nullable<Text>,
        /// The row after the change (none for a delete).
        new_row -> Nullable<Text>,
        /// When, in UTC.
        changed_at -> Timestamp,
        /// The database user (none on SQLite, which has no users).
        db_user -> Nullable<Text>,
        /// The application user, for a change made through rowguard under [`acting_as`].
        app_user -> Nullable<Text>,
        /// The model a rule row or relation belongs to, or a model's own id (what
        /// `--model` selects by).
        model_id -> Nullable<BigInt>,
    }
}

use self::authorization_history as history;

thread_local! {
    static ACTING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `work` with `user` as the application user of every rowguard write it makes on this
/// thread: the rule history records it beside the database user. Nested calls restore the
/// outer user afterwards.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{acting_as, history, HistoryQuery};
/// acting_as("ann", || {
///     rowguard::store::put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":"*"}"#)
/// })?;
/// let last = &history(&mut conn, &HistoryQuery::default())?[0];
/// assert_eq!((last.operation.as_str(), last.app_user.as_deref()), ("insert", Some("ann")));
/// # Ok(())
/// # }
/// ```
pub fn acting_as<R>(user: &str, work: impl FnOnce() -> R) -> R {
    let outer = ACTING.with(|a| a.replace(Some(user.to_owned())));
    // Restored even if `work` panics.
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            ACTING.with(|a| *a.borrow_mut() = outer);
        }
    }
    let _restore = Restore(outer);
    work()
}

/// The application user [`acting_as`] set on this thread.
pub(crate) fn acting() -> Option<String> {
    ACTING.with(|a| a.borrow().clone())
}

/// The application user handed to this connection's triggers now, if any.
pub(crate) fn marked(
    conn: &mut dyn StoreConnection,
) -> Result<Option<String>, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Marked {
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }
    let sql = match conn.backend() {
        Backend::Postgres => {
            "SELECT NULLIF(current_setting('rowguard.app_user', true), '') AS name"
        }
        Backend::Mysql => "SELECT CAST(@rowguard_app_user AS CHAR) AS name",
        Backend::Sqlite => "SELECT name FROM authorization_app_user WHERE id = 1",
    };
    let query = diesel::sql_query(sql);
    Ok(on_backend!(conn, c => query.get_result::<Marked>(c))?.name)
}

/// Hands `user` (or none) to the history triggers of this connection's current transaction.
pub(crate) fn mark(
    conn: &mut dyn StoreConnection,
    user: Option<&str>,
) -> Result<(), diesel::result::Error> {
    let sql = match conn.backend() {
        // An empty setting reads as no user (NULLIF in the trigger).
        Backend::Postgres => "SELECT set_config('rowguard.app_user', COALESCE($1, ''), true)",
        Backend::Mysql => "SET @rowguard_app_user = ?",
        Backend::Sqlite => "UPDATE authorization_app_user SET name = ? WHERE id = 1",
    };
    let query = diesel::sql_query(sql).bind::<Nullable<Text>, _>(user);
    on_backend!(conn, c => query.execute(c))?;
    Ok(())
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = authorization_history)]
pub struct HistoryEntry {
    /// Increasing with every change.
    pub id: i64,
    /// The table changed.
    pub table_name: String,
    /// `insert`, `update` or `delete`.
    pub operation: String,
    /// The row's key.
    pub row_key: String,
    /// The row before, JSON.
    pub old_row: Option<String>,
    /// The row after, JSON.
    pub new_row: Option<String>,
    /// When, UTC.
    pub changed_at: NaiveDateTime,
    /// The database user.
    pub db_user: Option<String>,
    /// The application user.
    pub app_user: Option<String>,
    /// The model a rule row or relation belongs to, or a model's own id.
    pub model_id: Option<i64>,
}

impl HistoryEntry {
    /// The row as this entry recorded it: after an insert or update, before a delete.
    pub fn version(&self) -> Option<serde_json::Value> {
        let text = match self.operation.as_str() {
            "delete" => self.old_row.as_deref(),
            _ => self.new_row.as_deref(),
        }?;
        serde_json::from_str(text).ok()
    }
}

/// Names of set types and of models by id ([`rule_names`]): recorded rule rows hold ids.
pub type RuleNames = (HashMap<i64, String>, HashMap<i64, String>);

impl HistoryEntry {
    /// The entry as JSON, the one shape the CLI's `--json`, the service and the console
    /// share: `id`, `table`, `operation`, `key`, `changed_at` (RFC 3339, UTC), `db_user`,
    /// `app_user`, `before` and `after` (the rows, a rule or policy document parsed), for a
    /// rule row `rule` (`set_type`, `set_value`, `model` by name; an id that no longer exists
    /// shows as `#id`), and for a policy `policy` (`set_type`, `set_value`).
    pub fn to_json(&self, names: &RuleNames) -> serde_json::Value {
        let parse = |text: &Option<String>| {
            text.as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .map(|mut row| {
                    // A rule or policy document is text in its row: show it as the JSON it
                    // is. A policy that does not parse stays text (a JSON reader would drop
                    // a key given twice, hiding what makes it invalid).
                    for key in ["rules", "policy"] {
                        if let Some(doc) = row.get(key).and_then(serde_json::Value::as_str) {
                            let shown = key == "rules" || crate::policy::Policy::parse(doc).is_ok();
                            if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(doc) {
                                if shown {
                                    row[key] = parsed;
                                }
                            }
                        }
                    }
                    row
                })
        };
        let mut json = serde_json::json!({
            "id": self.id,
            "table": self.table_name,
            "operation": self.operation,
            "key": self.row_key,
            "changed_at": format!("{}Z", self.changed_at.format("%Y-%m-%dT%H:%M:%S%.f")),
            "db_user": self.db_user,
            "app_user": self.app_user,
            "before": parse(&self.old_row),
            "after": parse(&self.new_row),
        });
        if self.table_name == "authorization_rules" {
            if let Some(row) = self.version() {
                let name = |map: &HashMap<i64, String>, key: &str| {
                    number(&row, key).map(|i| map.get(&i).cloned().unwrap_or(format!("#{i}")))
                };
                json["rule"] = serde_json::json!({
                    "set_type": name(&names.0, "authorizable_set_type_id"),
                    "set_value": row.get("authorizable_set_value"),
                    "model": name(&names.1, "authorizable_model_id"),
                });
            }
        }
        if self.table_name == "authorization_policies" {
            if let Some(row) = self.version() {
                json["policy"] = serde_json::json!({
                    "set_type": row.get("set_type"),
                    "set_value": row.get("set_value"),
                });
            }
        }
        json
    }
}

/// What [`history`] returns.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only the changes that concern this model: its rule rows, its relations, its own row.
    pub model: Option<String>,
    /// Only changes at or after this time (UTC).
    pub since: Option<NaiveDateTime>,
    /// At most this many, newest first (default 100).
    pub limit: Option<usize>,
}

/// A number in a recorded row (PostgreSQL, MySQL and SQLite all write ids as JSON numbers).
fn number(row: &serde_json::Value, key: &str) -> Option<i64> {
    row.get(key).and_then(serde_json::Value::as_i64)
}

/// The recorded changes, newest first.
pub fn history(
    conn: &mut dyn StoreConnection,
    query: &HistoryQuery,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let limit = query.limit.unwrap_or(100);
    let model_id: Option<i64> = match &query.model {
        None => None,
        Some(name) => {
            let current: Option<i64> = on_backend!(conn, c => models::table
                .filter(models::name.eq(name))
                .select(models::id)
                .first(c)
                .optional())?;
            let id = match current {
                Some(id) => Some(id),
                // A model since deleted: the id its history recorded.
                None => recorded_names(conn)?
                    .into_iter()
                    .find(|(_, n, table)| n == name && table == "authorizable_models")
                    .map(|(id, _, _)| id),
            };
            Some(id.ok_or_else(|| StoreError::UnknownModel {
                rule: "history".into(),
                model: name.clone(),
            })?)
        }
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    history_table(conn, |conn| {
        on_backend!(conn, c => {
            let mut page = history::table
                .select(HistoryEntry::as_select())
                .order(history::id.desc())
                .limit(limit)
                .into_boxed();
            if let Some(since) = query.since {
                page = page.filter(history::changed_at.ge(since));
            }
            if let Some(id) = model_id {
                page = page.filter(history::model_id.eq(id));
            }
            page.load(c)
        })
    })
}

/// A rule row as a history entry recorded it, by names.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRule {
    /// The set type.
    pub set_type: String,
    /// The set value.
    pub set_value: String,
    /// The model.
    pub model: String,
    /// The document, JSON text.
    pub rules: String,
}

/// Names of set types and models by id, for showing recorded rule rows: the current ones,
/// and for those since deleted, the names their history recorded.
pub fn rule_names(conn: &mut dyn StoreConnection) -> Result<RuleNames, StoreError> {
    let mut found = current_names(conn)?;
    for (id, name, table) in recorded_names(conn)? {
        let map = if table == "authorizable_set_types" {
            &mut found.0
        } else {
            &mut found.1
        };
        map.entry(id).or_insert(name);
    }
    Ok(found)
}

/// The set types and models that exist now, by id.
fn current_names(conn: &mut dyn StoreConnection) -> Result<RuleNames, StoreError> {
    let types: Vec<(i64, String)> =
        on_backend!(conn, c => set_types::table.select((set_types::id, set_types::name)).load(c))?;
    let names: Vec<(i64, String)> =
        on_backend!(conn, c => models::table.select((models::id, models::name)).load(c))?;
    Ok((types.into_iter().collect(), names.into_iter().collect()))
}

/// (id, name, table) of every set type and model the history holds, newest first.
fn recorded_names(
    conn: &mut dyn StoreConnection,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    let tables = ["authorizable_set_types", "authorizable_models"];
    let rows: Vec<(String, Option<String>, Option<String>)> = history_table(conn, |c| {
        on_backend!(c, c => history::table
            .filter(history::table_name.eq_any(tables))
            .order(history::id.desc())
            .select((history::table_name, history::old_row, history::new_row))
            .load(c))
    })?;
    Ok(rows
        .into_iter()
        .flat_map(|(table, old, new)| {
            [old, new].into_iter().flatten().filter_map(move |text| {
                let row: serde_json::Value = serde_json::from_str(&text).ok()?;
                let name = row.get("name")?.as_str()?.to_owned();
                Some((number(&row, "id")?, name, table.clone()))
            })
        })
        .collect())
}

/// Runs a query of the history table; a database without it (the migration reverted or not
/// run yet) is [`StoreError::NoHistory`].
fn history_table<T>(
    conn: &mut dyn StoreConnection,
    query: impl FnOnce(&mut dyn StoreConnection) -> Result<T, diesel::result::Error>,
) -> Result<T, StoreError> {
    query(conn).map_err(|e| match &e {
        diesel::result::Error::DatabaseError(_, info)
            if info.message().contains("authorization_history")
                && !info.message().contains("append-only") =>
        {
            StoreError::NoHistory(info.message().to_owned())
        }
        _ => e.into(),
    })
}

/// History entry `id` ([`StoreError::NoSuchHistoryEntry`] if there is none).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{history, history_entry, put_rule, HistoryQuery};
/// put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":"*"}"#)?;
/// let newest = history(&mut conn, &HistoryQuery::default())?[0].id;
/// assert_eq!(history_entry(&mut conn, newest)?.table_name, "authorization_rules");
/// # Ok(())
/// # }
/// ```
pub fn history_entry(conn: &mut dyn StoreConnection, id: i64) -> Result<HistoryEntry, StoreError> {
    history_table(conn, |conn| {
        on_backend!(conn, c => history::table
            .find(id)
            .select(HistoryEntry::as_select())
            .first(c)
            .optional())
    })?
    .ok_or(StoreError::NoSuchHistoryEntry(id))
}

/// The row `entry` recorded, as a JSON object.
fn recorded_row(entry: &HistoryEntry) -> Result<serde_json::Value, StoreError> {
    entry
        .version()
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| StoreError::NotRestorable {
            id: entry.id,
            why: "it holds no row (not a JSON object)".into(),
        })
}

/// A text field of a recorded row.
fn recorded_text(
    entry: &HistoryEntry,
    row: &serde_json::Value,
    key: &str,
    what: &str,
) -> Result<String, StoreError> {
    row.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::NotRestorable {
            id: entry.id,
            why: format!("it holds no {what}"),
        })
}

/// The rule row entry `id` recorded (see [`HistoryEntry::version`]), by names.
pub fn recorded_rule(conn: &mut dyn StoreConnection, id: i64) -> Result<RecordedRule, StoreError> {
    let entry = history_entry(conn, id)?;
    if entry.table_name != "authorization_rules" {
        return Err(StoreError::NotARuleEntry {
            id,
            table: entry.table_name,
        });
    }
    rule_of(conn, &entry)
}

fn rule_of(
    conn: &mut dyn StoreConnection,
    entry: &HistoryEntry,
) -> Result<RecordedRule, StoreError> {
    let row = recorded_row(entry)?;
    let (types, names) = current_names(conn)?;
    let lookup = |map: &HashMap<i64, String>, key: &str, what: &str| {
        let not_restorable = |why: String| StoreError::NotRestorable { id: entry.id, why };
        let found =
            number(&row, key).ok_or_else(|| not_restorable(format!("it holds no {what} id")))?;
        map.get(&found)
            .cloned()
            .ok_or_else(|| not_restorable(format!("its {what} (id {found}) no longer exists")))
    };
    Ok(RecordedRule {
        set_type: lookup(&types, "authorizable_set_type_id", "set type")?,
        model: lookup(&names, "authorizable_model_id", "model")?,
        set_value: recorded_text(entry, &row, "authorizable_set_value", "set value")?,
        rules: recorded_text(entry, &row, "rules", "rule document")?,
    })
}

fn policy_of(entry: &HistoryEntry) -> Result<PolicyDefinition, StoreError> {
    let row = recorded_row(entry)?;
    Ok(PolicyDefinition {
        set_type: recorded_text(entry, &row, "set_type", "set type")?,
        set_value: recorded_text(entry, &row, "set_value", "set value")?,
        document: recorded_text(entry, &row, "policy", "policy document")?,
    })
}

/// A rule row or a policy as a history entry recorded it: what [`restore`] puts back.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// A rule row, by names.
    Rule(RecordedRule),
    /// A policy.
    Policy(PolicyDefinition),
}

/// Puts the rule row or the policy back as history entry `id` recorded it (validated first,
/// as anything written through rowguard: a policy whose set type is gone is refused); the
/// restore is itself recorded. Returns what was restored and whether anything changed.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{delete_policy, history, put_policy, restore, HistoryQuery, Recorded};
/// put_policy(&mut conn, "roles", "agent", r#"[{"Effect":"Allow","Action":"server:*","Resource":"*"}]"#)?;
/// delete_policy(&mut conn, "roles", "agent")?;
/// let deleted = history(&mut conn, &HistoryQuery::default())?[0].id;
/// let (restored, changed) = restore(&mut conn, deleted)?;
/// assert!(changed && matches!(restored, Recorded::Policy(p) if p.set_value == "agent"));
/// assert!(auth.is_allowed(&mut conn, &agent(), "server:List", "arn:rowguard:default:local:1:server")?);
/// # Ok(())
/// # }
/// ```
pub fn restore(conn: &mut dyn StoreConnection, id: i64) -> Result<(Recorded, bool), StoreError> {
    let entry = history_entry(conn, id)?;
    match entry.table_name.as_str() {
        "authorization_rules" => {
            let rule = rule_of(conn, &entry)?;
            let (rule, changed) = put_recorded_rule(conn, rule)?;
            Ok((Recorded::Rule(rule), changed))
        }
        "authorization_policies" => {
            let policy = policy_of(&entry)?;
            let counts = put_policies(conn, std::slice::from_ref(&policy))?;
            Ok((Recorded::Policy(policy), counts.added + counts.changed > 0))
        }
        _ => Err(StoreError::NotARuleEntry {
            id,
            table: entry.table_name,
        }),
    }
}

fn put_recorded_rule(
    conn: &mut dyn StoreConnection,
    rule: RecordedRule,
) -> Result<(RecordedRule, bool), StoreError> {
    let counts = put_rules(
        conn,
        &[RuleDefinition {
            set_type: rule.set_type.clone(),
            set_value: rule.set_value.clone(),
            model: rule.model.clone(),
            document: rule.rules.clone(),
        }],
    )?;
    Ok((rule, counts.added + counts.changed > 0))
}

/// Puts the rule row back as history entry `id` recorded it (validated first, as any rule
/// written through rowguard); the restore is itself recorded. Returns the rule and whether
/// anything changed (a rule already as recorded is left alone, and no entry is added).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::store::{history, put_rule, restore_rule, HistoryQuery};
/// put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":"*"}"#)?;
/// let first = history(&mut conn, &HistoryQuery::default())?[0].id;
/// put_rule(&mut conn, "roles", "sales", "contacts", r#"{"read":{"search":{"id":"=1"}}}"#)?;
/// let (restored, changed) = restore_rule(&mut conn, first)?;
/// assert_eq!((restored.rules.as_str(), changed), (r#"{"read":"*"}"#, true));
/// # Ok(())
/// # }
/// ```
pub fn restore_rule(
    conn: &mut dyn StoreConnection,
    id: i64,
) -> Result<(RecordedRule, bool), StoreError> {
    let rule = recorded_rule(conn, id)?;
    put_recorded_rule(conn, rule)
}
