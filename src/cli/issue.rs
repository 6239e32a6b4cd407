//! `clambake issue create|list|show|label|comment|close`

use clap::{Args, Subcommand, ValueEnum};

use super::body::BodyArgs;
use super::output::{print_comments, print_json, print_table, table, when};
use crate::app::AppResult;
use crate::ports::Forge;
use crate::ports::forge::{IssueFilter, IssueState, NewIssue, Number};

#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(subcommand)]
    command: IssueCommand,
}

#[derive(Debug, Subcommand)]
enum IssueCommand {
    /// Open a new issue.
    Create {
        #[arg(long)]
        title: String,
        #[command(flatten)]
        body: BodyArgs,
        /// A label to add (repeatable), such as route:ready.
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List issues, lowest number first.
    List {
        /// Only issues with this label (repeatable: all must match).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        #[arg(long, value_enum, default_value_t = StateFilter::Open)]
        state: StateFilter,
        #[arg(long)]
        json: bool,
    },
    /// Show one issue with its comments.
    Show {
        number: Number,
        #[arg(long)]
        json: bool,
    },
    /// Add and remove labels.
    Label {
        number: Number,
        #[arg(long = "add", value_name = "LABEL")]
        add: Vec<String>,
        #[arg(long = "remove", value_name = "LABEL")]
        remove: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Comment on an issue.
    Comment {
        number: Number,
        #[command(flatten)]
        body: BodyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Close an issue.
    Close {
        number: Number,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StateFilter {
    Open,
    Closed,
    All,
}

pub async fn run(forge: &dyn Forge, args: IssueArgs) -> AppResult<()> {
    match args.command {
        IssueCommand::Create {
            title,
            body,
            labels,
            json,
        } => {
            let issue = forge
                .create_issue(&NewIssue {
                    title,
                    body: body.text()?.unwrap_or_default(),
                    labels,
                    assignees: Vec::new(),
                })
                .await?;
            if json {
                print_json(&issue);
            } else {
                println!("Created issue #{}: {}", issue.number, issue.title);
            }
        }
        IssueCommand::List {
            labels,
            state,
            json,
        } => {
            let state = match state {
                StateFilter::Open => Some(IssueState::Open),
                StateFilter::Closed => Some(IssueState::Closed),
                StateFilter::All => None,
            };
            let issues = forge.issues(&IssueFilter { state, labels }).await?;
            if json {
                print_json(&issues);
            } else {
                let mut rows = table(["#", "STATE", "TITLE", "LABELS"]);
                for issue in &issues {
                    rows.add_row([
                        issue.number.to_string(),
                        issue.state.as_str().to_owned(),
                        issue.title.clone(),
                        issue.labels.join(", "),
                    ]);
                }
                print_table(&rows, "No issues match.");
            }
        }
        IssueCommand::Show { number, json } => {
            let issue = forge.issue(number).await?;
            let comments = if issue.comments == 0 {
                Vec::new()
            } else {
                forge.comments(number).await?
            };
            if json {
                print_json(&serde_json::json!({ "issue": issue, "comments": comments }));
            } else {
                println!("#{} {}", issue.number, issue.title);
                println!("state:   {}", issue.state.as_str());
                println!("labels:  {}", issue.labels.join(", "));
                println!("opened:  {}", when(&issue.created_at));
                if let Some(closed) = issue.closed_at {
                    println!("closed:  {}", when(&closed));
                }
                if !issue.body.is_empty() {
                    println!("\n{}", issue.body);
                }
                print_comments(&comments);
            }
        }
        IssueCommand::Label {
            number,
            add,
            remove,
            json,
        } => {
            if add.is_empty() && remove.is_empty() {
                return Err(crate::ports::forge::ForgeError::Invalid(
                    "say which labels to change with --add LABEL and/or --remove LABEL".to_owned(),
                )
                .into());
            }
            let issue = forge.edit_labels(number, &add, &remove).await?;
            if json {
                print_json(&issue);
            } else {
                println!("#{} labels: {}", issue.number, issue.labels.join(", "));
            }
        }
        IssueCommand::Comment { number, body, json } => {
            let Some(body) = body.text()? else {
                return Err(crate::ports::forge::ForgeError::Invalid(
                    "say what the comment says with --body TEXT or --body-file PATH (- reads standard input)".to_owned(),
                )
                .into());
            };
            let comment = forge.create_comment(number, &body).await?;
            if json {
                print_json(&comment);
            } else {
                println!("Commented on #{number}");
            }
        }
        IssueCommand::Close { number, json } => {
            let issue = forge.set_issue_state(number, IssueState::Closed).await?;
            if json {
                print_json(&issue);
            } else {
                println!("Closed issue #{}: {}", issue.number, issue.title);
            }
        }
    }
    Ok(())
}
