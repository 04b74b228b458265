//! The validators this instance can run: built-ins (embedded, follow the binary)
//! and installed third-party components (every installed version, by slug and version).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::{bail, Result};

use super::builtin::BUILTIN;
use super::call::{Limits, Plugin};
use super::runtime::Runtime;

#[derive(Clone)]
pub struct PluginRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    limits: Limits,
    builtin: BTreeMap<String, Arc<Plugin>>,
    installed: RwLock<Installed>,
}

#[derive(Default)]
struct Installed {
    /// slug → version → plugin.
    versions: BTreeMap<String, BTreeMap<String, Arc<Plugin>>>,
    /// slug → the version installed last (what new workflow steps pin).
    latest: BTreeMap<String, String>,
}

impl PluginRegistry {
    /// Loads every built-in validator (compiling, or reading the compile cache).
    /// How many built-in validators loading will compile first (none once cached).
    pub fn builtins_to_compile(runtime: &Runtime) -> usize {
        BUILTIN
            .iter()
            .filter(|(_, bytes)| runtime.needs_compiling(bytes))
            .count()
    }

    pub fn builtin(runtime: &Runtime, limits: Limits) -> Result<PluginRegistry> {
        let mut builtin = BTreeMap::new();
        for (slug, bytes) in BUILTIN {
            let plugin = Plugin::load(runtime, bytes, limits)?;
            if plugin.meta.slug != *slug {
                bail!(
                    "built-in plugin {slug} describes itself as {}",
                    plugin.meta.slug
                );
            }
            builtin.insert(slug.to_string(), Arc::new(plugin));
        }
        Ok(PluginRegistry {
            inner: Arc::new(Inner {
                runtime: runtime.clone(),
                limits,
                builtin,
                installed: RwLock::default(),
            }),
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    pub fn is_builtin(&self, slug: &str) -> bool {
        self.inner.builtin.contains_key(slug)
    }

    /// The version new workflow steps get: the built-in, else the latest installed.
    pub fn get(&self, slug: &str) -> Option<Arc<Plugin>> {
        if let Some(p) = self.inner.builtin.get(slug) {
            return Some(p.clone());
        }
        let installed = self.read();
        let version = installed.latest.get(slug)?;
        installed.versions.get(slug)?.get(version).cloned()
    }

    /// The version a workflow step pinned. Built-ins follow the binary (any pinned
    /// version runs on the current one); installed plugins must match exactly.
    pub fn get_version(&self, slug: &str, version: &str) -> Option<Arc<Plugin>> {
        if let Some(p) = self.inner.builtin.get(slug) {
            return Some(p.clone());
        }
        self.read().versions.get(slug)?.get(version).cloned()
    }

    /// Built-ins, then the latest version of each installed plugin.
    pub fn all(&self) -> Vec<Arc<Plugin>> {
        let mut out: Vec<_> = self.inner.builtin.values().cloned().collect();
        let installed = self.read();
        for (slug, version) in &installed.latest {
            if let Some(p) = installed.versions.get(slug).and_then(|v| v.get(version)) {
                out.push(p.clone());
            }
        }
        out
    }

    /// Adds an installed plugin; `latest` makes it the version new steps pin.
    pub fn add_installed(&self, plugin: Arc<Plugin>, latest: bool) {
        let mut installed = self
            .inner
            .installed
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let slug = plugin.meta.slug.clone();
        let version = plugin.meta.version.clone();
        installed
            .versions
            .entry(slug.clone())
            .or_default()
            .insert(version.clone(), plugin);
        if latest || !installed.latest.contains_key(&slug) {
            installed.latest.insert(slug, version);
        }
    }

    /// Drops installed versions that are no longer installed (`keep` lists what is, as
    /// `(slug, version)`); a slug whose latest went falls back to its newest remaining
    /// install, in `keep`'s order.
    pub fn retain_installed(&self, keep: &[(String, String)]) {
        let mut installed = self
            .inner
            .installed
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let Installed { versions, latest } = &mut *installed;
        for (slug, by_version) in versions.iter_mut() {
            by_version.retain(|v, _| keep.iter().any(|(s, k)| s == slug && k == v));
        }
        versions.retain(|_, by_version| !by_version.is_empty());
        latest.retain(|slug, v| versions.get(slug).is_some_and(|b| b.contains_key(v)));
        // `keep` is oldest first, so walking it backwards finds each slug's newest.
        for (slug, version) in keep.iter().rev() {
            if versions.get(slug).is_some_and(|b| b.contains_key(version)) {
                latest
                    .entry(slug.clone())
                    .or_insert_with(|| version.clone());
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Installed> {
        self.inner
            .installed
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }
}
