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
    let key = validibot_plugin_api::compiled::key_with_files(config, files);
    CACHE.with(|cache| {
        cache.get_or_try_build(&key, || {
            let value = validibot_plugin_api::parse_config(config)?;
            StepConfig::parse(&value)
                .and_then(|c| c.build(files))
                .map_err(|f| ValidatorError::new(f.code, f.message))
        })
    })
}
