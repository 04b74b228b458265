//! The compiled config, cached per instance (see `validibot_plugin_api::compiled`),
//! keyed by the config text and, when the step has files, their names and digests.

use std::rc::Rc;

use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::{StepFile, ValidatorError};

use crate::config::{Compiled, StepConfig};

thread_local! {
    static CACHE: CompiledCache<Compiled> = CompiledCache::new(64);
}

pub fn compiled_for(config: &str, files: &[StepFile]) -> Result<Rc<Compiled>, ValidatorError> {
    CACHE.with(|cache| {
        cache.for_config_with_files(config, files, |value, files| {
            let cfg = StepConfig::parse(value)?;
            match files {
                [] => cfg.build(),
                _ => cfg.with_files(files)?.build(),
            }
        })
    })
}
