//! `validibot-agent -- <the image's command>`: the first process of an asynchronous
//! container step. The container gets only pointers (no storage credentials):
//!
//! - `VALIDIBOT_INPUT_URI`: a presigned GET of the input envelope, whose files' `uri`s
//!   are presigned GETs too;
//! - `VALIDIBOT_OUTPUT_URI`: a presigned PUT for the output envelope;
//! - `VALIDIBOT_CALLBACK_URL` + `VALIDIBOT_CALLBACK_TOKEN`: where to say it is done;
//! - `VALIDIBOT_ARTIFACT_URIS`: presigned PUTs, one per line, for the files the output
//!   envelope lists as artifacts (the n-th listed to the n-th).
//!
//! The agent downloads the inputs into [`INPUT_DIR`] (each checked against the size and
//! sha256 the envelope lists), runs the validator with the same `file://` envelope a
//! synchronous step gets — so images need no change —, uploads its output envelope and
//! calls back; the host reads the output from storage, never from this process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use sha2::{Digest, Sha256};
use validibot_plugin_api::container::{
    InputEnvelope, InputFile, ENVELOPE_NAME, ENV_INPUT_URI, ENV_OUTPUT_URI, INPUT_DIR, OUTPUT_DIR,
    STEP_FILES_DIR,
};

const ENV_CALLBACK_URL: &str = "VALIDIBOT_CALLBACK_URL";
const ENV_CALLBACK_TOKEN: &str = "VALIDIBOT_CALLBACK_TOKEN";
/// The largest output envelope uploaded (the host refuses larger ones anyway).
const ENV_OUTPUT_CAP: &str = "VALIDIBOT_OUTPUT_CAP";
const ENVELOPE_CAP: u64 = 16 << 20;
const OUTPUT_NAME: &str = "output.json";
const ENV_ARTIFACT_URIS: &str = "VALIDIBOT_ARTIFACT_URIS";
/// Most bytes of artifacts uploaded in all (the host keeps no more).
const ARTIFACTS_CAP: u64 = 256 << 20;

fn main() -> ExitCode {
    let command: Vec<String> = std::env::args().skip(1).skip_while(|a| a == "--").collect();
    let Some(pointers) = Pointers::from_env() else {
        eprintln!("validibot-agent: {ENV_INPUT_URI}, {ENV_OUTPUT_URI}, {ENV_CALLBACK_URL} and {ENV_CALLBACK_TOKEN} are required");
        return ExitCode::from(70);
    };
    let http: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .http_status_as_error(false)
        .build()
        .into();
    let outcome = match fetch_inputs(&http, &pointers.input) {
        Err(e) => Ended::Agent(format!("fetching the inputs: {e}")),
        Ok(()) if command.is_empty() => Ended::Agent("no command to run".into()),
        Ok(()) => run(&command),
    };
    let (exit_code, agent_error) = match &outcome {
        Ended::Exited(code) => (*code, None),
        Ended::Agent(e) => (None, Some(e.clone())),
    };
    let uploaded = match exit_code {
        Some(_) => match upload_output(&http, &pointers.output, pointers.output_cap) {
            Ok(sent) => sent,
            Err(e) => {
                eprintln!("validibot-agent: uploading the output envelope: {e}");
                false
            }
        },
        None => false,
    };
    if uploaded && exit_code == Some(0) {
        upload_artifacts(&http, &pointers.artifacts);
    }
    if let Some(e) = &agent_error {
        eprintln!("validibot-agent: {e}");
    }
    let body = serde_json::json!({
        "exit_code": exit_code,
        "output": uploaded,
        "agent_error": agent_error,
    });
    if let Err(e) = call_back(&http, &pointers, &body) {
        eprintln!("validibot-agent: the callback failed: {e}");
    }
    match exit_code {
        Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
        None => ExitCode::from(70),
    }
}

struct Pointers {
    input: String,
    output: String,
    callback: String,
    token: String,
    output_cap: u64,
    artifacts: Vec<String>,
}

impl Pointers {
    fn from_env() -> Option<Pointers> {
        let var = |k| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Pointers {
            input: var(ENV_INPUT_URI)?,
            output: var(ENV_OUTPUT_URI)?,
            callback: var(ENV_CALLBACK_URL)?,
            token: var(ENV_CALLBACK_TOKEN)?,
            output_cap: var(ENV_OUTPUT_CAP)
                .and_then(|v| v.parse().ok())
                .unwrap_or(8 << 20),
            artifacts: var(ENV_ARTIFACT_URIS)
                .map(|v| v.lines().map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }
}

enum Ended {
    /// The validator's exit code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// The agent could not run it.
    Agent(String),
}

/// Downloads the envelope and every file it lists, then writes the local envelope.
fn fetch_inputs(http: &ureq::Agent, uri: &str) -> Result<(), String> {
    let bytes = get(http, uri, ENVELOPE_CAP, None)?;
    let mut envelope: InputEnvelope =
        serde_json::from_slice(&bytes).map_err(|e| format!("the input envelope: {e}"))?;
    let dir = Path::new(INPUT_DIR);
    for file in &mut envelope.files {
        fetch_file(http, file, dir, "")?;
    }
    if !envelope.step_files.is_empty() {
        std::fs::create_dir_all(dir.join(STEP_FILES_DIR)).map_err(|e| e.to_string())?;
        let prefix = format!("{STEP_FILES_DIR}/");
        for file in &mut envelope.step_files {
            fetch_file(http, file, &dir.join(STEP_FILES_DIR), &prefix)?;
        }
    }
    let local = serde_json::to_vec_pretty(&envelope).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(ENVELOPE_NAME), local).map_err(|e| e.to_string())
}

/// One file to `dir/<name>`, checked against the envelope's size and sha256; its `uri`
/// becomes the local `file://` path the validator reads.
fn fetch_file(
    http: &ureq::Agent,
    file: &mut InputFile,
    dir: &Path,
    prefix: &str,
) -> Result<(), String> {
    if !plain_name(&file.name) || file.name == ENVELOPE_NAME {
        return Err(format!("input file name {:?} is not allowed", file.name));
    }
    let path: PathBuf = dir.join(&file.name);
    let bytes = get(http, &file.uri, file.size, Some(&file.sha256))?;
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    file.uri = format!("file://{INPUT_DIR}/{prefix}{}", file.name);
    Ok(())
}

/// A GET of at most `cap` bytes, with the sha256 checked when one is expected.
fn get(http: &ureq::Agent, uri: &str, cap: u64, sha256: Option<&str>) -> Result<Vec<u8>, String> {
    let response = with_retries(|| http.get(uri).call())?;
    if !response.status().is_success() {
        return Err(format!("GET answered {}", response.status()));
    }
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!("more than the {cap} bytes expected"));
    }
    if let Some(want) = sha256 {
        let got = hex::encode(Sha256::digest(&bytes));
        if got != want {
            return Err(format!("sha256 {got}, expected {want}"));
        }
    }
    Ok(bytes)
}

