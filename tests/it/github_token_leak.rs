//! The GitHub token leaks nowhere Clambake writes: a full run of the real binary against the
//! GitHub fake, with agents that hunt for the token and publish it, then every byte written is
//! searched for it (as it is, base64-encoded, as git's basic-auth header, URL-encoded): every
//! command's output, every file in the repository and `.clambake/`, every object on `origin`,
//! everything on the fake, and the command line of every git process Clambake starts.
//!
//! What Clambake cannot prevent is stated, not hidden: the agent runs as the user, so it can
//! ask `gh auth token` (or read its parent's `/proc/<pid>/environ`) itself. What it then prints
//! goes to its own log file under `.clambake/logs/` (the agent's stdout, which Clambake does
//! not rewrite, though everything Clambake quotes from it is redacted), and what it commits is
//! the agent's commit: the redactor rewrites text, never git objects, so that commit travels
//! to `origin` with the branch like any other work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use clambake_github_fake::{FakeGithub, Options};
use rand::RngExt;
use rand::distr::Alphanumeric;
use tempfile::TempDir;

use crate::support::{CliOutput, TestRepo, write_script};

/// Where an agent may leave the token it found: its own log, and its own commit's objects.
const AGENT_LOGS: &str = ".clambake/logs/";

/// A token shaped as GitHub's classic ones, seen nowhere else.
fn distinctive_token() -> String {
    let tail: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(36)
        .map(char::from)
        .collect();
    format!("ghp_{tail}")
}

/// Every form of `secret` that would give it away: as it is, URL-encoded, and base64-encoded
/// on its own, inside any longer text (each of the three alignments), and as git's basic-auth
/// header carries it.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), url_encoded(secret)];
    for engine in [STANDARD, URL_SAFE] {
        forms.push(engine.encode(format!("x-access-token:{secret}")));
        for shift in 0..3 {
            let encoded = engine.encode(format!("{}{secret}", "x".repeat(shift)));
            // The characters that mix in the neighbours' bits are left out at both ends.
            let start = (shift * 4).div_ceil(3);
            let end = (shift + secret.len()) * 4 / 3;
            forms.push(encoded[start..end].to_owned());
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// `text` as a URL encodes it, every byte outside the unreserved set percent-encoded (a token
/// of letters, digits and `_` is its own URL encoding: the form is checked all the same).
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The first form of any of `secrets` found in `bytes`.
fn leaked<'a>(bytes: &[u8], secrets: &'a [String]) -> Option<&'a str> {
    let text = String::from_utf8_lossy(bytes);
    secrets
        .iter()
        .find(|form| text.contains(form.as_str()))
        .map(String::as_str)
}

/// The fake; a clone whose origin it is; a PATH whose `git` records the command line of every
/// git process and whose `gh` answers `gh auth token` with the token; every command's output.
struct Run {
    fake: FakeGithub,
    repo: TestRepo,
    tools: TempDir,
    token: String,
    outputs: Vec<(String, CliOutput)>,
}

impl Run {
    async fn start() -> Self {
        let token = distinctive_token();
        let tools = tempfile::tempdir().unwrap();
        let options = Options {
            token: token.clone(),
            rate_limit: 1_000_000,
            ..Options::new(tools.path().join("origin.git"))
        };
        let fake = FakeGithub::start(options).await.unwrap();
        let repo = TestRepo::new();
        repo.git(&["remote", "add", "origin", &fake.origin_url()]);
        repo.git(&["push", "-q", "origin", "main"]);
        let bin = tools.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let git = real_git();
        let log = tools.path().join("git");
        // The shell's own /proc/<pid>/cmdline is git's argv but for argv[0]: it execs git.
        write_script(
            &bin,
            "git",
            &format!(
                "cat /proc/$$/cmdline >> '{log}.cmdline'\n\
                 printf '\\n' >> '{log}.cmdline'\n\
                 env | grep '^GIT_CONFIG_KEY_' >> '{log}.env'\n\
                 exec '{}' \"$@\"\n",
                git.display(),
                log = log.display(),
            ),
        );
        write_script(&bin, "gh", &format!("echo {token}\n"));
        Self {
            fake,
            repo,
            tools,
            token,
            outputs: Vec::new(),
        }
    }

