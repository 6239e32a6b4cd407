//! Dispatching a workflow so that it starts one run, whatever is lost on the way. The request
//! asks GitHub for the run's id (`return_run_details`, which octocrab's typed builder lacks);
//! a GitHub that answers `204` without it, and a dispatch whose answer was lost, find the run
//! by the dispatch's key, which the run's name carries (`display_title`). A dispatch is never
//! sent again before its run was looked for, so one dispatch makes at most one run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::wire::{DispatchDetails, WireRuns};
use super::{GithubActions, workflow_answer};
use crate::adapters::forge::github::creates::CLOCK_SKEW;
use crate::adapters::forge::github::errors::{Subject, refusal};
use crate::adapters::forge::github::http::{Reply, Request};
use crate::adapters::forge::github::listing::PER_PAGE_TEXT;
use crate::ports::actions::{DISPATCH_KEY_INPUT, Dispatch, RunId};
use crate::ports::forge::{ForgeError, ForgeResult};

/// The pause between two looks for a run: GitHub lists a new run within seconds.
const LOOK_INTERVAL: Duration = Duration::from_secs(1);

/// Dispatches whose outcome is unknown, by key, with when each was first sent.
#[derive(Debug, Default)]
pub struct Unsettled(Mutex<HashMap<String, Timestamp>>);

impl Unsettled {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Timestamp>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a dispatch's answer said.
enum Answer {
    Started(RunId),
    /// `204`: a run was started, but GitHub did not say which.
    Unnamed,
}

impl GithubActions {
    /// [`crate::ports::actions::Actions::dispatch`]: one run, found by its key where GitHub
    /// does not name it.
    pub(super) async fn dispatch_once(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
        let file = dispatch.workflow.as_str();
        let key = dispatch.key.as_str();
        let remembered = self.unsettled.entries().get(key).copied();
        let first_sent = match remembered {
            Some(first_sent) => {
                if let Some(id) = self.find_run(file, key, first_sent, Duration::ZERO).await? {
                    self.unsettled.entries().remove(key);
                    return Ok(id);
                }
                first_sent
            }
            None => {
                let now = self.clock.now();
                self.unsettled.entries().insert(key.to_owned(), now);
                now
            }
        };
        let request = Request::new(
            Method::POST,
            self.workflow_url(file, &["dispatches"], &[]),
            Some(body(dispatch)),
        );
        let made = || async {
            let found = self
                .find_run(file, key, first_sent, self.run_lookup)
                .await?;
            Ok(found.map(|id| Ok(Answer::Started(id))))
        };
        let answered = self
            .http
            .send_unrepeated(&request, made, |reply| Ok(accept(reply, file)))
            .await
            .map_err(|error| match error {
                ForgeError::Transient(why) => ForgeError::Transient(format!(
                    "{why}; no run of the dispatch was found, and its next try here looks for \
                     one first"
                )),
                error => error,
            })?;
        let answer = answered.inspect_err(|_| {
            // Refused: nothing was started, and nothing needs finding.
            self.unsettled.entries().remove(key);
        })?;
        let id = match answer {
            Answer::Started(id) => id,
            Answer::Unnamed => self
                .find_run(file, key, first_sent, self.run_lookup)
                .await?
                .ok_or_else(|| {
                    ForgeError::Transient(format!(
                        "GitHub took the dispatch of {file} but listed no run of it within {}s; \
                         the next try here looks for it again before dispatching",
                        self.run_lookup.as_secs()
                    ))
                })?,
        };
        self.unsettled.entries().remove(key);
        Ok(id)
    }

