//! Finds an agent CLI as starting it would: a path as given, a bare name in the directories
//! of PATH.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a program cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unstartable {
    #[error("`{program}` is not on PATH")]
    NotOnPath { program: String },
    #[error("{} does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("{} is not an executable file", path.display())]
    NotExecutable { path: PathBuf },
}

/// Where `program` is: itself if it names a path (it holds a `/`), else the first executable
/// file of that name in `path` (a PATH value).
pub fn locate(program: &str, path: Option<&OsStr>) -> Result<PathBuf, Unstartable> {
    if program.contains('/') {
        let file = PathBuf::from(program);
        return match std::fs::metadata(&file) {
            Err(_) => Err(Unstartable::Missing { path: file }),
            Ok(_) if !is_executable(&file) => Err(Unstartable::NotExecutable { path: file }),
            Ok(_) => Ok(file),
        };
    }
    path.into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| Unstartable::NotOnPath {
            program: program.to_owned(),
        })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_path_or_at_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["/nonexistent".as_ref(), dir.path()]).unwrap();
        assert_eq!(locate("tool", Some(&path)), Ok(tool.clone()));
        assert_eq!(locate(tool.to_str().unwrap(), None), Ok(tool));
        assert_eq!(
            locate("plain", Some(&path)),
            Err(Unstartable::NotOnPath {
                program: "plain".to_owned()
            })
        );
        assert_eq!(
            locate(plain.to_str().unwrap(), Some(&path)),
            Err(Unstartable::NotExecutable { path: plain })
        );
        let gone = dir.path().join("gone");
        assert_eq!(
            locate(gone.to_str().unwrap(), Some(&path)),
            Err(Unstartable::Missing { path: gone })
        );
        assert!(locate("tool", None).is_err());
    }
}
