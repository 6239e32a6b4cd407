//! A scripted Anthropic Messages API server on 127.0.0.1, so that the real Claude Code binary
//! can run in tests with no network: each `POST /v1/messages` gets the script's next reply,
//! streamed as server-sent events exactly as the real API streams them. With several agents at
//! once, each conversation can follow its own script instead.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

/// One scripted model turn.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Says this and ends the turn.
    Text(String),
    /// Calls a tool (Claude Code runs it and sends the result back in the next request).
    Tool { name: String, input: Value },
    /// Starts the message, then never sends another byte: a stalled model.
    Hang,
    /// Answers with this HTTP status and an API error of this type, as the real API does
    /// (529 `overloaded_error`, 401 `authentication_error`, ...).
    Error { status: u16, kind: String },
}

impl Reply {
    pub fn text(text: &str) -> Self {
        Self::Text(text.to_owned())
    }

    pub fn error(status: u16, kind: &str) -> Self {
        Self::Error {
            status,
            kind: kind.to_owned(),
        }
    }

    /// A `Bash` tool call running `command`.
    pub fn bash(command: &str) -> Self {
        Self::Tool {
            name: "Bash".to_owned(),
            input: json!({ "command": command, "description": "scripted step" }),
        }
    }
}

/// Picks a conversation's replies from the text of its first user message.
type ConversationScript = Box<dyn Fn(&str) -> Vec<Reply> + Send>;

/// Which reply a request gets.
enum Replies {
    /// One script for the whole server, in order of arrival.
    InOrder(Vec<Reply>),
    /// A script per conversation. A request's turn is the number of assistant messages it
    /// carries, so concurrent conversations never take each other's replies.
    PerConversation(ConversationScript),
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// The text of the conversation's first user message: the same for all its requests.
    pub conversation: String,
    pub body: Value,
}

struct Script {
    replies: Replies,
    /// Given once the script has run out.
    then: Reply,
    served: usize,
    requests: Vec<Received>,
}

/// A running server; it stops when dropped.
pub struct ModelServer {
    address: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl ModelServer {
    /// Serves `replies` in order, then `then` for every later request.
    pub async fn start(replies: Vec<Reply>, then: Reply) -> Self {
        Self::serve(Replies::InOrder(replies), then).await
    }

    /// Gives each conversation the replies `script` picks from its first user message (the
    /// agent's prompt), in order, then `then`.
    pub async fn per_conversation(
        script: impl Fn(&str) -> Vec<Reply> + Send + 'static,
        then: Reply,
    ) -> Self {
        Self::serve(Replies::PerConversation(Box::new(script)), then).await
    }

    async fn serve(replies: Replies, then: Reply) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies,
            then,
            served: 0,
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/messages", post(messages))
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

    /// The value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request body received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.received().into_iter().map(|r| r.body).collect()
    }

    /// Every request received so far with when it arrived and its conversation, in order.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().requests.clone()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn messages(State(script): State<Arc<Mutex<Script>>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response();
    };
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-scripted")
        .to_owned();
    let (reply, turn) = {
        let mut script = script.lock().unwrap();
        let served = script.served;
        script.served += 1;
        let conversation = first_user_text(&request);
        let reply = match &script.replies {
            Replies::InOrder(replies) => replies.get(served).cloned(),
            Replies::PerConversation(pick) => {
                let turn = request["messages"]
                    .as_array()
                    .map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count());
                pick(&conversation).get(turn).cloned()
            }
        }
        .unwrap_or_else(|| script.then.clone());
        script.requests.push(Received {
            at: Instant::now(),
            conversation,
            body: request,
        });
        (reply, served)
    };
    if let Reply::Error { status, kind } = &reply {
        let error = json!({ "type": "error", "error": { "type": kind, "message": kind } });
        return (StatusCode::from_u16(*status).unwrap(), axum::Json(error)).into_response();
    }
    let events = stream_events(&reply, &model, turn);
    let finite = stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let body = if matches!(reply, Reply::Hang) {
        Body::from_stream(finite.chain(stream::pending()))
    } else {
        Body::from_stream(finite)
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap()
}

/// The text of a request's first message, whether its content is a string or text blocks.
fn first_user_text(request: &Value) -> String {
    let content = &request["messages"][0]["content"];
    match content.as_array() {
        Some(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        None => content.as_str().unwrap_or_default().to_owned(),
    }
}

fn event(kind: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

/// The server-sent events of one reply: `message_start`, one content block, `message_delta`
/// with the stop reason, `message_stop`. A hanging reply stops after `message_start`.
fn stream_events(reply: &Reply, model: &str, turn: usize) -> Vec<Bytes> {
    let mut events = vec![event(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": format!("msg_scripted_{turn}"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": { "input_tokens": 100, "output_tokens": 1 }
            }
        }),
    )];
    let (block, delta, stop_reason) = match reply {
        Reply::Hang | Reply::Error { .. } => return events,
        Reply::Text(text) => (
            json!({ "type": "text", "text": "" }),
            json!({ "type": "text_delta", "text": text }),
            "end_turn",
        ),
        Reply::Tool { name, input } => (
            json!({ "type": "tool_use", "id": format!("toolu_scripted_{turn}"), "name": name, "input": {} }),
            json!({ "type": "input_json_delta", "partial_json": input.to_string() }),
            "tool_use",
        ),
    };
    events.push(event(
        "content_block_start",
        json!({ "type": "content_block_start", "index": 0, "content_block": block }),
    ));
    events.push(event(
        "content_block_delta",
        json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
    ));
    events.push(event(
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(event(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": 20 }
        }),
    ));
    events.push(event("message_stop", json!({ "type": "message_stop" })));
    events
}