/// Runs the validator with the local envelope; the callback's pointers stay out of its
/// environment.
fn run(command: &[String]) -> Ended {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_remove(ENV_CALLBACK_URL)
        .env_remove(ENV_CALLBACK_TOKEN)
        .env_remove(ENV_ARTIFACT_URIS)
        .env(ENV_INPUT_URI, format!("file://{INPUT_DIR}/{ENVELOPE_NAME}"))
        .env(ENV_OUTPUT_URI, format!("file://{OUTPUT_DIR}/{OUTPUT_NAME}"));
    match cmd.status() {
        Ok(status) => Ended::Exited(status.code()),
        Err(e) => Ended::Agent(format!("starting {:?}: {e}", command[0])),
    }
}

/// PUTs the output envelope if the validator wrote one (a regular file, not followed
/// through a link, at most `cap` bytes); `false` when there was none.
fn upload_output(http: &ureq::Agent, uri: &str, cap: u64) -> Result<bool, String> {
    let path = Path::new(OUTPUT_DIR).join(OUTPUT_NAME);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(false);
    }
    put_file(http, uri, &path, cap)
        .map(|_| true)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// PUTs a regular file (not followed through a link) of at most `cap` bytes; the bytes sent.
fn put_file(http: &ureq::Agent, uri: &str, path: &Path, cap: u64) -> Result<u64, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() || meta.len() > cap {
        return Err(format!("not a regular file of at most {cap} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let response = with_retries(|| http.put(uri).send(&bytes[..]))?;
    if !response.status().is_success() {
        return Err(format!("PUT answered {}", response.status()));
    }
    Ok(bytes.len() as u64)
}

/// A file name alone: no directories, nothing hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Uploads the files the output envelope lists as artifacts, the n-th to the n-th
/// slot; one that cannot be is left out (the host reports it as refused).
fn upload_artifacts(http: &ureq::Agent, slots: &[String]) {
    let Ok(text) = std::fs::read(Path::new(OUTPUT_DIR).join(OUTPUT_NAME)) else {
        return;
    };
    let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return;
    };
    let Some(listed) = envelope["artifacts"].as_array() else {
        return;
    };
    let mut budget = ARTIFACTS_CAP;
    for (slot, artifact) in slots.iter().zip(listed) {
        let name = artifact["path"].as_str().unwrap_or_default();
        match upload_artifact(http, slot, name, budget) {
            Ok(sent) => budget -= sent,
            Err(e) => eprintln!("validibot-agent: artifact {name:?}: {e}"),
        }
    }
}

/// PUTs one artifact: a plain name in the output directory, within the budget left.
fn upload_artifact(http: &ureq::Agent, uri: &str, name: &str, budget: u64) -> Result<u64, String> {
    if !plain_name(name) {
        return Err("not a plain file name in the output directory".into());
    }
    put_file(http, uri, &Path::new(OUTPUT_DIR).join(name), budget)
}

/// POSTs the callback; a refusal (4xx) is final, a failure to connect or a 5xx is tried
/// again (the host answers a repeated delivery as a replay).
fn call_back(
    http: &ureq::Agent,
    pointers: &Pointers,
    body: &serde_json::Value,
) -> Result<(), String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let response = with_retries(|| {
        http.post(&pointers.callback)
            .header("Authorization", &format!("Bearer {}", pointers.token))
            .header("Content-Type", "application/json")
            .send(&body[..])
    })?;
    let status = response.status();
    let mut text = String::new();
    let _ = response
        .into_body()
        .into_reader()
        .take(4096)
        .read_to_string(&mut text);
    if status.is_success() {
        let _ = writeln!(std::io::stderr(), "validibot-agent: called back ({status})");
        Ok(())
    } else {
        Err(format!("{status}: {text}"))
    }
}

/// Up to 6 tries, 1 s to 16 s apart, while the server cannot be reached or answers 5xx.
fn with_retries(
    mut send: impl FnMut() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<ureq::http::Response<ureq::Body>, String> {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=6 {
        match send() {
            Ok(r) if r.status().is_server_error() && attempt < 6 => {}
            Ok(r) => return Ok(r),
            Err(e) if attempt == 6 => return Err(e.to_string()),
            Err(_) => {}
        }
        std::thread::sleep(wait);
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}
