//! The operating-system side of a job: spawning it (argv only, an empty environment plus an
//! allow-list, its own process group), finding every process that belongs to it, and
//! signalling all of them.
//!
//! Every job process carries [`JOB_MARKER`]`=<uuid>` in its environment, which its children
//! inherit. A descendant that leaves the process group (`setsid`, a daemon's double fork) is
//! still found by that mark in `/proc`, so a kill or a timeout ends the whole tree, not just
//! the first process.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// The environment variable that marks a job's processes (its value is the job's uuid).
pub const JOB_MARKER: &str = "RG_JOB_UUID";

/// Whether `name` may never be passed to a job: the database URL and rowguard's own settings.
pub fn is_secret_variable(name: &str) -> bool {
    name == "DATABASE_URL" || name.starts_with("ROWGUARD_")
}

/// Starts `program` with `args` for job `uuid`: standard input closed, stdout and stderr
/// piped, a process group of its own, and an environment of only the `allowed` variables of
/// this process plus `extra` (secret names are dropped from both) plus the job marker.
pub fn spawn(
    program: &str,
    args: &[String],
    allowed: &[String],
    extra: &BTreeMap<String, String>,
    uuid: &str,
) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in allowed.iter().filter(|n| !is_secret_variable(n)) {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in extra.iter().filter(|(n, _)| !is_secret_variable(n)) {
        command.env(name, value);
    }
    command.env(JOB_MARKER, uuid);
    command.spawn()
}

/// The live (not zombie) processes that carry job `uuid`'s mark.
pub fn marked_processes(uuid: &str) -> Vec<Pid> {
    let needle = format!("{JOB_MARKER}={uuid}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            // Unreadable (another user's, or already gone) means not ours.
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
                && !is_zombie(pid)
        })
        .map(Pid::from_raw)
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        // The state follows the command name, which is in parentheses and may contain them.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z")
    })
}

/// Whether process group `group` still has a member. Linux does not reuse a process id
/// while a group with that id exists, so a group id that still answers is still the job's.
pub fn group_exists(group: i32) -> bool {
    killpg(Pid::from_raw(group), None).is_ok()
}

/// Sends `signal` to the job's process group (if it is still known to be the job's) and to
/// every process that carries job `uuid`'s mark.
pub fn signal_all(group: Option<i32>, uuid: &str, signal: Signal) {
    if let Some(group) = group {
        let _ = killpg(Pid::from_raw(group), signal);
    }
    for pid in marked_processes(uuid) {
        let _ = kill(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_pass_and_the_mark_does() {
        let extra = BTreeMap::from([
            ("GREETING".to_string(), "hi".to_string()),
            ("ROWGUARD_CONFIG".to_string(), "x".to_string()),
        ]);
        let allowed = vec!["PATH".to_string(), "DATABASE_URL".to_string()];
        let child = spawn("env", &[], &allowed, &extra, "u-1").unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("GREETING=hi\n"), "{text}");
        assert!(text.contains("RG_JOB_UUID=u-1\n"), "{text}");
        assert!(
            !text.contains("DATABASE_URL") && !text.contains("ROWGUARD_"),
            "{text}"
        );
    }
}