    /// Runs clambake with `env` as its only token variables and the recording `git` first on
    /// PATH; keeps what it wrote.
    async fn clambake(&mut self, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
        let path = std::env::join_paths(
            std::iter::once(self.tools.path().join("bin"))
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
        command
            .current_dir(self.repo.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("PATH", path)
            .env_remove("GH_TOKEN")
            .env_remove("GITHUB_TOKEN");
        for (key, _) in std::env::vars() {
            if key.starts_with("CLAMBAKE_") || key.starts_with("GIT_CONFIG") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().copied());
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let output = CliOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.outputs.push((
            args.join(" "),
            CliOutput {
                code: output.code,
                stdout: output.stdout.clone(),
                stderr: output.stderr.clone(),
            },
        ));
        output
    }

    fn bare(&self) -> PathBuf {
        self.tools.path().join("origin.git")
    }

    /// The agent: prints its environment, looks for the token as any process of the user
    /// could (`gh auth token`, its parent's environment), then prints it, commits it in a file
    /// and in the message, and reports it as its result; on issue 3 it fails, quoting it in its error.
    fn configure_agent(&self) {
        let git = real_git();
        let agent = write_script(
            self.tools.path(),
            "agent",
            &format!(
                "echo 'my environment:'; env; env >&2\n\
                 token=$(gh auth token 2>/dev/null)\n\
                 [ -n \"$token\" ] || token=$(tr '\\0' '\\n' < /proc/$PPID/environ | \
                 sed -n 's/^GH_TOKEN=//p')\n\
                 echo \"the token I found: $token\"; echo \"the token: $token\" >&2\n\
                 header=$(printf 'x-access-token:%s' \"$token\" | base64 -w0)\n\
                 echo \"the header: $header\" >&2\n\
                 case $1 in\n\
                 3) echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\
                 \"num_turns\":1,\"result\":\"'\"I give up, here is $token\"'\"}}'; exit 1 ;;\n\
                 1) echo \"$token\" > found.txt; '{git}' add found.txt\n\
                    '{git}' commit -qm \"Work on #$1 with $token\" ;;\n\
                 *) echo work > work.txt; '{git}' add work.txt; '{git}' commit -qm \"Work on #$1\" ;;\n\
                 esac\n\
                 echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\
                 \"num_turns\":1,\"result\":\"'\"done with $token\"'\"}}'\n",
                git = git.display()
            ),
        );
        self.repo.configure(&[
            ("agents.runtime", "command".to_owned()),
            ("agents.command", format!("{} {{issue}}", agent.display())),
            ("agents.max_attempts", "1".to_owned()),
            ("bundling.trigger", "on_land".to_owned()),
        ]);
    }

    /// Every file under `dir` but git's object store, by path.
    fn files(dir: &Path, found: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.ends_with(".git/objects") {
                continue;
            }
            if path.is_dir() {
                Self::files(&path, found);
            } else {
                found.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }

    /// Every object of the repository at `git_dir` holding a form of a secret, with its type.
    fn objects_holding(&self, git_dir: &Path, secrets: &[String]) -> Vec<(String, String)> {
        let output = Command::new(real_git())
            .args(["--git-dir", git_dir.to_str().unwrap()])
            .args(["cat-file", "--batch-all-objects", "--batch-check"])
            .output()
            .unwrap();
        let mut holding = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut fields = line.split(' ');
            let (sha, kind) = (fields.next().unwrap(), fields.next().unwrap());
            let content = Command::new(real_git())
                .args([
                    "--git-dir",
                    git_dir.to_str().unwrap(),
                    "cat-file",
                    "-p",
                    sha,
                ])
                .output()
                .unwrap()
                .stdout;
            if leaked(&content, secrets).is_some() {
                holding.push((sha.to_owned(), kind.to_owned()));
            }
        }
        holding
    }
}

/// The git this test runs, found before the recording one is put first on PATH.
fn real_git() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("git"))
        .find(|path| path.is_file())
        .expect("git on PATH")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_appears_in_nothing_clambake_writes_nor_in_any_git_argv() {
    let mut run = Run::start().await;
    let token = run.token.clone();
    let wrong = distinctive_token();
    let api = run.fake.api_url();
    let with_gh_token = [("GH_TOKEN", token.as_str())];
    let with_github_token = [("GITHUB_TOKEN", token.as_str())];
    // No variable: `gh auth token` gives it.
    let with_gh_cli: [(&str, &str); 0] = [];

    let init = [
        "-vvv",
        "init",
        "--backend",
        "github",
        "--agents",
        "3",
        "--owner",
        "clambake",
        "--repo",
        "demo",
        "--api-url",
        &api,
        "--json",
    ];
    run.clambake(&init, &with_gh_token).await.success();
    run.configure_agent();
    for title in ["Leak it", "Honest work", "Leak and fail"] {
        run.clambake(
            &[
                "issue",
                "create",
                "--title",
                title,
                "--label",
                "route:ready",
            ],
            &with_github_token,
        )
        .await
        .success();
    }
    run.clambake(&["-vvv", "run", "--until-idle", "--json"], &with_gh_cli)
        .await
        .success();
    run.clambake(&["status", "--json"], &with_gh_token)
        .await
        .success();
    run.clambake(&["-vv", "doctor", "--json"], &with_gh_cli)
        .await;
    run.clambake(&["bundle", "--force", "--json"], &with_gh_token)
        .await
        .success();
    run.clambake(
        &["agent", "history", "--agent", "agent003", "--json"],
        &with_gh_token,
    )
    .await
    .success();
    run.clambake(&["issue", "show", "3", "--json"], &with_gh_cli)
        .await
        .success();

    let pulls = run.fake.pulls();
    assert_eq!(pulls.len(), 1, "one bundle of #1 and #2: {pulls:?}");
    let bundle = pulls[0].number.to_string();
    run.clambake(
        &["-vvv", "pr", "merge", &bundle, "--json"],
        &with_github_token,
    )
    .await
    .success();

    // A refused token: the error names neither it nor the right one.
    let refused = run
        .clambake(
            &["-vvv", "status", "--json"],
            &[("GH_TOKEN", wrong.as_str())],
        )
        .await;
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refused the credentials"),
        "{}",
        refused.stderr
    );

