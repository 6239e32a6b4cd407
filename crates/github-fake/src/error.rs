//! GitHub's error answers: `{message, documentation_url, errors?, status}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const DOCS: &str = "https://docs.github.com/rest";

/// An error answer, with GitHub's status, message and optional validation errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<Value>,
}

/// The most characters GitHub takes in the body of an issue, comment or pull request.
pub const BODY_LIMIT: usize = 65_536;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            errors: None,
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn bad_json() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    /// `422 Validation Failed` with one error about `field` of `resource`.
    pub fn validation(resource: &str, field: &str, code: &str) -> ApiError {
        ApiError {
            errors: Some(json!([{ "resource": resource, "field": field, "code": code }])),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
        }
    }

    /// `422` for a `body` longer than GitHub takes (65,536 characters), as GitHub answers it.
    pub fn check_body(resource: &str, body: Option<&str>) -> Result<(), ApiError> {
        if body.is_some_and(|body| body.chars().count() > BODY_LIMIT) {
            return Err(ApiError {
                errors: Some(json!([{
                    "resource": resource,
                    "code": "custom",
                    "field": "body",
                    "message": format!("body is too long (maximum is {BODY_LIMIT} characters)"),
                }])),
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
            });
        }
        Ok(())
    }

    /// `422 Validation Failed` with a custom message, as for a duplicate pull request.
    pub fn custom_validation(resource: &str, message: &str) -> ApiError {
        ApiError {
            errors: Some(json!([{ "resource": resource, "code": "custom", "message": message }])),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
        }
    }

    /// For a failure of the fake itself (e.g. git failed).
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("fake: {error}"))
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "message": self.message,
            "documentation_url": DOCS,
            "status": self.status.as_u16().to_string(),
        });
        if let Some(errors) = &self.errors {
            body["errors"] = errors.clone();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> ApiError {
        ApiError::internal(error)
    }
}

/// Parses a JSON request body; an empty body reads as `{}`.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = if bytes.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(|_| ApiError::bad_json())?
    };
    serde_json::from_value(value).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Invalid request.\n\n{error}"),
        )
    })
}
