//! The runner beside the fake itself: the Clambake step talks to the fake's API over real
//! HTTP and pushes to the fake's repository, as on GitHub it talks to GitHub.

use clambake_github_fake::runner_contract::Outcome;
use clambake_github_fake::{FakeGithub, Options};

use crate::support::{Bench, TOKEN, git};

const YAML: &str = r#"
on: workflow_dispatch
jobs:
  agent:
    steps:
      - uses: actions/checkout@v5
      - id: clambake
        env:
          GH_TOKEN: ${{ secrets.CLAMBAKE_TOKEN || github.token }}
          GIT_AUTHOR_NAME: github-actions[bot]
          GIT_AUTHOR_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
          GIT_COMMITTER_NAME: github-actions[bot]
          GIT_COMMITTER_EMAIL: 41898282+github-actions[bot]@users.noreply.github.com
        run: |
          curl --silent --show-error --fail --output /dev/null -X POST \
            -H "Authorization: Bearer $GH_TOKEN" -H "Accept: application/vnd.github+json" \
            -H "Content-Type: application/json" -d '{"title":"Filed from the runner"}' \
            "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues"
          git switch --quiet -c from-runner
          echo work > work.txt && git add work.txt && git commit --quiet -m work
          git push --quiet origin from-runner
"#;

#[tokio::test]
async fn the_clambake_step_uses_the_fake_as_its_api_and_pushes_to_its_repository() {
    let bench = Bench::new();
    let mut options = Options::new(&bench.bare);
    options.token = TOKEN.to_string();
    let fake = FakeGithub::start(options).await.unwrap();
    let mut spec = bench.spec(YAML, &[]);
    spec.api_url = fake.api_url();
    let (recorder, _control) = bench.start_spec(spec);
    assert_eq!(
        recorder.finished(),
        Outcome::Success,
        "{:#?}",
        recorder.events()
    );
    let titles: Vec<String> = fake.issues().into_iter().map(|issue| issue.title).collect();
    assert_eq!(titles, ["Filed from the runner"]);
    assert_eq!(fake.violations(), Vec::<String>::new());
    let pushed = git(
        &bench.work,
        &["ls-remote", "origin", "refs/heads/from-runner"],
    );
    assert!(
        !pushed.is_empty(),
        "the step pushed to the fake's repository"
    );
}
