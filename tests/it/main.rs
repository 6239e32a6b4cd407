//! Integration tests: real git repositories in temporary directories, the real SQLite-backed
//! local forge, and the real `clambake` binary.

mod agent_adoption;
mod agent_attempts;
mod agent_commands;
mod agent_history_cli;
mod agent_processes;
mod agent_recovery_cli;
mod architecture;
mod bundle_cli;
mod bundle_crash;
mod bundle_git;
mod bundle_pending;
mod chaos;
mod claude_attempts;
mod claude_code;
mod claude_run;
mod cli;
mod codex_attempts;
mod demo;
mod interrupted_worktree;
mod journal;
mod local_forge;
mod model_server;
mod orchestrator_props;
mod recovery;
mod recovery_props;
mod recovery_world;
mod refname;
mod responses_server;
mod rollback;
mod run_faults;
mod run_loop;
mod run_view;
mod spawn_cli;
mod support;
