//! GitHub's refusals as the port's typed errors. Rate limits are read earlier, in `http`;
//! what is left is the status and GitHub's message, which never holds the token.

use http::StatusCode;

use super::http::Reply;
use crate::ports::forge::{ForgeError, ForgeResult, Number};

/// What a request was about, for a 404.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Repository,
    Issue(Number),
    PullRequest(Number),
    IssueOrPullRequest(Number),
    Label(&'a str),
    User,
}

/// The reply if GitHub accepted the request (2xx, or 304 to a conditional one), else the
/// typed error its status means.
pub fn accepted(reply: Reply, subject: Subject<'_>) -> ForgeResult<Reply> {
    if reply.status.is_success() || reply.status == StatusCode::NOT_MODIFIED {
        Ok(reply)
    } else {
        Err(refusal(&reply, subject))
    }
}

/// The error a refusing reply means.
pub fn refusal(reply: &Reply, subject: Subject<'_>) -> ForgeError {
    let message = reply.message();
    match reply.status {
        StatusCode::UNAUTHORIZED => ForgeError::Unauthorized(message),
        StatusCode::FORBIDDEN => forbidden(reply, subject, message),
        StatusCode::NOT_FOUND | StatusCode::GONE => not_found(subject, message),
        StatusCode::CONFLICT | StatusCode::METHOD_NOT_ALLOWED => ForgeError::Conflict(message),
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => ForgeError::Invalid(message),
        status => ForgeError::Backend(format!("GitHub answered {}: {message}", status.as_u16())),
    }
}

/// What a 403 that is no rate limit (`http` took those) means. GitHub refuses with 403 for a
/// token without the right (naming the permission it lacks in `x-accepted-github-permissions`
/// for fine-grained and installation tokens), but also for what no token could do: commenting
/// on a locked issue, or writing to an archived repository.
fn forbidden(reply: &Reply, subject: Subject<'_>, message: String) -> ForgeError {
    let lowered = message.to_ascii_lowercase();
    if lowered.contains("is locked") {
        return match subject {
            Subject::Issue(number)
            | Subject::IssueOrPullRequest(number)
            | Subject::PullRequest(number) => ForgeError::Locked(number),
            _ => ForgeError::Conflict(format!(
                "the conversation is locked, and GitHub takes no comment on it from this token \
                 ({message})"
            )),
        };
    }
    if lowered.contains("archived") {
        return ForgeError::Conflict(format!("the repository is read-only: {message}"));
    }
    let needed = reply
        .headers
        .get("x-accepted-github-permissions")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty());
    ForgeError::Unauthorized(match needed {
        Some(needed) => format!("{message} (the token needs the permission {needed})"),
        None => message,
    })
}

fn not_found(subject: Subject<'_>, message: String) -> ForgeError {
    match subject {
        Subject::Issue(number) => ForgeError::NotFound {
            kind: "issue",
            number,
        },
        Subject::PullRequest(number) => ForgeError::NotFound {
            kind: "pull request",
            number,
        },
        Subject::IssueOrPullRequest(number) => ForgeError::NotFound {
            kind: "issue or pull request",
            number,
        },
        Subject::Label(name) => ForgeError::Invalid(format!("there is no label `{name}`")),
        // GitHub answers 404, not 403, for a private repository the token may not see.
        Subject::Repository | Subject::User => ForgeError::Unauthorized(format!(
            "{message}: the repository does not exist, or the token may not see it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn forbidden_tells_a_locked_issue_and_an_archive_from_a_missing_permission() {
        let locked = r#"{"message":"Unable to create comment because issue is locked.","documentation_url":"https://docs.github.com/articles/locking-conversations/"}"#;
        assert!(matches!(
            refusal(&reply(403, locked), Subject::IssueOrPullRequest(7)),
            ForgeError::Locked(7)
        ));
        let archived = r#"{"message":"Repository was archived so is read-only."}"#;
        assert!(matches!(
            refusal(&reply(403, archived), Subject::Repository),
            ForgeError::Conflict(m) if m.contains("read-only")
        ));
        let mut integration = reply(
            403,
            r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-issue-comment"}"#,
        );
        integration.headers.insert(
            "x-accepted-github-permissions",
            "issues=write; pull_requests=write".parse().unwrap(),
        );
        assert!(matches!(
            refusal(&integration, Subject::IssueOrPullRequest(7)),
            ForgeError::Unauthorized(m) if m == "Resource not accessible by integration \
                (the token needs the permission issues=write; pull_requests=write)"
        ));
        let other = r#"{"message":"Must have admin rights to Repository."}"#;
        assert!(matches!(
            refusal(&reply(403, other), Subject::Repository),
            ForgeError::Unauthorized(m) if m == "Must have admin rights to Repository."
        ));
    }

    #[test]
    fn statuses_become_typed_errors() {
        let bad = r#"{"message":"Bad credentials"}"#;
        assert!(matches!(
            refusal(&reply(401, bad), Subject::Repository),
            ForgeError::Unauthorized(m) if m == "Bad credentials"
        ));
        assert!(matches!(
            refusal(&reply(404, "{}"), Subject::Issue(4)),
            ForgeError::NotFound {
                kind: "issue",
                number: 4
            }
        ));
        assert!(matches!(
            refusal(&reply(404, "{}"), Subject::PullRequest(5)),
            ForgeError::NotFound {
                kind: "pull request",
                number: 5
            }
        ));
        assert!(matches!(
            refusal(&reply(409, "{}"), Subject::PullRequest(5)),
            ForgeError::Conflict(_)
        ));
        assert!(matches!(
            refusal(&reply(422, r#"{"message":"Validation Failed"}"#), Subject::Issue(1)),
            ForgeError::Invalid(m) if m == "Validation Failed"
        ));
        assert!(accepted(reply(304, ""), Subject::Repository).is_ok());
    }
}
