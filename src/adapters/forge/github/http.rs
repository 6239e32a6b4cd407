//! GitHub REST requests sent the way GitHub asks clients to behave: rate limits honoured and
//! remembered (a limited client fails fast instead of sending), mutations spaced (a second
//! apart on GitHub), failures that may pass (5xx, timeouts, dropped connections) retried a
//! few times with capped backoff, and a request that must not happen twice never resent
//! before looking for what its lost answer may have made. Every answer is counted by kind.

use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, header};
use jiff::Timestamp;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use crate::ports::Clock;
use crate::ports::forge::{ForgeError, ForgeResult, ForgeUsage, RateLimit};

/// Tries of a request whose failure may pass: GitHub suggests few, and the run loop tries
/// again on its next pass anyway.
const TRIES: u32 = 3;
/// GitHub: after a secondary limit without `retry-after`, "wait for at least one minute".
const SECONDARY_WAIT: Duration = Duration::from_secs(60);
const SECONDARY_WAIT_CAP: Duration = Duration::from_secs(30 * 60);
/// The longest wait any limit imposes: GitHub's primary limit resets within the hour, so a
/// `retry-after` or reset time beyond it is taken as an hour rather than waited for ever.
const LIMIT_WAIT_CAP: Duration = Duration::from_secs(60 * 60);
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(4);
/// The longest `retry-after` on a 5xx that is waited out here rather than reported.
const SERVER_RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// One request to send, perhaps several times.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub body: Option<Value>,
    /// An `ETag` to send as `If-None-Match`.
    pub if_none_match: Option<String>,
}

impl Request {
    pub fn get(url: String) -> Self {
        Self::new(Method::GET, url, None)
    }

    pub fn new(method: Method, url: String, body: Option<Value>) -> Self {
        Self {
            method,
            url,
            body,
            if_none_match: None,
        }
    }

    fn mutates(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }

    /// Method and path, for messages: never the query, which may carry a label or a title.
    pub fn describe(&self) -> String {
        let path = url::Url::parse(&self.url)
            .map(|url| url.path().to_owned())
            .unwrap_or_default();
        format!("{} {path}", self.method)
    }
}

/// A response GitHub sent, body read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> ForgeResult<T> {
        serde_json::from_str(&self.body).map_err(|e| {
            ForgeError::Backend(format!("GitHub answered with an unexpected shape: {e}"))
        })
    }

    pub fn etag(&self) -> Option<String> {
        header_str(&self.headers, header::ETAG).map(str::to_owned)
    }

    /// The `next` URL of the `Link` header, if there is a next page.
    pub fn next_page(&self) -> Option<String> {
        header_str(&self.headers, header::LINK).and_then(|link| link_target(link, "next"))
    }

    /// GitHub's `message` in an error body, or the status's reason.
    pub fn message(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Failure {
            message: Option<String>,
            #[serde(default)]
            errors: Vec<Value>,
        }
        let reason = self.status.canonical_reason().unwrap_or("error");
        match serde_json::from_str::<Failure>(&self.body) {
            Ok(Failure {
                message: Some(message),
                errors,
            }) => {
                let details: Vec<String> = errors.iter().filter_map(error_detail).collect();
                if details.is_empty() {
                    message
                } else {
                    format!("{message} ({})", details.join("; "))
                }
            }
            _ => format!("{} {reason}", self.status.as_u16()),
        }
    }
}

/// One entry of a 422's `errors`: its message, or its field and code.
fn error_detail(error: &Value) -> Option<String> {
    if let Some(message) = error.get("message").and_then(Value::as_str) {
        return Some(message.to_owned());
    }
    let field = error.get("field").and_then(Value::as_str)?;
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("invalid");
    Some(format!("{field}: {code}"))
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The target of the link with relation `rel` in an RFC 8288 `Link` header, as GitHub writes
/// them: `<https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`.
pub fn link_target(link: &str, rel: &str) -> Option<String> {
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let tail = &after[end + 1..];
        // A link's parameters run to the next target: its URL may hold commas.
        let params_end = tail.find('<').unwrap_or(tail.len());
        let has_rel = tail[..params_end].split(';').any(|param| {
            param.split_once('=').is_some_and(|(key, value)| {
                key.trim() == "rel"
                    && value
                        .trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|name| name == rel)
            })
        });
        if has_rel {
            return Some(target.to_owned());
        }
        rest = &tail[params_end..];
    }
    None
}

