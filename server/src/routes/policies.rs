//! The IAM-style policies over HTTP: list, get, replace and delete them by set type and
//! value; check the stored ones; explain and try a decision for any subject. Reading and
//! checking take the rules' keys (`rules.read`, `rules.check`); writing takes
//! `policies.write`, since a statement can grant any permission key and command.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rowguard::policy::Policy;
use rowguard::store::{self, PolicyDefinition};
use serde::Deserialize;
use serde_json::{json, Value};

use super::rules::{CHECK, READ};
use super::{Body, JsonText, PathArg};
use crate::auth::Caller;
use crate::{ApiError, Service};

/// Writing policies: a key of its own, since a statement can grant any permission key
/// (`rowguard:*`) and any command (`jobs:Run`), which `rules.write` must not imply.
pub(crate) const WRITE: &str = "policies.write";

/// A stored policy as JSON: parsed when it is valid, else its text as it is (a JSON reader
/// would drop a key given twice, hiding what makes it invalid).
fn document(text: &str) -> Value {
    match Policy::parse(text) {
        Ok(_) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
        Err(_) => Value::String(text.to_owned()),
    }
}

/// Runs `write` (as the caller, one transaction) and takes it back, nothing written, when
/// it would take `policies.write` from the caller: a policy that locks its writer out (a
/// `Deny rowguard:*` for everyone) could then be undone only with SQL.
pub(crate) fn keeping_the_key<T>(
    inner: &crate::state::Inner,
    conn: &mut rowguard::PooledConnection,
    caller: &Caller,
    write: impl FnOnce(&mut dyn rowguard::StoreConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let graph = inner.rbac.graph(&mut **conn)?;
    store::acting_as(&caller.session.user, || {
        rowguard::db::write_transaction(&mut **conn, |c| {
            let done = write(c)?;
            // Asked on the transaction's own connection: it sees the change.
            if !caller.holds(inner, c, &graph, WRITE)? {
                return Err(ApiError::conflict(format!(
                    "this change would take {WRITE} from you, and then only SQL could undo it; nothing written"
                )));
            }
            Ok(done)
        })
    })
}

/// `GET /api/policies`: every stored policy, each with its validity and statement count.
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let invalid = store::invalid_policies(&mut **conn)?;
            let rows: Vec<Value> = store::all_policies(&mut **conn)?
                .into_iter()
                .map(|r| {
                    let bad = invalid.iter().find(|b| b.row.id == r.id);
                    let statements = Policy::parse(&r.policy).ok().map(|p| p.statements().len());
                    json!({"id": r.id, "set_type": r.set_type, "set_value": r.set_value,
                           "policy": document(&r.policy), "statements": statements,
                           "valid": bad.is_none(),
                           "error": bad.map(|b| &b.error),
                           "refuses_everything": bad.is_some() && rowguard::policy::may_deny(&r.policy)})
                })
                .collect();
            Ok(Json(Value::Array(rows)))
        })
        .await
}

/// `GET /api/policies/{set_type}/{set_value}`: the policy, or 404.
pub(crate) async fn get(
    State(service): State<Service>,
    caller: Caller,
    PathArg((set_type, set_value)): PathArg<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let row = store::get_policy(&mut **conn, &set_type, &set_value)?.ok_or_else(|| {
                ApiError::not_found(format!("no policy {set_type} \"{set_value}\""))
            })?;
            Ok(Json(json!({"id": row.id, "set_type": row.set_type,
                           "set_value": row.set_value, "policy": document(&row.policy)})))
        })
        .await
}

/// `PUT /api/policies/{set_type}/{set_value}` with the policy document as the body:
/// validated first (422 naming the statement and field, nothing stored), then stored; 201
/// when added, 200 when replaced or unchanged. `warnings` lists statements aimed at a model
/// that cannot work as written.
pub(crate) async fn put(
    State(service): State<Service>,
    caller: Caller,
    PathArg((set_type, set_value)): PathArg<(String, String)>,
    JsonText(text): JsonText,
) -> Result<Response, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let label = format!("policy {set_type} \"{set_value}\"");
            let policy =
                Policy::parse(&text).map_err(|e| ApiError::invalid(format!("{label}: {e}")))?;
            let warnings = store::policy_problems(&mut **conn, &policy)?;
            // Stored compact, as the CLI stores it: `get` shows the same whoever wrote it (it
            // parsed, with no key given twice, so nothing is lost).
            let compact = serde_json::from_str::<Value>(&text)
                .map_err(|e| ApiError::invalid(format!("{label}: {e}")))?
                .to_string();
            let definition = PolicyDefinition {
                set_type,
                set_value,
                document: compact,
            };
            let counts = keeping_the_key(inner, conn, &caller, |c| {
                Ok(store::put_policies(c, std::slice::from_ref(&definition))?)
            })?;
            if counts.added + counts.changed > 0 {
                let (set_type, set_value) = (&definition.set_type, &definition.set_value);
                tracing::info!(user = %caller.session.user, ?set_type, ?set_value, "policy written");
            }
            let (status, result) = if counts.added > 0 {
                (StatusCode::CREATED, "added")
            } else if counts.changed > 0 {
                (StatusCode::OK, "changed")
            } else {
                (StatusCode::OK, "unchanged")
            };
            let body = json!({"result": result, "statements": policy.statements().len(),
                              "warnings": warnings});
            Ok((status, Json(body)).into_response())
        })
        .await
}

