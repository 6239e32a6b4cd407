//! Notifications: the small JSON messages `[notify] webhook_url` receives when an issue fails,
//! a bundle is ready for review, a budget is spent or the run stops. `message.rs` is their
//! schema (versioned, as documented in the README); the receiver's URL is configuration
//! (`config::webhook`).

pub mod message;

pub use message::{Links, Notification, NotificationEvent, StopReason, VERSION};
