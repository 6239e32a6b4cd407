//! The run's HTTP server (`[serve]`, `run --serve`): `/metrics` in the Prometheus text format,
//! the dashboard at `/`, its state at `/api/v1/state` and live at `/api/v1/events` (server-sent
//! events), and each working agent's log. Read-only: nothing here changes anything. Off
//! loopback every request must carry the token (`Authorization: Bearer`, the `clambake_token`
//! cookie the page sets, or `?token=`), compared in constant time.

pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::app::agents::monitor::list_agents;
use crate::app::lifecycle::transitions::open_journal;
use crate::app::run::orchestrator::Progress;
use crate::app::run::orchestrator::metrics::{AgentSample, RunMetrics, Scraped};
use crate::app::{AppError, AppResult, Workspace, compose, forge_usage};
use crate::ports::journal::Store;
use crate::ports::process_usage::ProcessUsage;
use crate::ports::{Clock, Forge};

/// The variable the token is read from; it is never read from clambake.toml, nor logged.
pub const TOKEN_VARIABLE: &str = "CLAMBAKE_SERVE_TOKEN";

/// The cookie the page sets when opened with `?token=`, so that its own requests carry it.
const TOKEN_COOKIE: &str = "clambake_token";

/// The dashboard: one page, everything embedded.
const DASHBOARD: &str = include_str!("dashboard.html");

/// How often the live stream sends the state when the loop publishes nothing new.
const REFRESH: Duration = Duration::from_secs(2);

/// Where to serve, and the token that guards it (required off loopback).
pub struct ServeRequest {
    pub address: String,
    pub token: Option<String>,
}

/// What the handlers read.
struct Served {
    workspace: Workspace,
    forge: Arc<dyn Forge>,
    journal: Box<dyn Store>,
    progress: watch::Receiver<Progress>,
    metrics: Arc<RunMetrics>,
    processes: Arc<dyn ProcessUsage>,
    clock: Arc<dyn Clock>,
    token: Option<String>,
}

/// The server, running until dropped.
pub struct Server {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `request.address` and serves until the returned [`Server`] is dropped. Refuses an
/// address off loopback without a token.
pub async fn start(
    workspace: &Workspace,
    forge: Arc<dyn Forge>,
    request: ServeRequest,
    progress: watch::Receiver<Progress>,
    metrics: Arc<RunMetrics>,
) -> AppResult<Server> {
    let refuse = |problem: String| AppError::Serve {
        address: request.address.clone(),
        problem,
    };
    let address: SocketAddr = request
        .address
        .parse()
        .map_err(|_| refuse("not an IP address and port".to_owned()))?;
    let token = request.token.clone().filter(|t| !t.is_empty());
    if token.is_none() && !address.ip().is_loopback() {
        return Err(refuse(format!(
            "it is not loopback, and {TOKEN_VARIABLE} is not set"
        )));
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| refuse(error.to_string()))?;
    let address = listener
        .local_addr()
        .map_err(|error| refuse(error.to_string()))?;
    let served = Arc::new(Served {
        workspace: workspace.clone(),
        forge,
        journal: Box::new(open_journal(workspace)?),
        progress,
        metrics,
        processes: compose::process_usage(),
        clock: compose::clock(),
        token,
    });
    let router = Router::new()
        .route("/", get(dashboard))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/state", get(state_json))
        .route("/api/v1/events", get(events))
        .route("/logs/{issue}/{attempt}", get(log))
        .layer(middleware::from_fn_with_state(served.clone(), authorize))
        .with_state(served);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the dashboard's server stopped");
        }
    });
    tracing::info!("metrics and the dashboard on http://{address}/");
    Ok(Server { address, task })
}

/// Whether `offered` is the token, in time that does not depend on where they differ.
fn same_token(offered: &str, token: &str) -> bool {
    offered.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The token a request carries: its bearer header, its cookie, or its query.
fn offered_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Vec<&'a str> {
    let mut offered = Vec::new();
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        offered.push(bearer.trim());
    }
    for cookies in headers.get_all(header::COOKIE) {
        let Ok(cookies) = cookies.to_str() else {
            continue;
        };
        for cookie in cookies.split(';') {
            if let Some(value) = cookie
                .trim()
                .strip_prefix(TOKEN_COOKIE)
                .and_then(|v| v.strip_prefix('='))
            {
                offered.push(value);
            }
        }
    }
    for pair in query.unwrap_or_default().split('&') {
        if let Some(value) = pair.strip_prefix("token=") {
            offered.push(value);
        }
    }
    offered
}

