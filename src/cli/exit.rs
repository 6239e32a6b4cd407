//! How a failed command ends: its error printed with its help, and the exit status of its kind
//! ([`ErrorKind::code`](crate::app::ErrorKind::code)).

use std::process::ExitCode;

use crate::app::AppError;

/// Prints `error` with its help, and returns the exit status of its kind.
pub fn report(error: AppError) -> ExitCode {
    let code = error.kind().code();
    eprintln!("{:?}", miette::Report::new(error));
    ExitCode::from(code)
}