    let mut secrets = forms(&token);
    secrets.extend(forms(&wrong));

    // Every byte of every command's output.
    for (command, output) in &run.outputs {
        for stream in [&output.stdout, &output.stderr] {
            if let Some(form) = leaked(stream.as_bytes(), &secrets) {
                let lines: Vec<&str> = stream.lines().filter(|l| l.contains(form)).collect();
                panic!("`clambake {command}` wrote a form of the token: {lines:#?}");
            }
        }
    }

    // Agents inherit no token variable.
    let agent_output = std::fs::read_dir(run.repo.path().join(AGENT_LOGS))
        .unwrap()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect::<String>();
    assert!(agent_output.contains("my environment:"), "{agent_output}");
    // Yet they found it, as any process of the user can, and printed it.
    assert!(
        agent_output.contains(&format!("the token I found: {token}")),
        "{agent_output}"
    );
    for variable in ["GH_TOKEN=", "GITHUB_TOKEN=", "extraheader", "AUTHORIZATION"] {
        assert!(
            !agent_output.contains(variable),
            "{variable}: {agent_output}"
        );
    }

    // Every file in the repository and its state directory: only the agent's own log holds
    // what it printed.
    let mut files = BTreeMap::new();
    Run::files(run.repo.path(), &mut files);
    let sqlite = files
        .keys()
        .filter(|path| path.extension().is_some_and(|ext| ext == "db"))
        .count();
    assert!(
        sqlite >= 2,
        "the journal and registry were searched: {:?}",
        files.keys()
    );
    for (path, bytes) in &files {
        let relative = path.strip_prefix(run.repo.path()).unwrap();
        let agents_own = relative.starts_with(AGENT_LOGS)
            // git's reflog quotes the subject of the agent's commit.
            || relative.starts_with(".git/logs");
        if let Some(form) = leaked(bytes, &secrets) {
            let text = String::from_utf8_lossy(bytes);
            let at = text.find(form).unwrap();
            let around = text
                .get(at.saturating_sub(200)..at + form.len())
                .unwrap_or(form);
            assert!(agents_own, "{} holds {form}: {around}", relative.display());
        }
    }
    let reflogs: String = files
        .iter()
        .filter(|(path, _)| path.starts_with(run.repo.path().join(".git/logs")))
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    for line in reflogs.lines().filter(|line| line.contains(&token)) {
        assert!(
            line.ends_with(&format!("Work on #1 with {token}")),
            "only the agent's commit subject: {line}"
        );
    }

