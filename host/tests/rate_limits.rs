//! Rate limits against the real binary: per-key and per-address budgets for launches and
//! other calls, 429 `RATE_LIMITED` with `Retry-After`, and the share each API process
//! enforces when several serve one database (SQLite and PostgreSQL).

mod common;

use std::time::{Duration, Instant};

use common::{invoice_workflow, json_of, Backend, Instance, Server};

/// Makes GET calls as `key` from `address` until one is refused: how many got through,
/// and the refusal.
fn calls_until_refused(server: &Server, key: &str, address: &str) -> (usize, serde_json::Value) {
    for n in 0..10_000 {
        let resp = server
            .client
            .get(server.url("/api/v1/workspaces/default/workflows"))
            .bearer_auth(key)
            .header("x-forwarded-for", address)
            .send()
            .unwrap();
        if resp.status() == 429 {
            let retry_after: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
            return (n, resp.json().unwrap());
        }
    }
    panic!("never refused");
}

/// The value of a metric line in `/metrics` (0 when absent).
fn metric(server: &Server, line_prefix: &str) -> f64 {
    let text = server.metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn budgets_per_key_and_address(backend: Backend) {
    let inst = Instance::new(backend);
    let alice = inst.user("alice", "author");
    let bob = inst.user("bob", "author");
    let server = inst.serve_with_env(
        &[],
        &[
            ("VALIDIBOT_CLIENT_IP_HEADER", "X-Forwarded-For"),
            ("VALIDIBOT_RATE_LIMIT_KEY_LAUNCHES", "3"),
            ("VALIDIBOT_RATE_LIMIT_KEY_CALLS", "30"),
            ("VALIDIBOT_RATE_LIMIT_CLIENT_LAUNCHES", "1000"),
            ("VALIDIBOT_RATE_LIMIT_CLIENT_CALLS", "50"),
        ],
    );
    let wf = server.create_workflow(&alice, &invoice_workflow());
    let slug = wf["slug"].as_str().unwrap();
    let launch = |key: &str| {
        server
            .post(
                key,
                &format!("/api/v1/workspaces/default/workflows/{slug}/runs"),
            )
            .header("content-type", "application/json")
            .header("x-forwarded-for", "198.51.100.1")
            .body(common::example("invoice-valid.json"))
            .send()
            .unwrap()
    };
    // Launches: three per key, then 429 with the budget named and Retry-After.
    for _ in 0..3 {
        let status = launch(&alice).status().as_u16();
        assert!(status == 201 || status == 202, "{status}");
    }
    let refused = launch(&alice);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One launch comes back every 20 s at 3 per minute.
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let (status, body) = json_of(refused);
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_LIMITED")));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("launches per API key"),
        "{body}"
    );
    // Another key still launches; the refused key may still make other calls.
    assert_eq!(launch(&bob).status().as_u16() / 100, 2);
    let (ok, body) = calls_until_refused(&server, &alice, "198.51.100.1");
    // 30 calls a minute, one already spent creating the workflow; a call comes back every
    // 2 s, so a slow loop may get one more.
    assert!((29..=30).contains(&ok), "{ok} calls before {body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("calls per API key"));

    // Made-up keys from one address: each is refused 401, until the address's budget runs
    // out; guessing keys cannot go faster than that. Other addresses are unaffected.
    let guesser = "203.0.113.7";
    let mut unauthorized = 0;
    let body = loop {
        let resp = server
            .client
            .get(server.url("/api/v1/workspaces/default/workflows"))
            .bearer_auth(format!("vbk_guess{unauthorized}_x"))
            .header("x-forwarded-for", guesser)
            .send()
            .unwrap();
        if resp.status() == 429 {
            break resp.json::<serde_json::Value>().unwrap();
        }
        assert_eq!(resp.status(), 401);
        unauthorized += 1;
        assert!(unauthorized <= 60, "never refused");
    };
    assert!((50..=51).contains(&unauthorized), "{unauthorized}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("calls per client address"));
    let other = server
        .client
        .get(server.url("/api/v1/workspaces/default/workflows"))
        .bearer_auth(&bob)
        .header("x-forwarded-for", "192.0.2.10")
        .send()
        .unwrap();
    assert_eq!(other.status(), 200);

    // Pages and probes are not API calls: the guesser's address still reaches them.
    let page = server
        .client
        .get(server.url("/ui/login"))
        .header("x-forwarded-for", guesser)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        metric(
            &server,
            "validibot_rate_limited_requests_total{budget=\"launches per API key\"} "
        ) >= 1.0
    );
    assert!(
        metric(
            &server,
            "validibot_rate_limited_requests_total{budget=\"calls per client address\"} "
        ) >= 1.0
    );
}

/// Waits until `server` counts `n` API processes.
fn wait_for_processes(server: &Server, n: f64) {
    let start = Instant::now();
    while metric(server, "validibot_api_processes ") != n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never counted {n} API processes",
            server.base
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn processes_share_the_budget(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "author");
    let env = [("VALIDIBOT_RATE_LIMIT_KEY_CALLS", "20")];
    let a = inst.serve_with_env(&["--no-worker"], &env);
    let mut b = inst.serve_with_env(&["--no-worker"], &env);
    wait_for_processes(&a, 2.0);
    wait_for_processes(&b, 2.0);
    // Each process allows its half of the 20 calls a minute (one more at most: a call
    // comes back every 6 s at 10 a minute).
    let (on_a, _) = calls_until_refused(&a, &key, "127.0.0.1");
    let (on_b, _) = calls_until_refused(&b, &key, "127.0.0.1");
    assert!((10..=11).contains(&on_a), "{on_a}");
    assert!((10..=11).contains(&on_b), "{on_b}");

    // B stops (SIGTERM: a graceful shutdown removes its row); A takes the whole budget.
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(b.child.wait().unwrap().success());
    wait_for_processes(&a, 1.0);
    let other = inst.user("carol", "author");
    let (alone, _) = calls_until_refused(&a, &other, "127.0.0.1");
    assert!((20..=21).contains(&alone), "{alone}");
}

on_both_backends!(budgets_per_key_and_address, processes_share_the_budget);
