//! The repository's labels, and an issue's.

use ::http::{Method, StatusCode};
use serde_json::json;

use super::GithubForge;
use super::errors::{Subject, accepted, refusal};
use super::http::Request;
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::WireLabel;
use crate::ports::forge::{ForgeError, ForgeResult, Issue, Label, LabelChange, Number};

/// GitHub's limit on a label's name.
const MAX_NAME: usize = 50;

fn validate_name(name: &str) -> ForgeResult<()> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(ForgeError::Invalid(format!(
            "`{name}` is not a label name: it must have 1 to {MAX_NAME} characters"
        )));
    }
    Ok(())
}

fn same(label: &Label, existing: &Label) -> bool {
    label.color.eq_ignore_ascii_case(&existing.color) && label.description == existing.description
}

impl GithubForge {
    pub(super) async fn list_labels(&self) -> ForgeResult<Vec<Label>> {
        let url = self.repo_url(&["labels"], &[("per_page", PER_PAGE_TEXT)]);
        let labels: Vec<WireLabel> = listing::all(&self.http, url, Subject::Repository).await?;
        let mut labels: Vec<Label> = labels.into_iter().map(Label::from).collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(labels)
    }

    /// The label `name`, if the repository has it.
    async fn read_label(&self, name: &str) -> ForgeResult<Option<Label>> {
        let url = self.repo_url(&["labels", name], &[]);
        let reply = self.http.send(&Request::get(url)).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let reply = accepted(reply, Subject::Label(name))?;
        Ok(Some(reply.json::<WireLabel>()?.into()))
    }

    /// Creates `label`, or updates the one of its name to match, reading the repository's
    /// labels once for every call: a label made since by someone else is found by the create
    /// that fails with `already_exists`.
    pub(super) async fn put_label(&self, label: &Label) -> ForgeResult<LabelChange> {
        validate_name(&label.name)?;
        let mut known = self.labels.lock().await;
        let labels = match known.as_mut() {
            Some(labels) => labels,
            None => known.insert(self.list_labels().await?),
        };
        let existing = labels
            .iter()
            .find(|existing| existing.name.eq_ignore_ascii_case(&label.name))
            .cloned();
        let change = self.put_label_over(label, existing).await?;
        labels.retain(|existing| !existing.name.eq_ignore_ascii_case(&label.name));
        labels.push(label.clone());
        Ok(change)
    }

    /// Creates `label`, or updates `existing`, the one of its name as last listed.
    async fn put_label_over(
        &self,
        label: &Label,
        existing: Option<Label>,
    ) -> ForgeResult<LabelChange> {
        if let Some(existing) = existing {
            return self.update_label(label, &existing).await;
        }
        let body = json!({
            "name": label.name,
            "color": label.color,
            "description": label.description,
        });
        let request = Request::new(Method::POST, self.repo_url(&["labels"], &[]), Some(body));
        // A label is known by its name: one that is there was made by the lost answer, or in
        // the meantime by someone else, and either way there is nothing left to create.
        let made = move || async move {
            let found = self.read_label(&label.name).await?;
            Ok(found.map(|_| Some(LabelChange::Created)))
        };
        let created = self
            .http
            .send_unrepeated(&request, made, |reply| {
                if reply.status == StatusCode::UNPROCESSABLE_ENTITY
                    && reply.body.contains("already_exists")
                {
                    return Ok(None);
                }
                accepted(reply, Subject::Label(&label.name))?;
                Ok(Some(LabelChange::Created))
            })
            .await?;
        match created {
            Some(change) => Ok(change),
            // Made by someone else between our read and our create.
            None => match self.read_label(&label.name).await? {
                Some(existing) => self.update_label(label, &existing).await,
                None => Err(ForgeError::Conflict(format!(
                    "GitHub says the label `{}` exists, and that it does not",
                    label.name
                ))),
            },
        }
    }