    // The objects on origin: only the agent's commit and the file it committed hold it.
    let agent_commit = run.repo.git(&[
        "log",
        "--all",
        "--format=%H",
        "--author=agent001@",
        &format!("--grep={token}"),
    ]);
    let agent_blob = run
        .repo
        .git(&["rev-parse", &format!("{agent_commit}:found.txt")]);
    for git_dir in [run.bare(), run.repo.path().join(".git")] {
        let holding = run.objects_holding(&git_dir, &secrets);
        let mut expected = vec![
            (agent_blob.clone(), "blob".to_owned()),
            (agent_commit.clone(), "commit".to_owned()),
        ];
        expected.sort();
        let mut holding = holding;
        holding.sort();
        assert_eq!(holding, expected, "in {}", git_dir.display());
    }

    // Everything on the fake: issues, pull requests, comments, labels and request paths.
    let state = format!(
        "{:?}{:?}{:?}{:?}",
        run.fake.issues(),
        run.fake.comments(),
        run.fake.labels(),
        run.fake.requests()
    );
    assert_eq!(leaked(state.as_bytes(), &secrets), None, "{state}");
    let failure = run
        .fake
        .comments()
        .into_iter()
        .filter(|comment| comment.issue == 3)
        .map(|comment| comment.body)
        .collect::<String>();
    assert!(
        failure.contains("the token: [redacted]"),
        "the failure comment quotes the agent's log, redacted: {failure}"
    );
    assert!(
        failure.contains("the header: [redacted]"),
        "git's credentials, the token in base64, are redacted too: {failure}"
    );

    // Every git process Clambake started: the token in no argument, yet git authenticated
    // (it pushed), with the header for the API's https host only.
    let cmdlines = std::fs::read(run.tools.path().join("git.cmdline")).unwrap();
    assert_eq!(leaked(&cmdlines, &secrets), None);
    let cmdlines = String::from_utf8_lossy(&cmdlines).replace('\0', " ");
    assert!(cmdlines.contains(" push --porcelain "), "{cmdlines}");
    let keys = std::fs::read_to_string(run.tools.path().join("git.env")).unwrap();
    let host = api.trim_start_matches("http://");
    for key in keys.lines().filter(|line| line.contains("extraheader")) {
        assert!(
            key.ends_with(&format!("=http.https://{host}/.extraheader")),
            "{key}"
        );
    }
    assert_eq!(run.fake.violations(), Vec::<String>::new());
}

#[test]
fn the_forms_searched_for_include_the_header_git_is_given() {
    let forms = forms("ghp_0123456789abcdefghij0123456789abcdef");
    let header = STANDARD.encode("x-access-token:ghp_0123456789abcdefghij0123456789abcdef");
    assert!(forms.contains(&header));
    // A base64 text holding the token anywhere contains one of the shifted forms.
    let embedded = STANDARD.encode("Authorization: ghp_0123456789abcdefghij0123456789abcdef!");
    assert!(forms.iter().any(|form| embedded.contains(form.as_str())));
    assert_eq!(url_encoded("a b:c"), "a%20b%3Ac");
}
