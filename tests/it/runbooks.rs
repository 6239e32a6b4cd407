//! The runbooks in `docs/` are tested by running them: every command of their ```` ```console
//! ```` blocks runs, in order, in a repository set up as a user's (`clambake init`, simulated
//! agents, a git identity in its own `HOME`), with the `clambake` just built first on `PATH`.
//! A command must exit 0 (or the block's `exit=N`), and its output must contain the lines the
//! runbook shows after it. A `background` block's commands are left running and stopped with
//! SIGTERM once the rest is done, when they must exit 0. A `no-run=WHY` block (systemctl,
//! journalctl) is checked by `bash -n` only. A block marked `file=PATH` must be that file, and
//! the systemd unit is checked by `systemd-analyze verify` where it is installed.
//!
//! The runbook's `127.0.0.1:7878` (the default `serve.address`) becomes a free port, set as
//! `CLAMBAKE_SERVE__ADDRESS`, so that runs beside each other never share one.

mod blocks;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rstest::rstest;
use tempfile::TempDir;

use blocks::{ConsoleBlock, Mode, blocks};

/// Every runbook, as the README links them.
const RUNBOOKS: &[&str] = &[
    "unattended.md",
    "recovery.md",
    "trains.md",
    "limits.md",
    "security.md",
];

/// The example systemd unit the unattended runbook shows.
const UNIT: &str = "contrib/clambake.service";

/// The documented default address, replaced by a free port.
const DEFAULT_ADDRESS: &str = "127.0.0.1:7878";

/// How long one command may take before the runbook fails (a hang, not a slow machine).
const COMMAND_LIMIT: &str = "300";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

