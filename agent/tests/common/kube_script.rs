//! A scripted Kubernetes API server: `tower_test`'s mock service behind a real `kube::Client`.
//!
//! A test lists every request it expects, in order, each with its canned reply:
//!
//! ```ignore
//! let server = serve(vec![
//!     Step::get("/api/v1/namespaces/bench/pods/p").reply(200, pod),
//!     Step::delete("/api/v1/namespaces/bench/pods/p")
//!         .body(json!({"propagationPolicy": "Background"}))
//!         .reply(200, status_success()),
//! ]);
//! // ... drive the code under test with server.client() ...
//! server.assert_done();
//! ```
//!
//! Each request must match its step's method, path and query (the exact set of pairs, in any
//! order); a step's `body` must be contained in the request's JSON body (objects: every listed
//! key, recursively; arrays and scalars: equal). A request that does not match, or comes after the
//! script's end, is recorded and answered by dropping it (the client sees an error);
//! [`ApiServer::assert_done`] fails the test with every mismatch and with any step never reached.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower_test::mock;

/// How a step answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON body with this status.
    Json(u16, Value),
    /// A watch stream: one JSON event per line, then the stream ends.
    Events(Vec<Value>),
    /// A plain-text body (logs).
    Text(u16, String),
    /// Never answer (a watch on which nothing happens); the request stays open.
    Hang,
}

/// One expected request and its reply.
#[derive(Debug, Clone)]
pub struct Step {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    content_type: Option<String>,
    reply: Reply,
}

impl Step {
    fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_string(),
            query: Vec::new(),
            body: None,
            content_type: None,
            reply: Reply::Json(200, json!({})),
        }
    }

    /// Expect `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }
    /// Expect `POST path`.
    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }
    /// Expect `PATCH path`.
    pub fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }
    /// Expect `DELETE path`.
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Exactly these query pairs (any order; none when not called).
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.query = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// The request body must contain this JSON.
    pub fn body(mut self, subset: Value) -> Self {
        self.body = Some(subset);
        self
    }

    /// The request's `Content-Type` must be this.
    pub fn content_type(mut self, ct: &str) -> Self {
        self.content_type = Some(ct.to_string());
        self
    }

    /// Reply with JSON.
    pub fn reply(mut self, status: u16, body: Value) -> Self {
        self.reply = Reply::Json(status, body);
        self
    }

    /// Reply with a watch stream of these events.
    pub fn events(mut self, events: Vec<Value>) -> Self {
        self.reply = Reply::Events(events);
        self
    }

    /// Reply with text.
    pub fn text(mut self, status: u16, text: &str) -> Self {
        self.reply = Reply::Text(status, text.to_string());
        self
    }

    /// Never reply.
    pub fn hang(mut self) -> Self {
        self.reply = Reply::Hang;
        self
    }

    fn describe(&self) -> String {
        format!("{} {} {:?}", self.method, self.path, self.query)
    }
}

/// A watch event line.
pub fn event(kind: &str, object: Value) -> Value {
    json!({ "type": kind, "object": object })
}

/// The `Status` the API server returns for a finished deletion.
pub fn status_success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200})
}

/// An error `Status`.
pub fn status_error(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "code": code, "reason": reason, "message": message,
    })
}

#[derive(Debug, Default)]
struct Progress {
    served: usize,
    failures: Vec<String>,
}

/// The running scripted server.
pub struct ApiServer {
    client: kube::Client,
    total: usize,
    progress: Arc<Mutex<Progress>>,
    _task: JoinHandle<()>,
}

impl ApiServer {
    /// A client talking to this server (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// How many requests were answered so far.
    pub fn served(&self) -> usize {
        self.progress.lock().unwrap().served
    }

    /// Every step was served and nothing unexpected came.
    pub fn assert_done(&self) {
        let p = self.progress.lock().unwrap();
        assert!(
            p.failures.is_empty(),
            "API script mismatches:\n{}",
            p.failures.join("\n")
        );
        assert_eq!(
            p.served, self.total,
            "only {} of {} scripted requests came",
            p.served, self.total
        );
    }
}

/// Start a server that expects `steps` in order.
pub fn serve(steps: Vec<Step>) -> ApiServer {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let total = steps.len();
    let shared = progress.clone();
    let task = tokio::spawn(async move {
        let mut handle = std::pin::pin!(handle);
        let mut steps = steps.into_iter();
        let mut open = Vec::new(); // replies of `Hang` steps, kept so their requests stay open
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let body = body.collect_bytes().await.unwrap_or_default();
            let seen = format!("{} {}", parts.method, parts.uri);
            let Some(step) = steps.next() else {
                fail(
                    &shared,
                    format!("unexpected request after the script ended: {seen}"),
                );
                continue;
            };
            if let Err(why) = check(&step, &parts, &body) {
                fail(
                    &shared,
                    format!(
                        "request #{}: {seen}\n  expected {}\n  {why}",
                        shared.lock().unwrap().served + 1,
                        step.describe()
                    ),
                );
                continue;
            }
            shared.lock().unwrap().served += 1;
            match step.reply {
                Reply::Json(status, value) => {
                    respond.send_response(response(status, value.to_string().into_bytes()))
                }
                Reply::Events(events) => {
                    let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
                    respond.send_response(response(200, lines.into_bytes()));
                }
                Reply::Text(status, text) => {
                    respond.send_response(response(status, text.into_bytes()))
                }
                Reply::Hang => open.push(respond),
            }
        }
    });
    ApiServer {
        client: kube::Client::new(service, "default"),
        total,
        progress,
        _task: task,
    }
}

fn fail(progress: &Mutex<Progress>, message: String) {
    eprintln!("API script: {message}");
    progress.lock().unwrap().failures.push(message);
}

fn response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

fn check(step: &Step, parts: &http::request::Parts, body: &[u8]) -> Result<(), String> {
    if parts.method != step.method {
        return Err(format!("method {} is not {}", parts.method, step.method));
    }
    if parts.uri.path() != step.path {
        return Err(format!("path {} is not {}", parts.uri.path(), step.path));
    }
    let mut got = parse_query(parts.uri.query().unwrap_or(""));
    let mut want = step.query.clone();
    got.sort();
    want.sort();
    if got != want {
        return Err(format!("query {got:?} is not {want:?}"));
    }
    if let Some(ct) = &step.content_type {
        let have = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if have != Some(ct.as_str()) {
            return Err(format!("content-type {have:?} is not {ct}"));
        }
    }
    if let Some(subset) = &step.body {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("body is not JSON ({e}): {}", String::from_utf8_lossy(body)))?;
        contains(&value, subset, "body")?;
    }
    Ok(())
}

/// `actual` contains `expected`: objects by listed keys, recursively; everything else equal.
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().try_for_each(|(k, ev)| match a.get(k) {
            Some(av) => contains(av, ev, &format!("{at}.{k}")),
            None => Err(format!("{at}.{k} is missing (expected {ev})")),
        }),
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .try_for_each(|(i, (av, ev))| contains(av, ev, &format!("{at}[{i}]"))),
        _ if actual == expected => Ok(()),
        _ => Err(format!("{at} is {actual}, expected {expected}")),
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