    async fn update_label(&self, label: &Label, existing: &Label) -> ForgeResult<LabelChange> {
        if same(label, existing) {
            return Ok(LabelChange::Unchanged);
        }
        let url = self.repo_url(&["labels", &existing.name], &[]);
        let body = json!({ "color": label.color, "description": label.description });
        let reply = self
            .http
            .send(&Request::new(Method::PATCH, url, Some(body)))
            .await?;
        accepted(reply, Subject::Label(&label.name))?;
        Ok(LabelChange::Updated)
    }

    /// Adds `add` and removes `remove` in as many requests as GitHub needs: one POST adding
    /// every label of `add` (GitHub creates those the repository lacks), then a DELETE per
    /// label of `remove` the POST's answer says the issue has. Adding first means the issue is
    /// never without both, so an issue moving from one state to the next is in one of them,
    /// or both, and never in none. An interruption leaves:
    ///
    /// - before the POST: nothing changed;
    /// - after the POST, before any DELETE: the new labels and the old ones together (for a
    ///   claim: the agent's label and `route:ready`, which reads as claimed and is what a
    ///   second claimant would also see, and withdraw from);
    /// - between two DELETEs: the new labels and some of the old.
    ///
    /// Each request is safe to repeat (adding a label it has, or removing one it lacks, changes
    /// nothing), so the whole edit is too: running it again finishes an interrupted one. The
    /// answers list the issue's labels, so the issue comes back without another read when it
    /// was seen before (its other fields as last read).
    pub(super) async fn relabel(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        for label in add {
            validate_name(label)?;
        }
        let subject = Subject::Issue(number);
        // The issue's labels as the last answer listed them, once one has.
        let mut labels: Option<Vec<String>> = None;
        if !add.is_empty() {
            let url = self.repo_url(&["issues", &number.to_string(), "labels"], &[]);
            let body = json!({ "labels": add });
            let reply = self
                .http
                .send(&Request::new(Method::POST, url, Some(body)))
                .await?;
            labels = Some(label_names(accepted(reply, subject)?.json()?));
        }
        let removed: Vec<&String> = remove
            .iter()
            .filter(|label| !add.iter().any(|added| added.eq_ignore_ascii_case(label)))
            .filter(|label| labels.as_ref().is_none_or(|has| holds(has, label)))
            .collect();
        for label in removed {
            let url = self.repo_url(&["issues", &number.to_string(), "labels", label], &[]);
            let reply = self
                .http
                .send(&Request::new(Method::DELETE, url, None))
                .await?;
            // 404: the issue lacks the label (already removed, perhaps by a lost answer), or
            // there is no such issue, which a read tells.
            if reply.status == StatusCode::NOT_FOUND {
                if let Some(has) = labels.as_mut() {
                    has.retain(|name| !name.eq_ignore_ascii_case(label));
                }
                continue;
            }
            if !reply.status.is_success() {
                return Err(refusal(&reply, subject));
            }
            labels = Some(label_names(reply.json()?));
        }
        match labels.and_then(|labels| self.as_seen(number, labels)) {
            Some(issue) => Ok(issue),
            None => self.read_issue(number).await,
        }
    }
}

/// The names of the labels an issue's label endpoints answer with.
fn label_names(labels: Vec<WireLabel>) -> Vec<String> {
    labels.into_iter().map(|label| label.name).collect()
}

/// Whether `labels` holds `label`, whose case GitHub ignores.
fn holds(labels: &[String], label: &str) -> bool {
    labels.iter().any(|has| has.eq_ignore_ascii_case(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_need_one_to_fifty_characters() {
        assert!(validate_name("route:ready").is_ok());
        assert!(validate_name(" ").is_err());
        assert!(validate_name(&"x".repeat(51)).is_err());
        assert!(validate_name(&"é".repeat(50)).is_ok());
    }

    #[test]
    fn colours_compare_without_case() {
        let label = |color: &str| Label {
            name: "bug".to_owned(),
            color: color.to_owned(),
            description: "d".to_owned(),
        };
        assert!(same(&label("FF0000"), &label("ff0000")));
        assert!(!same(&label("FF0000"), &label("00ff00")));
    }
}
