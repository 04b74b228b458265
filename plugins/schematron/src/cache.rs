//! The compiled phase, built once per instance per config and step files (see
//! `validibot_plugin_api::compiled`).

use std::rc::Rc;

use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::{StepFile, ValidatorError};

use crate::config::StepConfig;
use crate::program::Program;

thread_local! {
    static CACHE: CompiledCache<Program> = CompiledCache::new(16);
}

pub fn compiled_for(config: &str, files: &[StepFile]) -> Result<Rc<Program>, ValidatorError> {
    CACHE.with(|cache| {
        cache.for_config_with_files(config, files, |value, files| {
            StepConfig::parse(value)?.build(files)
        })
    })
}
