//! Pull requests on GitHub, and merging them with GitHub's compare-and-swap on the head.

use ::http::{Method, StatusCode};
use serde_json::json;

use super::GithubForge;
use super::errors::{Subject, accepted, refusal};
use super::http::{Reply, Request};
use super::listing::{self, PER_PAGE_TEXT};
use super::wire::WirePull;
use crate::ports::Forge;
use crate::ports::forge::{
    ForgeError, ForgeResult, Listing, NewPullRequest, Number, PullRequest, PullRequestEdit,
    PullRequestFilter, PullRequestState, Validator,
};

impl GithubForge {
    /// The first page's URL of the pull request listing for `filter`, lowest number first.
    fn pulls_url(&self, filter: &PullRequestFilter) -> String {
        let state = match filter.state {
            None => "all",
            Some(PullRequestState::Open) => "open",
            Some(PullRequestState::Closed | PullRequestState::Merged) => "closed",
        };
        let head = filter.head.as_ref().map(|head| self.qualified(head));
        let mut query = vec![
            ("state", state),
            ("sort", "created"),
            ("direction", "asc"),
            ("per_page", PER_PAGE_TEXT),
        ];
        if let Some(head) = &head {
            query.push(("head", head));
        }
        self.repo_url(&["pulls"], &query)
    }

    /// A branch as GitHub's `head` filter names it: `owner:branch`.
    fn qualified(&self, branch: &str) -> String {
        format!("{}:{branch}", self.urls.owner)
    }

    pub(super) async fn all_pull_requests(
        &self,
        filter: &PullRequestFilter,
    ) -> ForgeResult<Vec<PullRequest>> {
        let url = self.pulls_url(filter);
        let pulls = listing::all(&self.http, url, Subject::Repository).await?;
        Ok(matching(pulls, filter))
    }

    pub(super) async fn list_pull_requests(
        &self,
        filter: &PullRequestFilter,
        known: Option<&Validator>,
    ) -> ForgeResult<Listing<PullRequest>> {
        let url = self.pulls_url(filter);
        // Closed and merged share GitHub's listing, not the port's.
        let name = format!("pulls {:?} {url}", filter.state);
        let listing = listing::if_changed(&self.http, &name, url, Subject::Repository, known);
        Ok(match listing.await? {
            Listing::NotModified => Listing::NotModified,
            Listing::Modified { items, validator } => Listing::Modified {
                items: matching(items, filter),
                validator,
            },
        })
    }

    /// The pull request; its base's repository names the default branch, which is
    /// remembered, so a merge that needs it asks for nothing more.
    pub(super) async fn read_pull(&self, number: Number) -> ForgeResult<WirePull> {
        let url = self.repo_url(&["pulls", &number.to_string()], &[]);
        let reply = self.http.send(&Request::get(url)).await?;
        let pull: WirePull = accepted(reply, Subject::PullRequest(number))?.json()?;
        if let Some(repository) = &pull.base.repo {
            let _ = self.default_branch.set(repository.default_branch.clone());
        }
        Ok(pull)
    }

    /// The open pull request from `head` into `base`, if there is one.
    async fn open_from(&self, head: &str, base: &str) -> ForgeResult<Option<PullRequest>> {
        Ok(self
            .open_wire_from(head, base)
            .await?
            .map(PullRequest::from))
    }

    /// The open pull request from `head` into `base`, as GitHub sent it.
    pub(super) async fn open_wire_from(
        &self,
        head: &str,
        base: &str,
    ) -> ForgeResult<Option<WirePull>> {
        let head = self.qualified(head);
        let url = self.repo_url(
            &["pulls"],
            &[("state", "open"), ("head", &head), ("base", base)],
        );
        let reply = accepted(
            self.http.send(&Request::get(url)).await?,
            Subject::Repository,
        )?;
        let pulls: Vec<WirePull> = reply.json()?;
        Ok(pulls.into_iter().next())
    }

