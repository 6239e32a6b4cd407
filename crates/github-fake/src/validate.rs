//! Records every request and response that breaks GitHub's OpenAPI description.

use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::Value;

use crate::openapi::{Operation, Spec};
use crate::server::App;

/// Checks a request; the operation it matched, if any, to check its answer against.
pub fn request(app: &App, parts: &Parts, body: &[u8]) -> Option<Operation> {
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let json = match json(body) {
        Ok(json) => json,
        Err(error) => {
            app.lock()
                .violations
                .push(format!("{method} {path}: the body is not JSON: {error}"));
            None
        }
    };
    match Spec::github().check_request(method, path, parts.uri.query(), json.as_ref()) {
        Ok(operation) => Some(operation),
        Err(violations) => {
            app.lock()
                .violations
                .extend(violations.into_iter().map(|v| format!("request {v}")));
            None
        }
    }
}

/// Checks the answer to a request that matched `operation`.
pub fn response(app: &App, request: &str, operation: &Operation, status: StatusCode, body: &[u8]) {
    let violations = match json(body) {
        Ok(json) => Spec::github().check_response(operation, status.as_u16(), json.as_ref()),
        Err(error) => vec![format!(
            "{} response {status}: not JSON: {error}",
            operation.id
        )],
    };
    let violations = violations
        .into_iter()
        .map(|v| format!("response to {request}: {v}"));
    app.lock().violations.extend(violations);
}

/// An empty body is no body.
fn json(body: &[u8]) -> Result<Option<Value>, serde_json::Error> {
    if body.is_empty() {
        Ok(None)
    } else {
        serde_json::from_slice(body).map(Some)
    }
}
