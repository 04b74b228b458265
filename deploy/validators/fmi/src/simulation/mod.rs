//! The co-simulation run. The FMU's code runs in a child process (this binary
//! re-executed with `simulate`), so a crash or a `doStep` that never returns is a
//! finding, not a dead validator: the parent enforces the wall-clock limit and
//! kills the child. The child samples the watched variables after every step and
//! reports the first non-finite value and the first bound violation of each.

mod child;
mod fmi2;
mod fmi3;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use child::run as run_child;

/// What an FMI call returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Ok,
    Warning,
    Discard,
    Error(&'static str),
    /// 3.0: the FMU asked to end the simulation at this time.
    Terminated(f64),
}

impl Status {
    pub fn failed(self) -> bool {
        matches!(self, Status::Discard | Status::Error(_))
    }
}

/// One Co-Simulation instance, whichever FMI version.
pub trait CoSimulation {
    /// Set up the experiment and enter initialization mode.
    fn initialize(
        &mut self,
        start: f64,
        stop: f64,
        tolerance: Option<f64>,
    ) -> Result<Status, String>;
    fn exit_initialization(&mut self) -> Result<Status, String>;
    fn set_float(&mut self, vr: u32, value: f64) -> Result<Status, String>;
    fn get_floats(&mut self, vrs: &[u32], out: &mut [f64]) -> Result<Status, String>;
    fn do_step(&mut self, t: f64, h: f64) -> Result<Status, String>;
    fn terminate(&mut self) -> Result<Status, String>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Watched {
    pub name: String,
    pub vr: u32,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub unit: Option<String>,
}

/// Everything the child needs, written as JSON by the parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub fmi3: bool,
    pub library: PathBuf,
    pub resources: PathBuf,
    pub token: String,
    pub start: f64,
    pub stop: f64,
    pub step: f64,
    pub tolerance: Option<f64>,
    pub max_steps: u64,
    /// (value reference, value) set before initialization.
    pub parameters: Vec<(u32, f64)>,
    pub watched: Vec<Watched>,
    /// Where the child keeps the model time it reached, for a timeout's report.
    pub progress: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Violation {
    pub name: String,
    pub time: f64,
    pub value: f64,
    /// `min` or `max`.
    pub bound: String,
    pub limit: f64,
    /// Samples out of bounds in the whole run.
    pub count: u64,
}

/// What the child reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub reached: f64,
    pub steps: u64,
    pub failure: Option<String>,
    pub terminated_at: Option<f64>,
    pub max_steps_hit: bool,
    /// The first non-finite value: (variable, model time).
    pub non_finite: Option<(String, f64)>,
    pub violations: Vec<Violation>,
    pub final_values: Vec<(String, f64)>,
}

/// How the run ended, seen from the parent.
#[derive(Debug)]
pub enum Ended {
    Finished(Outcome),
    /// The wall-clock limit passed; the model time reached, if known.
    TimedOut(Option<f64>),
    /// The child died without a report (a crash in the FMU's code).
    Crashed(String),
}

/// Runs `plan` in a child process within `limit` of wall-clock time.
pub fn simulate(plan: &Plan, work: &Path, limit: Duration) -> Result<(Ended, Duration), String> {
    let plan_path = work.join("plan.json");
    let result_path = work.join("result.json");
    std::fs::write(
        &plan_path,
        serde_json::to_vec(plan).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("simulate")
        .arg(&plan_path)
        .arg(&result_path)
        .spawn()
        .map_err(|e| format!("cannot start the simulation process: {e}"))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let elapsed = started.elapsed();
            return Ok((
                match std::fs::read(&result_path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                {
                    Some(outcome) if status.success() => Ended::Finished(outcome),
                    _ => Ended::Crashed(describe(status)),
                },
                elapsed,
            ));
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            let reached = std::fs::read_to_string(&plan.progress)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            return Ok((Ended::TimedOut(reached), started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An FMI status code (2.0 and 3.0 share 0–4; 2.0's 5 is `pending`).
fn status(code: std::ffi::c_int) -> Status {
    match code {
        0 => Status::Ok,
        1 => Status::Warning,
        2 => Status::Discard,
        _ => Status::Error(status_name(code)),
    }
}

fn status_name(code: std::ffi::c_int) -> &'static str {
    ["ok", "warning", "discard", "error", "fatal", "pending"]
        .get(code as usize)
        .copied()
        .unwrap_or("?")
}

/// The FMU's log messages go to stderr (the container's log, never results).
fn log_line(
    status: std::ffi::c_int,
    category: *const std::ffi::c_char,
    message: *const std::ffi::c_char,
) {
    let text = |p: *const std::ffi::c_char| {
        if p.is_null() {
            return String::new();
        }
        // SAFETY: the FMU passes NUL-terminated strings that live for the call.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    };
    eprintln!(
        "[fmu {}] {}: {}",
        status_name(status),
        text(category),
        text(message)
    );
}

/// Loads the FMU's library (running its initialisers: that code is what is being
/// validated, in this child process inside the hardened container).
fn load_library(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: see above; nothing of this process is shared with the FMU but its address space.
    unsafe { libloading::Library::new(path) }.map_err(|e| {
        let hint = if e.to_string().contains("failed to map segment") {
            " (the scratch directory is mounted noexec: the image needs the label org.validibot.validator.tmpfs_exec=true)"
        } else {
            ""
        };
        format!("cannot load {}: {e}{hint}", path.display())
    })
}

/// A function of the FMU's library by its NUL-terminated name; a missing one is an
/// error naming it.
fn symbol<'a, T>(
    lib: &'a libloading::Library,
    name: &[u8],
) -> Result<libloading::Symbol<'a, T>, String> {
    // SAFETY: the caller names the function with the signature the FMI standard gives it.
    unsafe { lib.get(name) }
        .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(&name[..name.len() - 1])))
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(11)) => "segmentation fault (signal 11)".into(),
        (_, Some(6)) => "abort (signal 6)".into(),
        (_, Some(9)) => "killed (signal 9; out of memory?)".into(),
        (_, Some(s)) => format!("signal {s}"),
        (Some(c), _) => format!("exit code {c} without a result"),
        _ => "unknown".into(),
    }
}
