//! `bundle --summary FILE`: the train's report as Markdown, appended to FILE, as a workflow's
//! job summary (`$GITHUB_STEP_SUMMARY`) shows it: what departed, what waits, and why.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::app::trains::bundle::{OpenedPullRequest, TrainReport};
use crate::app::{AppError, AppResult};
use crate::core::text::inert::code_span;
use crate::core::trains::schedule::Departure;

/// Appends `report` to `path` (made if missing), pull requests linked under `pulls_url`
/// (`https://HOST/OWNER/REPO`) when the forge has pages of its own.
pub fn append(path: &Path, report: &TrainReport, pulls_url: Option<&str>) -> AppResult<()> {
    let io = |action, source| AppError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io("open", e))?;
    file.write_all(markdown(report, pulls_url).as_bytes())
        .map_err(|e| io("write", e))
}

/// The report as Markdown.
pub fn markdown(report: &TrainReport, pulls_url: Option<&str>) -> String {
    let link = |number: u64| match pulls_url {
        Some(url) => format!("[#{number}]({url}/pull/{number})"),
        None => format!("#{number}"),
    };
    let issues = |numbers: &[u64]| {
        numbers
            .iter()
            .map(|n| format!("#{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let already = |pr: &OpenedPullRequest| if pr.created { "" } else { " (already open)" };
    let mut text = String::from("\n## Clambake train\n\n");
    let departure = match report.departure {
        Departure::Due { at } => format!("Departed: train `{at}`."),
        Departure::Wait { next } => format!("No departure: the next train leaves at {next}."),
        Departure::NothingLanded => {
            "No departure: no work has landed since the last train.".to_owned()
        }
        Departure::Manual => "No departure: trains are manual (`--force` sends one).".to_owned(),
    };
    let _ = writeln!(text, "{departure}\n");
    for repair in &report.repairs {
        let _ = writeln!(text, "- Repaired: {repair}");
    }
    if report.bundles.is_empty() && report.individual.is_empty() {
        text.push_str("Nothing to send.\n");
    }
    if !report.bundles.is_empty() {
        text.push_str("\n### Bundle pull requests\n\n");
        for pr in &report.bundles {
            let _ = writeln!(
                text,
                "- {} {}{}: {}",
                link(pr.number),
                code_span(&pr.head),
                already(pr),
                issues(&pr.issues)
            );
        }
    }
    if !report.individual.is_empty() {
        text.push_str("\n### Individual pull requests\n\n");
        for pr in &report.individual {
            let why = pr.why.as_deref().unwrap_or_default();
            let _ = writeln!(
                text,
                "- {} {}{} for {}: {why}",
                link(pr.number),
                code_span(&pr.head),
                already(pr),
                issues(&pr.issues)
            );
        }
    }
    if !report.waiting.is_empty() {
        text.push_str("\n### Waiting for a later train\n\n");
        for waiting in &report.waiting {
            let _ = writeln!(text, "- #{}: {}", waiting.issue, waiting.why);
        }
    }
    for left_alone in &report.left_alone {
        let _ = writeln!(
            text,
            "\nLeft {} alone: {}",
            code_span(&left_alone.branch),
            left_alone.why
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::trains::bundle::Waiting;

    fn report(bundles: Vec<OpenedPullRequest>, individual: Vec<OpenedPullRequest>) -> TrainReport {
        let at = "2026-12-01T18:10:00Z".parse().unwrap();
        TrainReport {
            dry_run: false,
            departure: Departure::Due { at },
            next: Departure::NothingLanded,
            plan: None,
            bundles,
            individual,
            waiting: vec![Waiting {
                issue: 7,
                why: "waits for #5 to merge".to_owned(),
            }],
            repairs: Vec::new(),
            pending: Vec::new(),
            left_out: Vec::new(),
            left_alone: Vec::new(),
            checking: Vec::new(),
        }
    }

    #[test]
    fn departures_link_their_pull_requests_and_say_what_waits() {
        let bundle = OpenedPullRequest {
            number: 12,
            head: "clambake/bundle-20261201-181000".to_owned(),
            issues: vec![3, 4],
            created: true,
            why: None,
        };
        let lone = OpenedPullRequest {
            number: 13,
            head: "agent001/5-five".to_owned(),
            issues: vec![5],
            created: false,
            why: Some("conflicts with the base branch in `a.txt`".to_owned()),
        };
        let text = markdown(
            &report(vec![bundle], vec![lone]),
            Some("https://github.com/o/r"),
        );
        assert!(text.contains(
            "- [#12](https://github.com/o/r/pull/12) `clambake/bundle-20261201-181000`: #3, #4\n"
        ), "{text}");
        assert!(
            text.contains(
                "- [#13](https://github.com/o/r/pull/13) `agent001/5-five` (already open) for #5: \
             conflicts with the base branch in `a.txt`\n"
            ),
            "{text}"
        );
        assert!(text.contains("- #7: waits for #5 to merge\n"), "{text}");
        assert!(!text.contains("Nothing to send"), "{text}");
    }

    #[test]
    fn a_train_that_sends_nothing_says_so_without_links() {
        let text = markdown(&report(Vec::new(), Vec::new()), None);
        assert!(text.contains("Nothing to send.\n"), "{text}");
        assert!(!text.contains("]("), "{text}");
    }
}
