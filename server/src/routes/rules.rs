//! The DBA's workflow over HTTP: rule rows and set types (list, create, replace, delete),
//! models and relations, check, explain and try for any subject, the permission matrix.
//! Validation is the store's own: a refused rule carries the text `rules check` prints.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rowguard::rules::Filter;
use rowguard::store::{self, Named, RuleDefinition};
use rowguard::{Right, Subject};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{instant, Body, JsonText, Params, PathArg};
use crate::auth::Caller;
use crate::{ApiError, Service};

/// Reading rules, models, relations, set types; explain and try.
pub(crate) const READ: &str = "rules.read";
/// Writing rule rows and set types.
pub(crate) const WRITE: &str = "rules.write";
/// Checking rules.
pub(crate) const CHECK: &str = "rules.check";
/// Trying rules: lists the rows (or keys) any subject may act on, so it reads data as that
/// subject, absolute rights included.
pub(crate) const TRY: &str = "rules.try";
/// The decision log: every subject's sets and attributes, and keys of rows the reader may not
/// see, so a key of its own (admin's in the seeds).
pub(crate) const DECISIONS: &str = "decisions.read";
/// The role × permission matrix.
pub(crate) const PERMISSIONS: &str = "permissions.read";

fn document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelQuery {
    model: Option<String>,
}

/// `GET /api/rules?model`: every rule row (of one model), each with its validity.
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
    Params(q): Params<ModelQuery>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let invalid = store::invalid_rules(&mut **conn)?;
            let rows: Vec<Value> = store::all_rules(&mut **conn)?
                .into_iter()
                .filter(|r| q.model.as_ref().is_none_or(|m| *m == r.model))
                .map(|r| {
                    let error = invalid.iter().find(|b| b.row.id == r.id).map(|b| &b.error);
                    json!({"id": r.id, "set_type": r.set_type, "set_value": r.set_value,
                           "model": r.model, "rules": document(&r.rules),
                           "valid": error.is_none(), "error": error})
                })
                .collect();
            Ok(Json(Value::Array(rows)))
        })
        .await
}

/// `PUT /api/rules/{set_type}/{set_value}/{model}` with the rule document as the body:
/// validated against the model first (422 with the validator's text, nothing stored), then
/// stored; 201 when added, 200 when replaced or unchanged.
pub(crate) async fn put(
    State(service): State<Service>,
    caller: Caller,
    PathArg((set_type, set_value, model)): PathArg<(String, String, String)>,
    JsonText(body): JsonText,
) -> Result<Response, ApiError> {
    // Read strictly: a key given twice is refused, not the last one kept (which could drop
    // a deny the writer meant).
    let rules = rowguard::rules::strict_json(&body).map_err(|e| {
        ApiError::invalid(format!(
            "rule {set_type} \"{set_value}\" on {model}: invalid JSON: {e}"
        ))
    })?;
    if !rules.is_object() {
        return Err(ApiError::invalid(
            "the body must be a rule document, a JSON object such as {\"read\": \"*\"}",
        ));
    }
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let text = rules.to_string();
            let warnings: Vec<String> =
                store::document_column_problems(&mut **conn, &model, &text)?;
            let definition = RuleDefinition {
                set_type,
                set_value,
                model,
                document: text,
            };
            let counts = store::acting_as(&caller.session.user, || {
                store::put_rules(&mut **conn, std::slice::from_ref(&definition))
            })?;
            tracing::info!(user = %caller.session.user, rule = ?definition.label(), "rule written");
            let (status, result) = if counts.added > 0 {
                (StatusCode::CREATED, "added")
            } else if counts.changed > 0 {
                (StatusCode::OK, "changed")
            } else {
                (StatusCode::OK, "unchanged")
            };
            Ok((
                status,
                Json(json!({"result": result, "warnings": warnings})),
            )
                .into_response())
        })
        .await
}

