//! `clambake completions SHELL`

use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// Prints the completion script of `command`, the whole command line.
pub fn run(args: CompletionsArgs, mut command: clap::Command) {
    clap_complete::generate(args.shell, &mut command, "clambake", &mut std::io::stdout());
}
