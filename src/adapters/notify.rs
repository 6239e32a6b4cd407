//! Notifications POSTed as JSON to a webhook over HTTP, with reqwest: a short timeout, a few
//! tries on a transient failure (no answer, a 5xx, a 429), none on a refusal (another 4xx).
//! Redirects are not followed, and no error names the URL: its path may be a credential.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};

use crate::core::config::webhook::WebhookUrl;
use crate::core::notify::Notification;
use crate::ports::notifier::{Notifier, NotifyError};

/// How hard delivery tries.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Each try's limit, from connecting to the end of the answer.
    pub timeout: Duration,
    pub tries: u32,
    /// The wait before the second try, doubled before each later one.
    pub backoff: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            tries: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// A webhook that takes JSON.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: WebhookUrl,
    delivery: Delivery,
}

impl WebhookNotifier {
    pub fn new(url: WebhookUrl, delivery: Delivery) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(delivery.timeout)
            .connect_timeout(delivery.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| error.without_url().to_string())?;
        Ok(Self {
            client,
            url,
            delivery,
        })
    }

    /// One try: `Ok`, or why not and whether another try may help.
    async fn post(&self, body: &[u8]) -> Result<(), (String, bool)> {
        let answer = self
            .client
            .post(self.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("clambake/", env!("CARGO_PKG_VERSION"))),
            )
            .body(body.to_vec())
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => {
                let status = answer.status();
                let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                Err((format!("it answered {status}"), transient))
            }
            Err(error) if error.is_timeout() => Err((
                format!("no answer within {}s", self.delivery.timeout.as_secs_f64()),
                true,
            )),
            Err(error) => Err((chain(&error.without_url()), true)),
        }
    }
}

/// An error and its causes, one after the other (reqwest's own says only "error sending
/// request").
fn chain(error: &dyn std::error::Error) -> String {
    let mut said = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        said.push_str(": ");
        said.push_str(&cause.to_string());
        source = cause.source();
    }
    said
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(notification).expect("a notification serializes");
        let mut wait = self.delivery.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.post(&body).await {
                Ok(()) => return Ok(()),
                Err((cause, transient)) if !transient || tries >= self.delivery.tries => {
                    return Err(NotifyError {
                        event: notification.event.name(),
                        target: self.url.redacted(),
                        tries,
                        cause,
                    });
                }
                Err((cause, _)) => {
                    tracing::debug!(target = %self.url, tries, %cause, "notification not delivered yet");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }
}
