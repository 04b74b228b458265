//! The validators this instance can run, by slug.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::builtin::BUILTIN;
use super::call::{Limits, Plugin};
use super::runtime::Runtime;

#[derive(Clone)]
pub struct PluginRegistry {
    plugins: Arc<BTreeMap<String, Arc<Plugin>>>,
}

impl PluginRegistry {
    /// Loads every built-in validator (compiling, or reading the compile cache).
    pub fn builtin(runtime: &Runtime, limits: Limits) -> Result<PluginRegistry> {
        let mut plugins = BTreeMap::new();
        for (slug, bytes) in BUILTIN {
            let plugin = Plugin::load(runtime, bytes, limits)?;
            if plugin.meta.slug != *slug {
                bail!(
                    "built-in plugin {slug} describes itself as {}",
                    plugin.meta.slug
                );
            }
            plugins.insert(slug.to_string(), Arc::new(plugin));
        }
        Ok(PluginRegistry {
            plugins: Arc::new(plugins),
        })
    }

    pub fn get(&self, slug: &str) -> Option<&Arc<Plugin>> {
        self.plugins.get(slug)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }
}
