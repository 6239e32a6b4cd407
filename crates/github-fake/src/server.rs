//! The listener: routes, shared state, and an accept loop that can drop a connection without
//! answering (the "lost answer" fault), which `axum::serve` cannot.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::middleware;
use axum::routing::{get, post, put};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::actions::{self, Actions};
use crate::git::BareRepo;
use crate::state::State;
use crate::{
    Options, admin, checks, compare, dependencies, http, issues, labels, merge, pulls, refs,
    repository, reviews,
};

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    pub options: Options,
    pub api_url: String,
    pub repo: BareRepo,
    /// When the fake started, the origin of [`crate::RecordedRequest::at_ms`].
    pub started: std::time::Instant,
    state: Mutex<State>,
    /// Serialises merges and pull request creation, so that two at once cannot both pass
    /// their checks.
    pub serial: tokio::sync::Mutex<()>,
    /// Workflows, runs and their downloads.
    pub actions: Arc<Actions>,
    /// The fake's own runtime, for work that [`crate::FakeGithub`]'s callers start.
    pub runtime: tokio::runtime::Handle,
}

impl App {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Lets a handler close its own connection without answering.
#[derive(Debug, Clone)]
pub struct ConnectionKiller(Arc<Notify>);

impl ConnectionKiller {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// The fake's own thread and runtime, so that it keeps serving while the caller's runtime is
/// blocked (say, a test waiting for a child process that talks to the fake). Dropping it
/// stops the server and joins the thread.
#[derive(Debug)]
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds 127.0.0.1 and serves on a thread of its own until the [`Running`] is dropped.
pub async fn start(options: Options) -> io::Result<(Arc<App>, Running)> {
    let (ready, started) = oneshot::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("github-fake".to_string())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                match bind(options).await {
                    Ok((app, listener)) => {
                        let router = routes(app.clone());
                        let _ = ready.send(Ok(app));
                        tokio::select! {
                            () = accept(listener, router) => {}
                            _ = stopped => {}
                        }
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            });
        })?;
    let running = Running {
        stop: Some(stop),
        thread: Some(thread),
    };
    let app = started
        .await
        .map_err(|_| io::Error::other("the fake stopped before serving"))??;
    Ok((app, running))
}

async fn bind(options: Options) -> io::Result<(Arc<App>, TcpListener)> {
    let repo = BareRepo::open_or_init(&options.bare_repo).await?;
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let app = Arc::new(App {
        state: Mutex::new(State::new(options.rate_limit)),
        options,
        repo,
        started: std::time::Instant::now(),
        serial: tokio::sync::Mutex::new(()),
        actions: Arc::new(Actions::new(&api_url)),
        runtime: tokio::runtime::Handle::current(),
        api_url,
    });
    Ok((app, listener))
}

