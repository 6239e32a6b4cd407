//! The waiter: every agent runs as the child of a small `/bin/sh` that waits for it and writes
//! its exit status beside its logs, so that an agent that ends while no orchestrator watches
//! it (the one that started it was killed) is judged from how it really ended.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::core::agents::outcome::{ExitStatus, parse_recorded_status};
use crate::ports::agent::LogFiles;

/// The waiter's script. The agent's argv comes as positional parameters, never as script
/// text. The trap is a handler, not an ignore: an ignored signal would be inherited by the
/// agent, while a handled one is reset for it. So SIGTERM to the process group reaches the
/// agent as usual, and the waiter, which runs the handler only once the agent has ended,
/// lives on to record it. The status is written to a temporary file and renamed into place,
/// so a reader never sees half of it.
const SCRIPT: &str = r#"status_file=$1
shift
trap : HUP INT TERM
"$@"
status=$?
printf '%s\n' "$status" > "$status_file.tmp" && mv -f "$status_file.tmp" "$status_file"
exit "$status"
"#;

/// The shell that runs the waiter.
const SHELL: &str = "/bin/sh";

/// The argv that runs `program` with `args` under the waiter, recording into `status_file`.
pub fn wrapped(program: &Path, args: &[String], status_file: &Path) -> Vec<String> {
    let mut argv = vec![
        SHELL.to_owned(),
        "-c".to_owned(),
        SCRIPT.to_owned(),
        "clambake-waiter".to_owned(),
        status_file.display().to_string(),
        program.display().to_string(),
    ];
    argv.extend(args.iter().cloned());
    argv
}

/// Where the waiter records the exit status of the attempt logged at `logs`.
pub fn status_file(logs: &LogFiles) -> PathBuf {
    logs.stdout.with_extension("status")
}

/// The exit status the waiter recorded for the attempt logged at `logs`, if it did.
pub fn recorded_exit(logs: &LogFiles) -> Option<ExitStatus> {
    parse_recorded_status(&std::fs::read_to_string(status_file(logs)).ok()?)
}

/// Finds `program` as the agent's own exec would: a path with a slash as it is (relative to
/// `dir`, its working directory), a bare name in the agent's `PATH`. Found up front, a
/// missing program is refused at once, as a failed start, not a failed attempt.
pub fn resolve(program: &str, dir: &Path, path_var: Option<&str>) -> std::io::Result<PathBuf> {
    let executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let candidate = dir.join(program);
        return if executable(&candidate) {
            Ok(candidate)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
    }
    path_var
        .unwrap_or_default()
        .split(':')
        .filter(|entry| !entry.is_empty())
        .map(|entry| dir.join(entry).join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| std::io::ErrorKind::NotFound.into())
}