/// The `x-ratelimit-*` headers, if all three are there.
pub fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let number = |name: &str| header_str(headers, name)?.trim().parse::<u64>().ok();
    let reset = i64::try_from(number("x-ratelimit-reset")?).ok()?;
    Some(RateLimit {
        limit: number("x-ratelimit-limit")?,
        remaining: number("x-ratelimit-remaining")?,
        reset: Timestamp::from_second(reset).ok()?,
    })
}

/// `retry-after` in seconds, as GitHub sends it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = header_str(headers, header::RETRY_AFTER)?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// Why GitHub refused a request for its rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Until the time its headers name.
    Until(Timestamp),
    /// A secondary limit that named no time.
    Secondary,
}

/// Whether an answer refuses the request for a rate limit, as GitHub documents: a 403 or 429
/// with `retry-after`, with `x-ratelimit-remaining: 0`, or saying so in its message.
pub fn limited(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: Timestamp,
) -> Option<Limited> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let cap = later(now, LIMIT_WAIT_CAP);
    if let Some(wait) = retry_after(headers) {
        return Some(Limited::Until(later(now, wait).min(cap)));
    }
    if let Some(limit) = rate_limit(headers).filter(|limit| limit.remaining == 0) {
        return Some(Limited::Until(limit.reset.max(now).min(cap)));
    }
    (status == StatusCode::TOO_MANY_REQUESTS || says_secondary_limit(body))
        .then_some(Limited::Secondary)
}

/// Whether a refusal's body says it is a secondary limit: GitHub's words now ("secondary rate
/// limit", its documentation at `…#secondary-rate-limits`) and before ("You have triggered an
/// abuse detection mechanism", documented at `…#abuse-rate-limits`).
fn says_secondary_limit(body: &str) -> bool {
    let body = body.to_ascii_lowercase();
    ["rate limit", "rate-limit", "abuse detection"]
        .iter()
        .any(|words| body.contains(words))
}

/// The wait after the `strikes`-th secondary limit in a row: a minute, doubling, capped.
pub fn secondary_wait(strikes: u32) -> Duration {
    let doublings = strikes.saturating_sub(1).min(16);
    SECONDARY_WAIT
        .saturating_mul(1 << doublings)
        .min(SECONDARY_WAIT_CAP)
}

/// The wait before try `attempt + 1` of a request that failed in passing.
pub fn backoff(attempt: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP)
}