/// `DELETE /api/rules/{set_type}/{set_value}/{model}`: 204, or 404 when there is no such row.
pub(crate) async fn delete(
    State(service): State<Service>,
    caller: Caller,
    PathArg((set_type, set_value, model)): PathArg<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let deleted = store::acting_as(&caller.session.user, || {
                store::delete_rule(&mut **conn, &set_type, &set_value, &model)
            })?;
            if !deleted {
                return Err(ApiError::not_found(format!(
                    "no rule {set_type} \"{set_value}\" on {model}"
                )));
            }
            tracing::info!(user = %caller.session.user, ?set_type, ?set_value, ?model, "rule deleted");
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `GET /api/rules/check`: what `rules check` reports on the stored rules.
pub(crate) async fn check_stored(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, CHECK)?;
            let mut bad = store::invalid_rules(&mut **conn)?;
            bad.extend(store::column_problems(&mut **conn)?.into_iter().map(|p| {
                store::InvalidRule {
                    row: p.row,
                    error: p.problem,
                }
            }));
            let orphans = store::orphan_rules(&mut **conn)?;
            let checked = store::all_rules(&mut **conn)?.len() + orphans.len();
            Ok(Json(json!({
                "checked": checked,
                "invalid": bad.iter().map(|b| json!({
                    "id": b.row.id, "set_type": b.row.set_type, "set_value": b.row.set_value,
                    "model": b.row.model, "error": b.error,
                    "refuses_everything": rowguard::rules::may_deny(&b.row.rules),
                })).collect::<Vec<_>>(),
                "orphaned": orphans.iter().map(|o| json!({
                    "id": o.id, "set_value": o.set_value, "missing": o.missing.to_string(),
                })).collect::<Vec<_>>(),
            })))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckRequest {
    model: String,
    rules: Value,
}

/// `POST /api/rules/check` `{"model", "rules"}`: validates a document without storing it;
/// `{"valid": false, "error": …}` carries the validator's text, path first. `rules` is the
/// document, or its text as a JSON string (an editor's text that may not even be JSON yet:
/// then the syntax error is the validator's too). The body is read strictly: a key given
/// twice is an error in either form.
pub(crate) async fn check(
    State(service): State<Service>,
    caller: Caller,
    JsonText(body): JsonText,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, CHECK)?;
            // Read strictly: a key given twice in the document is its error, not dropped.
            let request: CheckRequest = match super::strict_request(&body)? {
                Ok(request) => request,
                Err(e) => {
                    return Ok(Json(
                        json!({"valid": false, "error": format!("invalid JSON: {e}"),
                                          "warnings": []}),
                    ))
                }
            };
            let models = store::load_models(&mut **conn)?;
            let model = models
                .iter()
                .find_map(|m| match m {
                    Ok(m) if m.name == request.model => Some(m),
                    _ => None,
                })
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "there is no usable model named \"{}\"",
                        request.model
                    ))
                })?;
            let (schema, _) = store::load_schema(&mut **conn)?;
            let text = super::document_text(request.rules);
            let error = rowguard::rules::compile_document_in(
                &text,
                &model.columns,
                &schema,
                &request.model,
            )
            .err()
            .map(|e| e.to_string());
            let warnings: Vec<String> = match &error {
                None => store::document_column_problems(&mut **conn, &request.model, &text)?,
                Some(_) => Vec::new(),
            };
            Ok(Json(
                json!({"valid": error.is_none(), "error": error, "warnings": warnings}),
            ))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubjectRequest {
    /// Set type → values: `{"roles": ["agent"]}`.
    #[serde(default)]
    subject: BTreeMap<String, Vec<String>>,
    /// Attributes for `$subject.NAME`.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    model: String,
    action: String,
    /// `try` only: each row as the subject sees it (hidden columns null).
    #[serde(default)]
    columns: bool,
    /// `explain` only: the first this many rows (at most [`MAX_SAMPLE`]), each with whether
    /// the subject may act on it; needs `rules.try` too, as it reads rows unfiltered.
    sample: Option<u32>,
}

/// Most rows an explain's sample shows.
pub(crate) const MAX_SAMPLE: u32 = 100;

impl SubjectRequest {
    fn right(&self) -> Result<Right, ApiError> {
        Right::from_key(&self.action).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown action \"{}\"; expected create, read, update or delete",
                self.action
            ))
        })
    }

    fn subject(&self) -> Subject {
        super::subject_of(&self.subject, &self.attributes)
    }
}

