//! The README's shell sessions are a test: every ```console block, top to bottom, runs in one
//! fresh directory on a new SQLite database (with this repository's `src`, `examples` and
//! `seeds`), and each command's output (stdout and stderr, as a terminal shows them) must be
//! what the README shows, allowing for times, UUIDs and durations. So the README cannot
//! drift from what a newcomer sees.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One `$ command` and the lines the README shows after it.
#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The steps of every ```console block, in order.
fn sessions(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut inside = false;
    for (n, line) in readme.lines().enumerate() {
        if !inside {
            inside = line.trim() == "```console";
            continue;
        }
        if line.trim_start().starts_with("```") {
            inside = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                line: n + 1,
                command: command.to_owned(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_owned());
        } else {
            panic!("README.md:{}: output before the first `$ ` command", n + 1);
        }
    }
    steps
}

/// What may differ between runs: times and durations, and UUIDs (numbered by first
/// appearance over the whole session, so the same job or instance must recur where the
/// README shows it recur).
fn normalize(text: &str, uuids: &mut Vec<String>) -> Vec<String> {
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("regex");
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").expect("regex");
    let ms = regex::Regex::new(r" +\d+\.\d+ ms").expect("regex");
    text.lines()
        .map(|l| {
            let l = uuid.replace_all(l, |c: &regex::Captures| {
                let found = c[0].to_owned();
                let n = match uuids.iter().position(|u| *u == found) {
                    Some(n) => n,
                    None => {
                        uuids.push(found);
                        uuids.len() - 1
                    }
                };
                format!("<uuid{n}>")
            });
            let l = time.replace_all(&l, "<time>");
            let l = ms.replace_all(&l, " <n> ms");
            l.trim_end().to_owned()
        })
        .collect()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_readme_shell_sessions_run_top_to_bottom() {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let steps = sessions(&readme);
    assert!(steps.len() >= 10, "too few README steps found: {steps:?}");
    let fences = readme
        .lines()
        .filter(|l| l.trim().starts_with("```console"))
        .count();
    let parsed = readme.lines().filter(|l| l.trim() == "```console").count();
    assert_eq!(
        fences, parsed,
        "a console block with extra words after ```console is not run"
    );
    let dir = std::env::temp_dir().join(format!("rowguard-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for folder in ["src", "examples", "seeds"] {
        std::os::unix::fs::symlink(repository().join(folder), dir.join(folder)).expect("symlink");
    }
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let mut exports: Vec<String> = Vec::new();
    let (mut actual_uuids, mut readme_uuids) = (Vec::new(), Vec::new());
    for step in &steps {
        if step.command.starts_with("export ") {
            exports.push(step.command.clone());
            continue;
        }
        let command = step.command.replace("cargo xtask", &format!("'{xtask}'"));
        let script = format!("{}\nexec 2>&1\n{command}", exports.join("\n"));
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(&script).current_dir(&dir);
        for (name, _) in std::env::vars() {
            if name == "DATABASE_URL" || name.starts_with("ROWGUARD_") {
                cmd.env_remove(name);
            }
        }
        let out = cmd.output().expect("sh");
        let actual = normalize(&String::from_utf8_lossy(&out.stdout), &mut actual_uuids);
        let expected = normalize(&step.expected.join("\n"), &mut readme_uuids);
        // A command the README shows failing fails; every other one succeeds.
        let shows_error = step.expected.iter().any(|l| l.starts_with("error: "));
        assert_eq!(
            out.status.success(),
            !shows_error,
            "README.md:{}: `$ {}` exit status {:?}",
            step.line,
            step.command,
            out.status.code()
        );
        assert_eq!(
            actual.join("\n"),
            expected.join("\n"),
            "README.md:{}: `$ {}` printed something else (left: actual, right: README)",
            step.line,
            step.command
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