fn later(now: Timestamp, wait: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| now.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

/// What one send came to.
enum Sent {
    Answered(Reply),
    /// No answer: the connection failed, timed out or dropped. The server may have acted.
    Lost(String),
}

#[derive(Default)]
struct Gate {
    usage: ForgeUsage,
    /// Refuse without sending until then: a rate limit is spent.
    limited_until: Option<Timestamp>,
    /// Secondary limits in a row, for the exponential wait.
    secondary_strikes: u32,
    /// The earliest moment the next mutation may go out.
    next_mutation: Option<Instant>,
}

/// The HTTP side of the GitHub forge.
pub struct Http {
    octocrab: Octocrab,
    /// The API's scheme, host and port: the only place the token is ever sent.
    origin: url::Origin,
    clock: std::sync::Arc<dyn Clock>,
    /// The least time between two mutations: GitHub's "wait at least one second between
    /// each request" that mutates.
    mutation_interval: Duration,
    gate: Mutex<Gate>,
}

impl Http {
    pub fn new(
        octocrab: Octocrab,
        api: &url::Url,
        clock: std::sync::Arc<dyn Clock>,
        mutation_interval: Duration,
    ) -> Self {
        Self {
            octocrab,
            origin: api.origin(),
            clock,
            mutation_interval,
            gate: Mutex::new(Gate::default()),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn usage(&self) -> ForgeUsage {
        self.gate().usage.clone()
    }

    /// A request that may be sent again (GET, PATCH, PUT, DELETE): retried while it fails in
    /// passing. Any answer but a 5xx comes back as it is, for the caller to read.
    pub async fn send(&self, request: &Request) -> ForgeResult<Reply> {
        self.send_unrepeated(request, || std::future::ready(Ok(None)), Ok)
            .await
    }

    /// A request that must not take effect twice: before each resend, and after the last
    /// failure, `made` looks for what a lost answer may have made, and what it finds is the
    /// answer. `accept` reads an answer that came.
    pub async fn send_unrepeated<T, Made>(
        &self,
        request: &Request,
        made: impl Fn() -> Made,
        accept: impl FnOnce(Reply) -> ForgeResult<T>,
    ) -> ForgeResult<T>
    where
        Made: Future<Output = ForgeResult<Option<T>>>,
    {
        let mut failure = String::new();
        let mut wait = Duration::ZERO;
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(wait.max(backoff(attempt - 1))).await;
                if let Some(found) = made().await? {
                    return Ok(found);
                }
            }
            match self.send_once(request).await? {
                Sent::Answered(reply) if reply.status.is_server_error() => {
                    wait = retry_after(&reply.headers)
                        .unwrap_or_default()
                        .min(SERVER_RETRY_AFTER_CAP);
                    failure = reply.message();
                }
                Sent::Answered(reply) => return accept(reply),
                Sent::Lost(why) => {
                    wait = Duration::ZERO;
                    failure = why;
                }
            }
        }
        if let Some(found) = made().await? {
            return Ok(found);
        }
        Err(ForgeError::Transient(format!(
            "GitHub failed {} {TRIES} times; the last: {failure}",
            request.describe()
        )))
    }

    /// Sends once, unless a rate limit is known to be spent; records what the answer says
    /// about the limits and counts it.
    async fn send_once(&self, request: &Request) -> ForgeResult<Sent> {
        self.refuse_elsewhere(request)?;
        self.refuse_if_limited()?;
        if request.mutates() {
            self.await_mutation_slot().await;
            self.refuse_if_limited()?;
            self.gate().usage.mutations += 1;
        }
        let sent = self.exchange(request).await;
        let Sent::Answered(reply) = &sent else {
            return Ok(sent);
        };
        let now = self.clock.now();
        let mut gate = self.gate();
        if let Some(limit) = rate_limit(&reply.headers) {
            if limit.remaining == 0 {
                gate.limited_until = Some(limit.reset.max(now));
            }
            gate.usage.rate_limit = Some(limit);
        }
        match limited(reply.status, &reply.headers, &reply.body, now) {
            Some(limit) => {
                let until = match limit {
                    Limited::Until(until) => until,
                    Limited::Secondary => {
                        gate.secondary_strikes += 1;
                        later(now, secondary_wait(gate.secondary_strikes))
                    }
                };
                gate.limited_until = Some(until);
                tracing::warn!(%until, "GitHub's rate limit refused {}", request.describe());
                return Err(ForgeError::RateLimited { until });
            }
            None if reply.status.is_success() || reply.status == StatusCode::NOT_MODIFIED => {
                gate.secondary_strikes = 0;
            }
            None => {}
        }
        if request.method == Method::GET {
            if reply.status == StatusCode::NOT_MODIFIED {
                gate.usage.not_modified += 1;
            } else if reply.status.is_success() {
                gate.usage.fresh_reads += 1;
            }
        }
        drop(gate);
        Ok(sent)
    }

    /// Refuses a URL off the API's origin, say a `Link` header's page elsewhere: every
    /// request carries the token.
    fn refuse_elsewhere(&self, request: &Request) -> ForgeResult<()> {
        let origin = url::Url::parse(&request.url).map(|url| url.origin());
        match origin {
            Ok(origin) if origin == self.origin => Ok(()),
            Ok(origin) => Err(ForgeError::Backend(format!(
                "GitHub pointed {} at {}, not at the API's {}: not followed, the token goes to \
                 the API only",
                request.describe(),
                origin.ascii_serialization(),
                self.origin.ascii_serialization()
            ))),
            Err(error) => Err(ForgeError::Backend(format!(
                "GitHub pointed at a URL that is none: {error}"
            ))),
        }
    }

    fn refuse_if_limited(&self) -> ForgeResult<()> {
        let mut gate = self.gate();
        match gate.limited_until {
            Some(until) if until > self.clock.now() => Err(ForgeError::RateLimited { until }),
            Some(_) => {
                gate.limited_until = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Waits for this mutation's turn: at least the mutation interval after the one before.
    async fn await_mutation_slot(&self) {
        let slot = {
            let mut gate = self.gate();
            let now = Instant::now();
            let slot = gate.next_mutation.map_or(now, |next| next.max(now));
            gate.next_mutation = Some(slot + self.mutation_interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    async fn exchange(&self, request: &Request) -> Sent {
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.url)
            .header(header::ACCEPT, "application/vnd.github+json");
        if let Some(etag) = &request.if_none_match {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        let built = match self.octocrab.build_request(builder, request.body.as_ref()) {
            Ok(built) => built,
            Err(error) => return Sent::Lost(first_line(&error)),
        };
        let response = match self.octocrab.execute(built).await {
            Ok(response) => response,
            Err(error) => return Sent::Lost(first_line(&error)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        match self.octocrab.body_to_string(response).await {
            Ok(body) => Sent::Answered(Reply {
                status,
                headers,
                body,
            }),
            Err(error) => Sent::Lost(first_line(&error)),
        }
    }
}

/// An octocrab error's first line: some carry a backtrace after it.
fn first_line(error: &octocrab::Error) -> String {
    let text = error.to_string();
    text.lines().next().unwrap_or("no answer").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn http(clock: std::sync::Arc<dyn Clock>) -> Http {
        let octocrab = Octocrab::builder()
            .base_uri("http://127.0.0.1:9")
            .unwrap()
            .build()
            .unwrap();
        let api = url::Url::parse("http://127.0.0.1:9/").unwrap();
        Http::new(octocrab, &api, clock, Duration::from_secs(1))
    }

    #[tokio::test]
    async fn nothing_is_sent_off_the_apis_origin() {
        let http = http(std::sync::Arc::new(crate::ports::SystemClock));
        for elsewhere in [
            "http://127.0.0.2:9/repos/o/r/issues?page=2",
            "https://127.0.0.1:9/repos/o/r/issues?page=2",
            "http://127.0.0.1:10/repos/o/r/issues?page=2",
            "http://127.0.0.1:9@evil.example/x",
        ] {
            let refused = http.send(&Request::get(elsewhere.to_owned())).await;
            assert!(
                matches!(&refused, Err(ForgeError::Backend(m)) if m.contains("not followed")),
                "{elsewhere}: {refused:?}"
            );
        }
        assert_eq!(http.usage(), ForgeUsage::default(), "nothing was sent");
    }

    #[test]
    fn no_limit_is_waited_out_for_longer_than_an_hour() {
        let now: Timestamp = "2026-12-01T14:00:00Z".parse().unwrap();
        let hour = now + jiff::SignedDuration::from_hours(1);
        let huge = headers(&[("retry-after", "999999999999")]);
        assert!(matches!(
            limited(StatusCode::TOO_MANY_REQUESTS, &huge, "", now),
            Some(Limited::Until(until)) if until == hour
        ));
        let far_reset = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-used", "5000"),
            ("x-ratelimit-reset", "4102444800"),
        ]);
        assert!(matches!(
            limited(StatusCode::FORBIDDEN, &far_reset, "", now),
            Some(Limited::Until(until)) if until == hour
        ));
        let soon = headers(&[("retry-after", "2")]);
        assert!(matches!(
            limited(StatusCode::FORBIDDEN, &soon, "", now),
            Some(Limited::Until(until)) if until == now + jiff::SignedDuration::from_secs(2)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn mutations_go_out_at_least_a_second_apart() {
        let http = http(std::sync::Arc::new(crate::ports::SystemClock));
        let start = Instant::now();
        http.await_mutation_slot().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the first goes at once");
        http.await_mutation_slot().await;
        http.await_mutation_slot().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(5)).await;
        let rested = Instant::now();
        http.await_mutation_slot().await;
        assert_eq!(
            rested.elapsed(),
            Duration::ZERO,
            "a rested client waits for nothing"
        );
    }

    #[tokio::test]
    async fn a_known_limit_refuses_without_sending_until_it_resets() {
        let http = http(std::sync::Arc::new(crate::ports::SystemClock));
        let until = Timestamp::now() + jiff::SignedDuration::from_secs(600);
        http.gate().limited_until = Some(until);
        let refused = http
            .send(&Request::get("http://127.0.0.1:9/x".to_owned()))
            .await;
        assert!(matches!(refused, Err(ForgeError::RateLimited { until: u }) if u == until));
        assert_eq!(http.usage(), ForgeUsage::default(), "nothing was sent");
        http.gate().limited_until = Some(Timestamp::now() - jiff::SignedDuration::from_secs(1));
        assert!(
            http.refuse_if_limited().is_ok(),
            "a limit that has reset lets requests go"
        );
    }

    #[test]
    fn link_targets_are_found_by_relation() {
        let link = "<https://api.example/repos/o/r/issues?page=2>; rel=\"next\", \
                    <https://api.example/repos/o/r/issues?page=5>; rel=\"last\"";
        assert_eq!(
            link_target(link, "next").as_deref(),
            Some("https://api.example/repos/o/r/issues?page=2")
        );
        assert_eq!(
            link_target(link, "last").as_deref(),
            Some("https://api.example/repos/o/r/issues?page=5")
        );
        assert_eq!(link_target(link, "prev"), None);
        assert_eq!(
            link_target("<http://h/x?labels=a,b&page=2>; rel=\"next\"", "next").as_deref(),
            Some("http://h/x?labels=a,b&page=2")
        );
        assert_eq!(
            link_target("<http://h/x?page=3>;rel=\"prev next\"", "next").as_deref(),
            Some("http://h/x?page=3")
        );
        assert_eq!(link_target("", "next"), None);
        assert_eq!(link_target("garbage; rel=next", "next"), None);
    }

    #[test]
    fn rate_limit_headers_need_all_three() {
        let full = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-reset", "1700000000"),
        ]);
        assert_eq!(
            rate_limit(&full),
            Some(RateLimit {
                limit: 5000,
                remaining: 4999,
                reset: Timestamp::from_second(1_700_000_000).unwrap(),
            })
        );
        let partial = headers(&[("x-ratelimit-remaining", "3")]);
        assert_eq!(rate_limit(&partial), None);
    }

    #[test]
    fn spent_and_secondary_limits_are_told_apart_from_other_refusals() {
        let now = Timestamp::from_second(1_000).unwrap();
        let spent = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1600"),
        ]);
        assert_eq!(
            limited(StatusCode::FORBIDDEN, &spent, "{}", now),
            Some(Limited::Until(Timestamp::from_second(1_600).unwrap()))
        );
        let retry = headers(&[("retry-after", "30")]);
        assert_eq!(
            limited(StatusCode::TOO_MANY_REQUESTS, &retry, "{}", now),
            Some(Limited::Until(Timestamp::from_second(1_030).unwrap()))
        );
        let secondary = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        let abuse = r#"{"message":"You have triggered an abuse detection mechanism and have been temporarily blocked from content creation. Please retry your request again later.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#abuse-rate-limits"}"#;
        for body in [secondary, abuse] {
            assert_eq!(
                limited(StatusCode::FORBIDDEN, &HeaderMap::new(), body, now),
                Some(Limited::Secondary),
                "{body}"
            );
        }
        assert_eq!(
            limited(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), "", now),
            Some(Limited::Secondary)
        );
        let forbidden = r#"{"message":"Resource not accessible by personal access token"}"#;
        assert_eq!(
            limited(StatusCode::FORBIDDEN, &HeaderMap::new(), forbidden, now),
            None
        );
        assert_eq!(limited(StatusCode::OK, &spent, "[]", now), None);
    }

    #[test]
    fn secondary_waits_start_at_a_minute_and_double_up_to_a_cap() {
        assert_eq!(secondary_wait(1), Duration::from_secs(60));
        assert_eq!(secondary_wait(2), Duration::from_secs(120));
        assert_eq!(secondary_wait(3), Duration::from_secs(240));
        assert_eq!(secondary_wait(40), SECONDARY_WAIT_CAP);
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(30), BACKOFF_CAP);
    }

    #[test]
    fn error_messages_carry_githubs_details() {
        let reply = Reply {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            headers: HeaderMap::new(),
            body: r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"already_exists","field":"name"}]}"#.to_owned(),
        };
        assert_eq!(reply.message(), "Validation Failed (name: already_exists)");
        let bare = Reply {
            status: StatusCode::BAD_GATEWAY,
            headers: HeaderMap::new(),
            body: "<html>".to_owned(),
        };
        assert_eq!(bare.message(), "502 Bad Gateway");
    }
}
