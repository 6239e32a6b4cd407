//! A scripted OpenAI Responses API server on 127.0.0.1, so that the real Codex CLI can run in
//! tests with no network: each `POST /v1/responses` gets the script's next reply, as the
//! server-sent events Codex reads (`response.created`, `response.output_item.done`,
//! `response.completed` with usage).

use std::convert::Infallible;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

/// One scripted model response.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Says this and ends the turn.
    Text(String),
    /// Calls Codex's `exec_command` tool with this shell command.
    Shell(String),
    /// These output items, as the model would send them (reasoning, web searches, calls).
    Items(Vec<Value>),
    /// Answers with HTTP 500: the model provider failed.
    ServerError,
    /// Starts the response, then never sends another byte: a stalled model.
    Hang,
}

struct Script {
    replies: Vec<Reply>,
    then: Reply,
    served: usize,
    requests: Vec<Value>,
}

/// A running server; it stops when dropped.
pub struct ResponsesServer {
    address: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl ResponsesServer {
    /// Serves `replies` in order, then `then` for every later request.
    pub async fn start(replies: Vec<Reply>, then: Reply) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies,
            then,
            served: 0,
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            script,
            task,
        }
    }

    /// A Codex `config.toml` that sends every request here, with no retries.
    pub fn codex_config(&self) -> String {
        format!(
            "model = \"scripted-model\"\nmodel_provider = \"scripted\"\n\n\
             [model_providers.scripted]\nname = \"scripted\"\n\
             base_url = \"http://{}/v1\"\nenv_key = \"OPENAI_API_KEY\"\n\
             wire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
            self.address
        )
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.script.lock().unwrap().requests.clone()
    }
}

impl Drop for ResponsesServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn responses(State(script): State<Arc<Mutex<Script>>>, body: String) -> Response {
    let (reply, number) = {
        let mut script = script.lock().unwrap();
        script
            .requests
            .push(serde_json::from_str(&body).unwrap_or(Value::Null));
        let reply = script
            .replies
            .get(script.served)
            .cloned()
            .unwrap_or_else(|| script.then.clone());
        script.served += 1;
        (reply, script.served)
    };
    let id = format!("resp_{number}");
    let created = json!({ "type": "response.created", "response": { "id": id } });
    let items = match reply {
        Reply::ServerError => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Reply::Hang => {
            let started = stream::iter([Ok::<_, Infallible>(sse(&created))]);
            return event_stream(Body::from_stream(started.chain(stream::pending())));
        }
        Reply::Items(items) => items,
        Reply::Text(text) => vec![json!({
            "type": "message", "id": format!("msg_{number}"), "role": "assistant",
            "content": [{ "type": "output_text", "text": text, "annotations": [] }],
        })],
        Reply::Shell(command) => vec![json!({
            "type": "function_call", "id": format!("fc_{number}"),
            "call_id": format!("call_{number}"), "name": "exec_command",
            "arguments": json!({ "cmd": command }).to_string(),
        })],
    };
    let usage = json!({
        "input_tokens": 100, "input_tokens_details": { "cached_tokens": 20 },
        "output_tokens": 10, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": 110,
    });
    let done = items.into_iter().enumerate().map(|(index, item)| {
        json!({ "type": "response.output_item.done", "output_index": index, "item": item })
    });
    let completed =
        json!({ "type": "response.completed", "response": { "id": id, "usage": usage } });
    let body: Vec<u8> = std::iter::once(created)
        .chain(done)
        .chain([completed])
        .flat_map(|event| sse(&event))
        .collect();
    event_stream(Body::from(body))
}

/// One server-sent event, named by its `type`.
fn sse(event: &Value) -> Bytes {
    let kind = event["type"].as_str().unwrap();
    Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
}

fn event_stream(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}
