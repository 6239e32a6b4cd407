//! The repository's labels, and an issue's.

use ::http::{Method, StatusCode};
use serde_json::json;

use super::GithubForge;
use super::errors::{Subject, accepted};
use super::http::{Reply, Request};
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

    /// Sets the issue's labels to those it has now, less `remove`, plus `add`, in one PUT
    /// (GitHub creates the labels the repository lacks). A PUT replaces every label, so what
    /// the issue has now is read first, and a label someone else added since our last read is
    /// kept: conditionally, with the `ETag` of the last labels answer for the issue (a `304`,
    /// free, says nobody changed them), else in full. The PUT is idempotent: a lost answer is
    /// sent again, and an interrupted edit changed all or nothing. Its answer lists the labels
    /// and tags them for the next edit's read, and completes the issue without another read
    /// when it was seen before (its other fields as last read).
    pub(super) async fn relabel(
        &self,
        number: Number,
        add: &[String],
        remove: &[String],
    ) -> ForgeResult<Issue> {
        for label in add {
            validate_name(label)?;
        }
        let current = self.labels_now(number).await?;
        let wanted = edited(&current, add, remove);
        let labels = if wanted == current {
            current
        } else if wanted.is_empty() {
            // GitHub's description wants at least one label in a PUT: none is a DELETE.
            let url = self.issue_labels_url(number, &[]);
            let reply = self
                .http
                .send(&Request::new(Method::DELETE, url, None))
                .await?;
            accepted(reply, Subject::Issue(number))?;
            self.forget_labels(number);
            wanted
        } else {
            let url = self.issue_labels_url(number, &[]);
            let body = json!({ "labels": wanted });
            let reply = self
                .http
                .send(&Request::new(Method::PUT, url, Some(body)))
                .await?;
            self.tag_labels(number, accepted(reply, Subject::Issue(number))?)?
        };
        match self.as_seen(number, labels) {
            Some(issue) => Ok(issue),
            None => self.read_issue(number).await,
        }
    }

    /// The issue's labels as GitHub has them now. An issue never seen is read whole (which
    /// also makes it seen); one seen is asked for its labels, conditionally when they are known.
    async fn labels_now(&self, number: Number) -> ForgeResult<Vec<String>> {
        if !self.has_seen(number) {
            return Ok(self.read_issue(number).await?.labels);
        }
        let known = self.known_labels(number);
        let mut request =
            Request::get(self.issue_labels_url(number, &[("per_page", PER_PAGE_TEXT)]));
        request.if_none_match = known.as_ref().map(|known| known.etag.clone());
        let reply = accepted(self.http.send(&request).await?, Subject::Issue(number))?;
        match known {
            Some(known) if reply.status == StatusCode::NOT_MODIFIED => Ok(known.names),
            _ if reply.next_page().is_some() => {
                // More labels than a page holds: read them all; there is no one tag for them.
                let url = self.issue_labels_url(number, &[("per_page", PER_PAGE_TEXT)]);
                let subject = Subject::Issue(number);
                let labels: Vec<WireLabel> = listing::all(&self.http, url, subject).await?;
                Ok(label_names(labels))
            }
            _ => self.tag_labels(number, reply),
        }
    }

    /// The label names an answer lists, kept with its `ETag` for the next conditional read.
    fn tag_labels(&self, number: Number, reply: Reply) -> ForgeResult<Vec<String>> {
        let names = label_names(reply.json()?);
        let mut known = self.label_tags.lock().expect("the label tags' lock");
        match reply.etag() {
            Some(etag) => {
                known.insert(
                    number,
                    KnownLabels {
                        etag,
                        names: names.clone(),
                    },
                );
            }
            None => {
                known.remove(&number);
            }
        }
        Ok(names)
    }

    /// Forgets the tag of `number`'s labels: an answer without content has none.
    fn forget_labels(&self, number: Number) {
        let mut known = self.label_tags.lock().expect("the label tags' lock");
        known.remove(&number);
    }

    fn known_labels(&self, number: Number) -> Option<KnownLabels> {
        let known = self.label_tags.lock().expect("the label tags' lock");
        known.get(&number).cloned()
    }

    fn issue_labels_url(&self, number: Number, query: &[(&str, &str)]) -> String {
        self.repo_url(&["issues", &number.to_string(), "labels"], query)
    }
}

/// An issue's labels as an answer listed them, and that answer's `ETag`.
#[derive(Debug, Clone)]
pub(super) struct KnownLabels {
    etag: String,
    names: Vec<String>,
}

/// The names of the labels an issue's label endpoints answer with.
fn label_names(labels: Vec<WireLabel>) -> Vec<String> {
    labels.into_iter().map(|label| label.name).collect()
}

/// `current` less `remove`, plus those of `add` it lacks, in order; GitHub ignores case.
fn edited(current: &[String], add: &[String], remove: &[String]) -> Vec<String> {
    let mut labels: Vec<String> = current
        .iter()
        .filter(|label| !holds(remove, label) || holds(add, label))
        .cloned()
        .collect();
    for label in add {
        if !holds(&labels, label) {
            labels.push(label.clone());
        }
    }
    labels
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
    fn an_edit_keeps_every_other_label_in_order_and_ignores_case() {
        let names =
            |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
        assert_eq!(
            edited(
                &names(&["bug", "Route:Ready", "human"]),
                &names(&["agent001"]),
                &names(&["route:ready", "route:review"])
            ),
            names(&["bug", "human", "agent001"])
        );
        assert_eq!(
            edited(
                &names(&["Agent001"]),
                &names(&["agent001"]),
                &names(&["agent001"])
            ),
            names(&["Agent001"]),
            "a label both added and removed stays, once"
        );
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