fn routes(app: Arc<App>) -> Router {
    let repo = "/repos/{owner}/{repo}";
    Router::new()
        .route(repo, get(repository::get_repository))
        .route("/rate_limit", get(repository::rate_limit))
        .route(
            &format!("{repo}/labels"),
            get(labels::list).post(labels::create),
        )
        .route(
            &format!("{repo}/labels/{{name}}"),
            get(labels::get).patch(labels::update),
        )
        .route(
            &format!("{repo}/issues"),
            get(issues::list).post(issues::create),
        )
        .route(
            &format!("{repo}/issues/{{number}}"),
            get(issues::get).patch(issues::update),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            get(labels::list_on_issue)
                .post(labels::add_to_issue)
                .put(labels::set_on_issue)
                .delete(labels::remove_all_from_issue),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels/{{name}}"),
            axum::routing::delete(labels::remove_from_issue),
        )
        .route(
            &format!("{repo}/issues/{{number}}/assignees"),
            post(issues::add_assignees).delete(issues::remove_assignees),
        )
        .route(
            &format!("{repo}/issues/{{number}}/comments"),
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(
            &format!("{repo}/issues/{{number}}/dependencies/blocked_by"),
            get(dependencies::list_blocked_by).post(dependencies::add_blocked_by),
        )
        .route(
            &format!("{repo}/pulls"),
            get(pulls::list).post(pulls::create),
        )
        .route(
            &format!("{repo}/pulls/{{number}}"),
            get(pulls::get).patch(pulls::update),
        )
        .route(&format!("{repo}/pulls/{{number}}/merge"), put(merge::merge))
        .route(
            &format!("{repo}/pulls/{{number}}/reviews"),
            get(reviews::list).post(reviews::create),
        )
        .route(&format!("{repo}/git/ref/{{*ref}}"), get(refs::get))
        .route(
            &format!("{repo}/git/matching-refs/{{*ref}}"),
            get(refs::matching),
        )
        .route(&format!("{repo}/git/refs"), post(refs::create))
        .route(
            &format!("{repo}/git/refs/{{*ref}}"),
            axum::routing::patch(refs::update).delete(refs::delete),
        )
        .route(&format!("{repo}/compare/{{range}}"), get(compare::compare))
        .route(
            &format!("{repo}/commits/{{ref}}/check-runs"),
            get(checks::list_for_ref),
        )
        .route(
            &format!("{repo}/commits/{{ref}}/status"),
            get(checks::combined_status),
        )
        .route(&format!("{repo}/check-runs"), post(checks::create))
        .route(
            &format!("{repo}/statuses/{{sha}}"),
            post(checks::create_status),
        )
        .route("/user", get(repository::authenticated_user))
        .route(
            &format!("{repo}/actions/workflows/{{workflow_id}}"),
            get(actions::get_workflow),
        )
        .route(
            &format!("{repo}/actions/workflows/{{workflow_id}}/dispatches"),
            post(actions::dispatch),
        )
        .route(
            &format!("{repo}/actions/workflows/{{workflow_id}}/runs"),
            get(actions::list_workflow_runs),
        )
        .route(
            &format!("{repo}/actions/workflows/{{workflow_id}}/enable"),
            put(actions::enable),
        )
        .route(
            &format!("{repo}/actions/workflows/{{workflow_id}}/disable"),
            put(actions::disable),
        )
        .route(
            &format!("{repo}/actions/runs"),
            get(actions::list_repo_runs),
        )
        .route(
            &format!("{repo}/actions/runs/{{run_id}}"),
            get(actions::get_run),
        )
        .route(
            &format!("{repo}/actions/runs/{{run_id}}/jobs"),
            get(actions::list_jobs),
        )
        .route(
            &format!("{repo}/actions/runs/{{run_id}}/logs"),
            get(actions::download_logs),
        )
        .route(
            &format!("{repo}/actions/runs/{{run_id}}/cancel"),
            post(actions::cancel),
        )
        .route(
            &format!("{repo}/actions/runs/{{run_id}}/artifacts"),
            get(actions::list_artifacts),
        )
        .route(
            &format!("{repo}/actions/artifacts/{{artifact_id}}/{{archive_format}}"),
            get(actions::download_artifact),
        )
        .route("/_blobs/{key}", get(actions::blob))
        .route("/_fake/violations", get(admin::violations))
        .route("/_fake/requests", get(admin::requests))
        .route("/_fake/faults", post(admin::set_faults))
        .route("/_fake/comments", post(admin::comment))
        .route("/_fake/rate_limit", post(admin::set_rate_limit))
        .fallback(http::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), http::github))
        .with_state(app)
}

/// Serves each connection in its own task; aborting this task drops them all.
async fn accept(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        connections.spawn(async move {
            let killer = ConnectionKiller(Arc::new(Notify::new()));
            let service = router.map_request({
                let killer = killer.clone();
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(killer.clone());
                    request
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::select! {
                _ = connection => {}
                () = killer.0.notified() => {}
            }
        });
    }
}
