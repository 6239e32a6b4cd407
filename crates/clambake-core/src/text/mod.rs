//! Text that crosses a trust boundary: inert rendering, secret redaction, closing keywords
//! and times as people read them.

pub mod closing;
pub mod human_time;
pub mod inert;
pub mod redact;
