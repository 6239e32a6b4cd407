//! Agent attempts: starting one, watching it, stopping it, and judging how it ended.

pub mod attempt;
pub mod check;
pub mod elsewhere;
pub mod handover;
pub mod lock;
pub mod logs;
pub mod loop_processes;
pub mod monitor;
pub mod processes;
pub mod prune;
pub mod remote_run;
pub mod request;
pub mod review_feedback;
pub mod simulated_work;
pub mod terminate;
pub mod verdict;
pub mod work_checks;
pub mod worktree;
