//! The webhook's URL. Services such as Slack put the credential in the path
//! (`/services/T…/B…/secret`), so everything after the host is treated as secret: shown as
//! `[redacted]` wherever Clambake writes the URL, and taught to the log redactor.

use url::{Position, Url};

use crate::text::redact::REDACTED;

/// A webhook URL that is http or https and names a host.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

/// Why a text is no webhook URL. Never quotes the text: it may hold the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("it is not a URL ({0})")]
    NotAUrl(url::ParseError),
    #[error("its scheme is \"{0}\", not http or https")]
    Scheme(String),
    #[error("it names no host")]
    NoHost,
}

impl WebhookUrl {
    /// `raw` as a webhook URL; `None` when it is empty (notifications off).
    pub fn parse(raw: &str) -> Result<Option<Self>, WebhookUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let url = Url::parse(raw).map_err(WebhookUrlError::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookUrlError::Scheme(url.scheme().to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookUrlError::NoHost);
        }
        Ok(Some(Self(url)))
    }

    /// The whole URL, for the one place that sends to it.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL as Clambake shows it: its scheme, host and port, and `[redacted]` for any
    /// user, password, path, query or fragment.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            shown.push_str(&format!(":{port}"));
        }
        let hidden = !url.username().is_empty()
            || url.password().is_some()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some();
        shown.push('/');
        if hidden {
            shown.push_str(REDACTED);
        }
        shown
    }

    /// The parts of the URL that may be a credential, as they appear in text: for the log
    /// redactor to take out wherever they show up.
    pub fn secrets(&self) -> Vec<String> {
        let url = &self.0;
        let mut secrets = vec![url.as_str().to_owned()];
        let after_host = &url[Position::BeforePath..];
        if after_host != "/" {
            secrets.push(after_host.to_owned());
        }
        if !url.username().is_empty() {
            secrets.push(url.username().to_owned());
        }
        if let Some(password) = url.password() {
            secrets.push(password.to_owned());
        }
        secrets
    }
}

/// A configured value of `notify.webhook_url` as Clambake shows it: redacted if it is a URL,
/// `[redacted]` whole if it is not, empty if unset.
pub fn shown(raw: &str) -> String {
    match WebhookUrl::parse(raw) {
        Ok(Some(url)) => url.redacted(),
        Ok(None) => String::new(),
        Err(_) => REDACTED.to_owned(),
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.redacted()).finish()
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: &str = "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0k3nXYZ";

    fn url(raw: &str) -> WebhookUrl {
        WebhookUrl::parse(raw).unwrap().unwrap()
    }

    #[test]
    fn empty_is_off() {
        assert_eq!(WebhookUrl::parse(""), Ok(None));
        assert_eq!(WebhookUrl::parse("  "), Ok(None));
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        assert!(url(SLACK).as_str().starts_with("https://hooks.slack.com/"));
        assert!(url("http://127.0.0.1:9000/hook").as_str().contains(":9000"));
        assert_eq!(
            WebhookUrl::parse("ftp://example.com/x"),
            Err(WebhookUrlError::Scheme("ftp".to_owned()))
        );
        assert!(matches!(
            WebhookUrl::parse("hooks.slack.com/services/x"),
            Err(WebhookUrlError::NotAUrl(_))
        ));
        assert!(WebhookUrl::parse("http://").is_err());
    }

    #[test]
    fn what_is_shown_keeps_the_host_and_hides_the_rest() {
        assert_eq!(url(SLACK).redacted(), "https://hooks.slack.com/[redacted]");
        assert_eq!(
            url("http://me:pw@127.0.0.1:9000").redacted(),
            "http://127.0.0.1:9000/[redacted]"
        );
        assert_eq!(
            url("https://example.com").redacted(),
            "https://example.com/"
        );
        assert_eq!(
            url("https://example.com/?k=v").redacted(),
            "https://example.com/[redacted]"
        );
        assert_eq!(
            format!("{:?}", url(SLACK)),
            "WebhookUrl(\"https://hooks.slack.com/[redacted]\")"
        );
        assert_eq!(url(SLACK).to_string(), "https://hooks.slack.com/[redacted]");
    }

    #[test]
    fn an_error_never_quotes_the_url() {
        for raw in [
            "ftp://host/s3cr3tT0k3nXYZ",
            "not a url s3cr3tT0k3nXYZ",
            "mailto:s3cr3tT0k3nXYZ@example.com",
        ] {
            let error = WebhookUrl::parse(raw).unwrap_err().to_string();
            assert!(!error.contains("s3cr3t"), "{error}");
        }
        assert_eq!(shown("not a url s3cr3tT0k3nXYZ"), "[redacted]");
        assert_eq!(shown(SLACK), "https://hooks.slack.com/[redacted]");
        assert_eq!(shown(""), "");
    }

    #[test]
    fn the_secrets_are_the_url_its_path_and_its_credentials() {
        assert_eq!(
            url(SLACK).secrets(),
            [SLACK, "/services/T0001/B0002/s3cr3tT0k3nXYZ"]
        );
        let with_user = url("http://me:password1@host/x?token=abc");
        assert_eq!(
            with_user.secrets(),
            [
                "http://me:password1@host/x?token=abc",
                "/x?token=abc",
                "me",
                "password1"
            ]
        );
    }
}