/// `POST /api/rules/explain` `{"subject", "attributes", "model", "action", "sample"?}`:
/// what `rules explain` prints, for a subject as RBAC sees it, with the merged filter and the
/// SQL apart; with `sample`, the first rows of the table and whether each is allowed.
pub(crate) async fn explain(
    State(service): State<Service>,
    caller: Caller,
    Body(request): Body<SubjectRequest>,
) -> Result<Json<Value>, ApiError> {
    let right = request.right()?;
    if request.sample.is_some_and(|n| n > MAX_SAMPLE) {
        return Err(ApiError::invalid(format!(
            "\"sample\" may be at most {MAX_SAMPLE} rows"
        )));
    }
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, READ)?;
            if request.sample.is_some() {
                caller.require(inner, conn, TRY)?;
            }
            let subject = graph.subject(request.subject());
            let explained = inner
                .auth
                .explain(&mut **conn, &subject, &request.model, right)?;
            let mut body = json!({
                "model": request.model,
                "action": right.key(),
                "roles": subject.set("roles").collect::<Vec<_>>(),
                "absolute_rights": subject.has_absolute_rights(),
                "access": access(&explained.filter),
                "filter": explained.filter.to_string(),
                "sql": explained.sql,
                "text": explained.to_string(),
            });
            if let Some(limit) = request.sample {
                // A sample that cannot be read (a value JSON cannot hold, a missing table)
                // leaves the explanation standing and says why.
                match inner
                    .auth
                    .sample(&mut **conn, &subject, &request.model, right, limit)
                {
                    Ok(rows) => {
                        body["sample"] = rows
                            .into_iter()
                            .map(|(row, allowed)| json!({"row": row, "allowed": allowed}))
                            .collect();
                    }
                    Err(e) => body["sample_error"] = json!(e.to_string()),
                }
            }
            Ok(Json(body))
        })
        .await
}

/// A decision in a word: `all` rows, `none`, or `some` (those the filter lets through).
fn access(filter: &Filter) -> &'static str {
    if always(filter) {
        "all"
    } else if never(filter) {
        "none"
    } else {
        "some"
    }
}

/// The filter holds for every row whatever its values (`TRUE`, or made of such).
fn always(filter: &Filter) -> bool {
    match filter {
        Filter::True => true,
        Filter::And(all) => all.iter().all(always),
        Filter::Or(any) => any.iter().any(always),
        Filter::Scoped(inner) => always(inner),
        _ => false,
    }
}

/// The filter holds for no row (`FALSE AND …`: a subject variable was missing, say).
fn never(filter: &Filter) -> bool {
    match filter {
        Filter::False => true,
        Filter::And(all) => all.iter().any(never),
        Filter::Or(any) => any.iter().all(never),
        Filter::Scoped(inner) => never(inner),
        _ => false,
    }
}

/// Whether a right that comes out as no row for a set alone is granted by a rule that needs
/// the subject's attributes (`$subject.id`): for a user with them it is some rows.
fn depends_on_subject(explained: &rowguard::Explanation, right: Right) -> Option<String> {
    use rowguard::rules::Merged;
    let access = &explained.access;
    let granted = |r: Right| *access.merged(r) != Merged::Nothing;
    // Update and delete apply to rows the subject may also read.
    let needs_read = matches!(right, Right::Update | Right::Delete);
    if !granted(right) || (needs_read && !granted(Right::Read)) {
        return None;
    }
    if *access.denied(right) == Merged::Everything {
        return None;
    }
    let filter = if needs_read {
        format!(
            "({}) AND ({})",
            access.merged(Right::Read).to_filter(),
            access.merged(right).to_filter()
        )
    } else {
        access.merged(right).to_filter().to_string()
    };
    filter.contains("$subject.").then_some(filter)
}

/// Most lines in a grid: each costs four explanations.
const MAX_GRID_LINES: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GridQuery {
    model: String,
}

