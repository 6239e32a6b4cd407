//! Git's reference-name rules (`git check-ref-format --branch`), checked without running git,
//! so that the lifecycle can refuse a bad branch name before anything touches the repository.

use serde::Serialize;

/// Why a name cannot be a branch, in the words of git's `check-ref-format` rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefNameError {
    #[error("it is empty")]
    Empty,
    #[error("it starts with `-`, which git would read as an option")]
    LeadingDash,
    #[error("`HEAD` names git's own reference, not a branch")]
    Head,
    #[error("it starts or ends with `/`, or contains `//`")]
    EmptyComponent,
    #[error("a path component starts with `.`")]
    ComponentStartsWithDot,
    #[error("a path component ends with `.lock`")]
    ComponentEndsWithLock,
    #[error("it ends with `.`")]
    EndsWithDot,
    #[error("it contains `..`")]
    DoubleDot,
    #[error("it contains `@{{`")]
    AtBrace,
    #[error("it contains {0:?}, which git forbids in reference names")]
    ForbiddenCharacter(char),
}

/// Checks `name` as git's `check-ref-format --branch` would (for a name that is not `@{-N}`
/// shorthand): the rules of `git help check-ref-format`, applied to `refs/heads/<name>`.
pub fn validate_branch_name(name: &str) -> Result<(), RefNameError> {
    if name.is_empty() {
        return Err(RefNameError::Empty);
    }
    if name.starts_with('-') {
        return Err(RefNameError::LeadingDash);
    }
    if name == "HEAD" {
        return Err(RefNameError::Head);
    }
    if let Some(bad) = name.chars().find(|c| is_forbidden(*c)) {
        return Err(RefNameError::ForbiddenCharacter(bad));
    }
    if name.contains("..") {
        return Err(RefNameError::DoubleDot);
    }
    if name.contains("@{") {
        return Err(RefNameError::AtBrace);
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Err(RefNameError::EmptyComponent);
        }
        if component.starts_with('.') {
            return Err(RefNameError::ComponentStartsWithDot);
        }
        if component.ends_with(".lock") {
            return Err(RefNameError::ComponentEndsWithLock);
        }
    }
    if name.ends_with('.') {
        return Err(RefNameError::EndsWithDot);
    }
    Ok(())
}

/// Control characters, DEL, space, and `~ ^ : ? * [ \`.
fn is_forbidden(c: char) -> bool {
    c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_agent_branches_are_valid() {
        for name in [
            "agent001/12-fix-login",
            "main",
            "clambake/bundle-20261121T0600",
            "a.b/c-d_e",
            "agent001/12-caf\u{e9}",
            "x@y",
            "@",
            "HEAD/x",
            "a.lock.b",
        ] {
            assert_eq!(validate_branch_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn each_rule_is_enforced() {
        use RefNameError::*;
        let cases = [
            ("", Empty),
            ("-x", LeadingDash),
            ("HEAD", Head),
            ("/a", EmptyComponent),
            ("a/", EmptyComponent),
            ("a//b", EmptyComponent),
            (".a", ComponentStartsWithDot),
            ("a/.b", ComponentStartsWithDot),
            ("a.lock", ComponentEndsWithLock),
            ("a.lock/b", ComponentEndsWithLock),
            ("a.", EndsWithDot),
            ("a..b", DoubleDot),
            ("a@{b", AtBrace),
            ("a b", ForbiddenCharacter(' ')),
            ("a~1", ForbiddenCharacter('~')),
            ("a^", ForbiddenCharacter('^')),
            ("a:b", ForbiddenCharacter(':')),
            ("a?", ForbiddenCharacter('?')),
            ("a*", ForbiddenCharacter('*')),
            ("a[b", ForbiddenCharacter('[')),
            ("a\\b", ForbiddenCharacter('\\')),
            ("a\tb", ForbiddenCharacter('\t')),
            ("a\u{7f}", ForbiddenCharacter('\u{7f}')),
        ];
        for (name, expected) in cases {
            assert_eq!(validate_branch_name(name), Err(expected), "{name:?}");
        }
    }
}
