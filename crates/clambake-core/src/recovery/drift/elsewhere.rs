//! Issues another orchestrator works on: their claims are alive on the remote (see
//! [`crate::queue::claims`]), so their labels, branches, worktrees and processes are that
//! orchestrator's business. Drift detection leaves them out, so that no repair of this one
//! relabels, resets or stops what another one is doing.

use std::collections::{BTreeMap, BTreeSet};

use super::Snapshot;
use crate::branches::name::{parse_branch_name, parse_worktree_name};
use crate::lifecycle::machine::State;

/// `snapshot` and the journal's `believed` states without any trace of `issues`: the issue,
/// its agent branches, worktrees, processes and last attempt, and the slots the journal has on
/// it (a claim taken over from this orchestrator is no longer its to repair).
pub fn leave_out(
    snapshot: &mut Snapshot,
    believed: &mut BTreeMap<String, State>,
    issues: &BTreeSet<u64>,
) {
    if issues.is_empty() {
        return;
    }
    let elsewhere = |issue: u64| issues.contains(&issue);
    let branch_elsewhere = |name: &str| parse_branch_name(name).is_some_and(|o| elsewhere(o.issue));
    snapshot.issues.retain(|i| !elsewhere(i.number));
    snapshot.branches.retain(|b| !branch_elsewhere(&b.name));
    snapshot.worktrees.retain(|w| {
        let by_branch = w.branch.as_deref().is_some_and(branch_elsewhere);
        let by_path = w
            .path
            .file_name()
            .and_then(|name| parse_worktree_name(name.to_str()?))
            .is_some_and(|(_, issue)| elsewhere(issue));
        !by_branch && !by_path
    });
    snapshot.processes.retain(|p| !elsewhere(p.issue));
    snapshot.last_attempts.retain(|a| !elsewhere(a.issue));
    believed.retain(|_, state| !state.claimed_issue().is_some_and(elsewhere));
}

#[cfg(test)]
mod tests {
    use super::super::tests::{branch, limits, open_issue, process, working};
    use super::super::{WorktreeFacts, detect};
    use super::*;

    #[test]
    fn an_issue_another_orchestrator_holds_is_not_drift_here() {
        // #12 carries agent001's label but this repository has no branch for it, and the
        // journal has agent002 on #13, whose process is gone: both drift, were they ours.
        let mut snapshot = Snapshot {
            issues: vec![open_issue(12, &["agent001"]), open_issue(13, &["agent002"])],
            branches: vec![branch("agent002/13-fix", 0)],
            worktrees: vec![WorktreeFacts {
                path: "/w/agent002-13".into(),
                head: "abc".into(),
                branch: Some("agent002/13-fix".into()),
                dirty: false,
            }],
            processes: vec![process("agent002", 13, false, 60)],
            ..Snapshot::default()
        };
        let mut believed = BTreeMap::from([("agent002".to_owned(), working("agent002", 13, 0))]);
        assert!(!detect(&snapshot, &believed, limits()).is_empty());
        leave_out(&mut snapshot, &mut believed, &BTreeSet::from([12, 13]));
        assert_eq!(detect(&snapshot, &believed, limits()), []);
        assert!(snapshot.worktrees.is_empty() && believed.is_empty());
    }
}
