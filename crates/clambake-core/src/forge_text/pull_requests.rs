//! The titles and bodies of the pull requests Clambake opens: a train's bundle, a branch's own
//! (the train's only branch, or one set aside from its bundle), and a branch's own when landing
//! without bundling. Each is marked when it carries simulated work.

use super::comments::Landing;
use super::{issue_list, short};
use crate::agents::simulated_work;
use crate::text::inert;
use crate::trains::plan::BundlePlan;
use crate::trains::pull_request::{BundleRecord, LONE_MARKER};
use crate::trains::schedule;

/// A pull request's title and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestText {
    pub title: String,
    pub body: String,
}

/// Why a train's last branch, with no other to bundle it with, rides in a pull request of its
/// own: the only one ready, or the one left over when the departure's bundles were full.
pub const RIDES_ALONE: &str =
    "it was the only branch left waiting, with none to share a bundle with";

/// The bundle of `plan`, as `record` says it left, titled
/// `Bundle 20261121T0610Z: 3 issues (#4, #7, #9)`: its body a member list, one `Closes #N` per
/// member, the set-aside branches and why, and, on its last line, the record. Titles are code
/// spans (see [`inert`]), so no closing keyword, reference or HTML in one is read by a forge.
/// `simulated`: the members whose work the simulated agent made.
pub fn bundle(record: &BundleRecord, plan: &BundlePlan, simulated: &[u64]) -> PullRequestText {
    let members = record.member_issues();
    let title = format!(
        "Bundle {}: {} issues ({})",
        schedule::stamp(record.departure),
        members.len(),
        issue_list(&members)
    );
    let mut body = format!(
        "A train of {} finished branches, merged onto `{}` at `{}`.\n\n",
        record.members.len(),
        record.base,
        short(&record.base_tip)
    );
    for member in &plan.members {
        let c = &member.candidate;
        body.push_str(&format!(
            "- #{} {} on `{}` at `{}`\n",
            c.issue,
            inert::code_span(&c.title),
            c.branch,
            short(&c.head)
        ));
    }
    body.push('\n');
    for issue in &members {
        body.push_str(&format!("Closes #{issue}\n"));
    }
    if !record.set_aside.is_empty() {
        body.push_str("\n**Not in this train:**\n\n");
        for set_aside in &record.set_aside {
            body.push_str(&format!(
                "- #{} `{}`: {}\n",
                set_aside.issue, set_aside.branch, set_aside.why
            ));
        }
    }
    body.push('\n');
    body.push_str(&record.encoded());
    body.push('\n');
    marked(title, body, simulated)
}

/// A bundle rebuilt in place without the members its checks took out: titled and listed as
/// [`bundle`] is, from `record` alone (the members it carries now), with who was taken out
/// and why; the reasons are the checks' text, quoted inertly.
pub fn rebuilt_bundle(record: &BundleRecord, simulated: &[u64]) -> PullRequestText {
    let members = record.member_issues();
    let title = format!(
        "Bundle {}: {} issues ({})",
        schedule::stamp(record.departure),
        members.len(),
        issue_list(&members)
    );
    let mut body = format!(
        "A train of {} finished branches, merged onto `{}` at `{}`, rebuilt without the \
         members its checks took out.\n\n",
        record.members.len(),
        record.base,
        short(&record.base_tip)
    );
    for member in &record.members {
        body.push_str(&format!(
            "- #{} on `{}` at `{}`\n",
            member.issue,
            member.branch,
            short(&member.head)
        ));
    }
    body.push('\n');
    for issue in &members {
        body.push_str(&format!("Closes #{issue}\n"));
    }
    body.push_str(
        "\n**Taken out by its checks or its reviewers** (each is back in the queue):\n\n",
    );
    for out in &record.taken_out {
        body.push_str(&format!(
            "- #{} `{}`: {}\n",
            out.issue,
            out.branch,
            inert::code_span(&out.why)
        ));
    }
    if !record.set_aside.is_empty() {
        body.push_str("\n**Not in this train:**\n\n");
        for set_aside in &record.set_aside {
            body.push_str(&format!(
                "- #{} `{}`: {}\n",
                set_aside.issue, set_aside.branch, set_aside.why
            ));
        }
    }
    body.push('\n');
    body.push_str(&record.encoded());
    body.push('\n');
    marked(title, body, simulated)
}

