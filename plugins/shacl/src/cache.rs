//! The step config's graphs, read once per instance (see
//! `validibot_plugin_api::compiled`), keyed by the config text and, when the step has
//! files, their names and digests.

use std::rc::Rc;

use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::{StepFile, ValidatorError};

use crate::config::{Compiled, StepConfig};

thread_local! {
    static CACHE: CompiledCache<Compiled> = CompiledCache::new(16);
}

pub fn compiled_for(config: &str, files: &[StepFile]) -> Result<Rc<Compiled>, ValidatorError> {
    CACHE.with(|cache| {
        cache.for_config_with_files(config, files, |value, files| {
            StepConfig::parse(value)?.build(files)
        })
    })
}
