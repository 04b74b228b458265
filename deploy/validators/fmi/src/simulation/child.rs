//! The simulation loop, run in the child process: instantiate, set parameters,
//! initialize, step from start to stop sampling the watched variables, terminate.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{fmi2::Fmi2, fmi3::Fmi3, CoSimulation, Outcome, Plan, Status, Violation};

/// `validibot-fmi simulate PLAN RESULT`: the exit code is 0 whenever a result was written.
pub fn run(plan_path: &Path, result_path: &Path) -> Result<(), String> {
    let plan: Plan = serde_json::from_slice(&std::fs::read(plan_path).map_err(|e| e.to_string())?)
        .map_err(|e| format!("plan: {e}"))?;
    let outcome = match instantiate(&plan) {
        Ok(mut cs) => simulate(cs.as_mut(), &plan),
        Err(e) => Outcome {
            failure: Some(e),
            reached: plan.start,
            ..Outcome::default()
        },
    };
    std::fs::write(
        result_path,
        serde_json::to_vec(&outcome).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}

fn instantiate(plan: &Plan) -> Result<Box<dyn CoSimulation>, String> {
    Ok(if plan.fmi3 {
        Box::new(Fmi3::instantiate(
            &plan.library,
            &plan.token,
            &plan.resources,
        )?)
    } else {
        Box::new(Fmi2::instantiate(
            &plan.library,
            &plan.token,
            &plan.resources,
        )?)
    })
}

/// Runs the experiment; FMI errors end it and are reported, never panicked on.
pub fn simulate(cs: &mut dyn CoSimulation, plan: &Plan) -> Outcome {
    let mut out = Outcome {
        reached: plan.start,
        ..Outcome::default()
    };
    if let Err(e) = steps(cs, plan, &mut out) {
        out.failure = Some(e);
    }
    out
}

fn check(what: &str, t: f64, s: Result<Status, String>) -> Result<Status, String> {
    match s? {
        s if s.failed() => Err(format!("{what} returned {s:?} at t={t}")),
        s => Ok(s),
    }
}

fn steps(cs: &mut dyn CoSimulation, plan: &Plan, out: &mut Outcome) -> Result<(), String> {
    for &(vr, value) in &plan.parameters {
        check("setting a start value", plan.start, cs.set_float(vr, value))?;
    }
    check(
        "initialization",
        plan.start,
        cs.initialize(plan.start, plan.stop, plan.tolerance),
    )?;
    check(
        "leaving initialization",
        plan.start,
        cs.exit_initialization(),
    )?;
    let vrs: Vec<u32> = plan.watched.iter().map(|w| w.vr).collect();
    let mut values = vec![0.0; vrs.len()];
    let mut counts = vec![0u64; vrs.len()];
    let mut sample =
        |cs: &mut dyn CoSimulation, t: f64, out: &mut Outcome| -> Result<bool, String> {
            check("reading outputs", t, cs.get_floats(&vrs, &mut values))?;
            for (i, (w, &v)) in plan.watched.iter().zip(&values).enumerate() {
                if !v.is_finite() {
                    out.non_finite = Some((w.name.clone(), t));
                    return Ok(false);
                }
                let broken = match (w.min, w.max) {
                    (Some(lo), _) if v < lo => Some(("min", lo)),
                    (_, Some(hi)) if v > hi => Some(("max", hi)),
                    _ => None,
                };
                if let Some((bound, limit)) = broken {
                    counts[i] += 1;
                    match out.violations.iter_mut().find(|x| x.name == w.name) {
                        Some(x) => x.count = counts[i],
                        None => out.violations.push(Violation {
                            name: w.name.clone(),
                            time: t,
                            value: v,
                            bound: bound.into(),
                            limit,
                            count: 1,
                        }),
                    }
                }
            }
            Ok(true)
        };
    if !sample(cs, plan.start, out)? {
        return Ok(());
    }
    let span = plan.stop - plan.start;
    let n = ((span / plan.step) - 1e-9).ceil().max(1.0) as u64;
    let mut last_progress = Instant::now();
    for i in 0..n {
        if out.steps >= plan.max_steps {
            out.max_steps_hit = true;
            break;
        }
        let t = plan.start + i as f64 * plan.step;
        let h = plan.step.min(plan.stop - t);
        let status = check("doStep", t, cs.do_step(t, h))?;
        out.steps += 1;
        if let Status::Terminated(at) = status {
            out.terminated_at = Some(at);
            out.reached = at;
            break;
        }
        out.reached = t + h;
        if !sample(cs, t + h, out)? {
            return Ok(());
        }
        if last_progress.elapsed() > Duration::from_millis(100) {
            let _ = std::fs::write(&plan.progress, out.reached.to_string());
            last_progress = Instant::now();
        }
    }
    out.final_values = plan
        .watched
        .iter()
        .map(|w| w.name.clone())
        .zip(values.iter().copied())
        .collect();
    check("terminate", out.reached, cs.terminate())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::Watched;

    /// dx/dt = -x by explicit Euler inside each communication step.
    struct Decay {
        x: f64,
        fail_at: Option<f64>,
        nan_at: Option<f64>,
    }

    impl CoSimulation for Decay {
        fn initialize(&mut self, _: f64, _: f64, _: Option<f64>) -> Result<Status, String> {
            Ok(Status::Ok)
        }
        fn exit_initialization(&mut self) -> Result<Status, String> {
            Ok(Status::Ok)
        }
        fn set_float(&mut self, _: u32, v: f64) -> Result<Status, String> {
            self.x = v;
            Ok(Status::Ok)
        }
        fn get_floats(&mut self, _: &[u32], out: &mut [f64]) -> Result<Status, String> {
            out[0] = self.x;
            Ok(Status::Ok)
        }
        fn do_step(&mut self, t: f64, h: f64) -> Result<Status, String> {
            if self.fail_at.is_some_and(|f| t >= f) {
                return Ok(Status::Error("error"));
            }
            if self.nan_at.is_some_and(|f| t >= f) {
                self.x = f64::NAN;
            } else {
                self.x -= h * self.x;
            }
            Ok(Status::Ok)
        }
        fn terminate(&mut self) -> Result<Status, String> {
            Ok(Status::Ok)
        }
    }

    fn plan(max: Option<f64>) -> Plan {
        Plan {
            fmi3: false,
            library: "x".into(),
            resources: "x".into(),
            token: String::new(),
            start: 0.0,
            stop: 1.0,
            step: 0.3,
            tolerance: None,
            max_steps: 100,
            parameters: vec![(0, 2.0)],
            watched: vec![Watched {
                name: "x".into(),
                vr: 0,
                min: None,
                max,
                unit: None,
            }],
            progress: std::env::temp_dir().join("validibot-fmi-progress-test"),
        }
    }

    #[test]
    fn steps_to_the_stop_time_with_a_short_last_step() {
        let out = simulate(
            &mut Decay {
                x: 1.0,
                fail_at: None,
                nan_at: None,
            },
            &plan(None),
        );
        assert_eq!(out.steps, 4, "0.3 × 3 + 0.1");
        assert!((out.reached - 1.0).abs() < 1e-12);
        let expected = 2.0 * 0.7f64.powi(3) * 0.9;
        assert!((out.final_values[0].1 - expected).abs() < 1e-12);
        assert!(out.failure.is_none());
    }

    #[test]
    fn bounds_nan_and_errors_are_reported() {
        let out = simulate(
            &mut Decay {
                x: 1.0,
                fail_at: None,
                nan_at: None,
            },
            &plan(Some(1.0)),
        );
        let v = &out.violations[0];
        assert_eq!(
            (v.bound.as_str(), v.time, v.value, v.count),
            ("max", 0.0, 2.0, 2)
        );
        let out = simulate(
            &mut Decay {
                x: 1.0,
                fail_at: None,
                nan_at: Some(0.5),
            },
            &plan(None),
        );
        let (name, t) = out.non_finite.unwrap();
        assert_eq!(name, "x");
        assert!((t - 0.9).abs() < 1e-9);
        let out = simulate(
            &mut Decay {
                x: 1.0,
                fail_at: Some(0.5),
                nan_at: None,
            },
            &plan(None),
        );
        assert!(out.failure.unwrap().contains("doStep returned Error"));
        assert!((out.reached - 0.6).abs() < 1e-12);
    }
}