/// `GET /api/rules/grid?model`: who can do what on a model. One line per set with a rule row
/// on the model and, for holders of `permissions.read`, per RBAC role (inherited roles and
/// absolute rights applied); for each right `"all"`, `"none"` or `"some"` (with the filter),
/// as explain decides. At most [`MAX_GRID_LINES`] lines (`"total"` says how many there are).
pub(crate) async fn grid(
    State(service): State<Service>,
    caller: Caller,
    Params(q): Params<GridQuery>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, READ)?;
            // Role names are the permission matrix's to show; rule rows are this key's.
            let roles = caller.holds(inner, conn, &graph, PERMISSIONS)?;
            let mut sets: std::collections::BTreeSet<(String, String)> = if roles {
                graph
                    .roles()
                    .keys()
                    .map(|r| ("roles".to_owned(), r.clone()))
                    .collect()
            } else {
                Default::default()
            };
            sets.extend(
                store::all_rules(&mut **conn)?
                    .into_iter()
                    .filter(|row| row.model == q.model)
                    .map(|row| (row.set_type, row.set_value)),
            );
            sets.extend(policy_sets(&mut **conn, &q.model)?);
            let total = sets.len();
            let mut lines = Vec::with_capacity(total.min(MAX_GRID_LINES));
            for (set_type, set_value) in sets.into_iter().take(MAX_GRID_LINES) {
                let subject = graph.subject(Subject::new().with_set(&set_type, [&set_value]));
                let mut rights = serde_json::Map::new();
                for right in Right::ALL {
                    let explained = inner.auth.explain(&mut **conn, &subject, &q.model, right)?;
                    let verdict = match access(&explained.filter) {
                        "some" => json!({"access": "some", "filter": explained.filter.to_string()}),
                        "none" => match depends_on_subject(&explained, right) {
                            Some(filter) => json!({"access": "some", "filter": filter,
                                                   "depends_on_subject": true}),
                            None => json!({"access": "none"}),
                        },
                        all => json!({"access": all}),
                    };
                    rights.insert(right.key().to_owned(), verdict);
                }
                lines.push(json!({
                    "set_type": set_type, "set_value": set_value,
                    "absolute_rights": subject.has_absolute_rights(),
                    "rights": rights,
                }));
            }
            Ok(Json(
                json!({"model": q.model, "subjects": lines, "total": total,
                           "truncated": total > MAX_GRID_LINES}),
            ))
        })
        .await
}

/// The sets whose policy has a statement on `model`'s rows, or does not parse and may hold a
/// Deny (its subjects are refused everything).
fn policy_sets(
    conn: &mut dyn rowguard::StoreConnection,
    model: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let models = store::load_models(conn)?;
    let Some(stored) = models.iter().flatten().find(|m| m.name == model) else {
        return Ok(Vec::new());
    };
    let row_model = rowguard::policy::RowModel {
        name: &stored.name,
        arn: &stored.arn,
        columns: &stored.columns,
        primary_key: &stored.primary_key,
    };
    Ok(store::all_policies(conn)?
        .into_iter()
        .filter(|row| match rowguard::policy::Policy::parse(&row.policy) {
            Ok(policy) => !row_model.statements(&policy).is_empty(),
            Err(_) => rowguard::policy::may_deny(&row.policy),
        })
        .map(|row| (row.set_type, row.set_value))
        .collect())
}

/// `POST /api/rules/try` `{"subject", "attributes", "model", "action", "columns"?}`: the keys
/// of the rows the subject may read, update or delete (with `columns`: the rows, as the
/// subject sees them). It reads data as any subject, so it has a key of its own.
pub(crate) async fn try_rows(
    State(service): State<Service>,
    caller: Caller,
    Body(request): Body<SubjectRequest>,
) -> Result<Json<Value>, ApiError> {
    let right = request.right()?;
    if right == Right::Create {
        return Err(ApiError::invalid(
            "try lists existing rows: use read, update or delete",
        ));
    }
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, TRY)?;
            let subject = graph.subject(request.subject());
            if request.columns {
                let rows =
                    inner
                        .auth
                        .permitted_rows(&mut **conn, &subject, &request.model, right)?;
                return Ok(Json(json!({"rows": rows})));
            }
            let keys = inner
                .auth
                .permitted_keys(&mut **conn, &subject, &request.model, right)?;
            let keys: Vec<Value> = keys.iter().map(key_json).collect();
            Ok(Json(json!({"keys": keys})))
        })
        .await
}

fn key_json(key: &rowguard::Value) -> Value {
    match key {
        rowguard::Value::Int(i) => json!(i),
        rowguard::Value::Text(t) => json!(t),
        other => json!(other.to_string()),
    }
}

/// `GET /api/set-types`.
pub(crate) async fn set_types(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            Ok(Json(json!(store::set_type_names(&mut **conn)?)))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetTypeRequest {
    name: String,
    description: Option<String>,
}

/// `POST /api/set-types` `{"name", "description"?}`: 201 when added, 200 when it existed.
pub(crate) async fn add_set_type(
    State(service): State<Service>,
    caller: Caller,
    Body(request): Body<SetTypeRequest>,
) -> Result<Response, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let named = [Named {
                name: request.name,
                description: request.description,
            }];
            let counts = store::acting_as(&caller.session.user, || {
                store::upsert_set_types(&mut **conn, &named)
            })?;
            let status = if counts.added > 0 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(json!({"added": counts.added > 0}))).into_response())
        })
        .await
}