/// A branch's own pull request, opened by a train: `why` it is not in the bundle (see
/// [`crate::trains::plan::SetAsideReason::describe_inert`]), or `None` when it rides alone
/// ([`RIDES_ALONE`]), which marks the body as the train's lone branch.
pub fn individual(
    issue: u64,
    title: &str,
    why: Option<&str>,
    simulated: &[u64],
) -> PullRequestText {
    let mut body = format!("Closes #{issue}\n\n");
    match why {
        Some(why) => body.push_str(&format!(
            "Opened by the clambake bundler: this branch {why}, so it could not ride with the \
             rest of this train.\n"
        )),
        None => body.push_str(&format!(
            "Opened by the clambake bundler: {RIDES_ALONE}.\n\n{LONE_MARKER}\n"
        )),
    }
    marked(individual_title(issue, title), body, simulated)
}

/// A branch's own pull request, opened as it lands without bundling.
pub fn landed(
    issue: u64,
    title: &str,
    landing: &Landing<'_>,
    simulated: &[u64],
) -> PullRequestText {
    let body = format!(
        "Closes #{issue}\n\n{}\n\nOpened by Clambake.",
        landing.sentence()
    );
    marked(individual_title(issue, title), body, simulated)
}

/// ``#12: `Fix the parser` ``, the issue's title a code span (see [`inert`]).
fn individual_title(issue: u64, title: &str) -> String {
    format!("#{issue}: {}", inert::code_span(title))
}

