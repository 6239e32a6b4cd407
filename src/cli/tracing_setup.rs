//! Where a command's logs and error reports go, and how they look.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

use crate::app::compose::log_writer;

/// How `run` logs its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Errors wrap to the terminal's width on a terminal, and stay one line a sentence when piped.
pub fn init_error_reports() {
    let wrap = std::io::stderr().is_terminal();
    // Only fails if a hook is already set, and then that one is used.
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(wrap).build())
    }));
}

/// Logs go to stderr (or `file`): warnings by default, progress too for `run`, JSON lines on
/// request; every secret in the environment redacted.
pub fn init_tracing(verbose: u8, run_log: Option<LogFormat>, file: Option<std::fs::File>) {
    let filter = EnvFilter::try_from_env("CLAMBAKE_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter(verbose, run_log.is_some())));
    let (writer, ansi) = match file {
        Some(file) => (log_writer(std::sync::Mutex::new(file)), false),
        None => (log_writer(std::io::stderr), std::io::stderr().is_terminal()),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if run_log == Some(LogFormat::Json) {
        logs.json().init();
    } else {
        logs.with_timer(HumanTime).init();
    }
}

/// The log filter without `CLAMBAKE_LOG`. octocrab logs every failed request at ERROR, a
/// 502 the forge retries or a dropped connection alike; the forge tells what matters itself,
/// so octocrab's own lines show only from `-vv`.
fn default_filter(verbose: u8, run: bool) -> String {
    let level = match verbose {
        0 if run => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    if verbose >= 2 {
        level.to_owned()
    } else {
        format!("{level},octocrab=off")
    }
}

/// Log lines start with the time as a person reads it, `2026-12-01 07:52:10 UTC` (JSON
/// lines keep the machine's RFC 3339 form).
struct HumanTime;

impl tracing_subscriber::fmt::time::FormatTime for HumanTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        w.write_str(&crate::core::text::human_time::moment(
            jiff::Timestamp::now(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octocrab_is_quiet_unless_very_verbose() {
        assert_eq!(default_filter(0, false), "warn,octocrab=off");
        assert_eq!(default_filter(0, true), "info,octocrab=off");
        assert_eq!(default_filter(1, false), "info,octocrab=off");
        assert_eq!(default_filter(2, false), "debug");
        assert_eq!(default_filter(3, true), "trace");
    }
}
