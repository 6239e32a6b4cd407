//! Telling someone outside what the run did: one [`Notification`] at a time, to wherever the
//! configuration sends them (`[notify] webhook_url`).

use async_trait::async_trait;

use crate::core::notify::Notification;

/// Delivers notifications.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one, retrying a little on a transient failure, within a bounded time; or says
    /// why it could not. Never blocks for longer than its own timeouts.
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}

/// Why a notification was not delivered, with where it was going (its credential redacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not deliver the {event} notification to {target} after {tries} tries: {cause}")]
pub struct NotifyError {
    pub event: &'static str,
    /// The receiver, as [`crate::core::config::webhook::WebhookUrl::redacted`] shows it.
    pub target: String,
    pub tries: u32,
    pub cause: String,
}
