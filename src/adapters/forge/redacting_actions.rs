//! GitHub Actions with every secret Clambake knows redacted from what goes out (a dispatch's
//! inputs, which GitHub shows with the run) and from the job logs that come back to be shown.

use std::sync::Arc;

use async_trait::async_trait;

use crate::core::text::redact::Redactor;
use crate::ports::actions::{
    Actions, ArtifactFile, Dispatch, Job, JobLog, RunId, Workflow, WorkflowRun,
};
use crate::ports::forge::ForgeResult;

pub struct RedactingActions {
    inner: Arc<dyn Actions>,
    redactor: Redactor,
}

impl RedactingActions {
    pub fn new(inner: Arc<dyn Actions>, redactor: Redactor) -> Self {
        Self { inner, redactor }
    }

    fn clean(&self, text: &str) -> String {
        self.redactor.redact(text).into_owned()
    }
}

#[async_trait]
impl Actions for RedactingActions {
    async fn workflow(&self, file: &str) -> ForgeResult<Workflow> {
        self.inner.workflow(file).await
    }
    async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
        let dispatch = Dispatch {
            inputs: dispatch
                .inputs
                .iter()
                .map(|(name, value)| (name.clone(), self.clean(value)))
                .collect(),
            ..dispatch.clone()
        };
        self.inner.dispatch(&dispatch).await
    }
    async fn runs(&self, file: &str, limit: usize) -> ForgeResult<Vec<WorkflowRun>> {
        self.inner.runs(file, limit).await
    }
    async fn run(&self, id: RunId) -> ForgeResult<WorkflowRun> {
        self.inner.run(id).await
    }
    async fn jobs(&self, id: RunId) -> ForgeResult<Vec<Job>> {
        self.inner.jobs(id).await
    }
    async fn logs(&self, id: RunId) -> ForgeResult<Vec<JobLog>> {
        let logs = self.inner.logs(id).await?;
        Ok(logs
            .into_iter()
            .map(|log| JobLog {
                text: self.clean(&log.text),
                ..log
            })
            .collect())
    }
    async fn cancel(&self, id: RunId) -> ForgeResult<()> {
        self.inner.cancel(id).await
    }
    async fn artifact(&self, id: RunId, name: &str) -> ForgeResult<Option<Vec<ArtifactFile>>> {
        self.inner.artifact(id, name).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    /// Keeps what it is asked to dispatch, and has one log to give.
    #[derive(Default)]
    struct Recording(Mutex<Vec<Dispatch>>);

    #[async_trait]
    impl Actions for Recording {
        async fn workflow(&self, _: &str) -> ForgeResult<Workflow> {
            unreachable!()
        }
        async fn dispatch(&self, dispatch: &Dispatch) -> ForgeResult<RunId> {
            self.0.lock().unwrap().push(dispatch.clone());
            Ok(1)
        }
        async fn runs(&self, _: &str, _: usize) -> ForgeResult<Vec<WorkflowRun>> {
            unreachable!()
        }
        async fn run(&self, _: RunId) -> ForgeResult<WorkflowRun> {
            unreachable!()
        }
        async fn jobs(&self, _: RunId) -> ForgeResult<Vec<Job>> {
            unreachable!()
        }
        async fn logs(&self, _: RunId) -> ForgeResult<Vec<JobLog>> {
            Ok(vec![JobLog {
                job: "bundle".to_owned(),
                text: "token s3cr3t-value used".to_owned(),
            }])
        }
        async fn cancel(&self, _: RunId) -> ForgeResult<()> {
            unreachable!()
        }
        async fn artifact(&self, _: RunId, _: &str) -> ForgeResult<Option<Vec<ArtifactFile>>> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn secrets_leave_neither_in_inputs_nor_in_logs() {
        let inner = Arc::new(Recording::default());
        let redactor = Redactor::from_variables([("API_TOKEN", "s3cr3t-value")]);
        let actions = RedactingActions::new(inner.clone(), redactor);
        let dispatch = Dispatch {
            workflow: "w.yml".to_owned(),
            git_ref: "main".to_owned(),
            inputs: BTreeMap::from([("note".to_owned(), "has s3cr3t-value".to_owned())]),
            key: "k".to_owned(),
        };
        actions.dispatch(&dispatch).await.unwrap();
        let sent = inner.0.lock().unwrap()[0].inputs["note"].clone();
        assert!(!sent.contains("s3cr3t-value"), "{sent}");
        let logs = actions.logs(1).await.unwrap();
        assert!(!logs[0].text.contains("s3cr3t-value"), "{}", logs[0].text);
    }
}