    /// The run of the workflow in `file` that the dispatch with `key`, first sent at
    /// `first_sent`, started: the oldest run dispatched since then whose name carries the key.
    /// Looked for until it is found or `window` has passed (at least once).
    async fn find_run(
        &self,
        file: &str,
        key: &str,
        first_sent: Timestamp,
        window: Duration,
    ) -> ForgeResult<Option<RunId>> {
        let earliest = first_sent - CLOCK_SKEW;
        let since = created_since(earliest);
        let query = [
            ("event", "workflow_dispatch"),
            ("created", since.as_str()),
            ("per_page", PER_PAGE_TEXT),
        ];
        let url = self.workflow_url(file, &["runs"], &query);
        let deadline = tokio::time::Instant::now() + window;
        loop {
            let reply = workflow_answer(self.http.send(&Request::get(url.clone())).await?, file)?;
            let runs = reply.json::<WireRuns>()?.workflow_runs;
            let found = runs
                .into_iter()
                .filter(|run| run.created_at >= earliest && carries(&run.display_title, key))
                .min_by_key(|run| (run.created_at, run.id));
            if let Some(run) = found {
                return Ok(Some(run.id));
            }
            if tokio::time::Instant::now() + LOOK_INTERVAL > deadline {
                return Ok(None);
            }
            tokio::time::sleep(LOOK_INTERVAL).await;
        }
    }
}

/// The `created` qualifier of runs created at `earliest` or later, in whole seconds as
/// GitHub's search syntax takes them.
fn created_since(earliest: Timestamp) -> String {
    format!(">={}", earliest.strftime("%Y-%m-%dT%H:%M:%SZ"))
}

/// Whether a run's name carries `key` as a word of its own, not as part of a longer key.
fn carries(title: &str, key: &str) -> bool {
    !key.is_empty()
        && title
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .any(|word| word == key)
}

/// What a dispatch sends: the branch, the inputs with the key, and the ask for the run's id.
fn body(dispatch: &Dispatch) -> Value {
    let mut inputs: Map<String, Value> = dispatch
        .inputs
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    inputs.insert(
        DISPATCH_KEY_INPUT.to_owned(),
        Value::String(dispatch.key.clone()),
    );
    json!({
        "ref": dispatch.git_ref,
        "inputs": inputs,
        "return_run_details": true,
    })
}

/// The dispatch's answer: the run GitHub names, `Unnamed` for a `204`, or why it refused.
fn accept(reply: Reply, file: &str) -> ForgeResult<Answer> {
    match reply.status {
        StatusCode::OK => Ok(Answer::Started(
            reply.json::<DispatchDetails>()?.workflow_run_id,
        )),
        StatusCode::NO_CONTENT => Ok(Answer::Unnamed),
        StatusCode::UNPROCESSABLE_ENTITY => Err(unprocessable(&reply.message(), file)),
        status if status.is_success() => Ok(Answer::Unnamed),
        _ => {
            workflow_answer(reply, file).and_then(|reply| Err(refusal(&reply, Subject::Repository)))
        }
    }
}

/// What GitHub's `422` to a dispatch means, said with what to do.
fn unprocessable(message: &str, file: &str) -> ForgeError {
    let lowered = message.to_ascii_lowercase();
    ForgeError::Invalid(if lowered.contains("disabled") {
        format!(
            "the workflow {file} is disabled ({message}): enable it in the repository's Actions \
             tab, or with `gh workflow enable {file}`"
        )
    } else if lowered.contains("workflow_dispatch") {
        format!(
            "the workflow {file} cannot be dispatched: it has no `workflow_dispatch` trigger on \
             that branch ({message}); `clambake actions install` writes it with one"
        )
    } else {
        format!("GitHub refused to dispatch {file}: {message}")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_run_carries_a_key_as_a_word_of_its_own() {
        let key = "k-1a2b";
        assert!(carries("Clambake bundling k-1a2b", key));
        assert!(carries("agent #12 attempt 1 (k-1a2b)", key));
        assert!(!carries("Clambake bundling k-1a2b3", key));
        assert!(!carries("Clambake bundling xk-1a2b", key));
        assert!(!carries("Clambake bundling", key));
        assert!(!carries("anything", ""));
    }

    #[test]
    fn runs_are_looked_for_from_a_whole_second() {
        let earliest: Timestamp = "2026-12-01T19:02:22.662224035Z".parse().unwrap();
        assert_eq!(created_since(earliest), ">=2026-12-01T19:02:22Z");
    }

    #[test]
    fn a_dispatch_sends_its_key_among_its_inputs_and_asks_for_the_run() {
        let dispatch = Dispatch {
            workflow: "clambake-bundling.yml".to_owned(),
            git_ref: "main".to_owned(),
            inputs: BTreeMap::from([("force_bundle".to_owned(), "true".to_owned())]),
            key: "k-1".to_owned(),
        };
        assert_eq!(
            body(&dispatch),
            json!({
                "ref": "main",
                "inputs": { "force_bundle": "true", "dispatch_key": "k-1" },
                "return_run_details": true,
            })
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let disabled = unprocessable("Workflow is disabled.", "b.yml").to_string();
        assert!(disabled.contains("gh workflow enable b.yml"), "{disabled}");
        let trigger = unprocessable(
            "Workflow does not have 'workflow_dispatch' trigger",
            "b.yml",
        )
        .to_string();
        assert!(trigger.contains("clambake actions install"), "{trigger}");
        let other = unprocessable("Unexpected inputs provided: [\"x\"]", "b.yml").to_string();
        assert!(other.contains("Unexpected inputs"), "{other}");
    }
}
