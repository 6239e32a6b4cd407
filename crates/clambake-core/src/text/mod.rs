//! Text that crosses a trust boundary: inert rendering, secret redaction, closing keywords,
//! times as people read them, and every text Clambake writes to the forge.

pub mod closing;
pub mod human_time;
pub mod inert;
pub mod redact;
