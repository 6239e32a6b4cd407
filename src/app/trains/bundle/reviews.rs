//! Review feedback on Clambake's open pull requests (bundles and branches' own): a trusted
//! "changes requested" review or `/clambake rework #N: why` comment sends the members it names
//! back to an agent with the reviewer's words, then the bundle is rebuilt without them (an
//! individual pull request is closed), then a reply whose marker says it was handled.

use jiff::Timestamp;

use crate::app::agents::review_feedback;
use crate::app::trains::comment::comment_unless_locked;
use crate::app::{AppResult, compose};
use crate::core::agents::prompt::ReviewFeedback;
use crate::core::branches::name::parse_branch_name;
use crate::core::config::Config;
use crate::core::forge_text::issue_list;
use crate::core::forge_text::rework::{
    Rework, nothing_to_rework, rework_reply, sent_back_for_rework,
};
use crate::core::queue::labels;
use crate::core::text::redact::Redactor;
use crate::core::trains::pull_request::{BundleRecord, RecordedTakenOut};
use crate::core::trains::rework::{Asked, Feedback, Handled, Received, asked};
use crate::core::trains::schedule;
use crate::ports::forge::{
    AuthorAssociation, IssueState, Number, PullRequest, PullRequestState, ReviewState,
};
use crate::ports::journal::AttemptLog;

use super::Bundler;

/// What sending reviewed work back needs.
pub struct ReviewRework<'a> {
    /// An issue sent back with this many attempts made is `route:failed` instead.
    pub max_attempts: u32,
    pub attempts: &'a dyn AttemptLog,
    /// Reviewers' words are quoted on issues and in prompts: secrets come out first.
    pub redactor: Redactor,
}

impl<'a> ReviewRework<'a> {
    pub fn new(config: &Config, attempts: &'a dyn AttemptLog) -> Self {
        Self {
            max_attempts: config.agents.max_attempts,
            attempts,
            redactor: compose::secrets(),
        }
    }
}

/// One piece of feedback to act on: who wrote it, their words (redacted), what it asks.
struct Request {
    feedback: Feedback,
    author: String,
    text: String,
    asked: Asked,
}

/// Whose words a pull request's feedback is acted on: Clambake's own, and the repository's
/// owner's, members' and collaborators'.
struct Trust {
    own_login: Option<String>,
}

impl Trust {
    fn trusts(&self, author: &str, association: AuthorAssociation) -> bool {
        association.is_trusted() || self.is_own(author)
    }

    /// Whether `author` is Clambake itself. An installation token has no login to ask about:
    /// its comments are a GitHub App's, whose `[bot]` logins no person can take.
    fn is_own(&self, author: &str) -> bool {
        match &self.own_login {
            Some(own) => own == author,
            None => author.ends_with("[bot]"),
        }
    }
}

