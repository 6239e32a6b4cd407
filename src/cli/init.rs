//! `clambake init`

use clap::{Args, ValueEnum};

use super::output::print_json;
use crate::app::setup::init::{Change, GithubTarget, init, init_github};
use crate::app::{AppResult, Workspace};
use crate::core::config::ForgeBackend;
use crate::ports::forge::LabelChange;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where issues and pull requests live. On GitHub, the token is GH_TOKEN, GITHUB_TOKEN or
    /// `gh auth token`, and needs push access.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    /// How many agents may work at once (also creates that many agentNNN labels).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    agents: Option<u32>,
    /// With --backend github: the repository's owner (default: from origin's URL).
    #[arg(long)]
    owner: Option<String>,
    /// With --backend github: the repository's name (default: from origin's URL).
    #[arg(long)]
    repo: Option<String>,
    /// With --backend github: the REST API's base URL (default: GitHub's, or
    /// https://HOST/api/v3 for an Enterprise Server origin).
    #[arg(long)]
    api_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    /// The embedded forge: SQLite under .clambake/ and this repository's own refs.
    Local,
    /// GitHub's REST API.
    Github,
}

pub async fn run(workspace: &Workspace, args: InitArgs) -> AppResult<()> {
    let target = GithubTarget {
        owner: args.owner,
        repo: args.repo,
        api_url: args.api_url,
    };
    let report = match args.backend {
        Backend::Local => {
            if target.owner.is_some() || target.repo.is_some() || target.api_url.is_some() {
                clap::Error::raw(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--owner, --repo and --api-url name a GitHub repository: they go with \
                     --backend github\n",
                )
                .exit();
            }
            init(workspace, ForgeBackend::Local, args.agents).await?
        }
        Backend::Github => init_github(workspace, args.agents, &target).await?,
    };
    if args.json {
        print_json(&report);
        return Ok(());
    }
    if !report.changed_anything() {
        println!("Already initialized in {}: nothing changed.", report.root);
        return Ok(());
    }
    println!("Initialized clambake in {}", report.root);
    let describe = |change: Change, what: &str| match change {
        Change::Created => println!("  created  {what}"),
        Change::Updated => println!("  updated  {what}"),
        Change::Unchanged => println!("  kept     {what}"),
    };
    describe(report.config, "clambake.toml");
    describe(report.state_dir, ".clambake/");
    describe(report.gitignore, ".gitignore (ignores .clambake/)");
    match &report.github {
        None => describe(report.forge, "local forge (.clambake/forge.db)"),
        Some(github) => println!(
            "  github   {}/{} at {}, as {} ({} permission, token from {})",
            github.owner,
            github.repo,
            github.api_url,
            github.login,
            github.permission,
            github.token_source
        ),
    }
    let created = report
        .labels
        .iter()
        .filter(|(_, c)| *c == LabelChange::Created)
        .count();
    let updated = report
        .labels
        .iter()
        .filter(|(_, c)| *c == LabelChange::Updated)
        .count();
    println!(
        "  labels   {created} created, {updated} updated, {} already present",
        report.labels.len() - created - updated
    );
    super::actions::print_written(&report.workflows);
    if !report.workflows.is_empty() {
        println!(
            "  Commit clambake.toml and .github/workflows/ and push them to run on GitHub Actions."
        );
    }
    println!(
        "\nNext: `clambake issue create --title \"...\" --label route:ready`, then `clambake status`."
    );
    Ok(())
}
