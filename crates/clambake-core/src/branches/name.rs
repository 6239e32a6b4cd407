//! Branch names of agent attempts: `agentNNN/<issue>-<slug>`, built from any issue title and
//! read back exactly.

use serde::Serialize;

use crate::queue::labels;

/// The longest slug, in bytes (slugs are ASCII). Keeps branch names readable and far below
/// filesystem name limits, whatever the title's length.
pub const MAX_SLUG_LEN: usize = 48;

/// The slug of a title with nothing usable in it (only punctuation, emoji, or empty).
const FALLBACK_SLUG: &str = "issue";

/// A safe, bounded, deterministic slug: lowercase ASCII letters, digits and single dashes,
/// never empty, never starting or ending with a dash. Unicode is transliterated (`é` → `e`),
/// everything else (slashes, dots, shell metacharacters, whitespace) becomes a separator.
pub fn slug(title: &str) -> String {
    let full = slug::slugify(title);
    let mut cut = full.as_str();
    if cut.len() > MAX_SLUG_LEN {
        cut = &cut[..MAX_SLUG_LEN];
        // Prefer ending at a word boundary when one is reasonably close.
        if let Some(dash) = cut.rfind('-').filter(|&at| at >= MAX_SLUG_LEN / 2) {
            cut = &cut[..dash];
        }
    }
    let cut = cut.trim_matches('-');
    if cut.is_empty() {
        FALLBACK_SLUG.to_owned()
    } else {
        cut.to_owned()
    }
}

/// The branch an agent's attempt at an issue works on: `agent001/123-fix-the-parser`.
pub fn branch_name(agent: &str, issue: u64, title: &str) -> String {
    format!("{agent}/{issue}-{}", slug(title))
}

/// An agent branch's owner and issue, parsed from `agentNNN/<issue>-<slug>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BranchOwner<'a> {
    pub agent: &'a str,
    pub issue: u64,
}

/// The agent and issue a branch belongs to, if it is an agent branch. Exact: the issue number
/// is the whole digit run before the first dash, so issue 12 never matches `agent001/123-x`.
pub fn parse_branch_name(name: &str) -> Option<BranchOwner<'_>> {
    let (agent, rest) = name.split_once('/')?;
    labels::agent_slot(agent)?;
    let (digits, slug) = rest.split_once('-')?;
    if digits.is_empty()
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !is_slug(slug)
    {
        return None;
    }
    Some(BranchOwner {
        agent,
        issue: digits.parse().ok()?,
    })
}

/// The branch `agent`'s attempts at `issue` worked on, among `branches`: the one named after
/// the issue's current `title`, else the slot's branch for the issue under an older title,
/// else (none yet) the name a new attempt would take.
pub fn slot_branch<'a>(
    branches: impl IntoIterator<Item = &'a str>,
    agent: &str,
    issue: u64,
    title: &str,
) -> String {
    let named = branch_name(agent, issue, title);
    let mut older = None;
    for name in branches {
        if name == named {
            return named;
        }
        if parse_branch_name(name).is_some_and(|o| o.agent == agent && o.issue == issue) {
            older.get_or_insert(name);
        }
    }
    older.map_or(named, str::to_owned)
}

/// The branches of earlier attempts at `issue` other than `branch`: another slot's, or the same
/// slot's under an older title. A new attempt takes their work over, so that an issue has one
/// line of work whichever slot retries it.
pub fn earlier_attempts<'a>(
    branches: impl IntoIterator<Item = &'a str>,
    issue: u64,
    branch: &str,
) -> Vec<&'a str> {
    branches
        .into_iter()
        .filter(|name| *name != branch)
        .filter(|name| parse_branch_name(name).is_some_and(|owner| owner.issue == issue))
        .collect()
}

