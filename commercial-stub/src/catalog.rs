//! The advanced (container) validators Pro registers. They run through the host's
//! container runner; images are resolved to IDs on the operator's allow-list.

use serde_json::{json, Value};

use crate::features;

pub fn advanced_validators(active: &[String]) -> Value {
    let on = active.iter().any(|f| f == features::ADVANCED_VALIDATORS);
    let user_images = active.iter().any(|f| f == features::USER_IMAGES);
    json!({
        "validators": [
            {
                "slug": "energyplus",
                "name": "EnergyPlus simulation",
                "version": "25.2",
                "kind": "container",
                "image": "validibot/validator-energyplus:25.2",
                "content_types": ["application/vnd.energyplus.idf", "application/vnd.energyplus.epjson+json"],
                "feature": features::ADVANCED_VALIDATORS,
                "enabled": on,
            },
            {
                "slug": "fmi",
                "name": "FMI co-simulation (FMU)",
                "version": "1.0",
                "kind": "container",
                "image": "validibot/validator-fmi:1.0",
                "content_types": ["application/vnd.fmi.fmu", "application/zip"],
                "feature": features::ADVANCED_VALIDATORS,
                "enabled": on,
            }
        ],
        "operator_images": user_images,
    })
}
