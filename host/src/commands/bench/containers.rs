//! `validibot bench --container-image IMAGE`: what the runner costs over the
//! engine itself. Each round runs the same image on the same input twice,
//! interleaved: through [`DockerRunner`] (create, read-back check, attach,
//! start, wait, inspect, output envelope, remove) and as the baseline
//! `docker run --rm` with the same hardening flags and mounts.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};

use validibot_engines::containers::envelope::{self, ENVELOPE_NAME, INPUT_DIR, OUTPUT_DIR};
use validibot_engines::containers::hardening::{tmpfs_options, Limits, USER};
use validibot_engines::containers::{DockerRunner, Job, Outcome};

pub async fn run(socket: Option<&str>, image: &str, rounds: usize) -> Result<()> {
    let runner = DockerRunner::connect(socket).await?;
    let image_id = runner.inspect_image(image).await?.id;
    let work = tempfile::tempdir()?;
    let files = vec![(
        "document.json".to_string(),
        "application/json".to_string(),
        std::sync::Arc::new(br#"{"a": 1}"#.to_vec()),
    )];
    let config = serde_json::json!({"mode": "ok"});
    let limits = Limits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    println!(
        "bench containers: image={image} ({}) rounds={rounds} (+2 warm-up)",
        &image_id[..19.min(image_id.len())]
    );
    for round in 0..rounds + 2 {
        let job = Job {
            run_id: format!("bench-{round}"),
            validator: "bench".into(),
            image: image_id.clone(),
            command: None,
            files: files.clone(),
            step_files: vec![],
            env: vec![],
            config: config.clone(),
            limits: limits.clone(),
            work_dir: work.path().join(format!("ours-{round}")),
        };
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let t = Instant::now();
        let report = runner.run(job, cancel).await;
        let elapsed = t.elapsed();
        ensure!(
            report.outcome == Outcome::Succeeded,
            "the image must succeed on a JSON document with config {{\"mode\": \"ok\"}}: {report:?}"
        );
        let dir = work.path().join(format!("cli-{round}"));
        let t = Instant::now();
        docker_run(&dir, &image_id, &limits, &files, &config)?;
        let cli = t.elapsed();
        if round >= 2 {
            ours.push(elapsed);
            baseline.push(cli);
        }
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
        (ms(v[v.len() / 2]), mean, ms(v[v.len() * 9 / 10]))
    };
    let (o50, omean, o90) = stats(&mut ours);
    let (b50, bmean, b90) = stats(&mut baseline);
    println!("| path | p50 ms | mean ms | p90 ms |");
    println!("|---|---|---|---|");
    println!("| `docker run --rm` (baseline) | {b50:.0} | {bmean:.0} | {b90:.0} |");
    println!("| Validibot runner | {o50:.0} | {omean:.0} | {o90:.0} |");
    println!(
        "ratio runner / docker run --rm: p50 {:.2}×, mean {:.2}×",
        o50 / b50,
        omean / bmean
    );
    Ok(())
}

/// The baseline: the docker CLI with the runner's hardening, mounts and env.
fn docker_run(
    dir: &Path,
    image: &str,
    limits: &Limits,
    files: &[(String, String, std::sync::Arc<Vec<u8>>)],
    config: &serde_json::Value,
) -> Result<()> {
    let (input, output) = (dir.join("input"), dir.join("output"));
    std::fs::create_dir_all(&input)?;
    std::fs::create_dir_all(&output)?;
    envelope::write_inputs(&input, "bench", "bench", files, &[], config)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o777))?;
    }
    let status = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "--cap-drop", "ALL"])
        .args(["--security-opt", "no-new-privileges", "--read-only"])
        .arg(format!("--tmpfs=/tmp:{}", tmpfs_options(limits)))
        .arg(format!("--user={USER}"))
        .arg(format!("--pids-limit={}", limits.pids))
        .arg(format!("--memory={}", limits.memory_bytes))
        .arg(format!("--memory-swap={}", limits.memory_bytes))
        .arg(format!("--cpus={}", limits.cpus))
        .arg(format!("-v={}:{INPUT_DIR}:ro", input.display()))
        .arg(format!("-v={}:{OUTPUT_DIR}:rw", output.display()))
        .arg(format!(
            "-e=VALIDIBOT_INPUT_URI=file://{INPUT_DIR}/{ENVELOPE_NAME}"
        ))
        .arg(format!(
            "-e=VALIDIBOT_OUTPUT_URI=file://{OUTPUT_DIR}/output.json"
        ))
        .arg(image)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running the docker CLI")?;
    ensure!(status.success(), "docker run failed: {status}");
    ensure!(
        output.join("output.json").exists(),
        "docker run wrote no output"
    );
    Ok(())
}
