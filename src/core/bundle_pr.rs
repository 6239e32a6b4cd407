//! The text of bundle and fallback pull requests, and the machine-readable record inside a
//! bundle's body that lets a later run rebuild the train's state from the forge alone.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::bundle_plan::{BundlePlan, SetAsideReason};
use super::schedule;

/// Marks the body of the pull request a train opened for the only branch ready: later trains
/// plan on top of it while it is open. A fallback carries no marker: it was opened knowing that
/// it conflicts with its train's bundle or the base, so it cannot hold later trains back.
const LONE_MARKER: &str = "<!-- clambake:lone-branch -->";

/// Opens the record: `<!-- clambake:bundle {json} -->`.
const RECORD_OPEN: &str = "<!-- clambake:bundle ";
const RECORD_CLOSE: &str = " -->";

/// What a bundle pull request carries, as written into its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    pub departure: Timestamp,
    pub branch: String,
    pub base: String,
    pub base_tip: String,
    pub tip: String,
    pub members: Vec<RecordedBranch>,
    pub set_aside: Vec<RecordedSetAside>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedBranch {
    pub issue: u64,
    pub branch: String,
    /// The branch's tip when it was bundled: if the branch moves, the bundle is rebuilt.
    pub head: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSetAside {
    pub issue: u64,
    pub branch: String,
    /// Set aside for a conflict (rather than a full bundle): it gets its own pull request
    /// under `individual_fallback`.
    pub conflict: bool,
    pub why: String,
}

impl BundleRecord {
    /// The record of `plan` leaving at `departure`, its bundle written with head `tip`.
    pub fn new(departure: Timestamp, base: &str, plan: &BundlePlan, tip: &str) -> Self {
        Self {
            departure,
            branch: schedule::bundle_branch(departure),
            base: base.to_owned(),
            base_tip: plan.base.clone(),
            tip: tip.to_owned(),
            members: plan
                .members
                .iter()
                .map(|m| RecordedBranch {
                    issue: m.candidate.issue,
                    branch: m.candidate.branch.clone(),
                    head: m.candidate.head.clone(),
                })
                .collect(),
            set_aside: plan
                .set_aside
                .iter()
                .map(|s| RecordedSetAside {
                    issue: s.candidate.issue,
                    branch: s.candidate.branch.clone(),
                    conflict: matches!(s.reason, SetAsideReason::Conflict { .. }),
                    why: s.reason.describe(),
                })
                .collect(),
        }
    }

    pub fn member_issues(&self) -> Vec<u64> {
        self.members.iter().map(|m| m.issue).collect()
    }
}

/// `Bundle 20261121T0610Z: 3 issues (#4, #7, #9)`
pub fn bundle_title(record: &BundleRecord) -> String {
    let issues: Vec<String> = record
        .members
        .iter()
        .map(|m| format!("#{}", m.issue))
        .collect();
    format!(
        "Bundle {}: {} issues ({})",
        schedule::stamp(record.departure),
        issues.len(),
        issues.join(", ")
    )
}

/// The bundle's body: a member table, one `Closes #N` per member, the set-aside branches and
/// why, and the machine-readable record.
pub fn bundle_body(record: &BundleRecord, plan: &BundlePlan) -> String {
    let mut body = format!(
        "A train of {} finished branches, merged onto `{}` at `{}`.\n\n\
         | Issue | Title | Branch | Head |\n|---|---|---|---|\n",
        record.members.len(),
        record.base,
        short(&record.base_tip)
    );
    for member in &plan.members {
        let c = &member.candidate;
        body.push_str(&format!(
            "| #{} | {} | `{}` | `{}` |\n",
            c.issue,
            table_cell(&c.title),
            c.branch,
            short(&c.head)
        ));
    }
    body.push('\n');
    for member in &record.members {
        body.push_str(&format!("Closes #{}\n", member.issue));
    }
    if !plan.set_aside.is_empty() {
        body.push_str("\n**Not in this train:**\n\n");
        for set_aside in &plan.set_aside {
            body.push_str(&format!(
                "- #{} `{}`: {}\n",
                set_aside.candidate.issue,
                set_aside.candidate.branch,
                set_aside.reason.describe()
            ));
        }
    }
    body.push('\n');
    body.push_str(&render_record(record));
    body.push('\n');
    body
}

fn render_record(record: &BundleRecord) -> String {
    let json = serde_json::to_string(record).expect("a bundle record serializes");
    // `>` only occurs inside JSON strings, where `\u003e` means the same; this keeps `-->` out.
    format!(
        "{RECORD_OPEN}{}{RECORD_CLOSE}",
        json.replace('>', "\\u003e")
    )
}

/// The record in a pull request body, if it has one.
pub fn parse_record(body: &str) -> Option<BundleRecord> {
    let start = body.find(RECORD_OPEN)? + RECORD_OPEN.len();
    let end = start + body[start..].find(RECORD_CLOSE)?;
    serde_json::from_str(&body[start..end]).ok()
}

/// Why a train's last branch, with no other to bundle it with, rides in a pull request of its
/// own: the only one ready, or the one left over when the departure's bundles were full.
pub const RIDES_ALONE: &str =
    "it was the only branch left waiting, with none to share a bundle with";

/// The title of a branch's own pull request: `#12: Fix the parser`.
pub fn individual_title(issue: u64, title: &str) -> String {
    format!("#{issue}: {title}")
}

/// The body of a branch's own pull request; `why` says why it is not in the bundle (see
/// [`SetAsideReason::describe`]), `None` when it rides alone ([`RIDES_ALONE`]).
pub fn individual_body(issue: u64, why: Option<&str>) -> String {
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
    body
}

/// Whether a pull request body is that of a train's pull request for its only branch.
pub fn is_lone_branch(body: &str) -> bool {
    body.contains(LONE_MARKER)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn table_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::bundle_plan::{Candidate, ConflictsWith, Member, SetAside};

    fn candidate(issue: u64, title: &str) -> Candidate {
        Candidate {
            issue,
            title: title.to_owned(),
            branch: format!("agent001/{issue}-x"),
            head: format!("{issue:0<40}"),
            priority: 2,
            landed_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn sample() -> (BundleRecord, BundlePlan) {
        let plan = BundlePlan {
            base: "b".repeat(40),
            members: vec![
                Member {
                    candidate: candidate(4, "Parse | pipes"),
                    tip: "t4".to_owned(),
                },
                Member {
                    candidate: candidate(7, "Tricky --> title"),
                    tip: "t7".to_owned(),
                },
            ],
            set_aside: vec![SetAside {
                candidate: candidate(9, "Other"),
                reason: SetAsideReason::Conflict {
                    paths: vec!["src/a.rs".to_owned()],
                    with: ConflictsWith::Member {
                        issue: 4,
                        branch: "agent001/4-x".to_owned(),
                    },
                },
            }],
        };
        let departure = "2026-11-21T06:10:00Z".parse().unwrap();
        (BundleRecord::new(departure, "main", &plan, "t7"), plan)
    }

    #[test]
    fn the_title_counts_and_lists_the_members() {
        let (record, _) = sample();
        assert_eq!(
            bundle_title(&record),
            "Bundle 20261121T0610Z: 2 issues (#4, #7)"
        );
    }

    #[test]
    fn the_body_closes_each_member_and_explains_the_rest() {
        let (record, plan) = sample();
        let body = bundle_body(&record, &plan);
        assert_eq!(crate::core::closing::closed_issues(&body), vec![4, 7]);
        assert!(body.contains("| #4 | Parse \\| pipes | `agent001/4-x` | `400000000000` |"));
        assert!(
            body.contains("- #9 `agent001/9-x`: conflicts with #4 (`agent001/4-x`) in src/a.rs")
        );
        assert_eq!(record.tip, "t7");
        assert_eq!(record.branch, "clambake/bundle-20261121T0610Z");
    }

    #[test]
    fn the_record_round_trips_through_the_body() {
        let (mut record, plan) = sample();
        record.members[0].branch = "weird-->branch".to_owned();
        let body = bundle_body(&record, &plan);
        let block = &body[body.find(RECORD_OPEN).unwrap()..];
        assert_eq!(block.matches("-->").count(), 1, "{block}");
        assert_eq!(parse_record(&body), Some(record));
        assert_eq!(parse_record("no record here"), None);
        assert_eq!(parse_record("<!-- clambake:bundle {not json} -->"), None);
    }

    #[test]
    fn individual_pull_requests_close_their_issue_and_say_why() {
        let (_, plan) = sample();
        let body = individual_body(9, Some(&plan.set_aside[0].reason.describe()));
        assert_eq!(crate::core::closing::closed_issues(&body), vec![9]);
        assert!(body.contains("conflicts with #4 (`agent001/4-x`) in src/a.rs"));
        assert!(body.contains("clambake bundler"));
        assert!(individual_body(3, None).contains("only branch"));
        assert_eq!(individual_title(9, "Other"), "#9: Other");
    }

    #[test]
    fn a_lone_branchs_pull_request_is_told_from_fallbacks_and_others() {
        assert!(is_lone_branch(&individual_body(3, None)));
        assert!(!is_lone_branch(&individual_body(9, Some("conflicts"))));
        assert!(!is_lone_branch("Closes #9\n\nWritten by hand."));
        let (record, plan) = sample();
        assert!(!is_lone_branch(&bundle_body(&record, &plan)));
    }
}
