//! Notifications: the small JSON messages `[notify] webhook_url` receives when an issue fails,
//! a bundle is ready for review or the run stops. `message.rs` is their schema (versioned, as
//! documented in the README); `webhook.rs` the receiver's URL, checked when the configuration
//! loads and shown everywhere with its secret part redacted.

pub mod message;
pub mod webhook;

pub use message::{Links, Notification, NotificationEvent, StopReason, VERSION};
pub use webhook::{WebhookUrl, WebhookUrlError};
