//! Native extensions (the Pro crate) and the hook registry the core consults.
//! `loader` checks and loads libraries at startup, `native` calls them safely,
//! `hooks` holds the typed hooks with Community defaults, `trust` checks
//! detached signatures. After startup the registry is immutable.

pub mod hooks;
pub mod loader;
pub mod native;

use std::sync::Arc;

pub use hooks::{Hooks, LicenseStatus};
pub use loader::{LoadReport, LoadSettings};

/// The loaded extensions and the hooks they registered.
pub struct ExtensionRegistry {
    pub hooks: Hooks,
    pub reports: Vec<LoadReport>,
}

impl ExtensionRegistry {
    /// Community edition: no extension, every hook at its default.
    pub fn community() -> ExtensionRegistry {
        ExtensionRegistry {
            hooks: Hooks::default(),
            reports: Vec::new(),
        }
    }

    /// Loads the extensions directory and registers each extension's hooks (named by
    /// its `describe` answer).
    pub fn load(settings: &LoadSettings) -> ExtensionRegistry {
        let (loaded, mut reports) = loader::load_dir(settings);
        let mut hooks = Hooks::default();
        for ext in loaded {
            let ext = Arc::new(ext);
            let provides = ext
                .call("describe", b"{}")
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
                })
                .map(|v| {
                    v["hooks"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|h| h.as_str().map(String::from))
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                });
            let report = reports.iter_mut().find(|r| r.file == ext.file);
            match provides {
                Ok(provides) => {
                    let conflicts = hooks.register(&ext, &provides);
                    if !conflicts.is_empty() {
                        tracing::error!(
                            extension = ext.name,
                            "hook conflicts: {}",
                            conflicts.join("; ")
                        );
                        if let Some(r) = report {
                            r.error = Some(conflicts.join("; "));
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(
                        extension = ext.name,
                        "describe failed, no hooks registered: {e}"
                    );
                    if let Some(r) = report {
                        r.loaded = false;
                        r.error = Some(format!("describe failed: {e}"));
                    }
                }
            }
        }
        ExtensionRegistry { hooks, reports }
    }
}
