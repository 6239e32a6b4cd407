//! What one step does: the `run:` step with `id: clambake` runs its script for real, the
//! checkout and upload-artifact actions are emulated, and every other step is skipped with a
//! log line saying why (the fake installs nothing and reaches no network).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::expression::{self, Scope};
use super::process::{self, Ending, Spawn};
use super::run::{JobDirs, Run};
use super::workflow::{RunDefaults, Step, scalar};
use crate::runner_contract::Outcome;

/// The id of the one `run:` step the fake runs.
const CLAMBAKE_STEP: &str = "clambake";

/// A step to carry out, with what it sees.
pub struct StepCall<'a> {
    pub run: &'a Run<'a>,
    pub step: &'a Step,
    pub scope: &'a Scope<'a>,
    /// The whole environment of its processes.
    pub env: &'a BTreeMap<String, String>,
    pub dirs: &'a JobDirs,
    pub defaults: &'a RunDefaults,
    pub deadline: Option<Instant>,
    /// Whether a cancel stops it: not when it started after the cancel (an `always()` step),
    /// which runs to its end as on GitHub.
    pub cancellable: bool,
}

/// Carries out a step whose `if:` held: its outcome and its log.
pub fn execute(call: &StepCall) -> (Outcome, String) {
    let step = call.step;
    let result = match (&step.run, &step.uses) {
        (Some(script), _) if step.id.as_deref() == Some(CLAMBAKE_STEP) => run_script(call, script),
        (Some(_), _) => Ok((
            Outcome::Skipped,
            "The fake's runner does not run this step: it runs only the step with \
             `id: clambake` (nothing is installed here, the test provides the binaries).\n"
                .to_string(),
        )),
        (None, Some(uses)) => {
            let action = uses.split('@').next().unwrap_or_default().to_lowercase();
            match action.as_str() {
                "actions/checkout" => checkout(call),
                "actions/upload-artifact" => upload_artifact(call),
                _ => {
                    let miss = if action == "actions/cache" || action == "actions/cache/restore" {
                        " (a cache miss)"
                    } else {
                        ""
                    };
                    Ok((
                        Outcome::Skipped,
                        format!("The fake's runner does not emulate {uses}: skipped{miss}.\n"),
                    ))
                }
            }
        }
        (None, None) => Err("a step needs `run` or `uses`".to_string()),
    };
    result.unwrap_or_else(|error| (Outcome::Failure, format!("##[error]{error}\n")))
}

/// A `with:` input, its expressions expanded; `None` when not given.
fn input(call: &StepCall, name: &str) -> Result<Option<String>, String> {
    match call.step.with.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = scalar(value).map_err(|error| format!("with.{name}: {error}"))?;
            let expanded = expression::expand(&text, call.scope)
                .map_err(|error| format!("with.{name}: {error}"))?;
            Ok(Some(expanded))
        }
    }
}

fn flag(call: &StepCall, name: &str) -> Result<bool, String> {
    Ok(input(call, name)?.is_some_and(|value| value.trim() == "true"))
}

/// Names the script files of steps, unique within this process.
static SCRIPTS: AtomicU64 = AtomicU64::new(0);

