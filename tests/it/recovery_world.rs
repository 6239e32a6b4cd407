//! A real world for drift and recovery tests: a repository set up by `clambake init`, its local
//! forge and journal, agent branches and worktrees made with git, and real child processes
//! standing for agents.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clambake::app::Workspace;
use clambake::app::lifecycle::transitions::{open_journal, transition};
use clambake::app::recovery::repair::World;
use clambake::core::config::Config;
use clambake::core::lifecycle::machine::Event;
use clambake::core::recovery::drift::Inconsistency;
use clambake::ports::forge::NewIssue;
use clambake::ports::journal::Store;
use clambake::ports::processes::{AgentProcesses, ObservedProcess, ProcessResult};
use clambake::ports::{Forge, SystemClock};
use jiff::Timestamp;

use crate::backend::Backend;
use crate::support::TestRepo;

/// Agent processes as real children: a running `sleep` is alive; one killed and reaped is dead.
#[derive(Default)]
pub struct ChildProcesses {
    children: Mutex<Vec<(String, u64, Child, Timestamp)>>,
}

impl ChildProcesses {
    pub fn spawn(&self, agent: &str, issue: u64, started: Timestamp) {
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        self.children
            .lock()
            .unwrap()
            .push((agent.to_owned(), issue, child, started));
    }

    /// Kills and reaps `agent`'s processes; the registry still lists them, dead.
    pub fn kill(&self, agent: &str) {
        for (owner, _, child, _) in self.children.lock().unwrap().iter_mut() {
            if owner == agent {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
    }
}

impl Drop for ChildProcesses {
    fn drop(&mut self) {
        for (_, _, child, _) in self.children.get_mut().unwrap().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[async_trait]
impl AgentProcesses for ChildProcesses {
    async fn processes(&self) -> ProcessResult<Vec<ObservedProcess>> {
        let mut children = self.children.lock().unwrap();
        Ok(children
            .iter_mut()
            .map(|(agent, issue, child, started)| ObservedProcess {
                agent: agent.clone(),
                issue: *issue,
                attempt: None,
                pid: Some(child.id()),
                alive: child.try_wait().unwrap().is_none(),
                last_activity: Some(*started),
            })
            .collect())
    }

    async fn stop(&self, agent: &str) -> ProcessResult<()> {
        self.kill(agent);
        Ok(())
    }
}

pub struct TestWorld {
    pub repo: TestRepo,
    pub workspace: Workspace,
    pub forge: Arc<dyn Forge>,
    pub journal: Box<dyn Store>,
    pub processes: ChildProcesses,
    pub config: Config,
}

impl TestWorld {
    pub async fn new() -> Self {
        Self::on(Backend::Local).await
    }

    /// A world on `backend`: on GitHub, the forge is the fake, reached in this process.
    pub async fn on(backend: Backend) -> Self {
        let repo = TestRepo::on(backend);
        repo.init(&[]).success();
        let workspace = Workspace::discover(repo.path()).await.unwrap();
        let forge: Arc<dyn Forge> = match backend {
            Backend::Local => Arc::new(
                workspace
                    .open_local_forge(Arc::new(SystemClock))
                    .await
                    .unwrap(),
            ),
            Backend::Github => repo.open_configured_forge(&workspace).await,
        };
        let journal = open_journal(&workspace).unwrap();
        let config = workspace.load_config().unwrap().config;
        Self {
            repo,
            workspace,
            forge,
            journal: Box::new(journal),
            processes: ChildProcesses::default(),
            config,
        }
    }

    pub fn world(&self) -> World<'_> {
        World::new(
            &self.workspace,
            self.forge.as_ref(),
            self.journal.as_ref(),
            &self.processes,
            "main".to_owned(),
            &self.config,
        )
    }

    pub async fn issue(&self, labels: &[&str]) -> u64 {
        let new = NewIssue {
            title: "Fix it".into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            ..NewIssue::default()
        };
        self.forge.create_issue(&new).await.unwrap().number
    }

    pub async fn labels(&self, issue: u64) -> Vec<String> {
        self.forge.issue(issue).await.unwrap().labels
    }

    pub async fn last_comment(&self, issue: u64) -> String {
        let comments = self.forge.comments(issue).await.unwrap();
        comments.last().map(|c| c.body.clone()).unwrap_or_default()
    }

    /// `agent`'s branch for `issue`, `commits` commits ahead of `main`.
    pub fn branch(&self, agent: &str, issue: u64, commits: u32) -> String {
        let name = format!("{agent}/{issue}-fix");
        self.repo.git(&["branch", &name, "main"]);
        for n in 0..commits {
            let file = format!("{agent}-{issue}-{n}.txt");
            self.repo
                .branch_with_file(&name, &name, &file, &format!("{n}\n"));
        }
        name
    }

    pub fn tip(&self, branch: &str) -> String {
        self.repo
            .git(&["rev-parse", &format!("refs/heads/{branch}")])
    }

    pub fn has_ref(&self, reference: &str) -> bool {
        let output = Command::new("git")
            .current_dir(self.repo.path())
            .args(["rev-parse", "--verify", "--quiet", reference])
            .output()
            .unwrap();
        output.status.success()
    }

    pub fn journal_event(&self, agent: &str, event: Event) {
        transition(
            self.journal.as_ref(),
            agent,
            &event,
            "test",
            Timestamp::now(),
        )
        .unwrap();
    }

    /// The journal has `agent` working on `issue` on `branch`.
    pub fn working(&self, agent: &str, issue: u64, branch: &str, commits_ahead: u32) {
        self.journal_event(
            agent,
            Event::Assign {
                agent_id: agent.into(),
                issue,
                branch: branch.into(),
            },
        );
        self.journal_event(agent, Event::StartWork { commits_ahead });
    }

    /// `git worktree add .clambake/worktrees/<agent>-<issue> <branch>`.
    pub fn worktree(&self, agent: &str, issue: u64, branch: &str) -> PathBuf {
        let path = self
            .workspace
            .state_dir()
            .join("worktrees")
            .join(format!("{agent}-{issue}"));
        self.repo
            .git(&["worktree", "add", "--quiet", path.to_str().unwrap(), branch]);
        path
    }

    pub fn state(&self, agent: &str) -> clambake::core::lifecycle::machine::State {
        clambake::ports::journal::Journal::current_state(self.journal.as_ref(), agent).unwrap()
    }

    /// Every inconsistency now.
    pub async fn found(&self, now: Timestamp) -> Vec<Inconsistency> {
        clambake::app::recovery::repair::diagnose(&self.world(), None, now)
            .await
            .unwrap()
            .plans
            .into_iter()
            .map(|p| p.inconsistency)
            .collect()
    }

    /// Every commit reachable from a branch or an archive reference.
    pub fn reachable(&self) -> BTreeSet<String> {
        let out = self
            .repo
            .git(&["rev-list", "--branches", "--glob=refs/clambake/archive/*"]);
        out.lines().map(str::to_owned).collect()
    }
}