/// `DELETE /api/set-types/{name}`: 204; 404 if missing; 409 if built in or still used.
pub(crate) async fn delete_set_type(
    State(service): State<Service>,
    caller: Caller,
    PathArg(name): PathArg<String>,
) -> Result<StatusCode, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            let deleted = store::acting_as(&caller.session.user, || {
                store::delete_set_type(&mut **conn, &name)
            });
            match deleted {
                Ok(true) => Ok(StatusCode::NO_CONTENT),
                Ok(false) => Err(ApiError::not_found(format!("no set type \"{name}\""))),
                Err(
                    e @ (store::StoreError::BuiltInSetType(_)
                    | store::StoreError::SetTypeHasRules { .. }),
                ) => Err(ApiError::conflict(e.to_string())),
                Err(e) => Err(e.into()),
            }
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryParams {
    model: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
}

/// Most history entries (or decisions) one answer holds.
const MAX_HISTORY: usize = 1000;

/// The `limit` (default 100, at most [`MAX_HISTORY`]) and `since` of a listing of recorded
/// entries, checked: the history's and the decision log's alike.
fn page(
    limit: Option<usize>,
    since: Option<&str>,
) -> Result<(usize, Option<chrono::NaiveDateTime>), ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_HISTORY).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "\"limit\" must be from 1 to {MAX_HISTORY}"
        )));
    }
    let since = since.map(|t| instant("since", t)).transpose()?;
    Ok((limit, since))
}

/// `GET /api/rules/history?model&since&limit`: the recorded changes of the rule tables,
/// newest first (as `rules history --json` prints them).
pub(crate) async fn history(
    State(service): State<Service>,
    caller: Caller,
    Params(q): Params<HistoryParams>,
) -> Result<Json<Value>, ApiError> {
    let (limit, since) = page(q.limit, q.since.as_deref())?;
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let query = store::HistoryQuery {
                model: q.model,
                since,
                limit: Some(limit),
            };
            let entries = match store::history(&mut **conn, &query) {
                Err(e @ store::StoreError::UnknownModel { .. }) => {
                    return Err(ApiError::not_found(e.to_string()))
                }
                Err(e @ store::StoreError::NoHistory(_)) => {
                    return Err(ApiError::conflict(e.to_string()))
                }
                other => other?,
            };
            let names = store::rule_names(&mut **conn)?;
            Ok(Json(Value::Array(
                entries.iter().map(|e| e.to_json(&names)).collect(),
            )))
        })
        .await
}

/// The query of `GET /api/rules/decisions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionParams {
    model: Option<String>,
    since: Option<String>,
    before: Option<i64>,
    denied: Option<bool>,
    limit: Option<usize>,
}

/// `GET /api/rules/decisions?model&since&before&denied&limit`: the recorded decisions, newest first
/// (as `rules decisions --json` prints them); 409 when the database has no decision log.
/// Needs `decisions.read`.
pub(crate) async fn decisions(
    State(service): State<Service>,
    caller: Caller,
    Params(q): Params<DecisionParams>,
) -> Result<Json<Value>, ApiError> {
    let (limit, since) = page(q.limit, q.since.as_deref())?;
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, DECISIONS)?;
            let query = rowguard::decisions::DecisionQuery {
                model: q.model,
                since,
                before: q.before,
                denied_only: q.denied.unwrap_or(false),
                limit: Some(limit as i64),
            };
            let entries = match rowguard::decisions::decisions(&mut **conn, &query) {
                Err(e @ rowguard::decisions::DecisionError::NoTable) => {
                    return Err(ApiError::conflict(e.to_string()))
                }
                other => other.map_err(rowguard::Error::from)?,
            };
            Ok(Json(Value::Array(
                entries.iter().map(|e| e.to_json()).collect(),
            )))
        })
        .await
}

