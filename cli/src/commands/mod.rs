//! One file per command.

pub mod completions;
pub mod jobs;
pub mod migrate;
pub mod permissions;
pub mod policies;
pub mod rules;
pub mod seed;
pub mod serve;
pub mod session;
pub mod sync_models;
pub mod users;

/// What every command returns: an exit code, or an error printed as one `error: …` line.
pub type CommandResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;

/// `println!` that returns the error instead of panicking when standard output is gone
/// (`rowguard rules list | head -1`); `finish` treats a broken pipe as success.
macro_rules! outln {
    () => {
        outln!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
}

/// The document of a `set` command: FILE, or standard input with `-` or no FILE (refused on a
/// terminal, where it would wait for typing). Standard input is read up to `limit` bytes
/// and one more, so a runaway pipe is not read into memory and the parser refuses it by
/// name.
pub(crate) fn read_document(
    label: &str,
    file: Option<&std::path::Path>,
    limit: Option<usize>,
) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::{IsTerminal, Read};
    let from_stdin = file.is_none_or(|p| p.as_os_str() == "-");
    if file.is_none() && std::io::stdin().is_terminal() {
        return Err(format!(
            "{label}: give the document as FILE, or - to read it from standard input"
        )
        .into());
    }
    let text = match file {
        Some(p) if !from_stdin => {
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?
        }
        _ => {
            let mut text = String::new();
            let stdin = std::io::stdin();
            match limit {
                Some(limit) => stdin.take(limit as u64 + 1).read_to_string(&mut text)?,
                None => stdin.lock().read_to_string(&mut text)?,
            };
            text
        }
    };
    if text.trim().is_empty() {
        return Err(format!("{label}: the document is empty; nothing written").into());
    }
    Ok(text)
}

/// Whether `set_type` is a stored set type: the error naming it (and the closest) if not.
pub(crate) fn unknown_set_type(
    conn: &mut rowguard::AnyConnection,
    set_type: &str,
) -> Result<Option<String>, rowguard::store::StoreError> {
    let set_types = rowguard::store::set_type_names(conn)?;
    Ok((!set_types.iter().any(|t| t == set_type)).then(|| {
        format!(
            "there is no set type named \"{set_type}\"{}",
            crate::suggest::hint(set_type, set_types.iter().map(String::as_str))
        )
    }))
}

/// Warns when a rule or policy is written for a role no seed defines (while some are): it
/// then applies only to subjects given that role by name.
pub(crate) fn warn_unknown_role(
    ctx: &mut crate::context::Context,
    conn: &mut rowguard::AnyConnection,
    (set_type, set_value): (&str, &str),
    what: &str,
) -> Result<(), rowguard::rbac::RbacLoadError> {
    if set_type != "roles" {
        return Ok(());
    }
    let graph = rowguard::rbac::load(conn)?;
    if !graph.roles().is_empty() && !graph.roles().contains_key(set_value) {
        ctx.warn(format_args!(
            "no role named \"{set_value}\" exists{}; the {what} applies only to subjects given that role by name",
            crate::suggest::hint(set_value, graph.roles().keys().map(String::as_str))
        ));
    }
    Ok(())
}

/// Warns about each of a server's `warnings` (a JSON list of strings) for `label`.
pub(crate) fn warn_all(
    ctx: &mut crate::context::Context,
    label: &str,
    warnings: &serde_json::Value,
) {
    for warning in warnings.as_array().into_iter().flatten() {
        ctx.warn(format_args!(
            "{label}: {}",
            safe(warning.as_str().unwrap_or(""))
        ));
    }
}

/// `text` with control characters (C0, C1) and bidirectional overrides escaped
/// (`\u{1b}`, `\u{202e}`, …): what a terminal would act on or reorder.
pub(crate) fn safe(text: &str) -> String {
    let risky = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(risky) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if risky(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`safe`] line by line: the line breaks of a multi-line text stay.
pub(crate) fn safe_lines(text: &str) -> String {
    text.lines().map(safe).collect::<Vec<_>>().join("\n")
}
