//! Rate limits on the API (and `/mcp`): a budget per API key and one per client address,
//! each split into launches (new runs) and other calls, refused with 429 `RATE_LIMITED`
//! and `Retry-After`. Sign-in guessing has its own, stricter throttle
//! (`store::accounts::throttle`).
//!
//! Budgets are GCRA limiters (governor) in each API process's memory: no database round
//! trip per request. With several API processes each enforces its share — the budget
//! divided by the processes seen alive in `api_processes` — so behind a load balancer
//! that spreads requests the instance as a whole allows about the budget, and never more
//! than it when requests pile onto one process (docs/self-hosting: "Rate limits").

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// Requests per minute, for one key or one client address; 0: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub launches: u32,
    pub calls: u32,
}

/// The instance's budgets (`VALIDIBOT_RATE_LIMIT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub per_key: Budgets,
    pub per_client: Budgets,
}

/// What a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Starting a run: the expensive thing, with a budget of its own.
    Launch,
    Call,
}

/// A refused request: which budget ran out and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after_seconds: u64,
    pub budget: &'static str,
}

impl Refusal {
    /// What ran out, for the answer's detail.
    pub fn what(&self) -> String {
        format!("over the rate limit for {}", self.budget)
    }
}

type Keyed = DefaultKeyedRateLimiter<String>;

/// One process's limiters, built for its share of the budgets.
struct Limiters {
    key_launches: Option<Keyed>,
    key_calls: Option<Keyed>,
    client_launches: Option<Keyed>,
    client_calls: Option<Keyed>,
}

impl Limiters {
    fn new(settings: &RateLimitSettings, processes: u32) -> Limiters {
        let share = |per_minute: u32| {
            NonZeroU32::new(per_minute.div_ceil(processes.max(1)))
                .map(|n| Keyed::keyed(Quota::per_minute(n)))
        };
        Limiters {
            key_launches: share(settings.per_key.launches),
            key_calls: share(settings.per_key.calls),
            client_launches: share(settings.per_client.launches),
            client_calls: share(settings.per_client.calls),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Keyed> {
        [
            &self.key_launches,
            &self.key_calls,
            &self.client_launches,
            &self.client_calls,
        ]
        .into_iter()
        .flatten()
    }
}

/// The process's rate limits: the settings, how many API processes share them, and the
/// limiters for this process's share.
pub struct RateLimits {
    settings: RateLimitSettings,
    processes: AtomicU32,
    limiters: RwLock<Arc<Limiters>>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings) -> RateLimits {
        RateLimits {
            settings,
            processes: AtomicU32::new(1),
            limiters: RwLock::new(Arc::new(Limiters::new(&settings, 1))),
            clock: DefaultClock::default(),
        }
    }

    /// How many API processes share the budgets now; a change rebuilds the limiters for
    /// the new share (their counts start afresh, as after a restart).
    pub fn set_processes(&self, processes: u32) {
        let processes = processes.max(1);
        validibot_services::observability::metrics::metrics().api_processes(processes);
        if self.processes.swap(processes, Ordering::Relaxed) != processes {
            tracing::info!(processes, "API processes sharing the rate limits");
            *self.limiters.write().expect("limiters lock") =
                Arc::new(Limiters::new(&self.settings, processes));
        }
    }

    /// Spends one request of `spend` for the API key (if any) and the client address.
    pub fn check(&self, spend: Spend, key: Option<&str>, client: &str) -> Result<(), Refusal> {
        let limiters = self.limiters.read().expect("limiters lock").clone();
        let (by_key, by_client, key_budget, client_budget) = match spend {
            Spend::Launch => (
                &limiters.key_launches,
                &limiters.client_launches,
                "launches per API key",
                "launches per client address",
            ),
            Spend::Call => (
                &limiters.key_calls,
                &limiters.client_calls,
                "calls per API key",
                "calls per client address",
            ),
        };
        let key = key.map(|k| format!("k:{k}"));
        let client = format!("c:{client}");
        for (limiter, subject, budget) in [
            (by_key, key.as_ref(), key_budget),
            (by_client, Some(&client), client_budget),
        ] {
            let (Some(limiter), Some(subject)) = (limiter, subject) else {
                continue;
            };
            if let Err(not_until) = limiter.check_key(subject) {
                let wait = not_until.wait_time_from(self.clock.now());
                return Err(Refusal {
                    retry_after_seconds: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    budget,
                });
            }
        }
        Ok(())
    }

    /// Drops the state of keys and addresses idle long enough to be back at a full budget.
    fn forget_idle(&self) {
        let limiters = self.limiters.read().expect("limiters lock").clone();
        for limiter in limiters.all() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// How often an API process writes its presence and recounts the others.
const PRESENCE_PERIOD: Duration = Duration::from_secs(5);
/// A process not seen for this long is not counted (it crashed, or is stuck).
const PRESENCE_WINDOW: Duration = Duration::from_secs(20);

/// Keeps this process's row in `api_processes` fresh and its share of the budgets
/// current, until the task is aborted; then call [`leave`].
pub async fn keep_share(state: Arc<AppState>, process_id: String) {
    let mut tick = tokio::time::interval(PRESENCE_PERIOD);
    loop {
        tick.tick().await;
        match validibot_store::api_processes::heartbeat(
            &state.db,
            &process_id,
            PRESENCE_WINDOW.as_micros() as i64,
        )
        .await
        {
            Ok(live) => state.rate_limits.set_processes(live),
            // Keep the last share: a database hiccup must not lift or tighten the limits.
            Err(e) => tracing::warn!("rate limits: recording this API process: {e:#}"),
        }
        state.rate_limits.forget_idle();
    }
}

/// This process stops serving: the others take over its share at their next count.
pub async fn leave(state: &AppState, process_id: &str) {
    if let Err(e) = validibot_store::api_processes::leave(&state.db, process_id).await {
        tracing::warn!("rate limits: removing this API process: {e:#}");
    }
}

/// The launch operation (`launchRun`): a POST to a workflow's runs.
const LAUNCH_PATH: &str = "/api/v1/workspaces/{ws}/workflows/{slug}/runs";

/// The middleware: spends one request of the caller's budgets on every API and MCP
/// request, or answers 429 before anything else (authentication included) runs.
pub async fn enforce(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path.starts_with("/api/") || path == "/mcp" || path.starts_with("/mcp/")) {
        return next.run(req).await;
    }
    let launch = req.method() == Method::POST
        && req
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|m| m.as_str() == LAUNCH_PATH);
    let spend = if launch { Spend::Launch } else { Spend::Call };
    let key = bearer_fingerprint(req.headers());
    let client = crate::auth::request_client(&state, req.headers(), req.extensions());
    match state.rate_limits.check(spend, key.as_deref(), &client) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            validibot_services::observability::metrics::metrics().rate_limited(refusal.budget);
            ApiError::rate_limited(refusal.retry_after_seconds, &refusal.what())
        }
    }
}