    pub(super) async fn open_pull_request(&self, new: &NewPullRequest) -> ForgeResult<PullRequest> {
        if new.title.trim().is_empty() {
            return Err(ForgeError::Invalid(
                "a pull request needs a title".to_owned(),
            ));
        }
        let base = match &new.base {
            Some(base) => base.clone(),
            None => self.default_branch().await?,
        };
        if base == new.head {
            return Err(ForgeError::Invalid(format!(
                "a pull request cannot merge `{base}` into itself"
            )));
        }
        let body = json!({ "title": new.title, "body": new.body, "head": new.head, "base": base });
        let request = Request::new(Method::POST, self.repo_url(&["pulls"], &[]), Some(body));
        // GitHub allows one open pull request per head and base: the one there now carrying
        // this create's key is what a lost answer made; any other was there before, and
        // creating is refused as a duplicate.
        let base_name = base.as_str();
        let look = |key| async move {
            let made = self.pull_made(&new.head, base_name, key).await?;
            Ok(made.map(Ok))
        };
        let created = self
            .create_once(&request, look, |reply| {
                if reply.status == StatusCode::CREATED || reply.status == StatusCode::OK {
                    return Ok(Ok(PullRequest::from(reply.json::<WirePull>()?)));
                }
                Ok(Err(reply))
            })
            .await?;
        match created {
            Ok(pull) => Ok(pull),
            Err(reply) => Err(self.creation_refused(&reply, new, &base).await),
        }
    }

    /// Why GitHub refused to create a pull request, as the port says it.
    async fn creation_refused(
        &self,
        reply: &Reply,
        new: &NewPullRequest,
        base: &str,
    ) -> ForgeError {
        let message = reply.message();
        if reply.status != StatusCode::UNPROCESSABLE_ENTITY {
            return refusal(reply, Subject::Repository);
        }
        if message.contains("A pull request already exists") {
            return match self.open_from(&new.head, base).await {
                Ok(Some(open)) => ForgeError::DuplicatePullRequest {
                    number: open.number,
                    head: new.head.clone(),
                    base: base.to_owned(),
                },
                Ok(None) => ForgeError::Invalid(message),
                Err(error) => error,
            };
        }
        if message.contains("head: invalid") {
            return ForgeError::NoSuchBranch(new.head.clone());
        }
        if message.contains("base: invalid") {
            return ForgeError::NoSuchBranch(base.to_owned());
        }
        ForgeError::Invalid(message)
    }

    pub(super) async fn close_pull(&self, number: Number) -> ForgeResult<PullRequest> {
        let url = self.repo_url(&["pulls", &number.to_string()], &[]);
        let body = json!({ "state": "closed" });
        let reply = self
            .http
            .send(&Request::new(Method::PATCH, url, Some(body)))
            .await?;
        if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
            let pull = PullRequest::from(self.read_pull(number).await?);
            if pull.state == PullRequestState::Merged {
                return Err(ForgeError::NotOpen {
                    number,
                    state: "merged",
                });
            }
            return Err(refusal(&reply, Subject::PullRequest(number)));
        }
        let pull =
            PullRequest::from(accepted(reply, Subject::PullRequest(number))?.json::<WirePull>()?);
        if pull.state == PullRequestState::Merged {
            return Err(ForgeError::NotOpen {
                number,
                state: "merged",
            });
        }
        Ok(pull)
    }
}

impl GithubForge {
    pub(super) async fn edit_pull(
        &self,
        number: Number,
        edit: &PullRequestEdit,
    ) -> ForgeResult<PullRequest> {
        let url = self.repo_url(&["pulls", &number.to_string()], &[]);
        let body = json!({ "title": edit.title, "body": edit.body });
        let reply = self
            .http
            .send(&Request::new(Method::PATCH, url, Some(body)))
            .await?;
        let pull =
            PullRequest::from(accepted(reply, Subject::PullRequest(number))?.json::<WirePull>()?);
        match pull.state {
            PullRequestState::Open => Ok(pull),
            PullRequestState::Merged => Err(ForgeError::NotOpen {
                number,
                state: "merged",
            }),
            PullRequestState::Closed => Err(ForgeError::NotOpen {
                number,
                state: "closed",
            }),
        }
    }
}

/// What a GitHub listing returned that `filter` keeps: GitHub lists closed and merged as one.
fn matching(pulls: Vec<WirePull>, filter: &PullRequestFilter) -> Vec<PullRequest> {
    let mut pulls: Vec<PullRequest> = pulls
        .into_iter()
        .map(PullRequest::from)
        .filter(|pull| filter.state.is_none_or(|state| pull.state == state))
        .collect();
    pulls.sort_by_key(|pull| pull.number);
    pulls.dedup_by_key(|pull| pull.number);
    pulls
}
