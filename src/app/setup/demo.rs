//! `demo`: a sample repository with a dozen issues (some written to conflict, one to fail, one
//! for humans only), worked by agents until idle, so a newcomer sees the whole flow in seconds.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::watch;

use crate::app::run::assemble::{RunRequest, RunSummary, run};
use crate::app::run::orchestrator::StopWhen;
use crate::app::setup::init::init;
use crate::app::workspace::write_atomically;
use crate::app::{AppError, AppResult, Workspace};
use crate::core::config::{self, ForgeBackend};
use crate::core::queue::labels;
use crate::ports::forge::{IssueFilter, NewIssue};
use crate::ports::git::Author;

/// How many agents the demo runs at once.
pub const DEMO_AGENTS: u32 = 4;

/// Which agent works the demo's issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoRuntime {
    /// The built-in simulated agent: no account, no network, seconds.
    Simulated,
    /// Claude Code, as configured in the environment (`claude` on PATH, an API key).
    Claude,
}

/// One of the sample issues.
struct SampleIssue {
    title: &'static str,
    body: &'static str,
    labels: &'static [&'static str],
}

/// The sample project's files: (path, contents).
const SAMPLE_FILES: &[(&str, &str)] = &[
    (
        "README.md",
        "# Greeter\n\nA tiny program that greets people.\n\n## Usage\n\n    greeter NAME\n",
    ),
    (
        "docs/greetings.md",
        "# Greetings\n\nThe languages Greeter speaks:\n\n- English: Hello\n",
    ),
    ("src/greeter.txt", "Hello, {name}!\n"),
];

/// Twelve issues: eight that land cleanly, two pairs that touch the same file (each pair
/// conflicts, so one of each leaves on its own pull request), one that always fails, and one
/// no agent may take.
const SAMPLE_ISSUES: &[SampleIssue] = &[
    SampleIssue {
        title: "Add a French greeting",
        body: "Greeter should say Bonjour.\n\nsimulate: edit docs/greetings.md",
        labels: &[labels::READY, labels::PRIORITY_HIGH],
    },
    SampleIssue {
        title: "Add a Spanish greeting",
        body: "Greeter should say Hola.\n\nsimulate: edit docs/greetings.md",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Document the command-line flags",
        body: "Describe every flag in docs/.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Add a changelog",
        body: "Start CHANGELOG.md with the first release.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Fix the usage example in the README",
        body: "The usage line is missing quotes.\n\nsimulate: edit README.md",
        labels: &[labels::READY, labels::PRIORITY_MEDIUM],
    },
    SampleIssue {
        title: "Add build badges to the README",
        body: "Show the build status at the top.\n\nsimulate: edit README.md",
        labels: &[labels::READY, labels::PRIORITY_LOW],
    },
    SampleIssue {
        title: "Write a contributing guide",
        body: "How to build, test and send changes.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Describe the architecture",
        body: "One page on how Greeter is put together.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Add a code of conduct",
        body: "Adopt a common code of conduct.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Add a security policy",
        body: "Say how to report a vulnerability.",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Make greetings configurable",
        body: "Too vague for an agent: it will give up without a change.\n\n\
               simulate: outcome no-commits",
        labels: &[labels::READY],
    },
    SampleIssue {
        title: "Choose a licence",
        body: "A decision for the maintainers.",
        labels: &[labels::READY, labels::HUMAN_ONLY],
    },
];

/// What the demo made and did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub directory: PathBuf,
    pub runtime: DemoRuntime,
    pub run: RunSummary,
}

/// Creates the sample repository in `dir` (which must not exist or be empty), then runs the
/// agents on it until nothing is left for them.
pub async fn demo(
    dir: &Path,
    runtime: DemoRuntime,
    shutdown: watch::Receiver<u32>,
) -> AppResult<DemoReport> {
    let workspace = create_sample(dir, runtime).await?;
    let summary = run(
        &workspace,
        RunRequest {
            agents: None,
            stop_when: StopWhen::Idle,
            detach_agents: false,
            serve: false,
            budget_usd: None,
        },
        shutdown,
    )
    .await?;
    Ok(DemoReport {
        directory: workspace.root.clone(),
        runtime,
        run: summary,
    })
}

async fn create_sample(dir: &Path, runtime: DemoRuntime) -> AppResult<Workspace> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| AppError::Io {
            action,
            path,
            source,
        }
    };
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(io("read", dir))?
            .next()
            .is_some()
    {
        return Err(AppError::DemoDirectoryInUse {
            dir: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let workspace = Workspace::create(dir, "main").await?;
    for (path, contents) in SAMPLE_FILES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::write(&file, contents).map_err(io("write", &file))?;
    }
    let paths: Vec<&str> = SAMPLE_FILES.iter().map(|(path, _)| *path).collect();
    commit_as_demo(&workspace, &paths, "The Greeter sample project").await?;

    init(&workspace, ForgeBackend::Local, Some(DEMO_AGENTS)).await?;
    let mut text = workspace.read_config_text()?.unwrap_or_default();
    let path = workspace.config_path().display().to_string();
    let simulated = runtime == DemoRuntime::Simulated;
    for (key, value) in [
        ("agents.real_processes", (!simulated).to_string()),
        (
            "agents.runtime",
            if simulated { "simulated" } else { "claude" }.to_owned(),
        ),
        ("agents.max_attempts", "2".to_owned()),
        ("agents.retry_backoff_seconds", "1".to_owned()),
        // One train at the end, when the run is idle, carries everything that landed.
        ("bundling.trigger", "manual".to_owned()),
    ] {
        text = config::set_in_text(&path, &text, key, &value)?;
    }
    write_atomically(&workspace.config_path(), &text)?;
    commit_as_demo(
        &workspace,
        &["clambake.toml", ".gitignore"],
        "Set up Clambake",
    )
    .await?;

    let forge = workspace.open_forge(ForgeBackend::Local).await?;
    if forge.issues(&IssueFilter::default()).await?.is_empty() {
        for issue in SAMPLE_ISSUES {
            forge
                .create_issue(&NewIssue {
                    title: issue.title.to_owned(),
                    body: issue.body.to_owned(),
                    labels: issue.labels.iter().map(|l| (*l).to_owned()).collect(),
                    assignees: Vec::new(),
                })
                .await?;
        }
    }
    Ok(workspace)
}

/// Commits `paths` as the demo's maintainer, whatever identity the machine has configured.
async fn commit_as_demo(workspace: &Workspace, paths: &[&str], message: &str) -> AppResult<()> {
    let author = Author {
        name: "Clambake Demo",
        email: "demo@clambake.localhost",
    };
    workspace
        .worktrees()
        .commit_files(&workspace.root, paths, message, author)
        .await?;
    Ok(())
}