async fn authorize(State(served): State<Arc<Served>>, request: Request, next: Next) -> Response {
    let Some(token) = &served.token else {
        return next.run(request).await;
    };
    let offered = offered_token(request.headers(), request.uri().query());
    if !offered.iter().any(|o| same_token(o, token)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a token is required: Authorization: Bearer, or ?token= on the page\n",
        )
            .into_response();
    }
    let via_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("token=")));
    let mut response = next.run(request).await;
    if via_query
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        ))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The page with its first frame in it; `<` is escaped (`\u003c`, the same string in JSON) so
/// that no text in the state can end the script element it sits in.
async fn dashboard(State(served): State<Arc<Served>>) -> Response {
    let state = match state_of(&served).await {
        Ok(json) => json.replace('<', "\\u003c"),
        Err(error) => return failed(error),
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        DASHBOARD.replace("__STATE__", &state),
    )
        .into_response()
}

fn failed(error: AppError) -> Response {
    tracing::warn!(%error, "the dashboard could not read the state");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
}

async fn metrics_text(State(served): State<Arc<Served>>) -> Response {
    let progress = served.progress.borrow().clone();
    let now = served.clock.now();
    let live = match crate::app::run::live::LiveSampler::open(&served.workspace) {
        Ok(sampler) => sampler.sample(&progress, now).await,
        Err(error) => Err(error),
    };
    let live = match live {
        Ok(live) => live,
        Err(error) => return failed(error),
    };
    let mut transitions = Vec::new();
    for agent in served.journal.current_states().unwrap_or_default().keys() {
        transitions.extend(served.journal.history(agent).unwrap_or_default());
    }
    let transition_failures = served.journal.failures().unwrap_or_default();
    let usage = forge_usage::read(&served.workspace).ok().flatten();
    let agents: Vec<AgentSample> = live
        .agents
        .iter()
        .map(|a| AgentSample {
            agent: a.agent.clone(),
            issue: a.issue,
            pid: a.pid,
            tokens: a.tokens,
        })
        .collect();
    let text = served.metrics.render(&Scraped {
        transitions: &transitions,
        transition_failures: &transition_failures,
        agents: &agents,
        forge_usage: usage.as_ref(),
        processes: served.processes.as_ref(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn state_of(served: &Served) -> AppResult<String> {
    let progress = served.progress.borrow().clone();
    let state = state::dashboard_state(
        &served.workspace,
        served.forge.as_ref(),
        served.journal.as_ref(),
        &progress,
        served.clock.now(),
    )
    .await?;
    Ok(serde_json::to_string(&state).expect("the state serialises"))
}

async fn state_json(State(served): State<Arc<Served>>) -> Response {
    match state_of(&served).await {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => failed(error),
    }
}

/// The state whenever the loop publishes, and every [`REFRESH`] besides (agents' telemetry
/// moves between publications).
async fn events(State(served): State<Arc<Served>>) -> impl IntoResponse {
    let progress = served.progress.clone();
    let stream = futures_util::stream::unfold(
        (served, progress, true),
        |(served, mut progress, first)| async move {
            if !first {
                let _ = tokio::time::timeout(REFRESH, progress.changed()).await;
            }
            let event = match state_of(&served).await {
                Ok(json) => Event::default().event("state").data(json),
                Err(error) => Event::default().event("error").data(error.to_string()),
            };
            Some((
                Ok::<_, std::convert::Infallible>(event),
                (served, progress, false),
            ))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A working or finished attempt's log, redacted.
async fn log(
    State(served): State<Arc<Served>>,
    Path((issue, attempt)): Path<(u64, u32)>,
) -> Response {
    let now = served.clock.now();
    let running = list_agents(&served.workspace, now)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.issue == issue && a.attempt == attempt)
        .map(|a| a.log);
    let finished = || {
        served
            .journal
            .attempts(issue)
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.attempt == attempt)
            .map(|r| std::path::PathBuf::from(r.log))
    };
    let Some(path) = running.or_else(finished) else {
        return (StatusCode::NOT_FOUND, "no such attempt\n").into_response();
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            compose::secrets().redact(&text).into_owned(),
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "the log is not there\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_taken_from_the_header_the_cookie_or_the_query() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        headers.insert(header::COOKIE, "x=1; clambake_token=def".parse().unwrap());
        assert_eq!(
            offered_token(&headers, Some("a=b&token=ghi")),
            ["abc", "def", "ghi"]
        );
        assert!(offered_token(&HeaderMap::new(), None).is_empty());
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
    }
}
