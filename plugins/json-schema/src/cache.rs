//! The compiled config, cached per instance (see `validibot_plugin_api::compiled`).

use std::rc::Rc;

use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::ValidatorError;

use crate::config::StepConfig;

thread_local! {
    static CACHE: CompiledCache<jsonschema::Validator> = CompiledCache::new(64);
}

pub fn validator_for(config: &str) -> Result<Rc<jsonschema::Validator>, ValidatorError> {
    CACHE.with(|cache| cache.for_config(config, |value| StepConfig::parse(value)?.build()))
}
