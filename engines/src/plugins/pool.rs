//! Instance reuse.
//!
//! Instantiating per call would make every call pay guest lazy initialisation
//! (for jsonschema: compiling the schema, ~10 ms). Instead each plugin keeps a
//! small pool of warm instances. Isolation trade-off: state may persist across
//! calls of the *same* plugin (that is the point: caches), but an instance is
//! discarded after any trap or failed call, after `MAX_CALLS` calls, or when its
//! memory grew past `RECYCLE_MEMORY`, so damage or bloat never outlives a few calls.

use std::sync::Mutex;

use wasmtime::Store;

use super::host_state::HostState;
use super::instance::Bindings;

const MAX_IDLE: usize = 32;
const MAX_CALLS: u32 = 10_000;
const RECYCLE_MEMORY: usize = 128 << 20;

pub struct Warm {
    pub store: Store<HostState>,
    pub bindings: Bindings,
    pub calls: u32,
}

#[derive(Default)]
pub struct InstancePool {
    idle: Mutex<Vec<Warm>>,
}

impl InstancePool {
    pub fn take(&self) -> Option<Warm> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Returns a healthy instance for reuse; drops it if it is worn out.
    pub fn give_back(&self, mut warm: Warm) {
        warm.calls += 1;
        if warm.calls >= MAX_CALLS || warm.store.data().memory.current > RECYCLE_MEMORY {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(warm);
        }
    }
}
