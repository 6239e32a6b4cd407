//! The bundling workflow: a train on `bundling.schedule_minutes`' schedule, or when Clambake
//! dispatches it (`--force` when asked), one at a time, its report in the job's summary.
//!
//! The schedule is there only while the configuration departs trains from Actions
//! (`github_actions.enabled` and `bundling.executor = "actions"`): a workflow installed on a
//! repository whose trains depart from the orchestrator's machine would otherwise send a second
//! train from GitHub every period. Without it, the workflow runs when dispatched
//! (`clambake actions trigger`), and `config set` adds the schedule when either key turns it on.

use super::{
    STEP_ID, checkout_and_install, clambake_env, comment, cron, dispatch_key_input, header, job,
    token_expression,
};
use crate::config::{BundlingExecutor, Config};

/// The bundling workflow's input that makes the train depart whatever the schedule says.
pub const INPUT_FORCE_BUNDLE: &str = "force_bundle";

/// `.github/workflows/<github_actions.bundling_workflow>` for `config`, installing Clambake
/// `version` (the running binary's).
pub fn bundling_workflow(config: &Config, version: &str) -> String {
    format!(
        "{header}\
         name: Clambake bundling\n\
         run-name: Clambake bundling ${{{{ inputs.dispatch_key }}}}\n\
         on:\n{schedule}\
         \x20 workflow_dispatch:\n    inputs:\n      {INPUT_FORCE_BUNDLE}:\n        \
         description: Depart now, whatever the schedule says.\n        type: boolean\n        \
         required: false\n        default: false\n{dispatch_key}\
         # Two trains never leave at once: a second run waits for the first.\n\
         concurrency:\n  group: clambake-bundling\n  cancel-in-progress: false\n\
         permissions:\n  contents: write\n  pull-requests: write\n  issues: write\n\
         {job}{steps}\
         \x20     - name: Bundle\n        id: {STEP_ID}\n        env:\n          \
         FORCE_BUNDLE: ${{{{ inputs.{INPUT_FORCE_BUNDLE} }}}}\n{env}        run: |\n          \
         if [ \"$FORCE_BUNDLE\" = true ]; then\n            \
         clambake bundle --force --summary \"$GITHUB_STEP_SUMMARY\"\n          else\n            \
         clambake bundle --summary \"$GITHUB_STEP_SUMMARY\"\n          fi\n",
        header = header("the bundling workflow", version),
        schedule = schedule(config),
        dispatch_key = dispatch_key_input(),
        job = job("bundle", config),
        steps = checkout_and_install(config, &token_expression(config), version),
        env = clambake_env(&token_expression(config)),
    )
}

/// The `schedule` trigger, or a comment saying why there is none.
fn schedule(config: &Config) -> String {
    let from_actions =
        config.github_actions.enabled && config.bundling.executor == BundlingExecutor::Actions;
    if !from_actions {
        return comment(
            "No schedule: trains depart from the orchestrator's machine (github_actions.enabled \
             and bundling.executor = \"actions\" would depart them from here on a schedule), \
             and from here when dispatched.",
            "  ",
        );
    }
    let minutes = config.bundling.schedule_minutes;
    let schedule = cron::schedule(minutes);
    let mut text = String::from("  schedule:\n");
    text.push_str(&comment(
        &format!(
            "A train departs at every UTC multiple of {minutes} minutes \
             (bundling.schedule_minutes). GitHub may start a scheduled run a few minutes late."
        ),
        "    ",
    ));
    for line in &schedule.caveat {
        text.push_str(&comment(line, "    "));
    }
    text.push_str(&format!("    - cron: '{}'\n", schedule.cron));
    text
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;

    /// A configuration whose trains depart from Actions.
    fn from_actions() -> Config {
        let mut config = Config::default();
        config.github_actions.enabled = true;
        config.bundling.executor = BundlingExecutor::Actions;
        config
    }

    #[test]
    fn by_default() {
        assert_snapshot!(bundling_workflow(&Config::default(), "0.1.0"));
    }

    #[test]
    fn departing_from_actions() {
        assert_snapshot!(bundling_workflow(&from_actions(), "0.1.0"));
    }

    #[test]
    fn every_seven_minutes_from_a_git_repository_without_a_token_secret() {
        let mut config = from_actions();
        config.bundling.schedule_minutes = 7;
        config.github_actions.clambake_git = "https://example.com/clambake.git".to_owned();
        config.github_actions.token_secret = String::new();
        config.github_actions.runs_on = "self-hosted".to_owned();
        assert_snapshot!(bundling_workflow(&config, "0.1.0"));
    }

    #[test]
    fn the_schedule_follows_the_configuration() {
        let mut config = from_actions();
        config.bundling.schedule_minutes = 120;
        let text = bundling_workflow(&config, "0.1.0");
        assert!(text.contains("    - cron: '0 */2 * * *'\n"), "{text}");
        config.github_actions.enabled = false;
        let text = bundling_workflow(&config, "0.1.0");
        assert!(!text.contains("  schedule:\n"), "{text}");
        config.github_actions.enabled = true;
        config.bundling.executor = BundlingExecutor::Local;
        assert_eq!(bundling_workflow(&config, "0.1.0"), text);
    }
}
