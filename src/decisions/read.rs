//! Reading the decision log back.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DecisionError;
use crate::db::{on_backend, StoreConnection};

diesel::table! {
    /// Recorded decisions (migration `decision_log`), written by the log's writer.
    authorization_decisions (id) {
        /// Increasing with every row written.
        id -> BigInt,
        /// When the decision was made (UTC), not when it was written.
        decided_at -> Timestamp,
        /// The subject: `{"sets": {…}, "attributes": {…}}` (and `"absolute_rights": true`).
        subject -> Text,
        /// The model's name.
        model -> Text,
        /// The right: `create`, `read`, `update` or `delete`.
        action -> Text,
        /// `check` (an explicit check), `write` (a guarded write) or `lost`.
        kind -> Text,
        /// The row's primary key (none for a bulk write or a key the database generates).
        row_key -> Nullable<Text>,
        /// `allowed`, `denied` or `lost`.
        decision -> Text,
        /// Why, in a sentence.
        reason -> Text,
        /// The deciding rule rows: a JSON array of `{"id", "set_type", "set_value", "effect"}`.
        rules -> Text,
        /// The share of such decisions recorded (1, or the sample under `sampled`).
        sampled -> Double,
        /// Rows of a bulk write, or decisions a `lost` row stands for; else 1.
        count -> BigInt,
    }
}

use self::authorization_decisions as decisions;

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = decisions)]
pub struct DecisionEntry {
    /// Increasing with every row written.
    pub id: i64,
    /// When the decision was made (UTC).
    pub decided_at: NaiveDateTime,
    /// The subject as JSON.
    pub subject: String,
    /// The model's name.
    pub model: String,
    /// The right.
    pub action: String,
    /// `check`, `write` or `lost`.
    pub kind: String,
    /// The row's primary key, if one row was decided on and its key was known.
    pub row_key: Option<String>,
    /// `allowed`, `denied` or `lost`.
    pub decision: String,
    /// Why.
    pub reason: String,
    /// The deciding rule rows as JSON.
    pub rules: String,
    /// The share recorded.
    pub sampled: f64,
    /// Rows or decisions this entry stands for.
    pub count: i64,
}

impl DecisionEntry {
    /// The entry as a JSON object (the subject and rules as JSON, not text).
    pub fn to_json(&self) -> serde_json::Value {
        let parsed = |text: &str| {
            serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.into()))
        };
        serde_json::json!({
            "id": self.id,
            "decided_at": self.decided_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "subject": parsed(&self.subject),
            "model": self.model,
            "action": self.action,
            "kind": self.kind,
            "row_key": self.row_key,
            "decision": self.decision,
            "reason": self.reason,
            "rules": parsed(&self.rules),
            "sampled": self.sampled,
            "count": self.count,
        })
    }
}

/// Which decisions [`decisions`] returns: newest first.
#[derive(Debug, Clone, Default)]
pub struct DecisionQuery {
    /// Only this model's (and `lost` rows, which may stand for any model's).
    pub model: Option<String>,
    /// Only entries older than this id (the next page: the last id of the previous one).
    pub before: Option<i64>,
    /// Only those made at or after this time (UTC).
    pub since: Option<NaiveDateTime>,
    /// Only refusals (and `lost` rows, which may hide refusals).
    pub denied_only: bool,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// The recorded decisions `query` selects, newest first.
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::decisions::{decisions, DecisionQuery};
/// // Nothing is recorded unless [decision_log] says so (see Authorizer::log_decisions).
/// assert!(decisions(&mut conn, &DecisionQuery::default())?.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn decisions(
    conn: &mut dyn StoreConnection,
    query: &DecisionQuery,
) -> Result<Vec<DecisionEntry>, DecisionError> {
    table_exists(conn)?;
    // Built per backend: a boxed query belongs to one.
    Ok(on_backend!(conn, c => {
        let mut select = decisions::table
            .select(DecisionEntry::as_select())
            .order(decisions::id.desc())
            .limit(query.limit.unwrap_or(100))
            .into_boxed();
        if let Some(model) = &query.model {
            select = select.filter(
                decisions::model
                    .eq(model.clone())
                    .or(decisions::decision.eq("lost")),
            );
        }
        if let Some(before) = query.before {
            select = select.filter(decisions::id.lt(before));
        }
        if let Some(since) = query.since {
            select = select.filter(decisions::decided_at.ge(since));
        }
        if query.denied_only {
            select = select.filter(decisions::decision.ne("allowed"));
        }
        select.load(c)
    })?)
}

/// `Ok` when the decisions' table exists; else the error saying to migrate.
pub(crate) fn table_exists(conn: &mut dyn StoreConnection) -> Result<(), DecisionError> {
    let probe = decisions::table.select(decisions::id).limit(1);
    match on_backend!(conn, c => probe.load::<i64>(c)) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string().to_ascii_lowercase();
            if text.contains("no such table")
                || text.contains("does not exist")
                || text.contains("doesn't exist")
            {
                Err(DecisionError::NoTable)
            } else {
                Err(DecisionError::Query(e))
            }
        }
    }
}