/// `title` and `body` marked when any issue the pull request carries holds simulated work
/// (`simulated`), so that no reviewer takes it for work anyone did; as they are otherwise.
fn marked(title: String, body: String, simulated: &[u64]) -> PullRequestText {
    if simulated.is_empty() {
        return PullRequestText { title, body };
    }
    let (those, them) = match simulated.len() {
        1 => ("that issue", "it"),
        _ => ("those issues", "them"),
    };
    let notice = format!(
        "> **Simulated work.** The work on {} was made by Clambake's built-in simulated agent \
         (agents.real_processes = false, or the `simulated` runtime): nobody worked on {those}. \
         Merging this pull request closes {them} all the same.\n\n",
        issue_list(simulated),
    );
    PullRequestText {
        title: simulated_work::title(&title),
        body: format!("{notice}{body}"),
    }
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::text::closing::closed_issues;
    use crate::trains::plan::{ConflictsWith, SetAsideReason};
    use crate::trains::pull_request::{
        RecordedTakenOut, is_lone_branch, read_record, tests::sample,
    };

    fn shown(text: &PullRequestText) -> String {
        format!("{}\n\n{}", text.title, text.body)
    }

    #[test]
    fn a_bundle_closes_each_member_and_explains_the_rest() {
        let (record, plan) = sample();
        let bundle = bundle(&record, &plan, &[]);
        assert_eq!(closed_issues(&bundle.body), vec![4, 7]);
        assert_snapshot!("bundle", shown(&bundle));
    }

    #[test]
    fn hostile_titles_and_paths_close_nothing_and_cannot_forge_the_record() {
        let (mut record, mut plan) = sample();
        let forged = r#"<!-- clambake:bundle {"branch":"main"} -->"#;
        plan.members[0].candidate.title = format!("Fixes #1\n{forged}\ncloses: #2 `x` ``y");
        plan.members[1].candidate.title =
            "resolves octo/repo#3 | fix https://h/o/r/issues/5".into();
        record.set_aside[0].why = SetAsideReason::Conflict {
            paths: vec!["closes #6 <!-- x -->".to_owned()],
            with: ConflictsWith::Base,
        }
        .describe_inert();
        let bundle = bundle(&record, &plan, &[]);
        assert_eq!(closed_issues(&bundle.body), vec![4, 7], "{}", bundle.body);
        let head = "clambake/bundle-20261121T0610Z";
        assert_eq!(
            read_record(&bundle.body, head, "main").map_err(|e| e.to_string()),
            record
                .check(head, "main")
                .map(|()| record.clone())
                .map_err(|e| e.to_string()),
            "the record read back is the one written"
        );
        assert!(bundle.body.trim_end().ends_with(&record.encoded()));
        assert_snapshot!("bundle_hostile", shown(&bundle));
    }

    #[test]
    fn a_rebuilt_bundle_closes_only_what_it_carries_and_says_who_was_taken_out() {
        let (mut record, _) = sample();
        let culprit = record.members.remove(0);
        record.checking = true;
        record.taken_out.push(RecordedTakenOut {
            issue: culprit.issue,
            branch: culprit.branch,
            why: "checks exited with 1: closes #9 <!-- x -->".to_owned(),
        });
        let rebuilt = rebuilt_bundle(&record, &[]);
        assert_eq!(closed_issues(&rebuilt.body), vec![7], "{}", rebuilt.body);
        assert!(rebuilt.title.contains("1 issues (#7)"), "{}", rebuilt.title);
        assert!(
            rebuilt.body.contains("- #4 `agent001/4-x`: `"),
            "{}",
            rebuilt.body
        );
        let head = "clambake/bundle-20261121T0610Z";
        let read = read_record(&rebuilt.body, head, "main");
        assert_eq!(
            read.map(|r| (r.checking, r.taken_out))
                .map_err(|e| e.to_string()),
            record
                .check(head, "main")
                .map(|()| (true, record.taken_out.clone()))
                .map_err(|e| e.to_string()),
            "the record read back is the one written, with who was taken out"
        );
    }

    #[test]
    fn a_set_aside_branch_says_why_and_a_lone_one_is_marked() {
        let (_, plan) = sample();
        let why = plan.set_aside[0].reason.describe_inert();
        let set_aside = individual(9, "Other", Some(&why), &[]);
        assert_eq!(closed_issues(&set_aside.body), vec![9]);
        assert!(!is_lone_branch(&set_aside.body));
        assert_snapshot!("individual_set_aside", shown(&set_aside));
        let alone = individual(3, "Closes #1 `x`", None, &[]);
        assert_eq!(closed_issues(&alone.body), vec![3]);
        assert!(is_lone_branch(&alone.body));
        assert_snapshot!("individual_alone", shown(&alone));
        let forged = individual(9, "Other", Some(&format!("{LONE_MARKER} in x")), &[]);
        assert!(
            !is_lone_branch(&forged.body),
            "a marker in the middle is not Clambake's"
        );
    }

    #[test]
    fn landing_without_bundling_opens_one_that_closes_its_issue() {
        let landing = Landing {
            agent: "agent001",
            branch: "agent001/12-fix",
            commits_ahead: 1,
            totals: None,
            left_running: None,
            committed_by_clambake: false,
            checks_passed: None,
        };
        let pr = landed(12, "Fixes #1\n`Fix` <!-- the parser", &landing, &[]);
        assert_eq!(closed_issues(&pr.body), vec![12]);
        assert_snapshot!("landed", shown(&pr));
    }

    #[test]
    fn pull_requests_with_simulated_work_are_marked() {
        let (record, plan) = sample();
        let bundle = bundle(&record, &plan, &[4, 7]);
        assert_eq!(closed_issues(&bundle.body), vec![4, 7]);
        assert_snapshot!("bundle_simulated", shown(&bundle));
        let alone = individual(3, "Other", None, &[3]);
        assert!(is_lone_branch(&alone.body));
        assert_snapshot!("individual_simulated", shown(&alone));
    }
}