/// `POST /api/rules/history/{id}/restore`: puts the rule row or policy back as entry `id`
/// recorded it (validated first: 422 with the validator's text); 404 for no such entry, 409
/// for an entry that is not a rule row's or a policy's, or whose set type or model is gone.
pub(crate) async fn restore(
    State(service): State<Service>,
    caller: Caller,
    PathArg(id): PathArg<i64>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, WRITE)?;
            // A policy's entry needs the policies' key too (the history cannot change
            // between this look and the restore: it is append-only).
            let is_policy = store::history_entry(&mut **conn, id)
                .map_err(restore_error)?
                .table_name
                == "authorization_policies";
            if is_policy {
                caller.require(inner, conn, super::policies::WRITE)?;
            }
            let restored = if is_policy {
                super::policies::keeping_the_key(inner, conn, &caller, |c| {
                    store::restore(c, id).map_err(restore_error)
                })
            } else {
                store::acting_as(&caller.session.user, || store::restore(&mut **conn, id))
                    .map_err(restore_error)
            };
            let (restored, changed) = restored?;
            if changed {
                tracing::info!(user = %caller.session.user, entry = id, "restored from history");
            }
            let result = if changed { "changed" } else { "unchanged" };
            Ok(Json(match restored {
                store::Recorded::Rule(rule) => json!({
                    "set_type": rule.set_type, "set_value": rule.set_value, "model": rule.model,
                    "rules": document(&rule.rules), "result": result,
                }),
                store::Recorded::Policy(policy) => json!({
                    "set_type": policy.set_type, "set_value": policy.set_value,
                    "policy": serde_json::from_str::<Value>(&policy.document)
                        .unwrap_or_else(|_| Value::String(policy.document.clone())),
                    "result": result,
                }),
            }))
        })
        .await
}

/// A restore's error as an answer: 404 for no such entry, 409 for one that cannot be put
/// back.
fn restore_error(e: store::StoreError) -> ApiError {
    match e {
        store::StoreError::NoSuchHistoryEntry(_) => ApiError::not_found(e.to_string()),
        store::StoreError::NotARuleEntry { .. } | store::StoreError::NotRestorable { .. } => {
            ApiError::conflict(e.to_string())
        }
        e => e.into(),
    }
}

/// `GET /api/models`: the registered models, their tables, keys and columns.
pub(crate) async fn models(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let list: Vec<Value> = store::load_models(&mut **conn)?
                .into_iter()
                .map(|m| match m {
                    Ok(m) => json!({"name": m.name, "table": m.table_name,
                        "primary_key": m.primary_key,
                        "columns": serde_json::from_str::<Value>(&m.columns.to_json())
                            .unwrap_or(Value::Null)}),
                    Err(broken) => json!({"name": broken.name, "error": broken.error.to_string()}),
                })
                .collect();
            Ok(Json(Value::Array(list)))
        })
        .await
}

/// `GET /api/relations`: every relation by model, and the broken ones.
pub(crate) async fn relations(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            caller.require(inner, conn, READ)?;
            let (found, broken) = store::load_relations(&mut **conn)?;
            Ok(Json(json!({
                "relations": found.iter().map(|(model, r)| json!({
                    "model": model, "name": r.name, "kind": r.kind.to_string(),
                    "local_column": r.local_column, "target_model": r.target_model,
                    "target_column": r.target_column, "check": r.check.map(Right::key),
                })).collect::<Vec<_>>(),
                "broken": broken.iter().map(|b| json!({
                    "model": b.model, "name": b.name, "error": b.error,
                })).collect::<Vec<_>>(),
            })))
        })
        .await
}

/// `GET /api/permissions`: roles (with what they inherit), permissions, and for each
/// permission the roles that hold it, inheritance and `"*"` applied.
pub(crate) async fn permissions(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, PERMISSIONS)?;
            let roles: Vec<Value> = graph
                .roles()
                .iter()
                .map(|(name, r)| {
                    json!({"name": name, "description": r.description,
                           "all_permissions": r.all_permissions,
                           "permissions": r.permissions, "inherits": r.parents})
                })
                .collect();
            let matrix: serde_json::Map<String, Value> = graph
                .permissions()
                .keys()
                .map(|p| {
                    let holders: Vec<&String> = graph
                        .roles()
                        .keys()
                        .filter(|r| graph.role_can(&[r.as_str()], p))
                        .collect();
                    (p.clone(), json!(holders))
                })
                .collect();
            Ok(Json(
                json!({"roles": roles, "permissions": graph.permissions(), "matrix": matrix}),
            ))
        })
        .await
}
