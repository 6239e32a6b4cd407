//! The comment on the issues of a dependency cycle: they block each other, so Clambake works
//! them in number order instead of waiting forever.

use super::issue_list;

/// The comment on each member of `cycle` (its members, lowest first). The same cycle always
/// gets the same text, so a member that carries it already is not told again.
pub fn cycle_comment(cycle: &[u64]) -> String {
    let first = cycle.first().copied().unwrap_or_default();
    format!(
        "**Dependency cycle:** {} block each other (through `Depends on` or `Blocked by`, or \
         the forge's issue dependencies), so none could start. Clambake works them in number \
         order instead, #{first} first, each after the one before it is closed; their \
         dependencies on each other are otherwise ignored. Edit the issues to break the cycle \
         if another order is wanted.",
        issue_list(cycle)
    )
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;

    #[test]
    fn a_cycle_is_explained_once_in_the_same_words() {
        assert_eq!(cycle_comment(&[3, 5]), cycle_comment(&[3, 5]));
        assert_snapshot!(cycle_comment(&[3, 5, 9]));
    }
}
