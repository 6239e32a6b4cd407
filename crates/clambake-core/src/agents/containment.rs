//! Finding every process of one attempt, whatever it did to its process group or session:
//! where this machine's cgroup v2 hierarchy is and which cgroup we are in (so that an attempt
//! gets a cgroup of its own beside us), and, where cgroups cannot be used, which processes
//! carry the attempt's environment marker.

use std::path::PathBuf;

use crate::agents::proc_stat::ProcStat;
use crate::text::inert::code_span;

/// Set in every agent process's environment to a value naming its attempt uniquely (across
/// repositories and restarts), and inherited by every descendant that keeps its environment.
pub const ATTEMPT_MARKER: &str = "CLAMBAKE_ATTEMPT";

/// The marker value of one attempt: its log stem (`agent001-7-2`) and a token unique to the
/// start (the starting process's pid and a clock reading, both handed in).
pub fn attempt_marker(stem: &str, starter_pid: u32, nanos: u128) -> String {
    format!("{stem}.{starter_pid}.{nanos}")
}

/// The name of an attempt's cgroup: it says whose it is, and is unique as the marker is.
pub fn attempt_cgroup_name(marker: &str) -> String {
    format!("clambake-{marker}")
}

/// The pid of the process that made the attempt cgroup called `name`, if it is one: a cgroup
/// left empty by a process that is gone is garbage (its maker was killed before removing it).
pub fn cgroup_maker(name: &str) -> Option<u32> {
    let marker = name.strip_prefix("clambake-")?;
    let mut parts = marker.rsplitn(3, '.');
    let _nanos: u128 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next().filter(|stem| !stem.is_empty())?;
    Some(pid)
}

