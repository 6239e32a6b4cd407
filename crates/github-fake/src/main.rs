//! Runs the GitHub fake on its own, for trying Clambake's GitHub backend offline.

use std::path::PathBuf;

use clambake_github_fake::{FakeGithub, Options};
use clap::Parser;

/// A stateful stand-in for GitHub's REST API on 127.0.0.1, serving one repository.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The bare repository that is the `origin` remote (created if missing).
    #[arg(long)]
    repo: PathBuf,
    /// The repository's owner.
    #[arg(long, default_value = "clambake")]
    owner: String,
    /// The repository's name.
    #[arg(long, default_value = "demo")]
    name: String,
    /// The token the fake accepts; read from the environment so that it stays out of argv.
    #[arg(
        long,
        env = "FAKE_GITHUB_TOKEN",
        default_value = "fake-token",
        hide_env_values = true
    )]
    token: String,
    /// The login of the token's user (default: the owner).
    #[arg(long)]
    login: Option<String>,
    /// How the token's user is associated with the repository.
    #[arg(long, default_value = "OWNER")]
    association: String,
    /// Requests per hour before the primary rate limit refuses.
    #[arg(long, default_value_t = 5000)]
    rate_limit: u64,
    /// Act as an installation token (a GitHub App's): `GET /user` is refused.
    #[arg(long)]
    installation: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let fake = FakeGithub::start(Options {
        login: args.login.unwrap_or_else(|| args.owner.clone()),
        owner: args.owner,
        repo: args.name,
        bare_repo: args.repo,
        token: args.token,
        association: args.association,
        rate_limit: args.rate_limit,
        installation: args.installation,
        port: args.port,
    })
    .await?;
    println!("api_url: {}", fake.api_url());
    println!("origin_url: {}", fake.origin_url());
    println!("token: {}", fake.token());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
