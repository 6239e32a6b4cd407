//! Query parameters, GitHub's pagination (`per_page` at most 100, `page`, and a `Link` header
//! whose URLs point back at the fake), and the `201 Created` answer.

use axum::Json;
use axum::http::header::{LINK, LOCATION};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

/// A request's query parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_uri(uri: &Uri) -> Params {
        let query = uri.query().unwrap_or_default();
        Params(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("Invalid {name}"))
            }),
        }
    }

    /// The `since` parameter, an ISO 8601 timestamp.
    pub fn since(&self) -> Result<Option<jiff::Timestamp>, ApiError> {
        self.get("since")
            .map(|since| {
                since
                    .parse()
                    .map_err(|_| ApiError::validation("Issue", "since", "invalid"))
            })
            .transpose()
    }

    /// The same parameters with `page` set.
    fn with_page(&self, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in self.0.iter().filter(|(key, _)| key != "page") {
            query.append_pair(key, value);
        }
        query.append_pair("page", &page.to_string());
        query.finish()
    }
}

/// Whether a stored `updated_at` is at or after `since`.
pub fn updated_since(updated_at: &str, since: jiff::Timestamp) -> bool {
    updated_at
        .parse::<jiff::Timestamp>()
        .is_ok_and(|updated| updated >= since)
}

/// Answers one page of `items`, each rendered by `render`, as a JSON array with its `Link`
/// header. Only the page's items are rendered.
pub fn paginate<T>(
    api_url: &str,
    uri: &Uri,
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
) -> Result<Response, ApiError> {
    let (this, link) = page(api_url, uri, items, render)?;
    Ok(with_link(Json(this).into_response(), link))
}

/// [`paginate`] for the listings that wrap their page as `{"total_count": N, "<key>": [...]}`,
/// such as the Actions ones.
pub fn paginate_wrapped<T>(
    api_url: &str,
    uri: &Uri,
    key: &str,
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
) -> Result<Response, ApiError> {
    let total_count = items.len();
    let (this, link) = page(api_url, uri, items, render)?;
    let body = serde_json::json!({ "total_count": total_count, key: this });
    Ok(with_link(Json(body).into_response(), link))
}

fn with_link(mut response: Response, link: Option<HeaderValue>) -> Response {
    if let Some(link) = link {
        response.headers_mut().insert(LINK, link);
    }
    response
}

/// The requested page of `items`, rendered, and its `Link` header if there are other pages.
fn page<T>(
    api_url: &str,
    uri: &Uri,
    items: Vec<T>,
    render: impl FnMut(T) -> Value,
) -> Result<(Vec<Value>, Option<HeaderValue>), ApiError> {
    let params = Params::from_uri(uri);
    let per_page = params.number("per_page", 30)?.clamp(1, 100);
    let page = params.number("page", 1)?.max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let this: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(render)
        .collect();
    let link = |page: usize, rel: &str| {
        format!(
            "<{api_url}{}?{}>; rel=\"{rel}\"",
            uri.path(),
            params.with_page(page)
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if links.is_empty() {
        return Ok((this, None));
    }
    let value = HeaderValue::from_str(&links.join(", ")).map_err(ApiError::internal)?;
    Ok((this, Some(value)))
}

/// `201 Created` with the new object's URL in `Location`.
pub fn created(value: &Value) -> Response {
    let location = value["url"].as_str().unwrap_or_default().to_string();
    (
        StatusCode::CREATED,
        [(LOCATION, location)],
        Json(value.clone()),
    )
        .into_response()
}
