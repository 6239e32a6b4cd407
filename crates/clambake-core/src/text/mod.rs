//! Text that crosses a trust boundary: inert rendering, secret redaction, closing keywords
//! and times as people read them. The text Clambake writes to the forge is `forge_text`'s.

pub mod closing;
pub mod human_time;
pub mod inert;
pub mod redact;

/// `#4, #7, #9`: issue references, as a list in a sentence.
pub fn issue_list(issues: &[u64]) -> String {
    let references: Vec<String> = issues.iter().map(|n| format!("#{n}")).collect();
    references.join(", ")
}
