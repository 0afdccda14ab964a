//! The web console: server-rendered page shells behind the same login and permission keys as
//! the API, and one script that fills them from the API. A page the user's roles do not
//! allow is refused here, before any data is fetched; the API refuses the data again.
//!
//! The pages hold no inline script or style, so the Content-Security-Policy allows only this
//! server's own files: text that reaches a page (a job's output, a rule, a user name) is
//! never run.

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rowguard::rbac::RbacGraph;

use crate::auth::{token_of, Caller, Via};
use crate::routes::{base, PathArg};
use crate::tokens::authenticate;
use crate::{ApiError, Service};

const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");

/// A page of the console: its path under `/console/`, title, and the permission key it needs
/// (`None`: any logged-in user).
struct Page {
    id: &'static str,
    title: &'static str,
    key: Option<&'static str>,
    /// Listed in the navigation bar.
    nav: bool,
}

const PAGES: &[Page] = &[
    Page {
        id: "jobs",
        title: "Jobs",
        key: Some("jobs.read"),
        nav: true,
    },
    Page {
        id: "job",
        title: "Job",
        key: Some("jobs.read"),
        nav: false,
    },
    Page {
        id: "rules",
        title: "Rules",
        key: Some("rules.read"),
        nav: true,
    },
    Page {
        id: "policies",
        title: "Policies",
        key: Some("rules.read"),
        nav: true,
    },
    Page {
        id: "explain",
        title: "Explain",
        key: Some("rules.read"),
        nav: true,
    },
    Page {
        id: "grid",
        title: "Who can",
        key: Some("rules.read"),
        nav: true,
    },
    Page {
        id: "history",
        title: "History",
        key: Some("rules.read"),
        nav: true,
    },
    Page {
        id: "permissions",
        title: "Permissions",
        key: Some("permissions.read"),
        nav: true,
    },
    Page {
        id: "users",
        title: "Users",
        key: Some("users.manage"),
        nav: true,
    },
    Page {
        id: "password",
        title: "Change password",
        key: None,
        nav: false,
    },
];

fn page(id: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.id == id)
}

/// Text for HTML, in content and in quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The security headers of every console answer.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn html(status: StatusCode, body: String) -> Response {
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

/// What a page shows around its content.
struct Frame<'a> {
    base: &'a str,
    title: &'a str,
    /// The logged-in user and the pages they may open; `None` on the login page.
    user: Option<(&'a Caller, Vec<&'static Page>)>,
    current: &'a str,
    /// `data-*` attributes of `<body>` for the script.
    data: Vec<(&'static str, String)>,
    /// Server-rendered content (an error); empty: the script fills `#app`.
    content: String,
}

fn render(frame: Frame<'_>) -> String {
    let b = escape(frame.base);
    let mut nav = String::new();
    let mut who = String::new();
    if let Some((caller, pages)) = &frame.user {
        for p in pages.iter().filter(|p| p.nav) {
            // A job's page belongs to the jobs.
            let current = if p.id == frame.current || (p.id == "jobs" && frame.current == "job") {
                " aria-current=\"page\""
            } else {
                ""
            };
            nav.push_str(&format!(
                "<a href=\"{b}/console/{}\"{current}>{}</a>",
                p.id, p.title
            ));
        }
        who = format!(
            "<div class=\"who\"><a href=\"{b}/console/password\" title=\"Change password\">{}</a>\
             <button type=\"button\" id=\"logout\" class=\"quiet\">Log out</button></div>",
            escape(&caller.session.user)
        );
    }
    let data: String = frame
        .data
        .iter()
        .map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v)))
        .collect();
    let app = if frame.content.is_empty() {
        "<div id=\"app\"><p class=\"muted\">Loading…</p></div>\
         <noscript><p class=\"error\">The console needs JavaScript.</p></noscript>"
            .to_owned()
    } else {
        frame.content
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · rowguard</title>\
         <link rel=\"stylesheet\" href=\"{b}/console/assets/console.css\">\
         <script src=\"{b}/console/assets/console.js\" defer></script></head>\
         <body data-base=\"{b}\"{data}>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><a class=\"brand\" href=\"{b}/console/\">rowguard</a>\
         <nav aria-label=\"Main\">{nav}</nav>{who}</header>\
         <main id=\"main\" tabindex=\"-1\"><h1>{title}</h1>{app}</main></body></html>\n",
        title = escape(frame.title),
    )
}

/// The logged-in caller of a page request and the RBAC model, or `None` without a valid
/// session (a bearer token counts too: the pages are GETs, with no CSRF to check).
async fn session(
    service: &Service,
    headers: &HeaderMap,
) -> Result<Option<(Caller, Arc<RbacGraph>)>, ApiError> {
    let Some((token, via)) = token_of(headers)? else {
        return Ok(None);
    };
    let checked = token.clone();
    service
        .blocking(move |inner, conn| {
            let Some(session) = authenticate(conn, &checked)? else {
                return Ok(None);
            };
            let graph = inner.rbac.graph(&mut **conn)?;
            Ok(Some((
                Caller {
                    session,
                    token: checked,
                    via,
                },
                graph,
            )))
        })
        .await
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    secure(response)
}

