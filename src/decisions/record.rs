//! One decision as the request path hands it over: a few words and shared pointers, nothing
//! rendered. The log's writer turns it into a row off the request path.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use crate::guard::ModelAccess;
use crate::rules::{Right, Value};
use crate::Subject;

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An explicit check (`Guard::can`, `Authorizer::allows`).
    Check,
    /// A guarded write.
    Write,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Check => "check",
            Kind::Write => "write",
        }
    }
}

/// Why, in a word; the rule rows named with it are in [`Deciding`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// `ROWGUARD_OVERRIDE_AUTHORIZATION`.
    Override,
    /// The subject holds absolute rights.
    AbsoluteRights,
    /// Grants reach the row (the rules: those grants).
    Granted,
    /// The database decided the write (the rules: every grant of the right).
    GrantedInDatabase,
    /// A deny reaches the row (the rules: those denies).
    Denied,
    /// A rule row of the subject's sets is invalid and may deny: everything is refused.
    InvalidRule,
    /// A policy of the subject's sets is invalid and may hold a `Deny`: everything is refused.
    InvalidPolicy,
    /// No rule of the subject's sets grants the right.
    NoGrant,
    /// Grants exist; none reaches the row (the rules: those grants).
    NotReached,
    /// An update or delete of a row the read rule hides (the rules: the read grants).
    Hidden,
    /// Why, as the caller states it: a write's refusal as its error gives it (a column, a
    /// foreign-key target), or a decision the rules did not make (a super user).
    Stated(String),
}

impl Reason {
    pub(crate) fn text(&self, right: Right) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Reason::Override => "authorization is overridden (ROWGUARD_OVERRIDE_AUTHORIZATION)",
            Reason::AbsoluteRights => "the subject holds absolute rights",
            Reason::Granted => "granted by the rules listed",
            Reason::GrantedInDatabase => "the database found the row within the rules listed",
            Reason::Denied => "denied by the rules listed",
            Reason::InvalidRule => "an invalid rule that may deny refuses everything",
            Reason::InvalidPolicy => "an invalid policy that may hold a Deny refuses everything",
            Reason::NoGrant => {
                return Cow::Owned(format!(
                    "no rule or policy statement of the subject's sets grants {right}"
                ))
            }
            Reason::NotReached => "none of the rules listed reaches the row",
            Reason::Hidden => "the read rule hides the row (the rules listed grant read)",
            Reason::Stated(why) => return Cow::Owned(why.clone()),
        })
    }
}

/// Whether a rule row granted or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Grant,
    Deny,
    /// An invalid row: what it says is unknown.
    Invalid,
}

/// The rule rows and policy statements behind a decision: positions in the decision's
/// [`ModelAccess`] rows and policy statements, which the record keeps alive until the writer
/// has named them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Deciding {
    pub(crate) access: Option<Arc<ModelAccess>>,
    pub(crate) rows: Vec<(u32, Effect)>,
    pub(crate) statements: Vec<(u32, Effect)>,
    /// Whether the access's invalid policies that may hold a `Deny` decided.
    pub(crate) broken_policies: bool,
}

/// One decision on its way to the log.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) at: SystemTime,
    pub(crate) subject: Arc<Subject>,
    /// The model's name when no access names it (a bypass, a refusal before the rules).
    pub(crate) model: Option<Cow<'static, str>>,
    pub(crate) right: Right,
    pub(crate) kind: Kind,
    pub(crate) key: Option<Value>,
    pub(crate) allowed: bool,
    pub(crate) reason: Reason,
    pub(crate) deciding: Deciding,
    /// The share of such decisions recorded (1 unless sampled).
    pub(crate) sampled: f64,
    /// Rows a bulk write changed (1 otherwise).
    pub(crate) count: u64,
}

impl Pending {
    /// The model decided on.
    pub(crate) fn model_name(&self) -> &str {
        match (&self.model, &self.deciding.access) {
            (Some(name), _) => name,
            (None, Some(access)) => &access.model.name,
            (None, None) => "",
        }
    }
}

/// The subject as a JSON object: its sets, its attributes, and absolute rights if held
/// (through RBAC, or `bypassed` by a configured absolute-rights set).
pub(crate) fn subject_json(subject: &Subject, bypassed: bool) -> String {
    let sets: serde_json::Map<String, serde_json::Value> = subject
        .sets()
        .map(|(set_type, values)| (set_type.to_owned(), values.iter().cloned().collect()))
        .collect();
    let attributes: serde_json::Map<String, serde_json::Value> = subject
        .attributes()
        .iter()
        .map(|(name, values)| (name.to_owned(), values.to_vec().into()))
        .collect();
    let mut object = serde_json::Map::new();
    object.insert("sets".into(), sets.into());
    object.insert("attributes".into(), attributes.into());
    if subject.has_absolute_rights() || bypassed {
        object.insert("absolute_rights".into(), true.into());
    }
    serde_json::Value::Object(object).to_string()
}

/// A row key as text: strings as they are, anything else as rowguard writes it.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::Text(v) | Value::Uuid(v) => v.clone(),
        other => other.to_string(),
    }
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Effect::Grant => "grant",
            Effect::Deny => "deny",
            Effect::Invalid => "invalid",
        }
    }
}

/// The deciding rule rows and policy statements as a JSON array: a rule row is `{"id",
/// "set_type", "set_value", "effect"}`, a statement `{"statement", "sid", "set_type",
/// "set_value", "effect"}` (its position in the policy of that set), an invalid policy
/// `{"statement": null, "set_type", "set_value", "effect": "invalid"}`.
pub(crate) fn rules_json(deciding: &Deciding) -> String {
    let Some(access) = &deciding.access else {
        return "[]".into();
    };
    let rows = deciding.rows.iter().filter_map(|&(i, effect)| {
        let (row, _) = access.rows.get(i as usize)?;
        Some(serde_json::json!({
            "id": row.id,
            "set_type": row.set_type,
            "set_value": row.set_value,
            "effect": effect.as_str(),
        }))
    });
    let statements = deciding.statements.iter().filter_map(|&(i, effect)| {
        let (origin, _) = access.policy_rows.get(i as usize)?;
        Some(serde_json::json!({
            "statement": origin.index,
            "sid": origin.sid,
            "set_type": origin.set_type,
            "set_value": origin.set_value,
            "effect": effect.as_str(),
        }))
    });
    let broken = access
        .broken_policies
        .iter()
        .filter(|b| deciding.broken_policies && b.refuses)
        .map(|b| {
            serde_json::json!({
                "statement": null,
                "set_type": b.set_type,
                "set_value": b.set_value,
                "effect": Effect::Invalid.as_str(),
            })
        });
    let all: Vec<serde_json::Value> = rows.chain(statements).chain(broken).collect();
    serde_json::Value::Array(all).to_string()
}
