//! `clambake init`

use clap::{Args, ValueEnum};

use super::output::print_json;
use crate::app::setup::init::{Change, init};
use crate::app::{AppResult, Workspace};
use crate::core::config::ForgeBackend;
use crate::ports::forge::LabelChange;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where issues and pull requests live.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    backend: Backend,
    /// How many agents may work at once (also creates that many agentNNN labels).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    agents: Option<u32>,
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
    let backend = match args.backend {
        Backend::Local => ForgeBackend::Local,
        Backend::Github => ForgeBackend::Github,
    };
    let report = init(workspace, backend, args.agents).await?;
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
    describe(report.forge, "local forge (.clambake/forge.db)");
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
    println!(
        "\nNext: `clambake issue create --title \"...\" --label route:ready`, then `clambake status`."
    );
    Ok(())
}
