//! `validibot bench`: launch throughput and latency, measured end to end
//! (HTTP → database → queue → worker → WASM → database → HTTP) against a
//! server started in this process, with two baselines from the same run:
//! the HTTP floor (`GET /healthz`) and the bare validator call (no HTTP, no database).

pub mod containers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Args;
use hdrhistogram::Histogram;

use crate::config::{InstanceArgs, ServeArgs, WorkerArgs};
use validibot_engines::plugins::{CallInput, Document, Limits, PluginRegistry, Runtime};
use validibot_store::accounts::{directory as accounts, Role};
use validibot_store::db::Db;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Launches per phase.
    #[arg(long, default_value_t = 3000)]
    pub requests: usize,
    /// Concurrent clients in the concurrent phase.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Instead: the container runner's overhead over `docker run --rm` of this image
    /// (it must pass a JSON document with config {"mode": "ok"}, like the conformance image).
    #[arg(long)]
    pub container_image: Option<String>,
    /// Rounds of the container bench.
    #[arg(long, default_value_t = 20)]
    pub container_rounds: usize,
    /// Keep the rate limiter on (with budgets too large to refuse anything), to measure
    /// what it costs; by default the bench runs without limits.
    #[arg(long)]
    pub with_rate_limits: bool,
}

struct Phase {
    name: String,
    runs_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub async fn run(global: &InstanceArgs, args: &BenchArgs) -> Result<()> {
    if let Some(image) = &args.container_image {
        return crate::commands::bench::containers::run(
            global.docker_socket.as_deref(),
            image,
            args.container_rounds.max(1),
        )
        .await;
    }
    let tmp = tempfile::tempdir()?;
    let mut global = global.clone();
    global.data_dir = tmp.path().to_path_buf();
    let backend = if global
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
    {
        "postgresql"
    } else {
        "sqlite"
    };
    let serve_args = ServeArgs {
        bind: "127.0.0.1:0".into(),
        no_worker: false,
        max_inline_bytes: 10 << 20,
        max_file_bytes: 1 << 30,
        launch_wait_ms: 5000,
        secure_cookies: crate::config::SecureCookies::Auto,
        client_ip_header: None,
        mail: Default::default(),
        sso: Default::default(),
        rate_limits: if args.with_rate_limits {
            crate::config::RateLimitArgs::unreachable()
        } else {
            crate::config::RateLimitArgs::none()
        },
        worker: WorkerArgs {
            concurrency: None,
            lease_seconds: 30.0,
            poll_ms: 250,
            max_attempts: 3,
            validator_timeout_ms: 5000,
            validator_memory_mib: 256,
            validator_memory_max_mib: 1024,
            memory_budget_mib: 2048,
            metrics_bind: None,
            retention: Default::default(),
            public_url: None,
            webhooks: Default::default(),
            remote: Default::default(),
        },
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server_global = global.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::commands::serve::serve(&server_global, &serve_args, Some(tx)).await {
            eprintln!("bench server failed: {e:#}");
        }
    });
    let addr = rx.await.context("server did not start")?;
    let base = format!("http://{addr}");

    let db = Db::connect(&global.database_url(), 2).await?;
    let ws = accounts::find_workspace(&db, "default")
        .await?
        .context("default workspace")?;
    let username = format!(
        "bench-{}",
        validibot_types::ids::random_token(8).to_lowercase()
    );
    let user = accounts::create_user(&db, &username, None).await?;
    accounts::set_membership(&db, &user.id, &ws.id, Role::Owner).await?;
    let secret = accounts::instance_secret(&db, global.secret_key.as_deref()).await?;
    let key = accounts::create_api_key(&db, &secret, &user.id, "bench", None).await?;
    let auth = format!("Bearer {}", key.token);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let slug = format!(
        "bench-{}",
        validibot_types::ids::random_token(6).to_lowercase()
    );
    let (schema, doc) = fixtures();
    let created = client
        .post(format!("{base}/api/v1/workspaces/default/workflows"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"slug": slug, "steps": [{"key": "schema", "validator": "json-schema", "config": {"schema": schema}}]}))
        .send()
        .await?;
    ensure!(
        created.status() == 201,
        "creating the workflow: {}",
        created.text().await?
    );
    let launch_url = format!("{base}/api/v1/workspaces/default/workflows/{slug}/runs");
    println!(
        "bench: backend={backend} schema={} B document={} B requests/phase={} clients={} cores={}",
        schema.to_string().len(),
        doc.len(),
        args.requests,
        args.clients,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let doc = Arc::new(doc);
    let launch = {
        let (client, auth, url, doc) = (
            client.clone(),
            auth.clone(),
            launch_url.clone(),
            doc.clone(),
        );
        move || {
            let req = client
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(doc.as_ref().clone());
            async move {
                let resp = req.send().await?;
                ensure!(
                    resp.status() == 201,
                    "launch answered {}: {}",
                    resp.status(),
                    resp.text().await?
                );
                let body: serde_json::Value = resp.json().await?;
                ensure!(
                    body["result"] == "PASS",
                    "unexpected result {}",
                    body["result"]
                );
                Ok(())
            }
        }
    };
    let healthz = {
        let (client, url) = (client.clone(), format!("{base}/healthz"));
        move || {
            let req = client.get(&url);
            async move {
                ensure!(req.send().await?.status() == 200, "healthz failed");
                Ok(())
            }
        }
    };

    // Warm-up: connections, instance pool, SQLite page cache.
    measure(
        "warm-up",
        (args.requests / 10).max(50),
        args.clients,
        launch.clone(),
    )
    .await?;
    let mut phases = Vec::new();
    phases.push(
        measure(
            "baseline: GET /healthz, 1 client",
            args.requests,
            1,
            healthz.clone(),
        )
        .await?,
    );
    phases.push(
        measure(
            &format!("baseline: GET /healthz, {} clients", args.clients),
            args.requests,
            args.clients,
            healthz,
        )
        .await?,
    );
    phases.push(measure("launch (sync), 1 client", args.requests, 1, launch.clone()).await?);
    phases.push(
        measure(
            &format!("launch (sync), {} clients", args.clients),
            args.requests,
            args.clients,
            launch,
        )
        .await?,
    );
    let direct = direct_call(&global, &schema, &doc, args.requests).await?;

    println!("\n| phase | runs/s | p50 ms | p99 ms |\n|---|---:|---:|---:|");
    for p in &phases {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} |",
            p.name, p.runs_per_sec, p.p50_ms, p.p99_ms
        );
    }
    println!(
        "| baseline: bare WASM validate call, 1 thread | {:.0} | {:.3} | {:.3} |",
        direct.runs_per_sec, direct.p50_ms, direct.p99_ms
    );
    let seq = &phases[2];
    let conc = &phases[3];
    println!(
        "\nratios: sequential launch p50 = {:.1}× healthz p50, {:.1}× bare validate p50; concurrent launch throughput = {:.2}× healthz throughput",
        seq.p50_ms / phases[0].p50_ms.max(1e-9),
        seq.p50_ms / direct.p50_ms.max(1e-9),
        conc.runs_per_sec / phases[1].runs_per_sec.max(1e-9),
    );
    Ok(())
}

