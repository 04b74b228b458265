//! Prometheus metrics. Process-wide counters and histograms are recorded where
//! things happen (HTTP layer, executor, container steps); figures every process
//! shares — runs by status, queue depth and age — are read from the database at
//! scrape time, so a web process reports them even when only workers run jobs.

use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;

use anyhow::Result;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use validibot_engines::extensions::LicenseStatus;
use validibot_store::db::Db;
use validibot_types::clock::now_us;
use validibot_types::RunStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/workspaces/{ws}/runs/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ValidatorLabels {
    pub validator: String,
    /// `wasm` or `container`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub validator: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LicenseLabels {
    pub edition: String,
    pub state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// 50 µs to ~6.9 min in ×2 steps: WASM calls take tens of µs, EnergyPlus minutes.
fn micros() -> Histogram {
    Histogram::new(exponential_buckets(50.0, 2.0, 24))
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Histograms<RouteLabels>,
    validator_latency: Histograms<ValidatorLabels>,
    container_outcomes: Family<OutcomeLabels, Counter>,
    runs_finished: Family<StatusLabels, Counter>,
    runs: Family<StatusLabels, Gauge>,
    queue_depth: Gauge,
    queue_leased: Gauge,
    queue_oldest_age: Gauge<f64, AtomicU64>,
    license: Family<LicenseLabels, Gauge>,
    webhook_attempts: Family<OutcomeOnly, Counter>,
    webhooks_pending: Gauge,
    webhooks_oldest_age: Gauge<f64, AtomicU64>,
    rate_limited: Family<BudgetLabels, Counter>,
    api_processes: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeOnly {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    pub budget: String,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("validibot");
        let m = Metrics {
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(micros),
            validator_latency: Family::new_with_constructor(micros),
            container_outcomes: Family::default(),
            runs_finished: Family::default(),
            runs: Family::default(),
            queue_depth: Gauge::default(),
            queue_leased: Gauge::default(),
            queue_oldest_age: Gauge::default(),
            license: Family::default(),
            webhook_attempts: Family::default(),
            webhooks_pending: Gauge::default(),
            webhooks_oldest_age: Gauge::default(),
            rate_limited: Family::default(),
            api_processes: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_microseconds",
            "HTTP request latency in microseconds, by route template",
            m.http_latency.clone(),
        );
        registry.register(
            "validator_latency_microseconds",
            "Time one validator call took in this process's workers, in microseconds",
            m.validator_latency.clone(),
        );
        registry.register(
            "container_runs",
            "Container validator runs in this process's workers, by outcome",
            m.container_outcomes.clone(),
        );
        registry.register(
            "runs_finished",
            "Runs this process's workers finished, by final status",
            m.runs_finished.clone(),
        );
        registry.register("runs", "Runs in the database, by status", m.runs.clone());
        registry.register(
            "queue_depth",
            "Jobs waiting to be claimed",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_leased",
            "Jobs a worker holds right now",
            m.queue_leased.clone(),
        );
        registry.register(
            "queue_oldest_age_seconds",
            "How long the oldest waiting job has been queued (0 when none)",
            m.queue_oldest_age.clone(),
        );
        registry.register(
            "license",
            "1 for the instance's current edition and license state",
            m.license.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts this process's workers made, by what followed: delivered, retry (failed, tried again later) or failed (the last attempt failed)",
            m.webhook_attempts.clone(),
        );
        registry.register(
            "webhook_deliveries_pending",
            "Webhook deliveries not yet made (due now or waiting for a retry)",
            m.webhooks_pending.clone(),
        );
        registry.register(
            "webhook_oldest_pending_age_seconds",
            "How long the oldest pending webhook delivery has waited since its event (0 when none)",
            m.webhooks_oldest_age.clone(),
        );
        registry.register(
            "rate_limited_requests",
            "Requests this API process refused with 429 RATE_LIMITED, by the budget that ran out",
            m.rate_limited.clone(),
        );
        registry.register(
            "api_processes",
            "API processes sharing the rate limits, as this process last counted them",
            m.api_processes.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn validator_call(&self, validator: &str, kind: &str, micros: u64) {
        self.validator_latency
            .get_or_create(&ValidatorLabels {
                validator: validator.to_owned(),
                kind: kind.to_owned(),
            })
            .observe(micros as f64);
    }

    pub fn container_outcome(&self, validator: &str, outcome: &str) {
        self.container_outcomes
            .get_or_create(&OutcomeLabels {
                validator: validator.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One webhook attempt and what followed it (`delivered`, `retry`, `failed`).
    pub fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts
            .get_or_create(&OutcomeOnly {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One request refused over a rate limit (`budget`: e.g. "launches per API key").
    pub fn rate_limited(&self, budget: &str) {
        self.rate_limited
            .get_or_create(&BudgetLabels {
                budget: budget.to_owned(),
            })
            .inc();
    }

    /// How many API processes share the rate limits (this one's last count).
    pub fn api_processes(&self, n: u32) {
        self.api_processes.set(i64::from(n));
    }

    pub fn run_finished(&self, status: RunStatus) {
        self.runs_finished
            .get_or_create(&StatusLabels {
                status: status.as_str().to_owned(),
            })
            .inc();
    }

    /// Reads the shared figures from the database, then renders the text format.
    pub async fn render(&self, db: &Db, license: &LicenseStatus) -> Result<String> {
        for status in RunStatus::ALL {
            self.runs
                .get_or_create(&StatusLabels {
                    status: status.as_str().to_owned(),
                })
                .set(0);
        }
        for (status, n) in validibot_store::runs::stats::count_by_status(db).await? {
            self.runs.get_or_create(&StatusLabels { status }).set(n);
        }
        let queue = validibot_store::queue::depth(db).await?;
        self.queue_depth.set(queue.queued);
        self.queue_leased.set(queue.leased);
        self.queue_oldest_age.set(
            queue
                .oldest_queued_at
                .map_or(0.0, |t| (now_us() - t).max(0) as f64 / 1e6),
        );
        let backlog = validibot_store::webhooks::deliveries::backlog(db).await?;
        self.webhooks_pending.set(backlog.pending);
        self.webhooks_oldest_age.set(
            backlog
                .oldest_created_at
                .map_or(0.0, |t| (now_us() - t).max(0) as f64 / 1e6),
        );
        self.license.clear();
        self.license
            .get_or_create(&LicenseLabels {
                edition: license.edition.clone(),
                state: license.state.clone(),
            })
            .set(1);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Metrics {
    /// One HTTP request, by method label and route template.
    pub fn http_request(&self, method: &str, route: &str, status: u16, micros: f64) {
        self.http_latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(micros);
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
    }
}
