//! `/proc/<pid>/stat`, read as far as Clambake needs: who a process's parent is, which process
//! group it is in, and when it started (so a reused pid is never mistaken for the original).

/// The fields of one `/proc/<pid>/stat` line that Clambake uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// `R`, `S`, `Z` (zombie) ...
    pub state: char,
    pub parent: u32,
    pub group: u32,
    /// Clock ticks after boot: with the pid, it names one process for the life of the machine.
    pub start_time: u64,
}

/// Parses a stat line. The command name (field 2) sits in parentheses and may itself contain
/// spaces and parentheses, so the fields after it are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); start time is field 22.
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        pid,
        state: field(3)?.chars().next()?,
        parent: field(4)?.parse().ok()?,
        group: field(5)?.parse().ok()?,
        start_time: field(22)?.parse().ok()?,
    })
}

/// The process groups of `root` and of all its descendants in `table`: what must be signalled
/// to stop everything an agent started, including children that made groups of their own
/// (Claude Code runs its Bash tool in a new process group).
pub fn descendant_groups(table: &[ProcStat], root: u32) -> Vec<u32> {
    let mut tree = vec![root];
    let mut next = 0;
    while let Some(&pid) = tree.get(next) {
        let children: Vec<u32> = table
            .iter()
            .filter(|p| p.parent == pid && !tree.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        tree.extend(children);
        next += 1;
    }
    let mut groups: Vec<u32> = table
        .iter()
        .filter(|p| tree.contains(&p.pid))
        .map(|p| p.group)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Whether a signal to process group `group` can reach only the group first seen led by the
/// process started at `leader_start` (`None`: its leader was gone by then): a process is still
/// in it, holding its number so that no new process can be given it, and the process that has
/// that number now, if any, is that leader. A group that emptied and whose number a new process
/// took (a pid reused) is someone else's, and is left alone.
pub fn group_still_ours(table: &[ProcStat], group: u32, leader_start: Option<u64>) -> bool {
    let populated = table.iter().any(|p| p.group == group);
    let same_leader = table
        .iter()
        .find(|p| p.pid == group)
        .is_none_or(|leader| Some(leader.start_time) == leader_start);
    populated && same_leader
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (claude (2.1) x) S 4000 4242 4242 0 -1 4194560 1 0 0 0 3 1 0 0 20 0 \
                        11 0 987654 1000 200 18446744073709551615";

    #[test]
    fn a_stat_line_with_a_hostile_command_name_is_read() {
        assert_eq!(
            parse_stat(STAT),
            Some(ProcStat {
                pid: 4242,
                state: 'S',
                parent: 4000,
                group: 4242,
                start_time: 987654,
            })
        );
    }

    #[test]
    fn truncated_or_garbled_lines_are_refused() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(
            parse_stat("x (y) S 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"),
            None
        );
    }

    fn proc(pid: u32, parent: u32, group: u32) -> ProcStat {
        ProcStat {
            pid,
            state: 'S',
            parent,
            group,
            start_time: 1,
        }
    }

    #[test]
    fn a_group_is_ours_while_populated_and_led_by_no_newcomer() {
        let started = |pid, group, start_time| ProcStat {
            start_time,
            ..proc(pid, 1, group)
        };
        // Its leader alive, as first seen.
        assert!(group_still_ours(&[started(10, 10, 5)], 10, Some(5)));
        // Its leader gone, a child left in it: the child holds the number.
        assert!(group_still_ours(&[started(11, 10, 6)], 10, Some(5)));
        // The number reused by a new process leading a group of its own.
        assert!(!group_still_ours(&[started(10, 10, 9)], 10, Some(5)));
        assert!(!group_still_ours(&[started(10, 10, 9)], 10, None));
        // Emptied: nothing of it to signal, and nothing else may be.
        assert!(!group_still_ours(&[started(10, 20, 5)], 10, Some(5)));
        assert!(!group_still_ours(&[], 10, Some(5)));
    }

    #[test]
    fn descendant_groups_follow_children_into_their_own_groups() {
        let table = [
            proc(1, 0, 1),
            proc(10, 1, 10),
            proc(11, 10, 10),
            proc(12, 11, 12),
            proc(13, 12, 12),
            proc(20, 1, 20),
            proc(21, 20, 10),
        ];
        assert_eq!(descendant_groups(&table, 10), [10, 12]);
        assert_eq!(descendant_groups(&table, 20), [10, 20]);
        assert_eq!(descendant_groups(&table, 99), Vec::<u32>::new());
    }
}
