//! `clambake init --backend github` and `doctor`, the real binary against the GitHub fake: the
//! label set is created with no request GitHub's description forbids, a wrong token fails
//! with what to do, the token is looked for as `gh` does (GH_TOKEN, GITHUB_TOKEN, `gh auth
//! token`), and no git process clambake starts carries it in its arguments. The repository is
//! the shared harness's ([`TestRepo::on_github_with`]); only the recording PATH is this file's.

use std::path::{Path, PathBuf};
use std::process::Command;

use clambake::core::queue::labels::label_set;
use clambake_github_fake::{FakeGithub, Faults, Options};
use tempfile::TempDir;

use crate::github_support::GithubOrigin;
use crate::support::{CliOutput, TestRepo, write_script};

/// A repository on the GitHub fake ([`TestRepo::on_github_with`], not initialised), and a PATH
/// that holds only a `git` that records its arguments (and a `gh`, where a test writes one).
struct Github {
    repo: TestRepo,
    tools: TempDir,
}

impl Github {
    fn start() -> Self {
        Self::start_as("OWNER")
    }

    /// A fake whose token user is `association` of the repository.
    fn start_as(association: &str) -> Self {
        Self::start_with(|options| options.association = association.to_owned())
    }

    /// A fake with `adjust`ed options.
    fn start_with(adjust: impl FnOnce(&mut Options)) -> Self {
        let repo = TestRepo::on_github_with(|bare| {
            let mut options = Options::new(bare);
            adjust(&mut options);
            options
        });
        let tools = tempfile::tempdir().unwrap();
        let git = real_git();
        let log = tools.path().join("git-argv.log");
        std::fs::create_dir_all(tools.path().join("bin")).unwrap();
        write_script(
            &tools.path().join("bin"),
            "git",
            &format!(
                "printf '%s\\n' \"$*\" >> '{log}'\n\
                 printf 'key0=%s\\n' \"$GIT_CONFIG_KEY_0\" >> '{log}.env'\n\
                 exec '{}' \"$@\"\n",
                git.display(),
                log = log.display(),
            ),
        );
        Self { repo, tools }
    }

    fn origin(&self) -> &GithubOrigin {
        self.repo.github().expect("on the GitHub backend")
    }

    fn fake(&self) -> &FakeGithub {
        &self.origin().fake
    }

    fn bin(&self) -> PathBuf {
        self.tools.path().join("bin")
    }

