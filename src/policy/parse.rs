//! Policy documents from JSON, validated field by field: an error names the statement, the
//! field and the text at fault.

use serde_json::{Map, Value as Json};

use super::{ActionPattern, ArnPattern, Effect, Policy, PolicyError, Statement};

/// The fields a statement may have. IAM's `NotAction`, `NotResource`, `Principal` and
/// `Condition` are refused by name rather than ignored: ignoring one would grant more than
/// its author meant.
const FIELDS: [&str; 4] = ["Sid", "Effect", "Action", "Resource"];

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let json: Json = serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let doc_error = |field: Option<&str>, why: String| PolicyError::Statement {
        statement: None,
        field: field.map(str::to_owned),
        why,
    };
    let statements = match json {
        Json::Array(list) => list,
        Json::Object(mut doc) => {
            if let Some(version) = doc.remove("Version") {
                if !version.is_string() {
                    return Err(doc_error(Some("Version"), "expected a string".to_owned()));
                }
            }
            let statements = doc.remove("Statement").ok_or_else(|| {
                doc_error(
                    None,
                    "expected {\"Statement\": [...]} or a list of statements".to_owned(),
                )
            })?;
            if let Some(other) = doc.keys().next() {
                return Err(doc_error(
                    Some(other),
                    "unknown field (a policy has Version and Statement)".to_owned(),
                ));
            }
            match statements {
                Json::Array(list) => list,
                one @ Json::Object(_) => vec![one],
                _ => {
                    return Err(doc_error(
                        Some("Statement"),
                        "expected a statement or a list of statements".to_owned(),
                    ))
                }
            }
        }
        _ => {
            return Err(doc_error(
                None,
                "expected a list of statements or {\"Statement\": [...]}".to_owned(),
            ))
        }
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| statement(i, s))
        .collect::<Result<_, _>>()?;
    Ok(Policy { statements })
}

fn statement(index: usize, json: Json) -> Result<Statement, PolicyError> {
    let error = |field: &str, why: String| PolicyError::Statement {
        statement: Some(index),
        field: Some(field.to_owned()),
        why,
    };
    let Json::Object(fields) = json else {
        return Err(PolicyError::Statement {
            statement: Some(index),
            field: None,
            why: format!("expected an object with Effect, Action and Resource, found {json}"),
        });
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let why = match unknown.as_str() {
            "NotAction" | "NotResource" | "Principal" | "NotPrincipal" | "Condition" => {
                "not supported by rowguard (refused, not ignored)".to_owned()
            }
            _ => format!("unknown field (a statement has {})", FIELDS.join(", ")),
        };
        return Err(error(unknown, why));
    }
    let sid = match fields.get("Sid") {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(error("Sid", format!("expected a string, found {other}"))),
    };
    let effect = match fields.get("Effect") {
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(error(
                "Effect",
                format!("expected \"Allow\" or \"Deny\", found {other}"),
            ))
        }
        None => {
            return Err(error(
                "Effect",
                "missing (\"Allow\" or \"Deny\")".to_owned(),
            ))
        }
    };
    let actions = strings(&fields, "Action")
        .map_err(|why| error("Action", why))?
        .into_iter()
        .map(|a| ActionPattern::parse(a).map_err(|e| error("Action", e.to_string())))
        .collect::<Result<_, _>>()?;
    let resources = strings(&fields, "Resource")
        .map_err(|why| error("Resource", why))?
        .into_iter()
        .map(|r| ArnPattern::parse(r).map_err(|e| error("Resource", e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
    })
}

/// A field that holds one string or a non-empty list of them.
fn strings<'a>(fields: &'a Map<String, Json>, name: &str) -> Result<Vec<&'a str>, String> {
    match fields.get(name) {
        None => Err("missing (one string or a list of them)".to_owned()),
        Some(Json::String(s)) => Ok(vec![s]),
        Some(Json::Array(list)) if list.is_empty() => Err("an empty list names nothing".to_owned()),
        Some(Json::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("expected strings in the list, found {v}"))
            })
            .collect(),
        Some(other) => Err(format!(
            "expected a string or a list of strings, found {other}"
        )),
    }
}