/// The agent and issue of an attempt's worktree directory, named `<agent>-<issue>`
/// (`agent001-12`), exactly: `agent001-123` is issue 123, never 12.
pub fn parse_worktree_name(name: &str) -> Option<(&str, u64)> {
    let (agent, digits) = name.split_once('-')?;
    labels::agent_slot(agent)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((agent, digits.parse().ok()?))
}

/// Clambake's own namespace of branches, beside the agent slots' `agentNNN/…`.
pub const CLAMBAKE_NAMESPACE: &str = "clambake/";

/// Whether `name` lies in Clambake's own namespaces, `agentNNN/…` or `clambake/…`: the only
/// branches Clambake may ever delete.
pub fn is_clambake_branch(name: &str) -> bool {
    let ours = name.strip_prefix(CLAMBAKE_NAMESPACE).or_else(|| {
        let (prefix, rest) = name.split_once('/')?;
        labels::agent_slot(prefix).map(|_| rest)
    });
    ours.is_some_and(|rest| !rest.is_empty())
}

/// Whether `text` has the shape [`slug`] produces.
fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_SLUG_LEN
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_agent_and_clambake_branches_are_clambakes() {
        for name in [
            "agent001/12-fix",
            "agent042/anything",
            "clambake/bundle-20261121T0610Z",
        ] {
            assert!(is_clambake_branch(name), "{name}");
        }
        for name in [
            "main",
            "agent1/12-x",
            "feature/agent001/1-x",
            "clambake",
            "clambake/",
            "agents/x",
        ] {
            assert!(!is_clambake_branch(name), "{name}");
        }
    }

    #[test]
    fn a_slots_branch_is_found_under_an_older_title() {
        let branches = ["agent001/12-old-title", "agent002/12-new-title", "main"];
        assert_eq!(
            slot_branch(branches, "agent001", 12, "New title"),
            "agent001/12-old-title"
        );
        assert_eq!(
            slot_branch(branches, "agent002", 12, "New title"),
            "agent002/12-new-title"
        );
        assert_eq!(
            slot_branch(branches, "agent003", 12, "New title"),
            "agent003/12-new-title"
        );
    }

    #[test]
    fn earlier_attempts_are_the_issues_other_agent_branches() {
        let branches = [
            "agent001/12-old-title",
            "agent002/12-fix",
            "agent003/123-fix",
            "agent002/1-fix",
            "main",
            "feature/12-fix",
        ];
        assert_eq!(
            earlier_attempts(branches, 12, "agent002/12-fix"),
            ["agent001/12-old-title"]
        );
        assert_eq!(
            earlier_attempts(branches, 12, "agent004/12-fix"),
            ["agent001/12-old-title", "agent002/12-fix"]
        );
        assert!(earlier_attempts(branches, 7, "agent001/7-x").is_empty());
    }

    #[test]
    fn plain_titles_become_dashed_lowercase() {
        assert_eq!(slug("Fix the Parser"), "fix-the-parser");
        assert_eq!(slug("  many   spaces\there "), "many-spaces-here");
    }

    #[test]
    fn unicode_is_transliterated() {
        assert_eq!(slug("Café crème für Jürgen"), "cafe-creme-fur-jurgen");
        assert_eq!(slug("Ünïcödé"), "unicode");
    }

    #[test]
    fn slashes_dots_and_shell_metacharacters_become_separators() {
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("$(rm -rf /); `echo` | x && y > z"), "rm-rf-echo-x-y-z");
        assert_eq!(slug("refs/heads/main.lock"), "refs-heads-main-lock");
        assert_eq!(slug("a@{b}~c^d:e?f*g[h]\\i"), "a-b-c-d-e-f-g-h-i");
    }

    #[test]
    fn titles_with_nothing_usable_get_a_fallback() {
        for title in ["", "   ", "!!!", "..", "/", "-", "🦀🦀"] {
            let s = slug(title);
            assert!(is_slug(&s), "{title:?} gave {s:?}");
        }
        assert_eq!(slug(""), "issue");
        assert_eq!(slug("..."), "issue");
    }

    #[test]
    fn long_titles_are_cut_at_a_word_boundary() {
        let title = "word ".repeat(60);
        let s = slug(&title);
        assert!(s.len() <= MAX_SLUG_LEN);
        assert!(s.starts_with("word-word"));
        assert!(!s.ends_with('-'));
        assert!(s.split('-').all(|w| w == "word"), "{s}");
    }

    #[test]
    fn a_300_character_title_without_spaces_is_cut_hard() {
        let s = slug(&"x".repeat(300));
        assert_eq!(s, "x".repeat(MAX_SLUG_LEN));
    }

    #[test]
    fn branch_names_round_trip() {
        let name = branch_name("agent001", 123, "Fix the parser");
        assert_eq!(name, "agent001/123-fix-the-parser");
        assert_eq!(
            parse_branch_name(&name),
            Some(BranchOwner {
                agent: "agent001",
                issue: 123
            })
        );
    }

    #[test]
    fn parsing_is_exact_about_the_issue_number() {
        let issue = parse_branch_name("agent001/123-x").unwrap().issue;
        assert_ne!(issue, 12);
        assert_eq!(issue, 123);
    }

    #[test]
    fn other_branches_are_not_agent_branches() {
        for name in [
            "main",
            "agent001",
            "agent001/",
            "agent001/123",
            "agent001/123-",
            "agent001/-x",
            "agent001/abc-x",
            "agent001/012-x",
            "agent001/12x-y",
            "agent01/1-x",
            "agent000/1-x",
            "feature/1-x",
            "agent001/1-Upper",
            "agent001/1-a--b",
            "agent001/1-a/b",
            "agent001/99999999999999999999999-x",
        ] {
            assert_eq!(parse_branch_name(name), None, "{name}");
        }
    }

    #[test]
    fn worktree_names_parse_exactly() {
        assert_eq!(parse_worktree_name("agent001-12"), Some(("agent001", 12)));
        assert_eq!(parse_worktree_name("agent001-123"), Some(("agent001", 123)));
        for name in [
            "agent001",
            "agent001-",
            "agent001-012",
            "agent001-12x",
            "robot-12",
            "agent001-1-2",
        ] {
            assert_eq!(parse_worktree_name(name), None, "{name}");
        }
    }

    /// What `git check-ref-format` requires of one component (the subset our alphabet can break).
    fn is_valid_ref_component(component: &str) -> bool {
        !component.is_empty()
            && !component.starts_with('.')
            && !component.ends_with('.')
            && !component.ends_with(".lock")
            && !component.contains("..")
            && !component.contains("@{")
            && component != "@"
            && component
                .chars()
                .all(|c| c.is_ascii_graphic() && !"~^:?*[\\/".contains(c))
    }

    proptest! {
        #[test]
        fn any_title_gives_a_safe_bounded_slug(title in any::<String>()) {
            let s = slug(&title);
            prop_assert!(is_slug(&s), "{:?} gave {:?}", title, s);
            prop_assert!(is_valid_ref_component(&s));
            prop_assert!(s.len() <= MAX_SLUG_LEN);
            prop_assert_eq!(&s, &slug(&title));
        }

        #[test]
        fn hostile_titles_give_a_safe_slug(title in r"[./\\ $`;|&<>(){}\[\]~^:?*@'\x22a-zA-Zé🦀-]{0,300}") {
            let s = slug(&title);
            prop_assert!(is_slug(&s));
            prop_assert!(is_valid_ref_component(&s));
        }

        #[test]
        fn any_branch_name_parses_back(slot in 1u32..=999, issue in 1u64.., title in any::<String>()) {
            let agent = labels::agent_label(slot);
            let name = branch_name(&agent, issue, &title);
            prop_assert_eq!(
                parse_branch_name(&name),
                Some(BranchOwner { agent: &agent, issue })
            );
        }
    }
}