#[rstest]
#[case::unattended("unattended.md")]
#[case::recovery("recovery.md")]
#[case::trains("trains.md")]
#[case::limits("limits.md")]
#[case::security("security.md")]
fn every_command_of_the_runbook_runs(#[case] name: &str) {
    let path = format!("docs/{name}");
    let found = blocks(&read(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    for file in &found.files {
        assert_eq!(
            file.text,
            read(&file.path),
            "{path}:{}: the block differs from {}",
            file.line,
            file.path
        );
    }
    let user = User::new();
    let mut background = Background::default();
    for block in &found.console {
        run_block(&user, &path, block, &mut background);
    }
    background.stop_cleanly(&path);
}

/// A person's machine: a home with a git identity, and a repository set up with Clambake.
struct User {
    dir: TempDir,
    path: String,
    address: String,
}

impl User {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("clambake-runbook-")
            .tempdir()
            .unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Rita Runbook\n\temail = rita@example.com\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_clambake")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let user = Self { dir, path, address };
        std::fs::create_dir_all(user.repo()).unwrap();
        std::fs::write(user.repo().join("README.md"), "# project\n").unwrap();
        for setup in [
            "git init -q",
            "git add README.md",
            "git commit -q -m 'first commit'",
            "clambake init --agents 2",
            "clambake config set agents.runtime simulated",
        ] {
            let output = user.shell(setup).output().unwrap();
            assert!(output.status.success(), "{setup}: {output:?}");
        }
        user
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// `bash -c text` in the repository, in the user's environment, in its own process group.
    fn shell(&self, text: &str) -> Command {
        self.command(&["bash", "-c", &text.replace(DEFAULT_ADDRESS, &self.address)])
    }

    /// [`User::shell`], killed if it outlasts [`COMMAND_LIMIT`].
    fn timed(&self, text: &str) -> Command {
        let text = text.replace(DEFAULT_ADDRESS, &self.address);
        self.command(&["timeout", COMMAND_LIMIT, "bash", "-c", &text])
    }

    fn command(&self, argv: &[&str]) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(argv[0]);
        command
            .args(&argv[1..])
            .current_dir(self.repo())
            .env_clear()
            .env("HOME", self.dir.path().join("home"))
            .env("PATH", &self.path)
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("CLAMBAKE_SERVE__ADDRESS", &self.address)
            .process_group(0);
        command
    }
}

fn run_block(user: &User, path: &str, block: &ConsoleBlock, background: &mut Background) {
    for command in &block.commands {
        let at = format!("{path}:{}: `{}`", command.line, command.text);
        match &block.mode {
            Mode::NoRun { why } => {
                let checked = Command::new("bash")
                    .args(["-n", "-c", &command.text])
                    .output()
                    .unwrap();
                assert!(
                    checked.status.success(),
                    "{at} (not run: {why}) is not shell syntax: {}",
                    String::from_utf8_lossy(&checked.stderr)
                );
            }
            Mode::Background => {
                // Its output goes to a file, so that a full pipe never blocks it.
                let log = user
                    .dir
                    .path()
                    .join(format!("background-{}.log", command.line));
                let file = std::fs::File::create(&log).unwrap();
                let child = user
                    .shell(&format!("exec {}", command.text))
                    .stdin(Stdio::null())
                    .stdout(file.try_clone().unwrap())
                    .stderr(file)
                    .spawn()
                    .unwrap();
                background.children.push(Started { at, child, log });
            }
            Mode::Run { exit } => {
                let output = user.timed(&command.text).output().unwrap();
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert_eq!(
                    output.status.code(),
                    Some(*exit),
                    "{at} exited {:?}, the runbook says {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                    output.status
                );
                let printed = format!("{stdout}{stderr}");
                for line in &command.shown {
                    assert!(
                        printed.contains(line.as_str()),
                        "{at}: the runbook shows `{line}`, which it did not print:\n{printed}"
                    );
                }
            }
        }
    }
}

/// The `background` commands of one runbook, stopped as a service manager stops them.
#[derive(Default)]
struct Background {
    children: Vec<Started>,
}

struct Started {
    /// Where the runbook shows it.
    at: String,
    child: Child,
    /// Its stdout and stderr.
    log: PathBuf,
}

impl Background {
    /// SIGTERM to each, latest first: each must stop by itself, and exit 0.
    fn stop_cleanly(&mut self, path: &str) {
        while let Some(Started { at, mut child, log }) = self.children.pop() {
            let group = Pid::from_raw(child.id() as i32);
            // Gone already (it failed to start), its status and log say why.
            let _ = killpg(group, Signal::SIGTERM);
            let status = child.wait().unwrap();
            assert!(
                status.success(),
                "{path}: {at} did not stop cleanly on SIGTERM: {status:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Background {
    /// A failed runbook leaves nothing running.
    fn drop(&mut self) {
        for started in &mut self.children {
            let _ = killpg(Pid::from_raw(started.child.id() as i32), Signal::SIGKILL);
            let _ = started.child.wait();
        }
    }
}

#[test]
fn the_example_unit_is_one_systemd_accepts_running_a_command_clambake_accepts() {
    let unit = read(UNIT);
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    let words = shlex::split(exec).expect("ExecStart is split into words");
    assert!(
        words[0].starts_with('/') && words[0].ends_with("/clambake"),
        "{exec}"
    );
    let user = User::new();
    let mut help = user.command(&[env!("CARGO_BIN_EXE_clambake")]);
    let parsed = help.args(&words[1..]).arg("--help").output().unwrap();
    assert!(parsed.status.success(), "{exec}: {parsed:?}");

    let installed = Command::new("systemd-analyze").arg("--version").output();
    if installed.is_ok_and(|o| o.status.success()) {
        // As installed: the binary where ExecStart says (verify wants it executable).
        let here = unit.replace(&words[0], env!("CARGO_BIN_EXE_clambake"));
        let file = user.dir.path().join("clambake.service");
        std::fs::write(&file, here).unwrap();
        let verified = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&file)
            .output()
            .unwrap();
        let complaints = String::from_utf8_lossy(&verified.stderr);
        assert!(
            verified.status.success() && complaints.trim().is_empty(),
            "systemd-analyze verify {UNIT}: {complaints}"
        );
    } else {
        let mut sections = BTreeSet::new();
        for line in unit.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.insert(section.to_owned());
            } else {
                assert!(line.contains('='), "{UNIT}: `{line}` is no key=value");
            }
        }
        assert!(
            ["Unit", "Service", "Install"]
                .iter()
                .all(|s| sections.contains(*s)),
            "{UNIT}: sections {sections:?}"
        );
    }
}

#[test]
fn every_runbook_is_run_and_linked_from_the_readme() {
    let readme = read("README.md");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            on_disk.insert(name);
        }
    }
    let listed: BTreeSet<String> = RUNBOOKS.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(on_disk, listed, "docs/ and RUNBOOKS differ");
    for name in RUNBOOKS {
        assert!(
            readme.contains(&format!("(docs/{name})")),
            "the README does not link docs/{name}"
        );
    }
}
