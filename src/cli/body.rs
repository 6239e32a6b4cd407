//! `--body TEXT` or `--body-file PATH` (`-` for standard input), for the commands that write
//! text to the forge: text too long for one argument (Linux caps one at 128 KiB) comes from a
//! file or a pipe.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use crate::app::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct BodyArgs {
    /// The text (for long text, use --body-file).
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Read the text from this file, or from standard input with `-`.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
}

impl BodyArgs {
    /// The text given, read from its file if need be; `None` if neither option was.
    pub fn text(self) -> AppResult<Option<String>> {
        match (self.body, self.body_file) {
            (Some(body), _) => Ok(Some(body)),
            (None, Some(path)) if path.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|source| AppError::Io {
                        action: "read the body from",
                        path: PathBuf::from("standard input"),
                        source,
                    })?;
                Ok(Some(text))
            }
            (None, Some(path)) => {
                std::fs::read_to_string(&path)
                    .map(Some)
                    .map_err(|source| AppError::Io {
                        action: "read the body from",
                        path,
                        source,
                    })
            }
            (None, None) => Ok(None),
        }
    }
}
