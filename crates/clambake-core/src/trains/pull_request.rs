//! What Clambake reads back from its own pull requests: the machine-readable record on the
//! last line of a bundle's body, which lets a later run rebuild the train's state from the forge
//! alone, and the marker of a train's lone-branch pull request. These are data: they are written
//! and read here, while the text around them comes from [`crate::forge_text::pull_requests`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::branches::name::parse_branch_name;
use crate::text::closing::closed_issues;
use crate::trains::plan::{BundlePlan, SetAsideReason};
use crate::trains::schedule;

/// Marks the body of the pull request a train opened for the only branch ready: later trains
/// plan on top of it while it is open. A fallback carries no marker: it was opened knowing that
/// it conflicts with its train's bundle or the base, so it cannot hold later trains back.
pub const LONE_MARKER: &str = "<!-- clambake:lone-branch -->";

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
    /// Waiting for its checks (`[checks] bundles`) before it is offered for review.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checking: bool,
    /// Members its checks' bisection took out, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taken_out: Vec<RecordedTakenOut>,
}

/// A member taken out of its bundle because its checks failed with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTakenOut {
    pub issue: u64,
    pub branch: String,
    /// Which check failed and how, and where its log is: the checks' text, quoted inertly
    /// wherever it is shown.
    pub why: String,
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
                    why: s.reason.describe_inert(),
                })
                .collect(),
            checking: false,
            taken_out: Vec::new(),
        }
    }

    pub fn member_issues(&self) -> Vec<u64> {
        self.members.iter().map(|m| m.issue).collect()
    }

    /// The record as the line that ends a bundle's body (see
    /// [`crate::forge_text::pull_requests::bundle`]): an HTML comment no reader sees, which
    /// [`read_record`] reads back.
    pub fn encoded(&self) -> String {
        let json = serde_json::to_string(self).expect("a bundle record serializes");
        // `<`, `>` and `#` only occur inside JSON strings, where `\u003c` means the same: this
        // keeps `-->` and any issue reference out of the comment.
        let json = json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('#', "\\u0023");
        format!("{RECORD_OPEN}{json}{RECORD_CLOSE}")
    }
}

/// Why a pull request body's bundle record cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("its body does not end with a bundle record")]
    Missing,
    #[error("its bundle record is unreadable: {0}")]
    Unreadable(String),
    #[error("its bundle record {0}")]
    Invalid(String),
}

/// The record at the end of a bundle pull request's body, where only Clambake writes it, checked
/// against the pull request (`head`) and the repository's `base` branch: it must name `head`
/// as its bundle branch, and only agent branches of its own issues.
pub fn read_record(body: &str, head: &str, base: &str) -> Result<BundleRecord, RecordError> {
    let record = parse_record(body)?;
    record.check(head, base)?;
    Ok(record)
}

fn parse_record(body: &str) -> Result<BundleRecord, RecordError> {
    let last = body.trim_end().rsplit('\n').next().unwrap_or_default();
    let json = last
        .strip_prefix(RECORD_OPEN)
        .and_then(|rest| rest.strip_suffix(RECORD_CLOSE))
        .ok_or(RecordError::Missing)?;
    serde_json::from_str(json).map_err(|e| RecordError::Unreadable(e.to_string()))
}

impl BundleRecord {
    /// Refuses a record that names anything but `head` as its bundle branch, another base than
    /// `base`, or a branch that is not an agent branch of the issue beside it.
    pub fn check(&self, head: &str, base: &str) -> Result<(), RecordError> {
        let invalid = |why: String| Err(RecordError::Invalid(why));
        if self.branch != head || schedule::departure_of(head) != Some(self.departure) {
            return invalid(format!(
                "names `{}` departing {}, not the pull request's branch `{head}`",
                self.branch, self.departure
            ));
        }
        if self.base != base {
            return invalid(format!("names `{}` as its base, not `{base}`", self.base));
        }
        if self.members.is_empty() {
            return invalid("has no members".to_owned());
        }
        for sha in [&self.base_tip, &self.tip] {
            if !is_object_id(sha) {
                return invalid(format!("holds `{sha}` where a commit id belongs"));
            }
        }
        let mut issues = Vec::new();
        let named = self
            .members
            .iter()
            .map(|m| (m.issue, &m.branch, Some(&m.head)))
            .chain(self.set_aside.iter().map(|s| (s.issue, &s.branch, None)));
        for (issue, branch, head) in named {
            if parse_branch_name(branch).is_none_or(|owner| owner.issue != issue) {
                return invalid(format!("names `{branch}`, not an agent branch of #{issue}"));
            }
            if head.is_some_and(|h| !is_object_id(h)) {
                return invalid(format!("holds a head for #{issue} that is no commit id"));
            }
            if issues.contains(&issue) {
                return invalid(format!("names #{issue} twice"));
            }
            issues.push(issue);
        }
        // A set-aside branch's reason is copied into its own pull request's body.
        for set_aside in &self.set_aside {
            if !closed_issues(&set_aside.why).is_empty() || set_aside.why.contains("<!--") {
                return invalid(format!(
                    "gives #{} a reason that closes issues or holds HTML",
                    set_aside.issue
                ));
            }
        }
        Ok(())
    }
}