/// `DELETE /api/policies/{set_type}/{set_value}`: 204, or 404 when there is none.
pub(crate) async fn delete(
    State(service): State<Service>,
    caller: Caller,
    PathArg((set_type, set_value)): PathArg<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let deleted = keeping_the_key(inner, conn, &caller, |c| {
                Ok(store::delete_policy(c, &set_type, &set_value)?)
            })?;
            if !deleted {
                return Err(ApiError::not_found(format!(
                    "no policy {set_type} \"{set_value}\""
                )));
            }
            tracing::info!(user = %caller.session.user, ?set_type, ?set_value, "policy deleted");
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `GET /api/policies/check`: what `policies check` reports on the stored policies.
pub(crate) async fn check(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, CHECK)?;
            let bad = store::invalid_policies(&mut **conn)?;
            let warnings = store::stored_policy_problems(&mut **conn)?;
            let checked = store::all_policies(&mut **conn)?.len();
            Ok(Json(json!({
                "checked": checked,
                "invalid": bad.iter().map(|b| json!({
                    "id": b.row.id, "set_type": b.row.set_type, "set_value": b.row.set_value,
                    "error": b.error, "refuses_everything": rowguard::policy::may_deny(&b.row.policy),
                })).collect::<Vec<_>>(),
                "warnings": warnings.iter().map(|(row, warning)| json!({
                    "id": row.id, "set_type": row.set_type, "set_value": row.set_value,
                    "warning": warning,
                })).collect::<Vec<_>>(),
            })))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckRequest {
    policy: Value,
}

/// `POST /api/policies/check` `{"policy"}`: validates a document without storing it (`policy`
/// is the document, or its text as a JSON string, as an editor holds it); the body is read
/// strictly, so a key given twice is found in either form; `{"valid", "error",
/// "statements", "warnings"}`.
pub(crate) async fn check_one(
    State(service): State<Service>,
    caller: Caller,
    JsonText(body): JsonText,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, CHECK)?;
            let request: CheckRequest = match super::strict_request(&body)? {
                Ok(request) => request,
                Err(e) => {
                    return Ok(Json(json!({"valid": false, "error": e,
                                          "statements": null, "warnings": []})))
                }
            };
            let text = super::document_text(request.policy);
            Ok(Json(match Policy::parse(&text) {
                Ok(policy) => json!({
                    "valid": true, "error": null, "statements": policy.statements().len(),
                    "warnings": store::policy_problems(&mut **conn, &policy)?,
                }),
                Err(e) => json!({"valid": false, "error": e.to_string(), "statements": null,
                                 "warnings": []}),
            }))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Question {
    /// Set type → values: `{"roles": ["agent"]}`.
    #[serde(default)]
    subject: BTreeMap<String, Vec<String>>,
    /// Attributes (`account`, `region`, …).
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    /// `service:Verb`, no wildcard.
    action: String,
    /// An ARN, no wildcard.
    resource: String,
}

/// The decision for `question`'s subject as RBAC sees it, and its merged policy. A wildcard
/// or a malformed ARN in the question is 422.
fn decide(
    inner: &crate::state::Inner,
    conn: &mut rowguard::PooledConnection,
    caller: &Caller,
    question: &Question,
) -> Result<
    (
        rowguard::guard::PolicyDecision,
        std::sync::Arc<rowguard::guard::SubjectPolicy>,
    ),
    ApiError,
> {
    let graph = caller.require(inner, conn, READ)?;
    let subject = graph.subject(super::subject_of(&question.subject, &question.attributes));
    // A command's start also asks its own permission, from the [jobs] settings.
    let decision = inner.runner.config().try_decision(
        &inner.auth,
        &mut **conn,
        &subject,
        &question.action,
        &question.resource,
        &graph,
    )?;
    let policy = inner.auth.policy(&mut **conn, &subject)?;
    Ok((decision, policy))
}

/// `POST /api/policies/try` `{"subject", "attributes", "action", "resource"}`: the decision as
/// `policies try --json` prints it.
pub(crate) async fn try_one(
    State(service): State<Service>,
    caller: Caller,
    Body(question): Body<Question>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let (decision, _) = decide(inner, conn, &caller, &question)?;
            Ok(Json(decision.to_json()))
        })
        .await
}

/// `POST /api/policies/explain`: the decision, and under `text` what `policies explain`
/// prints (every statement of the subject with its policy, then the decision).
pub(crate) async fn explain(
    State(service): State<Service>,
    caller: Caller,
    Body(question): Body<Question>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let (decision, policy) = decide(inner, conn, &caller, &question)?;
            let mut body = decision.to_json();
            body["text"] = policy.explain(&decision).into();
            Ok(Json(body))
        })
        .await
}
