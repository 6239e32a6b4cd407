//! How an `agent` command ends, for its exit status.

use std::process::ExitCode;

use crate::app::ErrorKind;

/// How an `agent` command ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Consistent,
    Inconsistent,
    /// A recovery step failed.
    Failed,
}

impl Health {
    pub fn of(consistent: bool) -> Self {
        if consistent {
            Self::Consistent
        } else {
            Self::Inconsistent
        }
    }

    /// 0 when consistent, else the code of [`ErrorKind::Inconsistent`] or, for a failed
    /// recovery step, of [`ErrorKind::System`].
    pub fn exit_code(self) -> ExitCode {
        match self {
            Self::Consistent => ExitCode::SUCCESS,
            Self::Inconsistent => ExitCode::from(ErrorKind::Inconsistent.code()),
            Self::Failed => ExitCode::from(ErrorKind::System.code()),
        }
    }
}