/// A full SHA-1 or SHA-256 object id in lowercase hex.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a pull request body is that of a train's pull request for its only branch: the
/// marker must be the body's end, where Clambake put it, not somewhere text of others sits.
pub fn is_lone_branch(body: &str) -> bool {
    body.trim_end().ends_with(LONE_MARKER)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::trains::plan::{Candidate, ConflictsWith, Member, SetAside};

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

    /// A train of #4 and #7 leaving at 06:10, #9 set aside for a conflict with #4.
    pub(crate) fn sample() -> (BundleRecord, BundlePlan) {
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

    /// A body as a bundle's: text of others above, the record on its last line.
    fn body(record: &BundleRecord) -> String {
        format!("A train.\n\nCloses #4\n\n{}\n", record.encoded())
    }

    #[test]
    fn a_record_names_its_branch_tip_and_reasons() {
        let (record, _) = sample();
        assert_eq!(record.tip, "t7");
        assert_eq!(record.branch, "clambake/bundle-20261121T0610Z");
        assert_eq!(record.member_issues(), vec![4, 7]);
        assert_eq!(
            record.set_aside[0].why,
            "conflicts with #4 (`agent001/4-x`) in `src/a.rs`"
        );
    }

    fn valid() -> BundleRecord {
        let (mut record, _) = sample();
        record.tip = "a".repeat(40);
        for member in &mut record.members {
            member.branch = format!("agent002/{}-work", member.issue);
        }
        record
    }

    #[test]
    fn a_record_names_only_its_bundle_branch_and_its_members_agent_branches() {
        let head = "clambake/bundle-20261121T0610Z";
        assert_eq!(valid().check(head, "main"), Ok(()));
        assert_eq!(read_record(&body(&valid()), head, "main"), Ok(valid()));
        type Spoil = fn(&mut BundleRecord);
        let refused: [(&str, Spoil); 9] = [
            ("the base as member", |r| {
                r.members[0].branch = "main".into()
            }),
            ("another issue's branch", |r| {
                r.members[0].branch = "agent001/7-x".into()
            }),
            ("a person's branch", |r| {
                r.set_aside[0].branch = "feature/9-x".into()
            }),
            ("another bundle branch", |r| {
                r.branch = "clambake/bundle-20261121T0611Z".into()
            }),
            ("another base", |r| r.base = "release".into()),
            ("a bad head", |r| r.members[1].head = "HEAD~1".into()),
            ("a repeated issue", |r| r.members[1] = r.members[0].clone()),
            ("a reason that closes", |r| {
                r.set_aside[0].why = "fixes #2".into()
            }),
            ("a reason with HTML", |r| {
                r.set_aside[0].why = "<!-- x".into()
            }),
        ];
        for (what, spoil) in refused {
            let mut record = valid();
            spoil(&mut record);
            assert!(
                matches!(record.check(head, "main"), Err(RecordError::Invalid(_))),
                "{what}"
            );
        }
        assert!(
            valid()
                .check("clambake/bundle-20261121T0611Z", "main")
                .is_err()
        );
    }

    #[test]
    fn the_record_round_trips_through_the_body() {
        let (mut record, _) = sample();
        record.members[0].branch = "weird-->branch <#4>".to_owned();
        let body = body(&record);
        let block = &body[body.find(RECORD_OPEN).unwrap()..];
        assert_eq!(block.matches("-->").count(), 1, "{block}");
        assert!(!block.contains('#') && !block[4..].contains('<'), "{block}");
        assert_eq!(parse_record(&body), Ok(record));
        assert_eq!(parse_record("no record here"), Err(RecordError::Missing));
        assert!(matches!(
            parse_record("<!-- clambake:bundle {not json} -->"),
            Err(RecordError::Unreadable(_))
        ));
    }

    #[test]
    fn only_a_record_on_the_last_line_counts() {
        let (record, _) = sample();
        let forged = r#"<!-- clambake:bundle {"branch":"main"} -->"#;
        let mut with_forgery_last = body(&record);
        with_forgery_last.push_str(forged);
        assert!(parse_record(&with_forgery_last).is_err());
        let with_forgery_above = format!("{forged}\n{}", body(&record));
        assert_eq!(parse_record(&with_forgery_above), Ok(record));
    }

    #[test]
    fn only_a_marker_at_the_end_is_a_lone_branchs() {
        assert!(is_lone_branch(&format!("Closes #3\n\n{LONE_MARKER}\n")));
        assert!(!is_lone_branch("Closes #9\n\nWritten by hand."));
        assert!(
            !is_lone_branch(&format!("Closes #9\n\n{LONE_MARKER} in x\n")),
            "a marker in the middle is not Clambake's"
        );
    }
}