fn run_script(call: &StepCall, script: &str) -> Result<(Outcome, String), String> {
    let script = expression::expand(script, call.scope)?;
    let file = call.dirs.temp.join(format!(
        "{}-{}.sh",
        call.run.spec.run_id,
        SCRIPTS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, &script).map_err(|error| format!("{}: {error}", file.display()))?;
    let file = file.display().to_string();
    let shell = call.step.shell.as_ref().or(call.defaults.shell.as_ref());
    let (program, args) = shell_command(shell.map(String::as_str), &file)?;
    let directory = call
        .step
        .working_directory
        .as_ref()
        .or(call.defaults.working_directory.as_ref())
        .map(|dir| expression::expand(dir, call.scope))
        .transpose()?;
    let cwd = match directory {
        Some(dir) => call.dirs.workspace.join(dir),
        None => call.dirs.workspace.clone(),
    };
    let spawn = Spawn {
        program: &program,
        args: &args,
        cwd: &cwd,
        env: call.env,
    };
    let (ending, mut log) = process::run(
        &spawn,
        call.deadline,
        call.cancellable.then_some(call.run.cancel),
        call.run.config.grace,
    )
    .map_err(|error| format!("{program} in {}: {error}", cwd.display()))?;
    if !log.is_empty() && !log.ends_with('\n') {
        log.push('\n');
    }
    let outcome = match ending {
        Ending::Exited(0) => Outcome::Success,
        Ending::Exited(code) => {
            log.push_str(&format!(
                "##[error]Process completed with exit code {code}.\n"
            ));
            Outcome::Failure
        }
        Ending::TimedOut => {
            log.push_str("##[error]The step has timed out.\n");
            Outcome::Failure
        }
        Ending::Cancelled => {
            log.push_str("##[error]The operation was canceled.\n");
            Outcome::Cancelled
        }
    };
    Ok((outcome, log))
}

/// The command line of a `shell:` for a script file, as GitHub spells them out: none given
/// is `bash -e {0}`, `bash` is `bash --noprofile --norc -eo pipefail {0}`.
fn shell_command(shell: Option<&str>, file: &str) -> Result<(String, Vec<String>), String> {
    let template = match shell.map(str::trim) {
        None => "bash -e {0}",
        Some("bash") => "bash --noprofile --norc -eo pipefail {0}",
        Some("sh") => "sh -e {0}",
        Some(custom) if custom.contains("{0}") => custom,
        Some(other) => {
            return Err(format!(
                "the fake's runner does not emulate shell `{other}`"
            ));
        }
    };
    let mut words = template
        .split_whitespace()
        .map(|word| word.replace("{0}", file));
    let program = words.next().ok_or("an empty shell")?;
    Ok((program, words.collect()))
}

/// `actions/checkout`: a clone of the fake's repository with its whole history, `origin` the
/// bare repository, on the dispatched branch at the dispatched commit (or on `with.ref`).
fn checkout(call: &StepCall) -> Result<(Outcome, String), String> {
    let spec = call.run.spec;
    let full_name = format!("{}/{}", spec.owner, spec.repo);
    let repository = input(call, "repository")?.filter(|r| !r.is_empty());
    if let Some(repository) = repository.filter(|r| !r.eq_ignore_ascii_case(&full_name)) {
        return Err(format!(
            "the fake's runner checks out only {full_name}, not {repository}"
        ));
    }
    let target = match input(call, "path")?.filter(|p| !p.is_empty()) {
        Some(path) => call.dirs.workspace.join(path),
        None => call.dirs.workspace.clone(),
    };
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .map_err(|error| format!("{}: {error}", target.display()))?;
    }
    let url = format!("file://{}", spec.bare_repo.display());
    let mut log = format!(
        "Emulated actions/checkout: cloning {url} into {}\n",
        target.display()
    );
    let git = |dir: &Path, args: &[&str], log: &mut String| git(call.env, dir, args, log);
    git(
        &call.dirs.temp,
        &[
            "clone",
            "--no-checkout",
            &url,
            &target.display().to_string(),
        ],
        &mut log,
    )?;
    let branch = spec.git_ref.trim_start_matches("refs/heads/").to_string();
    match input(call, "ref")?.filter(|r| !r.is_empty()) {
        None => {
            git(
                &target,
                &["checkout", "--force", "-B", &branch, &spec.sha],
                &mut log,
            )?;
            let upstream = format!("refs/remotes/origin/{branch}");
            if git(
                &target,
                &["rev-parse", "--verify", "--quiet", &upstream],
                &mut log,
            )
            .is_ok()
            {
                git(
                    &target,
                    &["branch", "--set-upstream-to", &format!("origin/{branch}")],
                    &mut log,
                )?;
            }
        }
        Some(reference) => {
            let remote = format!("refs/remotes/origin/{reference}");
            if git(
                &target,
                &["rev-parse", "--verify", "--quiet", &remote],
                &mut log,
            )
            .is_ok()
            {
                git(
                    &target,
                    &["checkout", "--force", "-B", &reference, &remote],
                    &mut log,
                )?;
            } else {
                git(
                    &target,
                    &["checkout", "--force", "--detach", &reference],
                    &mut log,
                )?;
            }
        }
    }
    Ok((Outcome::Success, log))
}

/// Runs git for the checkout, its output into `log`; an error if it fails.
fn git(
    env: &BTreeMap<String, String>,
    dir: &Path,
    args: &[&str],
    log: &mut String,
) -> Result<(), String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .output()
        .map_err(|error| format!("git: {error}"))?;
    log.push_str(&String::from_utf8_lossy(&output.stdout));
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("git {} failed: {}", args.join(" "), output.status))
    }
}

/// `actions/upload-artifact`: the files at `with.path` (a file, a directory, or one of those
/// a line), named from their common directory, reported as the artifact `with.name`.
fn upload_artifact(call: &StepCall) -> Result<(Outcome, String), String> {
    let name = input(call, "name")?
        .filter(|n| !n.is_empty())
        .unwrap_or("artifact".to_string());
    let paths = input(call, "path")?.ok_or("Input required and not supplied: path")?;
    let hidden = flag(call, "include-hidden-files")?;
    let overwrite = flag(call, "overwrite")?;
    let if_none = input(call, "if-no-files-found")?.unwrap_or("warn".to_string());
    let mut roots = Vec::new();
    let mut found = Vec::new();
    for line in paths.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if line.starts_with('!') || line.contains(['*', '?', '[']) {
            return Err(format!(
                "the fake's runner does not emulate the pattern `{line}`"
            ));
        }
        let path = call.dirs.workspace.join(line);
        if path.is_dir() {
            roots.push(path.clone());
            walk(&path, &mut found).map_err(|error| format!("{}: {error}", path.display()))?;
        } else if path.is_file() {
            roots.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
            found.push(path);
        }
    }
    let root = common_ancestor(&roots);
    let mut files = Vec::new();
    for path in found {
        let relative = path.strip_prefix(&root).unwrap_or(&path);
        let is_hidden = relative
            .components()
            .any(|part| part.as_os_str().to_string_lossy().starts_with('.'));
        if is_hidden && !hidden {
            continue;
        }
        let contents =
            std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        let inside: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.push((inside.join("/"), contents));
    }
    if files.is_empty() {
        let message = format!(
            "No files were found with the provided path: {}. No artifacts will be uploaded.",
            paths.trim()
        );
        return match if_none.as_str() {
            "error" => Err(message),
            "ignore" => Ok((Outcome::Success, format!("{message}\n"))),
            _ => Ok((Outcome::Success, format!("##[warning]{message}\n"))),
        };
    }
    let mut names = call
        .run
        .artifacts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !names.insert(name.clone()) && !overwrite {
        return Err(format!(
            "an artifact with the name {name} already exists in this run (set overwrite: true)"
        ));
    }
    drop(names);
    let log = format!(
        "Emulated actions/upload-artifact: {name}, {} files\n",
        files.len()
    );
    call.run.events.artifact(call.run.spec.run_id, &name, files);
    Ok((Outcome::Success, log))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::new();
    };
    let mut common = first.clone();
    while !paths.iter().all(|path| path.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    common
}
