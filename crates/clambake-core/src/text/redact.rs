//! Secret values (API keys, tokens, passwords) taken out of text before Clambake writes it
//! where others can read it: the forge and its own logs.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not treated as secrets: redacting `1` or `true` everywhere
/// would garble every text while protecting nothing.
pub const MIN_SECRET_LEN: usize = 8;

/// Whether a variable's name says it holds a secret: a name ending in `_KEY`, `APIKEY`,
/// `_TOKEN` or `_PAT`, or containing `SECRET`, `PASSWORD` or `CREDENTIAL` (any case).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_KEY")
        || upper.ends_with("APIKEY")
        || upper.ends_with("_PAT")
        || upper.contains("CREDENTIAL")
        || upper.ends_with("_TOKEN")
        || upper.contains("SECRET")
        || upper.contains("PASSWORD")
}

/// Replaces every known secret value in a text with [`REDACTED`].
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// `None` when there is nothing to redact.
    secrets: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for the secrets among `variables`: those whose name [`is_secret_name`], with
    /// a value of at least [`MIN_SECRET_LEN`] characters.
    pub fn from_variables<N, V>(variables: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let values: Vec<String> = variables
            .into_iter()
            .filter(|(name, value)| {
                is_secret_name(name.as_ref()) && value.as_ref().chars().count() >= MIN_SECRET_LEN
            })
            .map(|(_, value)| value.as_ref().to_owned())
            .collect();
        let mut patterns: Vec<String> = values.iter().flat_map(|v| disguises(v)).collect();
        patterns.sort_unstable();
        patterns.dedup();
        let values = patterns;
        if values.is_empty() {
            return Self::default();
        }
        let secrets = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .expect("literal patterns always build");
        Self {
            secrets: Some(secrets),
        }
    }

    /// `text` with every secret value replaced; borrowed when it holds none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.secrets {
            Some(secrets) if secrets.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                secrets.replace_all_with(text, &mut out, |_, _, out| {
                    out.push_str(REDACTED);
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(text),
        }
    }
}

/// The longest value whose cut-short forms are redacted too (see [`disguises`]).
const MAX_CUT_FORMS_LEN: usize = 512;

/// What text Clambake cuts short ends with: a secret cut there still shows most of itself.
pub const CUT: char = '…';

/// The forms a secret `value` takes in what Clambake writes: as it is, escaped as JSON or as
/// Rust's `Debug` does (structured logs, `?field`), and every prefix of it of
/// [`MIN_SECRET_LEN`] characters or more that ends where a text was cut short ([`CUT`]), so
/// that cutting a line before it is redacted cannot publish most of a key.
fn disguises(value: &str) -> Vec<String> {
    let unquote = |quoted: String| quoted[1..quoted.len() - 1].to_owned();
    let mut forms = vec![
        value.to_owned(),
        unquote(serde_json::to_string(value).expect("a string serializes")),
        unquote(format!("{value:?}")),
    ];
    // Every prefix is a pattern: quadratic in the value's length, so only for values as long
    // as keys and tokens are, not for whole certificates.
    if value.len() <= MAX_CUT_FORMS_LEN {
        for (at, _) in value.char_indices().skip(MIN_SECRET_LEN) {
            forms.push(format!("{}{CUT}", &value[..at]));
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "ANTHROPIC_API_KEY",
            "GH_TOKEN",
            "aws_secret_access_key",
            "DB_PASSWORD",
            "MY_CLIENT_SECRET_FILE",
            "STRIPE_KEY",
            "SERVICE_APIKEY",
            "GITLAB_PAT",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "KEYBOARD",
            "TOKENIZER_PATH",
            "ANTHROPIC_BASE_URL",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn every_secret_value_is_replaced_and_short_ones_are_ignored() {
        let redactor = Redactor::from_variables([
            ("ANTHROPIC_API_KEY", "sk-ant-0123456789"),
            ("GH_TOKEN", "ghp_abcdefgh"),
            ("SHORT_TOKEN", "abc"),
            ("PATH", "/usr/local/bin:/usr/bin"),
        ]);
        assert_eq!(
            redactor.redact("key=sk-ant-0123456789, token ghp_abcdefghghp_abcdefgh, abc"),
            "key=[redacted], token [redacted][redacted], abc"
        );
        assert_eq!(redactor.redact("/usr/local/bin"), "/usr/local/bin");
        assert!(matches!(redactor.redact("nothing"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_inside_another_is_redacted_whole() {
        let redactor =
            Redactor::from_variables([("A_KEY", "secret-value"), ("B_KEY", "secret-value-long")]);
        assert_eq!(redactor.redact("x secret-value-long y"), "x [redacted] y");
        assert!(Redactor::from_variables([("A_KEY", "")]).secrets.is_none());
    }

    #[test]
    fn a_secret_cut_short_or_escaped_is_redacted_too() {
        let redactor = Redactor::from_variables([("GH_TOKEN", "ghp_R3v1ew\"S3cret\\AbCd")]);
        assert_eq!(
            redactor.redact("tail: ghp_R3v1ew\"S3c…"),
            "tail: [redacted]"
        );
        assert_eq!(
            redactor.redact(r#"{"line":"ghp_R3v1ew\"S3cret\\AbCd"}"#),
            r#"{"line":"[redacted]"}"#
        );
        assert_eq!(
            redactor.redact("ghp_R3v1ew\"S3cret\\AbCd ghp_R3v…"),
            "[redacted] ghp_R3v…",
            "a cut shorter than a secret may be is nobody's secret"
        );
    }
}
