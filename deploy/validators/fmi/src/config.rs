//! The step config: what the workflow author may set for a run of this validator.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Step config (every field optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Simulate after the static checks (default true).
    pub simulate: bool,
    /// Override `DefaultExperiment` (seconds of model time).
    pub start_time: Option<f64>,
    pub stop_time: Option<f64>,
    pub step_size: Option<f64>,
    /// Wall-clock budget for the simulation, in seconds.
    pub wall_clock_limit_s: f64,
    /// Largest FMU accepted and largest unpacked size, in bytes.
    pub max_fmu_bytes: u64,
    pub max_unpacked_bytes: u64,
    /// Largest uncompressed/compressed ratio of one archive entry.
    pub max_compression_ratio: f64,
    /// Most communication steps (stop the run rather than loop for hours).
    pub max_steps: u64,
    /// Start values set before initialization (parameters and inputs, float only).
    pub parameters: BTreeMap<String, f64>,
    /// Extra bounds on output variables, by name, checked at every step.
    pub bounds: BTreeMap<String, Bounds>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            simulate: true,
            start_time: None,
            stop_time: None,
            step_size: None,
            wall_clock_limit_s: 60.0,
            max_fmu_bytes: 256 << 20,
            max_unpacked_bytes: 1 << 30,
            max_compression_ratio: 200.0,
            max_steps: 1_000_000,
            parameters: BTreeMap::new(),
            bounds: BTreeMap::new(),
        }
    }
}

impl Config {
    /// An absent or null config is the default; anything else must match exactly.
    pub fn from_json(value: &serde_json::Value) -> Result<Config, String> {
        if value.is_null() {
            return Ok(Config::default());
        }
        let config: Config =
            serde_json::from_value(value.clone()).map_err(|e| format!("step config: {e}"))?;
        if config.wall_clock_limit_s.is_nan() || config.wall_clock_limit_s <= 0.0 {
            return Err("step config: wall_clock_limit_s must be positive".into());
        }
        if config.step_size.is_some_and(|h| h.is_nan() || h <= 0.0) {
            return Err("step config: step_size must be positive".into());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_strictness() {
        let c = Config::from_json(&json!({})).unwrap();
        assert!(c.simulate);
        assert_eq!(c.wall_clock_limit_s, 60.0);
        let c =
            Config::from_json(&json!({"stop_time": 2.0, "bounds": {"x": {"max": 1.0}}})).unwrap();
        assert_eq!(c.stop_time, Some(2.0));
        assert_eq!(
            c.bounds["x"],
            Bounds {
                min: None,
                max: Some(1.0)
            }
        );
        assert!(Config::from_json(&json!({"stop": 2}))
            .unwrap_err()
            .contains("stop"));
        assert!(Config::from_json(&json!({"step_size": 0.0})).is_err());
        assert!(Config::from_json(&json!(null)).is_ok());
    }
}
