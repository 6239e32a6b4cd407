//! The bundling workflow: a train on `bundling.schedule_minutes`' schedule, or when Clambake
//! dispatches it (`--force` when asked), one at a time, its report in the job's summary.

use super::{
    STEP_ID, checkout_and_install, clambake_env, comment, cron, dispatch_key_input, header, job,
};
use crate::config::Config;

/// The bundling workflow's input that makes the train depart whatever the schedule says.
pub const INPUT_FORCE_BUNDLE: &str = "force_bundle";

/// `.github/workflows/<github_actions.bundling_workflow>` for `config`, installing Clambake
/// `version` (the running binary's).
pub fn bundling_workflow(config: &Config, version: &str) -> String {
    let schedule = cron::schedule(config.bundling.schedule_minutes);
    let mut caveat = String::new();
    for line in &schedule.caveat {
        caveat.push_str(&comment(line, "    "));
    }
    format!(
        "{header}\
         name: Clambake bundling\n\
         run-name: Clambake bundling ${{{{ inputs.dispatch_key }}}}\n\
         on:\n  schedule:\n\
         {every}{caveat}    - cron: '{cron}'\n\
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
        every = comment(
            &format!(
                "A train departs at every UTC multiple of {} minutes (bundling.schedule_minutes). \
                 GitHub may start a scheduled run a few minutes late.",
                config.bundling.schedule_minutes
            ),
            "    "
        ),
        cron = schedule.cron,
        dispatch_key = dispatch_key_input(),
        job = job("bundle", config),
        steps = checkout_and_install(config, version),
        env = clambake_env(config),
    )
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;

    #[test]
    fn by_default() {
        assert_snapshot!(bundling_workflow(&Config::default(), "0.1.0"));
    }

    #[test]
    fn every_seven_minutes_from_a_git_repository_without_a_token_secret() {
        let mut config = Config::default();
        config.bundling.schedule_minutes = 7;
        config.github_actions.clambake_git = "https://example.com/clambake.git".to_owned();
        config.github_actions.token_secret = String::new();
        config.github_actions.runs_on = "self-hosted".to_owned();
        assert_snapshot!(bundling_workflow(&config, "0.1.0"));
    }

    #[test]
    fn the_schedule_follows_the_configuration() {
        let mut config = Config::default();
        config.bundling.schedule_minutes = 120;
        let text = bundling_workflow(&config, "0.1.0");
        assert!(text.contains("    - cron: '0 */2 * * *'\n"), "{text}");
    }
}
