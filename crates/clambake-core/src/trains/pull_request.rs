//! The text of bundle and fallback pull requests, and the machine-readable record inside a
//! bundle's body that lets a later run rebuild the train's state from the forge alone.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::branches::name::parse_branch_name;
use crate::text::closing::closed_issues;
use crate::trains::plan::{BundlePlan, SetAsideReason};
use crate::{text::inert, trains::schedule};

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
                    why: s.reason.describe_inert(),
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

/// The bundle's body: a member list, one `Closes #N` per member, the set-aside branches and
/// why, and, on its last line, the machine-readable record. Titles are code spans (see
/// [`inert`]), so no closing keyword, reference or HTML in one is read by a forge.
pub fn bundle_body(record: &BundleRecord, plan: &BundlePlan) -> String {
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
    for member in &record.members {
        body.push_str(&format!("Closes #{}\n", member.issue));
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
    body.push_str(&render_record(record));
    body.push('\n');
    body
}

fn render_record(record: &BundleRecord) -> String {
    let json = serde_json::to_string(record).expect("a bundle record serializes");
    // `<`, `>` and `#` only occur inside JSON strings, where `\u003c` means the same: this
    // keeps `-->` and any issue reference out of the comment.
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('#', "\\u0023");
    format!("{RECORD_OPEN}{json}{RECORD_CLOSE}")
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

/// Why a train's last branch, with no other to bundle it with, rides in a pull request of its
/// own: the only one ready, or the one left over when the departure's bundles were full.
pub const RIDES_ALONE: &str =
    "it was the only branch left waiting, with none to share a bundle with";

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

/// The title of a branch's own pull request: ``#12: `Fix the parser` ``, the issue's title a
/// code span (see [`inert`]).
pub fn individual_title(issue: u64, title: &str) -> String {
    format!("#{issue}: {}", inert::code_span(title))
}

/// The body of a branch's own pull request; `why` says why it is not in the bundle (see
/// [`SetAsideReason::describe_inert`]), `None` when it rides alone ([`RIDES_ALONE`]).
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

/// Whether a pull request body is that of a train's pull request for its only branch: the
/// marker must be the body's end, where Clambake put it, not somewhere text of others sits.
pub fn is_lone_branch(body: &str) -> bool {
    body.trim_end().ends_with(LONE_MARKER)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(crate::text::closing::closed_issues(&body), vec![4, 7]);
        assert!(body.contains("- #4 `Parse | pipes` on `agent001/4-x` at `400000000000`"));
        assert!(
            body.contains("- #9 `agent001/9-x`: conflicts with #4 (`agent001/4-x`) in `src/a.rs`")
        );
        assert_eq!(record.tip, "t7");
        assert_eq!(record.branch, "clambake/bundle-20261121T0610Z");
    }

    #[test]
    fn titles_and_paths_close_nothing_and_cannot_forge_the_record() {
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
        let body = bundle_body(&record, &plan);
        assert_eq!(
            crate::text::closing::closed_issues(&body),
            vec![4, 7],
            "{body}"
        );
        assert_eq!(parse_record(&body), Ok(record.clone()));
        let mut with_forgery_last = body.clone();
        with_forgery_last.push_str(forged);
        assert!(parse_record(&with_forgery_last).is_err());
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
        let body = bundle_body(&valid(), &sample().1);
        assert_eq!(read_record(&body, head, "main"), Ok(valid()));
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
        let (mut record, plan) = sample();
        record.members[0].branch = "weird-->branch <#4>".to_owned();
        let body = bundle_body(&record, &plan);
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
    fn individual_pull_requests_close_their_issue_and_say_why() {
        let (_, plan) = sample();
        let body = individual_body(9, Some(&plan.set_aside[0].reason.describe_inert()));
        assert_eq!(crate::text::closing::closed_issues(&body), vec![9]);
        assert!(body.contains("conflicts with #4 (`agent001/4-x`) in `src/a.rs`"));
        assert!(body.contains("clambake bundler"));
        assert!(individual_body(3, None).contains("only branch"));
        assert_eq!(individual_title(9, "Other"), "#9: `Other`");
        assert_eq!(
            individual_title(9, "Fixes #1\n`x`"),
            "#9: `` Fixes #1 `x` ``"
        );
    }

    #[test]
    fn a_lone_branchs_pull_request_is_told_from_fallbacks_and_others() {
        assert!(is_lone_branch(&individual_body(3, None)));
        assert!(!is_lone_branch(&individual_body(9, Some("conflicts"))));
        assert!(!is_lone_branch("Closes #9\n\nWritten by hand."));
        let forged = individual_body(9, Some(&format!("{LONE_MARKER} in x")));
        assert!(
            !is_lone_branch(&forged),
            "a marker in the middle is not Clambake's"
        );
        let (record, plan) = sample();
        assert!(!is_lone_branch(&bundle_body(&record, &plan)));
    }
}
