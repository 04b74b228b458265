//! The compiled config, cached per instance (see `validibot_plugin_api::compiled`).

use std::rc::Rc;

use validibot_plugin_api::compiled::CompiledCache;
use validibot_plugin_api::ValidatorError;

use crate::config::{RecordSchema, StepConfig};

/// A step's schema, compiled for the whole document and, where its shape allows, for
/// one record at a time.
pub struct Compiled {
    pub whole: jsonschema::Validator,
    pub records: Option<RecordSchema>,
}

thread_local! {
    static CACHE: CompiledCache<Compiled> = CompiledCache::new(64);
}

pub fn compiled_for(config: &str) -> Result<Rc<Compiled>, ValidatorError> {
    CACHE.with(|cache| {
        cache.for_config(config, |value| {
            let config = StepConfig::parse(value)?;
            Ok(Compiled {
                whole: config.build()?,
                records: config.records(),
            })
        })
    })
}
