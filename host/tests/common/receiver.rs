//! A webhook receiver on loopback for the tests: a real HTTP server (axum) that logs
//! every request and answers by path.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

pub type Log = Arc<Mutex<Vec<Received>>>;

async fn receive(
    State(log): State<Log>,
    AxumPath(path): AxumPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    log.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "fail" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "redirect" => (StatusCode::FOUND, [("location", "/elsewhere")], "").into_response(),
        _ => (StatusCode::OK, "thanks").into_response(),
    }
}

/// A receiver on 127.0.0.1 answering `/fail` with 500, `/redirect` with 302 to
/// `/elsewhere`, anything else with 200; every request is logged.
pub fn start_receiver() -> (String, Log) {
    let log: Log = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = log.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/{*path}", axum::routing::post(receive))
                .with_state(state);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (base, log)
}

pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn at(log: &Log, path: &str) -> Vec<Received> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect()
}

pub fn verify(secret: &str, r: &Received) -> Result<(), String> {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .map_err(|e| format!("{e:?}"))
}