    /// `init --backend github --agents 2` naming the fake's repository and API.
    fn init_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["init", "--agents", "2"].map(str::to_owned).to_vec();
        args.extend(self.origin().init_args());
        args
    }

    /// Creates an issue titled `slug` in `route:review`; returns the branch its work is on.
    async fn issue_in_review(&self, slug: &str, env: &[(&str, &str)]) -> String {
        let args = [
            "issue",
            "create",
            "--title",
            slug,
            "--label",
            "route:review",
            "--json",
        ];
        let created = self
            .clambake(args.map(str::to_owned).to_vec(), env)
            .await
            .success()
            .json();
        format!("agent001/{}-{slug}", created["number"])
    }

    /// Runs clambake with only `env` of the token variables and the recording `git` on PATH,
    /// off the runtime the fake answers on.
    async fn clambake(&self, args: Vec<String>, env: &[(&str, &str)]) -> CliOutput {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clambake"));
        command
            .current_dir(self.repo.path())
            .args(&args)
            .env("NO_COLOR", "1")
            .env("PATH", self.bin())
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
        CliOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fake().labels().into_iter().map(|l| l.name).collect();
        names.sort();
        names
    }

    /// Every argument line of every git process clambake started.
    fn git_argv(&self) -> String {
        std::fs::read_to_string(self.tools.path().join("git-argv.log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_train_pushes_its_bundle_to_origin_with_the_token_in_no_argument() {
    let github = Github::start();
    let token = github.fake().token();
    let env = [("GH_TOKEN", token.as_str())];
    github.clambake(github.init_args(), &env).await.success();
    let mut branches = Vec::new();
    for slug in ["one", "two"] {
        let branch = github.issue_in_review(slug, &env).await;
        github
            .repo
            .branch_with_file(&branch, "main", &format!("{slug}.txt"), "work\n");
        branches.push(branch);
    }

    let train = github
        .clambake(
            ["bundle", "--force", "--json"].map(str::to_owned).to_vec(),
            &env,
        )
        .await
        .success()
        .json();
    let bundle = &train["bundles"][0];
    let head = bundle["head"].as_str().expect("a bundle departed");
    let pulls = github.fake().pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(
        pulls[0].pull.as_ref().unwrap().head_ref,
        head,
        "the bundle's pull request is on GitHub"
    );
    let bare = github.origin().bare();
    let pushed = github.repo.git(&[
        "--git-dir",
        bare.to_str().unwrap(),
        "rev-parse",
        &format!("refs/heads/{head}"),
    ]);
    assert_eq!(
        pushed,
        github
            .repo
            .git(&["rev-parse", &format!("refs/remotes/origin/{head}")])
    );

    let argv = github.git_argv();
    assert!(
        argv.lines().any(|line| line.contains(" push --porcelain ")),
        "{argv}"
    );
    assert!(
        argv.lines().any(|line| line.contains(" fetch --prune ")),
        "{argv}"
    );
    assert!(!argv.contains(&token), "{argv}");
    // The token went to git through its environment, for the API's host only.
    let env_log = std::fs::read_to_string(github.tools.path().join("git-argv.log.env")).unwrap();
    let host = github.fake().api_url().replace("http://", "");
    assert!(
        env_log.contains(&format!("key0=http.https://{host}/.extraheader")),
        "{env_log}"
    );
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_with_a_pull_request_of_its_own_is_pushed_to_origin_first() {
    let github = Github::start();
    let token = github.fake().token();
    let env = [("GH_TOKEN", token.as_str())];
    github.clambake(github.init_args(), &env).await.success();
    let mut tips = Vec::new();
    for slug in ["one", "two"] {
        let branch = github.issue_in_review(slug, &env).await;
        // Both write the same file: they conflict, and neither rides in a bundle.
        let tip = github
            .repo
            .branch_with_file(&branch, "main", "shared.txt", &format!("{slug}\n"));
        tips.push((branch, tip));
    }
    github
        .clambake(
            ["bundle", "--force", "--json"].map(str::to_owned).to_vec(),
            &env,
        )
        .await
        .success();
    let bare = github.origin().bare();
    let own: Vec<String> = github
        .fake()
        .pulls()
        .into_iter()
        .map(|pr| pr.pull.unwrap().head_ref)
        .filter(|head| head.starts_with("agent001/"))
        .collect();
    assert_eq!(own.len(), 2, "each rides alone: {own:?}");
    for (branch, tip) in &tips {
        let pushed = github.repo.git(&[
            "--git-dir",
            bare.to_str().unwrap(),
            "rev-parse",
            &format!("refs/heads/{branch}"),
        ]);
        assert_eq!(&pushed, tip, "{branch}");
    }
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

/// The git this test runs, found on the test's own PATH.
fn real_git() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("git"))
        .find(|path| path.is_file())
        .expect("git on PATH")
}

fn expected_labels() -> Vec<String> {
    let mut names: Vec<String> = label_set(2).into_iter().map(|l| l.name).collect();
    names.sort();
    names
}

fn config_of(repo: &Path) -> String {
    std::fs::read_to_string(repo.join("clambake.toml")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_creates_the_label_set_on_github_with_no_violation() {
    let github = Github::start();
    let token = github.fake().token();
    let mut args = github.init_args();
    args.push("--json".to_owned());
    let output = github
        .clambake(args, &[("GH_TOKEN", token.as_str())])
        .await
        .success();
    let report = output.json();
    assert_eq!(report["github"]["login"], "clambake", "{report}");
    assert_eq!(report["github"]["token_source"], "GH_TOKEN", "{report}");
    assert_eq!(github.label_names(), expected_labels());
    assert_eq!(github.fake().violations(), Vec::<String>::new());

    let config = config_of(github.repo.path());
    for line in [
        "backend = \"github\"",
        "owner = \"clambake\"",
        "repo = \"demo\"",
        &format!("api_url = \"{}\"", github.fake().api_url()),
    ] {
        assert!(config.contains(line), "{line}: {config}");
    }

    // Again: nothing changes.
    let again = github
        .clambake(github.init_args(), &[("GH_TOKEN", token.as_str())])
        .await
        .success();
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);

    // The commands that follow read the file: the forge is GitHub's.
    let doctor = github
        .clambake(vec!["doctor".into()], &[("GH_TOKEN", token.as_str())])
        .await;
    for line in [
        "token       from GH_TOKEN",
        "access      clambake on clambake/demo: admin",
        "forge       github forge reachable, 0 open issues",
        "rate limit",
        "labels      every route and agent label exists",
    ] {
        assert!(doctor.stdout.contains(line), "{line}: {}", doctor.stdout);
    }
    let all = format!("{}{}{}", output.stdout, output.stderr, doctor.stdout);
    assert!(!all.contains(&token), "{all}");
    assert!(!github.git_argv().contains(&token), "{}", github.git_argv());
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_fails_with_what_to_do_and_writes_nothing() {
    let github = Github::start();
    let before = config_of(github.repo.path());
    let output = github
        .clambake(
            github.init_args(),
            &[("GH_TOKEN", "ghp_not-the-fake-s-token")],
        )
        .await;
    assert_eq!(output.code, 6, "the forge refused: {}", output.stderr);
    assert!(
        output.stderr.contains("the forge refused the credentials"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("GH_TOKEN"), "{}", output.stderr);
    assert!(
        !output.stderr.contains("ghp_not-the-fake-s-token"),
        "{}",
        output.stderr
    );
    assert_eq!(
        config_of(github.repo.path()),
        before,
        "the configuration changed"
    );
    assert!(github.fake().labels().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_may_not_push_fails_saying_which_permission_is_missing() {
    let github = Github::start_as("NONE");
    let before = config_of(github.repo.path());
    let token = github.fake().token();
    let output = github
        .clambake(github.init_args(), &[("GH_TOKEN", token.as_str())])
        .await;
    assert_eq!(output.code, 6, "{}", output.stderr);
    assert!(
        output.stderr.contains(
            "clambake may not push to clambake/demo: the token has only the pull permission"
        ),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("push (write) permission"),
        "{}",
        output.stderr
    );
    assert_eq!(
        config_of(github.repo.path()),
        before,
        "the configuration changed"
    );
    assert!(github.fake().labels().is_empty());
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_looked_for_as_gh_does() {
    let github = Github::start();
    let token = github.fake().token();

    // GH_TOKEN first: a wrong one is not made up for by a right GITHUB_TOKEN.
    let output = github
        .clambake(
            github.init_args(),
            &[("GH_TOKEN", "ghp_wrong-wrong"), ("GITHUB_TOKEN", &token)],
        )
        .await;
    assert_eq!(output.code, 6, "{}", output.stderr);

    // Neither variable, and no `gh` on PATH: the three ways are named.
    let output = github.clambake(github.init_args(), &[]).await;
    assert_eq!(output.code, 5, "{}", output.stderr);
    for way in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "gh auth login",
        "`gh` is not on PATH",
    ] {
        assert!(output.stderr.contains(way), "{way}: {}", output.stderr);
    }

    // `gh auth token`, asked with no secret in its arguments.
    let gh_log = github.tools.path().join("gh-argv.log");
    write_script(
        &github.bin(),
        "gh",
        &format!(
            "printf '%s\\n' \"$*\" >> '{}'\necho {token}\n",
            gh_log.display()
        ),
    );
    let mut args = github.init_args();
    args.push("--json".to_owned());
    let output = github.clambake(args, &[]).await.success();
    assert_eq!(output.json()["github"]["token_source"], "gh auth token");
    let gh_argv = std::fs::read_to_string(&gh_log).unwrap();
    assert!(
        gh_argv.starts_with("auth token --hostname 127.0.0.1:"),
        "{gh_argv}"
    );

    // GITHUB_TOKEN before `gh` (whose token would now be refused).
    write_script(&github.bin(), "gh", "echo ghp_gh-s-stale-token\n");
    let mut args = github.init_args();
    args.push("--json".to_owned());
    let output = github
        .clambake(args, &[("GITHUB_TOKEN", &token)])
        .await
        .success();
    assert_eq!(output.json()["github"]["token_source"], "GITHUB_TOKEN");
    assert_eq!(github.label_names(), expected_labels());
    assert!(!github.git_argv().contains(&token), "{}", github.git_argv());
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installation_token_passes_init_and_doctor() {
    let github = Github::start_with(|options| {
        options.installation = true;
        // Shaped as GitHub's installation tokens are.
        options.token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a".to_owned();
        options.login = "clambake-app[bot]".to_owned();
        options.association = "MEMBER".to_owned();
    });
    let token = github.fake().token();
    let env = [("GITHUB_TOKEN", token.as_str())];
    let mut args = github.init_args();
    args.push("--json".to_owned());
    let report = github.clambake(args, &env).await.success().json();
    assert_eq!(
        report["github"]["login"], "an installation token",
        "{report}"
    );
    assert_eq!(report["github"]["permission"], "push", "{report}");
    assert_eq!(github.label_names(), expected_labels());
    let doctor = github.clambake(vec!["doctor".into()], &env).await;
    let access = "access      an installation token on clambake/demo: push, triage, pull";
    assert!(doctor.stdout.contains(access), "{}", doctor.stdout);
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}

/// Faults that lose a share `rate` of answers and fail as many with 502s, drawn from `seed`.
fn lossy(seed: u64, rate: f64) -> Faults {
    Faults {
        seed,
        lost_answer_rate: rate,
        server_error_rate: rate,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn under_lost_answers_and_502s_init_makes_each_label_once_and_issue_create_one_issue() {
    let github = Github::start();
    github
        .repo
        .write("clambake.toml", "[github]\nmutation_interval_ms = 0\n");
    let token = github.fake().token();
    let env = [("GH_TOKEN", token.as_str())];
    github.fake().set_faults(lossy(1, 0.15));
    // A run the faults defeat says so; run again, as a person would.
    for run in 1.. {
        let output = github.clambake(github.init_args(), &env).await;
        if output.code == 0 {
            break;
        }
        assert!(run < 6, "init never got through: {}", output.stderr);
    }
    github.fake().set_faults(Faults::default());
    assert_eq!(github.label_names(), expected_labels());
    let requests = github.fake().requests();
    assert!(requests.iter().any(|r| r.lost), "answers were lost");
    assert!(requests.iter().any(|r| r.status == 502), "502s were met");
    let creates: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/repos/clambake/demo/labels"))
        .map(|r| (r.status, r.lost))
        .collect();
    let made = creates.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(
        made,
        expected_labels().len(),
        "each label made once: {creates:?}"
    );

    let mut lost_creates = 0;
    for seed in 0..12 {
        let title = format!("Faulty {seed}");
        let start = github.fake().requests().len();
        github.fake().set_faults(lossy(seed, 0.3));
        let args = ["issue", "create", "--title", &title, "--json"];
        let output = github
            .clambake(args.map(str::to_owned).to_vec(), &env)
            .await;
        github.fake().set_faults(Faults::default());
        let made: Vec<u64> = github
            .fake()
            .issues()
            .into_iter()
            .filter(|issue| issue.title == title)
            .map(|issue| issue.number)
            .collect();
        lost_creates += github.fake().requests()[start..]
            .iter()
            .filter(|r| r.method == "POST" && r.lost)
            .count();
        if output.code == 0 {
            assert_eq!(made, [output.json()["number"].as_u64().unwrap()], "{seed}");
        } else {
            assert!(made.len() <= 1, "{seed}: {made:?} {}", output.stderr);
        }
    }
    assert!(lost_creates > 0, "some create's answer was lost");
    assert_eq!(github.fake().violations(), Vec::<String>::new());
}