impl Bundler<'_> {
    /// Acts on the new feedback on every open pull request a train made.
    pub(super) async fn act_on_reviews(
        &self,
        now: Timestamp,
        repairs: &mut Vec<String>,
    ) -> AppResult<()> {
        let Some(rework) = self.rework else {
            return Ok(());
        };
        // As the repair left them.
        let trains = self.trains(now).await?;
        let lone = |head: &str| {
            schedule::departure_of(head).is_none() && parse_branch_name(head).is_some()
        };
        let any_open = trains
            .bundles
            .iter()
            .any(|(pr, _)| pr.state == PullRequestState::Open)
            || trains.open.iter().any(|(_, head)| lone(head));
        if !any_open {
            // Nothing to read: an idle pass asks the forge nothing more.
            return Ok(());
        }
        let trust = Trust {
            own_login: self.forge.own_login().await?,
        };
        for (pr, record) in &trains.bundles {
            if pr.state == PullRequestState::Open {
                let members = record.member_issues();
                let bundle = Some((pr, record));
                repairs.extend(
                    self.act_on(rework, &trust, pr.number, &members, bundle, now)
                        .await?,
                );
            }
        }
        for (number, head) in &trains.open {
            let owner = parse_branch_name(head);
            if let (None, Some(owner)) = (schedule::departure_of(head), owner) {
                repairs.extend(
                    self.act_on(rework, &trust, *number, &[owner.issue], None, now)
                        .await?,
                );
            }
        }
        Ok(())
    }

    /// Acts on pull request `number`'s feedback not yet handled; `bundle` is its record when
    /// it is a bundle. Returns what it did, for the report.
    async fn act_on(
        &self,
        rework: &ReviewRework<'_>,
        trust: &Trust,
        number: Number,
        members: &[Number],
        bundle: Option<(&PullRequest, &BundleRecord)>,
        now: Timestamp,
    ) -> AppResult<Vec<String>> {
        let requests = self.requests(rework, trust, number, members).await?;
        let sent: Vec<Number> = members
            .iter()
            .copied()
            .filter(|m| {
                requests.iter().any(
                    |r| matches!(&r.asked, Asked::SendBack { issues, .. } if issues.contains(m)),
                )
            })
            .collect();
        let mut done = Vec::new();
        // Each member is sent back before its bundle is rebuilt, and the replies come last: a
        // pass interrupted anywhere is finished by the next, which finds them unanswered.
        for issue in &sent {
            self.send_back(rework, number, *issue, &requests, now)
                .await?;
        }
        let mut closed = false;
        if !sent.is_empty() {
            closed = match bundle {
                Some((pr, record)) => !self.rebuild_reviewed(pr, record, &sent, &requests).await?,
                None => {
                    self.forge.close_pull_request(number).await?;
                    true
                }
            };
            done.push(format!(
                "#{number}: review feedback sent {} back",
                issue_list(&sent)
            ));
        }
        for request in &requests {
            let reply = match &request.asked {
                Asked::SendBack { issues, .. } => rework_reply(request.feedback, issues, closed),
                Asked::NoMember { named } => nothing_to_rework(request.feedback, named),
                Asked::Nothing => continue,
            };
            self.forge.create_comment(number, &reply).await?;
        }
        Ok(done)
    }

    /// The feedback on pull request `number` not yet handled that asks something, oldest
    /// first: reviews, then comments.
    async fn requests(
        &self,
        rework: &ReviewRework<'_>,
        trust: &Trust,
        number: Number,
        members: &[Number],
    ) -> AppResult<Vec<Request>> {
        let comments = self.forge.comments(number).await?;
        let handled = Handled::from_replies(
            comments
                .iter()
                .filter(|c| trust.is_own(&c.author))
                .map(|c| c.body.as_str()),
        );
        let reviews = self.forge.reviews(number).await?;
        let received = reviews
            .iter()
            .map(|r| {
                let feedback = Feedback::Review(r.id);
                let trusted = trust.trusts(&r.author, r.author_association);
                let changes_requested = r.state == ReviewState::ChangesRequested;
                (feedback, &r.author, trusted, changes_requested, &r.body)
            })
            .chain(comments.iter().map(|c| {
                let feedback = Feedback::Comment(c.id);
                let trusted = trust.trusts(&c.author, c.author_association);
                (feedback, &c.author, trusted, false, &c.body)
            }));
        let mut requests = Vec::new();
        for (feedback, author, trusted, changes_requested, body) in received {
            if handled.covers(feedback) {
                continue;
            }
            let body = rework.redactor.redact(body);
            let received = Received {
                feedback,
                trusted,
                changes_requested,
                body: &body,
            };
            match asked(&received, members) {
                Asked::Nothing => {
                    if !trusted && crate::core::trains::rework::parse_command(&body).is_some() {
                        tracing::info!(
                            pull_request = number,
                            author = %author,
                            "a rework command from someone who cannot push is ignored"
                        );
                    }
                }
                asked => requests.push(Request {
                    feedback,
                    author: author.clone(),
                    text: match &asked {
                        Asked::SendBack { text, .. } => text.clone(),
                        _ => String::new(),
                    },
                    asked,
                }),
            }
        }
        Ok(requests)
    }

    /// Sends `issue` back from pull request `number` with the feedback that named it: its
    /// next prompts carry the reviewers' words, a comment quotes them, and it is
    /// `route:ready` again, or `route:failed` once its attempts are used up. An issue no
    /// longer in review or bundled (sent back by a pass that stopped before its reply) is
    /// left as it is.
    async fn send_back(
        &self,
        rework: &ReviewRework<'_>,
        number: Number,
        issue: Number,
        requests: &[Request],
        now: Timestamp,
    ) -> AppResult<()> {
        let found = self.forge.issue(issue).await?;
        let waiting = found.has_label(labels::BUNDLED) || found.has_label(labels::REVIEW);
        if found.state != IssueState::Open || !waiting {
            return Ok(());
        }
        let naming: Vec<&Request> = requests
            .iter()
            .filter(
                |r| matches!(&r.asked, Asked::SendBack { issues, .. } if issues.contains(&issue)),
            )
            .collect();
        let feedback: Vec<ReviewFeedback> = naming
            .iter()
            .map(|r| ReviewFeedback {
                pull_request: number,
                author: r.author.clone(),
                verb: r.feedback.verb().to_owned(),
                text: r.text.clone(),
            })
            .collect();
        review_feedback::record(&self.state_dir, issue, now, &feedback)?;
        let gave_up = rework.attempts.attempts(issue)?.len() as u32 >= rework.max_attempts;
        for request in &naming {
            let text = sent_back_for_rework(
                &Rework {
                    pull_request: number,
                    feedback: request.feedback,
                    author: &request.author,
                    text: &request.text,
                },
                gave_up,
            );
            comment_unless_locked(self.forge, issue, &text).await?;
        }
        let label = if gave_up {
            labels::FAILED
        } else {
            labels::READY
        };
        self.forge
            .edit_labels(
                issue,
                &[label.to_owned()],
                &[labels::BUNDLED.to_owned(), labels::REVIEW.to_owned()],
            )
            .await?;
        Ok(())
    }

    /// Rebuilds the bundle without the members sent back (closes it when none is left).
    /// Returns whether it is still open.
    async fn rebuild_reviewed(
        &self,
        pr: &PullRequest,
        record: &BundleRecord,
        sent: &[Number],
        requests: &[Request],
    ) -> AppResult<bool> {
        let taken_out: Vec<RecordedTakenOut> = record
            .members
            .iter()
            .filter(|m| sent.contains(&m.issue))
            .map(|m| {
                let who: Vec<String> = requests
                    .iter()
                    .filter(|r| matches!(&r.asked, Asked::SendBack { issues, .. } if issues.contains(&m.issue)))
                    .map(|r| format!("{} {}", r.author, r.feedback.verb()))
                    .collect();
                RecordedTakenOut {
                    issue: m.issue,
                    branch: m.branch.clone(),
                    why: format!("review: {}", who.join(", ")),
                }
            })
            .collect();
        if taken_out.len() == record.members.len() {
            self.forge.close_pull_request(pr.number).await?;
            return Ok(false);
        }
        self.rebuild(pr, record, taken_out).await
    }
}
