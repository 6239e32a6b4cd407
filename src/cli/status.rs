//! `clambake status`

use clap::Args;

use super::output::{print_json, print_table, table};
use crate::app::AppResult;
use crate::app::queue::status::status;
use crate::core::queue::standing::Stage;
use crate::ports::Forge;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

/// How many issue numbers a stage lists before summarising the rest.
const SHOWN_PER_STAGE: usize = 8;

pub async fn run(forge: &dyn Forge, args: StatusArgs) -> AppResult<()> {
    let report = status(forge).await?;
    if args.json {
        print_json(&report);
        return Ok(());
    }
    let mut rows = table(["STAGE", "COUNT", "ISSUES"]);
    for stage in Stage::ALL {
        let entries = &report.stages[&stage];
        if entries.is_empty()
            && matches!(stage, Stage::HumanOnly | Stage::Untriaged | Stage::Failed)
        {
            continue;
        }
        let mut shown: Vec<String> = entries
            .iter()
            .take(SHOWN_PER_STAGE)
            .map(|e| match &e.agent {
                Some(agent) => format!("#{} ({agent})", e.number),
                None => format!("#{}", e.number),
            })
            .collect();
        if entries.len() > SHOWN_PER_STAGE {
            shown.push(format!("and {} more", entries.len() - SHOWN_PER_STAGE));
        }
        rows.add_row([
            stage.as_str().to_owned(),
            entries.len().to_string(),
            shown.join(" "),
        ]);
    }
    print_table(&rows, "");
    let open = &report.open_pull_requests;
    println!(
        "\nopen pull requests: {}",
        if open.is_empty() {
            "none".to_owned()
        } else {
            open.iter()
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    );
    Ok(())
}
