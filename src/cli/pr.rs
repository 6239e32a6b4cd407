//! `clambake pr create|list|show|merge|close|review`

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use super::body::BodyArgs;
use super::output::{print_comments, print_json, print_table, table, when};
use crate::app::AppResult;
use crate::app::trains::merge::{self, Merge};
use crate::ports::Forge;
use crate::ports::forge::{
    NewPullRequest, NewReview, Number, PullRequestFilter, PullRequestState, ReviewState,
};

#[derive(Debug, Args)]
pub struct PrArgs {
    #[command(subcommand)]
    command: PrCommand,
}

#[derive(Debug, Subcommand)]
enum PrCommand {
    /// Open a pull request from a branch.
    Create {
        /// The branch with the changes.
        #[arg(long)]
        head: String,
        /// The branch to merge into (default: the forge's default branch).
        #[arg(long)]
        base: Option<String>,
        #[arg(long)]
        title: String,
        /// `Closes #N` in the body closes issue N when the pull request is merged.
        #[command(flatten)]
        body: BodyArgs,
        #[arg(long)]
        json: bool,
    },
    /// List pull requests, lowest number first.
    List {
        #[arg(long, value_enum, default_value_t = StateFilter::Open)]
        state: StateFilter,
        #[arg(long)]
        json: bool,
    },
    /// Show one pull request.
    Show {
        number: Number,
        #[arg(long)]
        json: bool,
    },
    /// Merge with a merge commit onto the base branch; one already merged is reported, not
    /// refused, so that a re-run is safe.
    Merge {
        number: Number,
        #[arg(long)]
        json: bool,
    },
    /// Close without merging.
    Close {
        number: Number,
        #[arg(long)]
        json: bool,
    },
    /// Review an open pull request, as a person does on GitHub: "changes requested" on one of
    /// Clambake's sends its work back to an agent with the review in its prompt.
    #[command(group(ArgGroup::new("verdict").required(true)))]
    Review {
        number: Number,
        #[arg(long, group = "verdict")]
        request_changes: bool,
        #[arg(long, group = "verdict")]
        approve: bool,
        #[arg(long, group = "verdict")]
        comment: bool,
        /// What to change, and why (needed but to approve).
        #[command(flatten)]
        body: BodyArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StateFilter {
    Open,
    Merged,
    Closed,
    All,
}

pub async fn run(forge: &dyn Forge, args: PrArgs) -> AppResult<()> {
    match args.command {
        PrCommand::Create {
            head,
            base,
            title,
            body,
            json,
        } => {
            let pr = forge
                .create_pull_request(&NewPullRequest {
                    title,
                    body: body.text()?.unwrap_or_default(),
                    head,
                    base,
                })
                .await?;
            if json {
                print_json(&pr);
            } else {
                println!(
                    "Created pull request #{} ({} into {})",
                    pr.number, pr.head, pr.base
                );
            }
        }
        PrCommand::List { state, json } => {
            let state = match state {
                StateFilter::Open => Some(PullRequestState::Open),
                StateFilter::Merged => Some(PullRequestState::Merged),
                StateFilter::Closed => Some(PullRequestState::Closed),
                StateFilter::All => None,
            };
            let prs = forge
                .pull_requests(&PullRequestFilter { state, head: None })
                .await?;
            if json {
                print_json(&prs);
            } else {
                let mut rows = table(["#", "STATE", "TITLE", "BRANCHES"]);
                for pr in &prs {
                    rows.add_row([
                        pr.number.to_string(),
                        pr.state.as_str().to_owned(),
                        pr.title.clone(),
                        format!("{} -> {}", pr.head, pr.base),
                    ]);
                }
                print_table(&rows, "No pull requests match.");
            }
        }
        PrCommand::Show { number, json } => {
            let pr = forge.pull_request(number).await?;
            let comments = forge.comments(number).await?;
            if json {
                print_json(&serde_json::json!({ "pull_request": pr, "comments": comments }));
            } else {
                println!("#{} {}", pr.number, pr.title);
                println!("state:   {}", pr.state.as_str());
                println!("branch:  {} -> {}", pr.head, pr.base);
                if let Some(sha) = &pr.head_sha {
                    println!("head:    {sha}");
                }
                if let Some(sha) = &pr.merge_commit_sha {
                    println!("merged:  {sha}");
                }
                println!("opened:  {}", when(&pr.created_at));
                if !pr.body.is_empty() {
                    println!("\n{}", pr.body);
                }
                print_comments(&comments);
            }
        }
        PrCommand::Merge { number, json } => {
            let merge = merge::merge(forge, number).await?;
            if json {
                print_json(&merge);
            } else {
                let (outcome, done) = match &merge {
                    Merge::Merged(outcome) => (outcome, "Merged"),
                    Merge::AlreadyMerged(outcome) => (outcome, "Already merged:"),
                };
                let pr = &outcome.pull_request;
                println!(
                    "{done} pull request #{} into {} ({})",
                    pr.number,
                    pr.base,
                    pr.merge_commit_sha.as_deref().unwrap_or("?")
                );
                for issue in &outcome.closed_issues {
                    println!("Closed issue #{issue}");
                }
            }
        }
        PrCommand::Close { number, json } => {
            let pr = forge.close_pull_request(number).await?;
            if json {
                print_json(&pr);
            } else {
                println!("Closed pull request #{} without merging", pr.number);
            }
        }
        PrCommand::Review {
            number,
            request_changes,
            approve,
            comment: _,
            body,
            json,
        } => {
            let state = if request_changes {
                ReviewState::ChangesRequested
            } else if approve {
                ReviewState::Approved
            } else {
                ReviewState::Commented
            };
            let body = body.text()?.unwrap_or_default();
            if state != ReviewState::Approved && body.trim().is_empty() {
                return Err(crate::ports::forge::ForgeError::Invalid(
                    "a review that requests changes or comments needs --body (or --body-file)"
                        .to_owned(),
                )
                .into());
            }
            let review = forge
                .create_review(number, &NewReview { state, body })
                .await?;
            if json {
                print_json(&review);
            } else {
                println!(
                    "Reviewed pull request #{number}: {}",
                    review.state.as_str().replace('_', " ")
                );
            }
        }
    }
    Ok(())
}
