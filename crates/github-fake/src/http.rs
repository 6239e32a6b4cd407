//! What GitHub does around every API request: authentication, the primary rate limit and its
//! headers, strong ETags with free 304s, injected faults, and the record of each request.

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::faults::Fault;
use crate::server::{App, ConnectionKiller};
use crate::state::{RecordedRequest, unix_now};
use crate::validate;

/// The fallback route: GitHub's 404.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (scheme, credential) = value.split_once(' ').unwrap_or_default();
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        && credential.trim() == token
}

/// Whether the path names another repository than the one served.
fn other_repository(app: &App, path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    if segments.next() != Some("repos") {
        return false;
    }
    let owner = segments.next().unwrap_or_default();
    let repo = segments.next().unwrap_or_default();
    !owner.eq_ignore_ascii_case(&app.options.owner) || !repo.eq_ignore_ascii_case(&app.options.repo)
}

/// `"<sha256 of the body>"`, a strong validator.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(body)))
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn secondary_limit(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = ApiError::new(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    )
    .into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn fault_response(fault: &Fault, server_error_retry_after: Option<u64>) -> Option<Response> {
    match fault {
        Fault::SecondaryLimit {
            status,
            retry_after,
        } => Some(secondary_limit(*status, *retry_after)),
        Fault::ServerError => {
            let mut response =
                ApiError::new(StatusCode::BAD_GATEWAY, "Server Error").into_response();
            if let Some(seconds) = server_error_retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            Some(response)
        }
        Fault::Unprocessable => Some(
            ApiError::custom_validation("Fake", "an injected validation failure").into_response(),
        ),
        Fault::LostAnswer => None,
    }
}

/// Points the `Link` header at the faults' `link_origin`, if they name one.
fn redirect_links(app: &App, headers: &mut HeaderMap) {
    let Some(origin) = app.lock().faults.link_origin().map(str::to_owned) else {
        return;
    };
    let Some(link) = headers.get(LINK).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let hostile = link.replace(&app.api_url, &origin);
    if let Ok(value) = HeaderValue::from_str(&hostile) {
        headers.insert(LINK, value);
    }
}

/// Adds the `x-ratelimit-*` headers as they stand after this request.
fn rate_headers(app: &App, headers: &mut HeaderMap) {
    let state = app.lock();
    let rate = &state.rate;
    for (name, value) in [
        ("x-ratelimit-limit", rate.limit),
        ("x-ratelimit-remaining", rate.remaining()),
        ("x-ratelimit-used", rate.used),
        ("x-ratelimit-reset", rate.reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
}

/// The middleware around every route: checks the request against the description, answers
/// it (or a fault), then adds the ETag and rate-limit headers, checks and records the answer.
pub async fn github(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    // The fake's own controls, and the blob storage (another origin on GitHub), are no API.
    let path = request.uri().path();
    if path.starts_with("/_fake/") || path.starts_with("/_blobs/") {
        return next.run(request).await;
    }
    let arrived = app.started.elapsed();
    let method = request.method().clone();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let mutating = !matches!(method, Method::GET | Method::HEAD);
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => return ApiError::bad_json().into_response(),
    };
    let operation = validate::request(&app, &parts, &body);
    let killer = parts.extensions.get::<ConnectionKiller>().cloned();
    let request_headers = parts.headers.clone();
    let request = Request::from_parts(parts, Body::from(body));

    let fault = app.lock().faults.draw(mutating);
    let (response, mut charged) = answer(&app, request, next, fault.as_ref()).await;
    let (mut parts, body) = response.into_parts();
    let mut body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    // GitHub tags every answer with content by its body, whatever the method: a mutation's
    // answer carries the tag a read showing the same would have.
    if matches!(parts.status, StatusCode::OK | StatusCode::CREATED) {
        let tag = etag(&body);
        if method == Method::GET && matches_etag(&request_headers, &tag) {
            charged = false;
            parts.status = StatusCode::NOT_MODIFIED;
            parts.headers.remove(CONTENT_TYPE);
            body = Bytes::new();
        }
        parts.headers.insert(
            ETAG,
            HeaderValue::from_str(&tag).expect("hex is a valid header"),
        );
    }
    if charged {
        app.lock().rate.used += 1;
    }
    if parts.status != StatusCode::UNAUTHORIZED {
        rate_headers(&app, &mut parts.headers);
    }
    redirect_links(&app, &mut parts.headers);
    if let Some(operation) = &operation {
        validate::response(&app, &path_and_query, operation, parts.status, &body);
    }
    let lost = matches!(fault, Some(Fault::LostAnswer));
    app.lock().requests.push(RecordedRequest {
        method: method.to_string(),
        path: path_and_query,
        status: parts.status.as_u16(),
        charged,
        mutation: mutating && parts.status.is_success(),
        lost,
        at_ms: arrived.as_millis() as u64,
    });
    if lost && let Some(killer) = killer {
        killer.kill();
        return std::future::pending().await;
    }
    Response::from_parts(parts, Body::from(body))
}

/// The answer before the common headers, and whether it is charged to the rate limit.
async fn answer(
    app: &App,
    request: Request,
    next: Next,
    fault: Option<&Fault>,
) -> (Response, bool) {
    let slow = app.lock().faults.slow();
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    if !authorized(request.headers(), &app.options.token) {
        let refused = ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials");
        return (refused.into_response(), false);
    }
    let chargeable = request.uri().path() != "/rate_limit";
    let spent = {
        let mut state = app.lock();
        state.rate.roll(unix_now());
        chargeable && state.rate.remaining() == 0
    };
    if spent {
        let refused = ApiError::new(StatusCode::FORBIDDEN, "API rate limit exceeded for user.");
        return (refused.into_response(), false);
    }
    let retry_after = app.lock().faults.server_error_retry_after();
    if let Some(response) = fault.and_then(|fault| fault_response(fault, retry_after)) {
        return (response, matches!(fault, Some(Fault::Unprocessable)));
    }
    if other_repository(app, request.uri().path()) {
        return (ApiError::not_found().into_response(), chargeable);
    }
    (next.run(request).await, chargeable)
}
