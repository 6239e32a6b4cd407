//! The key a create carries at the end of the body it sends: a random nonce in an HTML comment,
//! invisible where GitHub renders Markdown, by which the work of a create whose answer was lost
//! is told from anything there before. Wherever a body is read, the key is taken off again.

use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;

/// The most characters GitHub takes in an issue's, comment's or pull request's body.
pub const BODY_LIMIT: usize = 65_536;

/// The key of one create, and when it was first sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    nonce: String,
    pub first_sent: Timestamp,
}

impl CreateKey {
    pub fn new(now: Timestamp) -> Self {
        Self {
            nonce: format!("{:032x}", rand::random::<u128>()),
            first_sent: now,
        }
    }

    /// `body` as it is sent, the key following it; `None` when that would pass GitHub's limit.
    pub fn marked(&self, body: &str) -> Option<String> {
        let marked = format!("{body}\n\n<!-- clambake-create {} -->", self.nonce);
        (marked.chars().count() <= BODY_LIMIT).then_some(marked)
    }

    /// Whether `sent`, a body as GitHub holds it, carries this key.
    pub fn carried_by(&self, sent: &str) -> bool {
        KEY.captures(sent)
            .is_some_and(|found| found[1] == *self.nonce)
    }
}

/// The key that [`CreateKey::marked`] puts at the end of a body, also after an edit on the web
/// (whose editor sends CRLF line ends) and with white space after it.
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\r?\n\r?\n<!-- clambake-create ([0-9a-f]{32}) -->\s*\z")
        .expect("the key's pattern compiles")
});

/// `body` as it was written, without the key a create put at its end.
pub fn unmarked(body: String) -> String {
    match KEY.find(&body) {
        Some(key) => body[..key.start()].to_owned(),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CreateKey {
        CreateKey::new(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_keyed_body_carries_its_key_and_reads_back_as_written() {
        let key = key();
        let sent = key.marked("Done.\n").unwrap();
        assert!(key.carried_by(&sent));
        assert!(!CreateKey::new(Timestamp::UNIX_EPOCH).carried_by(&sent));
        assert_eq!(unmarked(sent), "Done.\n");
    }

    #[test]
    fn only_a_key_at_the_very_end_is_taken_off() {
        let key = key();
        let quoted = format!("{} and more", key.marked("text").unwrap());
        assert!(!key.carried_by(&quoted));
        assert_eq!(unmarked(quoted.clone()), quoted);
        assert_eq!(unmarked("plain".to_owned()), "plain");
    }

    #[test]
    fn a_body_edited_on_the_web_with_crlf_line_ends_still_loses_its_key() {
        let key = key();
        let edited = key
            .marked("line one\nrecord")
            .unwrap()
            .replace('\n', "\r\n")
            + "\r\n";
        assert!(key.carried_by(&edited));
        assert_eq!(unmarked(edited), "line one\r\nrecord");
    }

    #[test]
    fn a_body_the_key_would_take_past_githubs_limit_goes_without_it() {
        let key = key();
        let room = BODY_LIMIT - key.marked("").unwrap().chars().count();
        assert!(key.marked(&"é".repeat(room)).is_some());
        assert_eq!(key.marked(&"é".repeat(room + 1)), None);
    }
}