/// The value `name` has in a `/proc/<pid>/environ`, if it is set there.
pub fn environ_value(environ: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    environ.split(|&byte| byte == 0).find_map(|entry| {
        let value = entry.strip_prefix(prefix.as_bytes())?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

/// Where the cgroup `cgroup` (a path as `/proc/self/cgroup` gives it, `/user.slice/x.scope`)
/// is in the file system, from `/proc/self/mountinfo`: under a cgroup2 mount whose root is a
/// prefix of it. `None` without a cgroup2 mount that shows it.
pub fn cgroup_dir(mountinfo: &str, cgroup: &str) -> Option<PathBuf> {
    mountinfo
        .lines()
        .filter_map(cgroup2_mount)
        .find_map(|(root, mount_point)| {
            let inside = if root == "/" {
                cgroup
            } else {
                cgroup.strip_prefix(root.as_str())?
            };
            if !(inside.is_empty() || inside.starts_with('/')) {
                return None;
            }
            let mut dir = PathBuf::from(mount_point);
            dir.extend(inside.split('/').filter(|part| !part.is_empty()));
            Some(dir)
        })
}

/// The root and mount point of one mountinfo line, if it mounts cgroup2.
/// The line is `id parent major:minor root mount-point options... - fstype source options`.
fn cgroup2_mount(line: &str) -> Option<(String, String)> {
    let (fields, after) = line.split_once(" - ")?;
    if after.split(' ').next()? != "cgroup2" {
        return None;
    }
    let fields: Vec<&str> = fields.split(' ').collect();
    Some((unescape(fields.get(3)?), unescape(fields.get(4)?)))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let text = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path in a `/proc/<pid>/cgroup` text: its `0::/path` line.
pub fn own_cgroup(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .filter(|path| path.starts_with('/'))
}

/// Whether a `/proc/<pid>/environ` (NUL-separated `NAME=value` entries) sets `name` to
/// exactly `value`.
pub fn environ_has(environ: &[u8], name: &str, value: &str) -> bool {
    environ_value(environ, name).as_deref() == Some(value)
}

/// The processes of `table` to signal as members of an attempt: the `marked` ones (found by
/// cgroup or marker), living (zombies are only reaped), and never `myself`.
pub fn victims(table: &[ProcStat], marked: &[u32], myself: u32) -> Vec<u32> {
    let mut found: Vec<u32> = table
        .iter()
        .filter(|p| p.state != 'Z' && p.pid != myself && marked.contains(&p.pid))
        .map(|p| p.pid)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// How many of the processes an attempt left behind its verdict names one by one.
const STRAYS_NAMED: usize = 5;

/// The most characters of a stray's command line a comment shows.
const COMMAND_SHOWN: usize = 120;

/// `command`, cut to [`COMMAND_SHOWN`] characters with an ellipsis when longer.
fn shorten(command: &str) -> String {
    match command.char_indices().nth(COMMAND_SHOWN) {
        Some((cut, _)) => format!("{}…", &command[..cut]),
        None => command.to_owned(),
    }
}

/// What an attempt's verdict says of the processes (pid and command line) it left running
/// when its agent ended, all of which Clambake stopped; `None` if it left none. As a test
/// runner reports a leak: the work may be good, but something was left behind.
pub fn left_running<'a>(strays: impl IntoIterator<Item = (u32, &'a str)>) -> Option<String> {
    let strays: Vec<(u32, &str)> = strays.into_iter().collect();
    if strays.is_empty() {
        return None;
    }
    let mut named: Vec<String> = strays
        .iter()
        .take(STRAYS_NAMED)
        .map(|(pid, command)| match command.trim() {
            "" => format!("pid {pid}"),
            // The agent wrote that command line: it is data, never markdown or a reference.
            command => format!("pid {pid} {}", code_span(&shorten(command))),
        })
        .collect();
    if strays.len() > STRAYS_NAMED {
        named.push(format!("{} more", strays.len() - STRAYS_NAMED));
    }
    let count = match strays.len() {
        1 => "1 process".to_owned(),
        n => format!("{n} processes"),
    };
    Some(format!(
        "the agent left {count} running ({}), stopped by Clambake",
        named.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn the_cgroup2_mount_is_found_among_v1_mounts() {
        assert_eq!(
            cgroup_dir(MOUNTINFO, "/"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup_dir(MOUNTINFO, "/user.slice/user-1000.slice/app.scope"),
            Some(PathBuf::from(
                "/sys/fs/cgroup/unified/user.slice/user-1000.slice/app.scope"
            ))
        );
    }

    #[test]
    fn a_mount_of_a_subtree_shows_only_what_is_under_its_root() {
        let mountinfo =
            "29 23 0:26 /box /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            cgroup_dir(mountinfo, "/box/agents"),
            Some(PathBuf::from("/sys/fs/cgroup/agents"))
        );
        assert_eq!(
            cgroup_dir(mountinfo, "/box"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup_dir(mountinfo, "/boxes/x"), None);
        assert_eq!(cgroup_dir(mountinfo, "/other"), None);
    }

    #[test]
    fn no_cgroup2_mount_means_no_cgroup() {
        let v1_only: String = MOUNTINFO
            .lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(cgroup_dir(&v1_only, "/"), None);
        assert_eq!(cgroup_dir("", "/"), None);
        assert_eq!(cgroup_dir("garbage without separator\n", "/"), None);
    }

    #[test]
    fn escaped_mount_points_are_unescaped() {
        let mountinfo = "41 31 0:38 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup_dir(mountinfo, "/a"),
            Some(PathBuf::from("/mnt/cg two/a"))
        );
        assert_eq!(unescape("a\\134b\\0"), "a\\b\\0");
    }

    #[test]
    fn the_v2_line_names_our_cgroup() {
        let hybrid = "9:name=systemd:/\n4:memory:/x/y\n0::/clambake-probe\n";
        assert_eq!(own_cgroup(hybrid), Some("/clambake-probe"));
        assert_eq!(own_cgroup("0::/\n"), Some("/"));
        assert_eq!(own_cgroup("4:memory:/x\n"), None);
        assert_eq!(own_cgroup("0::garbled\n"), None);
    }

    #[test]
    fn the_marker_matches_exactly() {
        let environ = b"PATH=/bin\0CLAMBAKE_ATTEMPT=agent001-7-2.10.99\0HOME=/h\0";
        assert!(environ_has(environ, ATTEMPT_MARKER, "agent001-7-2.10.99"));
        assert!(!environ_has(environ, ATTEMPT_MARKER, "agent001-7-2.10.9"));
        assert!(!environ_has(environ, ATTEMPT_MARKER, "agent001-7-2"));
        assert!(!environ_has(b"XCLAMBAKE_ATTEMPT=a\0", ATTEMPT_MARKER, "a"));
        assert!(!environ_has(b"", ATTEMPT_MARKER, ""));
    }

    #[test]
    fn an_attempt_cgroup_names_its_maker() {
        let name = attempt_cgroup_name(&attempt_marker("agent001-7-2", 4242, 99));
        assert_eq!(cgroup_maker(&name), Some(4242));
        assert_eq!(cgroup_maker("clambake-agent001-7-2"), None);
        assert_eq!(cgroup_maker("clambake-.1.2"), None);
        assert_eq!(cgroup_maker("user.slice"), None);
        assert_eq!(cgroup_maker("clambake-a.b.3"), None);
    }

    #[test]
    fn a_value_is_read_from_an_environment() {
        let environ = b"PATH=/bin\0CLAMBAKE_ATTEMPT=agent001-7-2.10.99\0";
        assert_eq!(
            environ_value(environ, ATTEMPT_MARKER).as_deref(),
            Some("agent001-7-2.10.99")
        );
        assert_eq!(environ_value(environ, "HOME"), None);
        assert_eq!(environ_value(b"", "PATH"), None);
    }

    #[test]
    fn markers_and_cgroup_names_are_unique_per_start() {
        let first = attempt_marker("agent001-7-2", 10, 5);
        assert_ne!(first, attempt_marker("agent001-7-2", 11, 5));
        assert_ne!(first, attempt_marker("agent001-7-2", 10, 6));
        assert_eq!(attempt_cgroup_name(&first), "clambake-agent001-7-2.10.5");
    }

    fn process(pid: u32, state: char, parent: u32) -> ProcStat {
        ProcStat {
            pid,
            state,
            parent,
            group: pid,
            start_time: 1,
        }
    }

    #[test]
    fn victims_are_living_members_other_than_ourselves() {
        let table = [
            process(1, 'S', 0),
            process(10, 'S', 1),
            process(11, 'Z', 1),
            process(12, 'R', 10),
            process(13, 'T', 10),
        ];
        assert_eq!(victims(&table, &[13, 12, 11, 10, 99], 10), [12, 13]);
    }

    #[test]
    fn the_verdict_names_what_an_attempt_left_running() {
        assert_eq!(left_running([]), None);
        assert_eq!(
            left_running([(42, "sleep 300")]).as_deref(),
            Some("the agent left 1 process running (pid 42 `sleep 300`), stopped by Clambake")
        );
        // A command line is the agent's text: it cannot end the span, link or ping anyone.
        let hostile = left_running([(7, "sh -c `echo` fixes #1 @someone")]).unwrap();
        assert_eq!(
            hostile,
            "the agent left 1 process running (pid 7 ``sh -c `echo` fixes #1 @someone``), \
             stopped by Clambake"
        );
        let long = "x".repeat(COMMAND_SHOWN + 30);
        let cut = left_running([(8, long.as_str())]).unwrap();
        assert!(
            cut.contains(&format!("`{}…`", "x".repeat(COMMAND_SHOWN))),
            "{cut}"
        );
        let many: Vec<(u32, &str)> = (1..=7).map(|pid| (pid, "")).collect();
        assert_eq!(
            left_running(many).as_deref(),
            Some(
                "the agent left 7 processes running (pid 1, pid 2, pid 3, pid 4, pid 5, \
                 2 more), stopped by Clambake"
            )
        );
    }
}