/// Identifies the bearer token without keeping it: its sha256. A made-up token gets a
/// budget of its own, so guessing keys is bounded by the client address's budget.
pub fn bearer_fingerprint(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    Some(hex::encode(&Sha256::digest(token.as_bytes())[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(key: (u32, u32), client: (u32, u32)) -> RateLimits {
        RateLimits::new(RateLimitSettings {
            per_key: Budgets {
                launches: key.0,
                calls: key.1,
            },
            per_client: Budgets {
                launches: client.0,
                calls: client.1,
            },
        })
    }

    fn allowed(limits: &RateLimits, spend: Spend, key: Option<&str>, client: &str) -> usize {
        (0..1000)
            .take_while(|_| limits.check(spend, key, client).is_ok())
            .count()
    }

    #[test]
    fn launches_and_calls_have_separate_budgets_per_key() {
        let l = limits((3, 10), (0, 0));
        assert_eq!(allowed(&l, Spend::Launch, Some("a"), "1.2.3.4"), 3);
        let refusal = l.check(Spend::Launch, Some("a"), "1.2.3.4").unwrap_err();
        assert_eq!(refusal.budget, "launches per API key");
        // One launch per 20 s comes back.
        assert!((1..=20).contains(&refusal.retry_after_seconds));
        assert_eq!(allowed(&l, Spend::Call, Some("a"), "1.2.3.4"), 10);
        assert_eq!(allowed(&l, Spend::Launch, Some("b"), "1.2.3.4"), 3);
        // No key (a web session): only the address's budget, unlimited here.
        assert_eq!(allowed(&l, Spend::Launch, None, "1.2.3.4"), 1000);
    }

    #[test]
    fn the_client_address_budget_spans_keys() {
        let l = limits((0, 100), (0, 5));
        for key in ["a", "b", "c", "d", "e"] {
            assert!(l.check(Spend::Call, Some(key), "10.0.0.1").is_ok());
        }
        let refusal = l.check(Spend::Call, Some("f"), "10.0.0.1").unwrap_err();
        assert_eq!(refusal.budget, "calls per client address");
        assert!(l.check(Spend::Call, Some("f"), "10.0.0.2").is_ok());
    }

    #[test]
    fn each_process_enforces_its_share() {
        let l = limits((0, 20), (0, 0));
        l.set_processes(2);
        assert_eq!(allowed(&l, Spend::Call, Some("a"), "x"), 10);
        // An odd split rounds up: three processes allow 7 each (21 together at most).
        l.set_processes(3);
        assert_eq!(allowed(&l, Spend::Call, Some("a"), "x"), 7);
        l.set_processes(1);
        assert_eq!(allowed(&l, Spend::Call, Some("a"), "x"), 20);
    }

    #[test]
    fn tokens_are_fingerprinted_not_kept() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Bearer vbk_x_secret".parse().unwrap(),
        );
        let f = bearer_fingerprint(&headers).unwrap();
        assert_eq!(f.len(), 32);
        assert!(!f.contains("secret"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_fingerprint(&headers), None);
    }
}