async fn measure<F, Fut>(name: &str, total: usize, clients: usize, op: F) -> Result<Phase>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let started = Instant::now();
    let per_client = total.div_ceil(clients.max(1));
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3)?;
            for _ in 0..per_client {
                let t = Instant::now();
                op().await?;
                h.record(t.elapsed().as_micros() as u64)?;
            }
            anyhow::Ok(h)
        }));
    }
    let mut all = Histogram::<u64>::new(3)?;
    for t in tasks {
        all.add(t.await??)?;
    }
    let elapsed = started.elapsed();
    let phase = Phase {
        name: name.to_owned(),
        runs_per_sec: all.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: all.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: all.value_at_quantile(0.99) as f64 / 1000.0,
    };
    eprintln!("{name}: {} ops in {:.2}s", all.len(), elapsed.as_secs_f64());
    Ok(phase)
}

/// The validator alone: the floor under any end-to-end number.
async fn direct_call(
    global: &InstanceArgs,
    schema: &serde_json::Value,
    doc: &Arc<Vec<u8>>,
    n: usize,
) -> Result<Phase> {
    let runtime = Runtime::new(Some(global.data_dir.join("cache").join("wasm")))?;
    let registry = PluginRegistry::builtin(&runtime, Limits::default())?;
    let plugin = registry
        .get("json-schema")
        .context("json-schema plugin")?
        .clone();
    let config = serde_json::json!({"schema": schema}).to_string();
    let doc = Document::from(doc.clone());
    tokio::task::spawn_blocking(move || {
        let input = CallInput {
            document: &doc,
            content_type: "application/json",
            config: &config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        };
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..100 {
            plugin.validate(&input, Duration::from_secs(5))?;
        }
        let started = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            let out = plugin.validate(&input, Duration::from_secs(5))?;
            ensure!(out.findings.is_empty(), "bench document should be valid");
            h.record(t.elapsed().as_micros() as u64)?;
        }
        Ok(Phase {
            name: "direct".into(),
            runs_per_sec: n as f64 / started.elapsed().as_secs_f64(),
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        })
    })
    .await?
}

/// A ~1 KB schema and a ~2 KB document that satisfies it.
pub fn fixtures() -> (serde_json::Value, Vec<u8>) {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", "customer", "issued", "lines", "total"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string", "pattern": "^INV-[0-9]{6}$"},
            "customer": {"type": "object", "required": ["name", "email"], "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"type": "string", "format": "email"},
                "country": {"type": "string", "enum": ["CH", "DE", "FR", "IT", "US", "CA"]}}},
            "issued": {"type": "string", "format": "date"},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            "lines": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
                "type": "object", "required": ["sku", "qty", "unit_price"], "additionalProperties": false,
                "properties": {
                    "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                    "description": {"type": "string", "maxLength": 500},
                    "qty": {"type": "integer", "minimum": 1},
                    "unit_price": {"type": "number", "minimum": 0}}}},
            "total": {"type": "number", "minimum": 0},
            "notes": {"type": "string"}
        }
    });
    let lines: Vec<_> = (0..12)
        .map(|i| serde_json::json!({"sku": format!("ABC-{:04}", 1000 + i), "description": format!("Line item number {i} for the benchmark invoice"), "qty": i + 1, "unit_price": 9.5 + i as f64}))
        .collect();
    let doc = serde_json::json!({
        "id": "INV-004217", "customer": {"name": "Ada Lovelace", "email": "ada@example.org", "country": "CH"},
        "issued": "2026-11-22", "currency": "CHF", "lines": lines, "total": 1234.5, "notes": "Benchmark document."
    });
    (
        schema,
        serde_json::to_vec_pretty(&doc).expect("serialisable"),
    )
}
