//! Integration tests: real git repositories in temporary directories, the real SQLite-backed
//! local forge, and the real `clambake` binary.
//!
//! Tests wait for events with `support::wait_for`, never for a fixed time. Property tests keep
//! the failing cases they find in `tests/proptest-regressions/` (the core's beside its `src/`)
//! and replay them first: commit those files.

mod agent_adoption;
mod agent_attempts;
mod agent_commands;
mod agent_history_cli;
mod agent_host;
mod agent_processes;
mod agent_recovery_cli;
mod agent_secrets;
mod agent_unavailable;
mod architecture;
mod body_files;
mod branch_deletion;
mod bundle_cli;
mod bundle_crash;
mod bundle_git;
mod bundle_pending;
mod bundle_records;
mod chaos;
mod claude_attempts;
mod claude_code;
mod claude_failures;
mod claude_resume;
mod claude_run;
mod cli;
mod codex_attempts;
mod conditional_listing;
mod conditional_polls;
mod damaged_databases;
mod demo;
mod empty_repository;
mod exit_codes;
mod finished_work;
mod github_faults;
mod github_forge;
mod github_init;
mod hooked_forge;
mod hostile;
mod hostile_lifecycle;
mod hostile_review;
mod human_times;
mod interrupted_worktree;
mod journal;
mod landing_by_hand;
mod local_forge;
mod local_remote;
mod manual_lifecycle;
mod model_server;
mod orchestrator_props;
mod origin_remote;
mod process_escape;
mod process_review;
mod recovery;
mod recovery_props;
mod recovery_world;
mod refname;
mod responses_server;
mod rollback;
mod run_faults;
mod run_loop;
mod run_view;
mod shared_claims;
mod simulated_marking;
mod spawn_cli;
mod stuck_claims;
mod support;
mod train_departures;
mod unrelated_landing;
