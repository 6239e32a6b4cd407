//! A bundle's record is believed only as Clambake wrote it: a body edited by someone else, even
//! into a record that passes every check, does not steer the train's clean-up.

use rstest::rstest;

use crate::backend::Backend;
use crate::bundle_cli::{five_landed, numbers};
use crate::support::TestRepo;

const RECORD_OPEN: &str = "<!-- clambake:bundle ";
const RECORD_CLOSE: &str = " -->";

/// Someone edits the record at the end of the first bundle's body so that member #1 names
/// `agent009/1-other`, a branch with work nowhere else; the bundle is then merged. The run
/// after that must clean up the real member and leave the other branch alone.
fn merged_with_an_edited_record(repo: &TestRepo) {
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    let other = repo.branch_with_file("agent009/1-other", "main", "other.txt", "unmerged\n");
    let number = train["bundles"][0]["number"].as_u64().unwrap();
    let pr = repo
        .pull_requests()
        .into_iter()
        .find(|pr| pr["number"] == number)
        .unwrap();
    let body = pr["body"].as_str().unwrap();
    let last = body.trim_end().lines().last().unwrap();
    let json = &last[RECORD_OPEN.len()..last.len() - RECORD_CLOSE.len()];
    let mut record: serde_json::Value = serde_json::from_str(json).unwrap();
    let member = record["members"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["issue"] == 1)
        .unwrap();
    member["branch"] = "agent009/1-other".into();
    member["head"] = other.clone().into();
    let edited = body.replace(last, &format!("{RECORD_OPEN}{record}{RECORD_CLOSE}"));
    edit_body(repo, number, &edited);

    repo.clambake(&["pr", "merge", &number.to_string()])
        .success();
    repo.clambake(&["bundle", "--json"]).success();
    assert_eq!(
        repo.forge_tip("agent009/1-other"),
        Some(other),
        "a branch the edited record named was deleted"
    );
    assert_eq!(
        repo.forge_tip("agent001/1-one"),
        None,
        "the member Clambake bundled was not cleaned up"
    );
}

/// Replaces pull request `number`'s body with `body`, as someone editing it on the forge does:
/// in the local forge's database, or with GitHub's API.
fn edit_body(repo: &TestRepo, number: u64, body: &str) {
    match repo.github() {
        None => {
            let db = rusqlite::Connection::open(repo.path().join(".clambake/forge.db")).unwrap();
            db.execute(
                "UPDATE pull_requests SET body = ?1 WHERE number = ?2",
                rusqlite::params![body, number],
            )
            .unwrap();
        }
        Some(github) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = octocrab::Octocrab::builder()
                    .base_uri(github.fake.api_url())
                    .unwrap()
                    .personal_token(github.token().to_owned())
                    .build()
                    .unwrap();
                client
                    .pulls("clambake", "demo")
                    .update(number)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
            });
        }
    }
}

#[rstest]
fn a_bundle_body_edited_by_someone_else_is_not_believed(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    merged_with_an_edited_record(&five_landed(backend));
}

/// `[state_machine] enabled = false` (what `clambake rollback` sets) keeps the check of bundle
/// records against the train log.
#[rstest]
fn with_the_state_machine_off_an_edited_bundle_body_is_still_not_believed(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = five_landed(backend);
    repo.clambake(&["config", "set", "state_machine.enabled", "false"])
        .success();
    repo.commit_all("the state machine rolled back");
    merged_with_an_edited_record(&repo);
}

#[rstest]
fn a_persons_pull_request_ending_in_the_lone_branch_marker_holds_no_train_back(
    #[values(Backend::Local, Backend::Github)] backend: Backend,
) {
    let repo = TestRepo::on(backend);
    repo.init(&[]).success();
    repo.write("shared.txt", "base\n");
    repo.commit_all("a file to fight over");
    repo.publish("main");
    repo.branch_with_file("feature/mine", "main", "shared.txt", "mine\n");
    repo.clambake(&[
        "pr",
        "create",
        "--head",
        "feature/mine",
        "--title",
        "Mine",
        "--body",
        "Please merge.\n\n<!-- clambake:lone-branch -->",
    ])
    .success();
    for (title, branch, file) in [
        ("One", "agent001/2-one", "shared.txt"),
        ("Two", "agent002/3-two", "two.txt"),
    ] {
        repo.clambake(&[
            "issue",
            "create",
            "--title",
            title,
            "--label",
            "route:review",
        ])
        .success();
        repo.branch_with_file(branch, "main", file, "agent\n");
    }
    let dry = repo
        .clambake(&["bundle", "--force", "--dry-run", "--json"])
        .success()
        .json();
    assert!(dry["pending"].as_array().unwrap().is_empty(), "{dry}");
    assert_eq!(
        numbers(
            &dry["plan"]["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["candidate"]["issue"].clone())
                .collect()
        ),
        vec![2, 3]
    );
}

/// A person edits a bundle's body on github.com (a note on top), and the web editor sends it
/// with CRLF line ends: the key its create carried is still taken off, so the record is still
/// the body's last line and the train still trusts the bundle.
#[test]
fn a_bundle_body_edited_on_the_web_with_crlf_line_ends_keeps_its_record() {
    let repo = five_landed(Backend::Github);
    let train = repo.clambake(&["bundle", "--json"]).success().json();
    let number = train["bundles"][0]["number"].as_u64().unwrap();
    let github = repo.github().unwrap();
    let held = github
        .fake
        .pulls()
        .into_iter()
        .find(|p| p.number == number)
        .and_then(|p| p.body)
        .unwrap();
    assert!(held.contains("<!-- clambake-create "), "{held}");
    let web = format!("Merge after Friday.\r\n\r\n{}", held.replace('\n', "\r\n"));
    edit_body(&repo, number, &web);
    let pr = repo
        .pull_requests()
        .into_iter()
        .find(|pr| pr["number"] == number)
        .unwrap();
    let body = pr["body"].as_str().unwrap();
    assert!(!body.contains("clambake-create"), "{body}");
    let head = pr["head"].as_str().unwrap();
    let read = clambake::core::trains::pull_request::read_record(body, head, "main");
    assert!(read.is_ok(), "{read:?}");
}