/// An error as a page: the message, never a trace.
fn error_page(base: &str, status: StatusCode, message: &str) -> Response {
    html(
        status,
        render(Frame {
            base,
            title: status.canonical_reason().unwrap_or("Error"),
            user: None,
            current: "",
            data: Vec::new(),
            content: format!(
                "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}/console/\">Back to the console</a></p>",
                escape(message),
                escape(base)
            ),
        }),
    )
}

/// Serves page `id` (with `arg`, a job's uuid) to a logged-in user whose roles hold its key;
/// otherwise the login page (303) or a 403 page that shows nothing of the data.
async fn serve_page(
    service: &Service,
    headers: &HeaderMap,
    original: &Uri,
    uri: &Uri,
    id: &str,
    arg: Option<String>,
) -> Response {
    let base = base(original, uri);
    let Some(page) = page(id) else {
        return error_page(&base, StatusCode::NOT_FOUND, "There is no such page.");
    };
    let (caller, graph) = match session(service, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let next = encode(
                original
                    .path_and_query()
                    .map_or(original.path(), |p| p.as_str()),
            );
            return redirect(&format!("{base}/console/login?next={next}"));
        }
        Err(e) => return error_page(&base, e.status, &e.message),
    };
    let roles = &caller.session.roles;
    let allowed: Vec<&'static Page> = PAGES
        .iter()
        .filter(|p| p.key.is_none_or(|k| graph.role_can(roles, k)))
        .collect();
    // For the page's own changes (logout included): only a cookie session has one.
    let csrf = if caller.via == Via::Cookie {
        caller.token.csrf()
    } else {
        String::new()
    };
    if !allowed.iter().any(|p| p.id == page.id) {
        let key = page.key.unwrap_or_default();
        return html(
            StatusCode::FORBIDDEN,
            render(Frame {
                base: &base,
                title: "Not allowed",
                current: "",
                data: vec![("csrf", csrf)],
                content: format!(
                    "<p class=\"error\" role=\"alert\">This page needs permission \
                     <code>{}</code>, which user <strong>{}</strong> does not hold. \
                     An administrator can grant it to one of your roles.</p>",
                    escape(key),
                    escape(&caller.session.user)
                ),
                user: Some((&caller, allowed)),
            }),
        );
    }
    let permissions: Vec<&str> = graph
        .permissions()
        .keys()
        .filter(|p| graph.role_can(roles, p))
        .map(String::as_str)
        .collect();
    let mut data = vec![
        ("page", page.id.to_owned()),
        ("user", caller.session.user.clone()),
        ("permissions", permissions.join(" ")),
        ("csrf", csrf),
    ];
    if let Some(arg) = arg {
        data.push(("arg", arg));
    }
    html(
        StatusCode::OK,
        render(Frame {
            base: &base,
            title: page.title,
            current: page.id,
            data,
            content: String::new(),
            user: Some((&caller, allowed)),
        }),
    )
}

/// `GET /console/{page}`.
pub(crate) async fn named(
    State(service): State<Service>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    PathArg(id): PathArg<String>,
) -> Response {
    if id == "login" {
        return login(&base(&original, &uri));
    }
    if id == "job" {
        return not_found(OriginalUri(original), uri).await;
    }
    serve_page(&service, &headers, &original, &uri, &id, None).await
}

/// `GET /console/jobs/{uuid}`.
pub(crate) async fn job(
    State(service): State<Service>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    PathArg(uuid): PathArg<String>,
) -> Response {
    serve_page(&service, &headers, &original, &uri, "job", Some(uuid)).await
}

/// `GET /console/`: the first page the user may open.
pub(crate) async fn home(
    State(service): State<Service>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let base = base(&original, &uri);
    match session(&service, &headers).await {
        Ok(Some((caller, graph))) => {
            let first = PAGES
                .iter()
                .filter(|p| p.nav)
                .find(|p| {
                    p.key
                        .is_none_or(|k| graph.role_can(&caller.session.roles, k))
                })
                .map_or("password", |p| p.id);
            redirect(&format!("{base}/console/{first}"))
        }
        Ok(None) => redirect(&format!("{base}/console/login")),
        Err(e) => error_page(&base, e.status, &e.message),
    }
}

fn login(base: &str) -> Response {
    html(
        StatusCode::OK,
        render(Frame {
            base,
            title: "Log in",
            user: None,
            current: "",
            data: vec![("page", "login".to_owned())],
            content: String::new(),
        }),
    )
}

/// Anything else under `/console/`: a page, not the API's JSON.
pub(crate) async fn not_found(OriginalUri(original): OriginalUri, uri: Uri) -> Response {
    error_page(
        &base(&original, &uri),
        StatusCode::NOT_FOUND,
        "There is no such page.",
    )
}

/// `GET /console/assets/{name}`: the script and the style sheet, compiled into the server.
pub(crate) async fn asset(PathArg(name): PathArg<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "console.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "console.css" => ("text/css; charset=utf-8", STYLE),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    secure(([(header::CONTENT_TYPE, kind)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::{base, encode, escape};

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn paths_are_encoded_for_a_query() {
        assert_eq!(encode("/console/jobs/a b?&"), "/console/jobs/a%20b%3F%26");
    }

    #[test]
    fn the_base_is_what_nesting_stripped() {
        let original: axum::http::Uri = "/rowguard/console/jobs".parse().unwrap();
        let uri: axum::http::Uri = "/console/jobs".parse().unwrap();
        assert_eq!(base(&original, &uri), "/rowguard");
        assert_eq!(base(&uri, &uri), "");
    }
}
