//! The backend an end-to-end test runs against. The tests of the lifecycle, agents, trains and
//! the run loop are one suite run on both: `#[rstest]` with
//! `#[values(Backend::Local, Backend::Github)] backend: Backend`, and `TestRepo::on(backend)`.

/// Where a test repository's issues and pull requests live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded forge in `.clambake/`.
    Local,
    /// The GitHub fake on 127.0.0.1, with its bare repository as `origin`.
    Github,
}
