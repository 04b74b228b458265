//! Compiled-schema cache.
//!
//! The host reuses an instance for many calls, so compiling a schema once per
//! instance (not once per call) is what makes WASM validation cheap. Keys are
//! the raw config text; the cache is bounded and simply cleared when full.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use validibot_plugin_api::ValidatorError;

use crate::config::StepConfig;

const MAX_ENTRIES: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<jsonschema::Validator>>> = RefCell::new(HashMap::new());
}

pub fn validator_for(config: &str) -> Result<Rc<jsonschema::Validator>, ValidatorError> {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(config).cloned()) {
        return Ok(hit);
    }
    let value: serde_json::Value = serde_json::from_str(config).map_err(|e| {
        ValidatorError::new("config.parse", format!("step config is not JSON: {e}"))
    })?;
    let compiled = StepConfig::parse(&value)
        .and_then(|c| c.build())
        .map(Rc::new)
        .map_err(|f| ValidatorError::new(f.code, f.message))?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(config.to_owned(), compiled.clone());
    });
    Ok(compiled)
}
