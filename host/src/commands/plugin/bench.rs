//! `validibot plugin bench`: per-call latency of one component, measured two ways
//! in the same run — on a warm (reused) instance, which is what the server does,
//! and on a fresh instance per call (instantiate + call + result), the cost of
//! full isolation.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use hdrhistogram::Histogram;

use validibot_engines::plugins::{CallInput, Document, Limits};
use validibot_types::media_types::guess_from_filename;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The component (`.wasm`) or a built-in validator's slug.
    pub plugin: PathBuf,
    /// Document to validate (default: the two bytes `{}`).
    #[arg(long)]
    pub document: Option<PathBuf>,
    /// Step config file (default: `{}`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Calls per measurement.
    #[arg(long, default_value_t = 2000)]
    pub iterations: u32,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let runtime = super::runtime()?;
    let plugin = super::load(&runtime, &args.plugin, Limits::default())?;
    let document = match &args.document {
        Some(p) => Document::open(p).with_context(|| format!("reading {}", p.display()))?,
        None => Document::from(b"{}".to_vec()),
    };
    let config = match &args.config {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => "{}".into(),
    };
    let content_type = args
        .document
        .as_ref()
        .and_then(|p| p.file_name()?.to_str())
        .and_then(guess_from_filename)
        .unwrap_or("application/json");
    if let Err(findings) = plugin.validate_config(&config)? {
        bail!("the step config is invalid: {findings:?}");
    }
    let input = CallInput {
        document: &document,
        content_type,
        config: &config,
        ruleset: None,
        files: &[],
        memory_bytes: None,
    };
    println!(
        "plugin {} {} · document {} B · {} calls per measurement",
        plugin.meta.slug,
        plugin.meta.version,
        document.len(),
        args.iterations
    );
    let warm = measure(args.iterations, || {
        plugin
            .validate_pooled(&input, plugin.limits.timeout)
            .map(drop)
    })?;
    let fresh = measure(args.iterations.min(500), || {
        plugin
            .validate_fresh(&input, plugin.limits.timeout)
            .map(drop)
    })?;
    println!("\n| call | p50 µs | p99 µs | calls/s |\n|---|---:|---:|---:|");
    for (name, h, total) in [
        ("warm instance (how built-ins run)", &warm.0, warm.1),
        (
            "fresh instance per call (how an installed plugin runs)",
            &fresh.0,
            fresh.1,
        ),
    ] {
        println!(
            "| {name} | {:.1} | {:.1} | {:.0} |",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.len() as f64 / total.as_secs_f64()
        );
    }
    println!(
        "\nratio: fresh / warm p50 = {:.1}×",
        fresh.0.value_at_quantile(0.5) as f64 / warm.0.value_at_quantile(0.5).max(1) as f64
    );
    Ok(())
}

/// Latency histogram (ns) after a short warm-up, and the total time.
fn measure<E: std::fmt::Display>(
    n: u32,
    mut call: impl FnMut() -> Result<(), E>,
) -> Result<(Histogram<u64>, Duration)> {
    for _ in 0..(n / 10).max(1) {
        call().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut h = Histogram::<u64>::new(3)?;
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        call().map_err(|e| anyhow::anyhow!("{e}"))?;
        h.record(t.elapsed().as_nanos() as u64)?;
    }
    Ok((h, started.elapsed()))
}
