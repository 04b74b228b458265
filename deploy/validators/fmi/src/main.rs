//! Validibot's FMI validator, run inside its container as nobody with no network.
//!
//! `validibot-fmi` reads the `validibot.input.v1` envelope named by
//! `VALIDIBOT_INPUT_URI` and writes `validibot.output.v1` to `VALIDIBOT_OUTPUT_URI`
//! (create-only). `validibot-fmi check FMU [CONFIG_JSON]` does the same for a local
//! file and prints the envelope. `validibot-fmi simulate PLAN RESULT` is the child
//! process that runs the FMU's code.

mod archive;
mod config;
mod findings;
mod model;
mod rules;
mod simulation;
mod validate;

use std::io::Write;
use std::path::Path;

use validibot_plugin_api::container::{
    InputEnvelope, OutputEnvelope, ENV_INPUT_URI, ENV_OUTPUT_URI, INPUT_SCHEMA,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["simulate", plan, result] => simulation::run_child(Path::new(plan), Path::new(result)),
        ["check", fmu, rest @ ..] => check(Path::new(fmu), rest.first().copied()),
        [] => from_envelope(),
        _ => Err("usage: validibot-fmi [check FMU [CONFIG_JSON] | simulate PLAN RESULT]".into()),
    };
    if let Err(e) = result {
        eprintln!("validibot-fmi: {e}");
        std::process::exit(2);
    }
}

fn check(fmu: &Path, config: Option<&str>) -> Result<(), String> {
    let config: serde_json::Value = match config {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("config: {e}"))?,
        None => serde_json::Value::Null,
    };
    let out = validate::run(fmu, &config);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &out).map_err(|e| e.to_string())?;
    writeln!(stdout).map_err(|e| e.to_string())
}

fn from_envelope() -> Result<(), String> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let input = var(ENV_INPUT_URI)?;
    let output = var(ENV_OUTPUT_URI)?;
    let input = Path::new(input.strip_prefix("file://").unwrap_or(&input));
    let output = Path::new(output.strip_prefix("file://").unwrap_or(&output));
    let envelope: InputEnvelope = serde_json::from_slice(
        &std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?,
    )
    .map_err(|e| format!("input envelope: {e}"))?;
    if envelope.schema_version != INPUT_SCHEMA {
        return Err(format!(
            "input envelope schema {:?} is not {INPUT_SCHEMA:?}",
            envelope.schema_version
        ));
    }
    let file = envelope
        .files
        .first()
        .ok_or("the input envelope lists no file")?;
    let fmu = input.parent().unwrap_or(Path::new(".")).join(&file.name);
    let out: OutputEnvelope = validate::run(&fmu, &envelope.config);
    // Create-only: the host refuses an output that already exists or is a link.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .map_err(|e| format!("{}: {e}", output.display()))?;
    serde_json::to_writer(&mut f, &out).map_err(|e| e.to_string())?;
    f.flush().map_err(|e| e.to_string())
}
