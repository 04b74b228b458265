//! The shared wasmtime engine: epoch ticker for deadlines and the cache of
//! precompiled components (keyed by component sha256 and engine compatibility hash).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::v1_1::Validator;
use super::host_state::HostState;

/// Epoch tick; deadlines are enforced with this resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Concurrent component instances the pooling allocator has slots for (live
/// calls plus every plugin's warm instances; see `plugins::pool`).
const POOL_INSTANCES: u32 = 1000;

#[derive(Clone)]
pub struct Runtime {
    pub engine: Engine,
    pub linker: Arc<Linker<HostState>>,
    cache_dir: Option<PathBuf>,
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker. `cache_dir` holds
    /// precompiled artifacts we wrote ourselves; they are never accepted from users.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .parallel_compilation(true);
        config.max_wasm_stack(1 << 20);
        // For `perf`: names for the compiled guest code in /tmp/perf-<pid>.map.
        if std::env::var_os("VALIDIBOT_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling()));
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            // The pool reserves address space up front (about 4 GiB per memory
            // slot); where that is refused (e.g. `ulimit -v`), allocate on demand.
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable; instances will be allocated on demand (slower fresh instances)");
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?
            }
        };
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                // The epoch counts wall-clock ticks since the start, not wake-ups: on a
                // loaded machine a 1 ms sleep lasts longer, and counting wake-ups let a
                // 2 s deadline run for 5 s (the sandbox test's attacks under load).
                let start = std::time::Instant::now();
                let mut counted: u128 = 0;
                while let Some(engine) = weak.upgrade() {
                    let due = start.elapsed().as_micros() / EPOCH_TICK.as_micros();
                    while counted < due {
                        engine.increment_epoch();
                        counted += 1;
                    }
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("starting the epoch ticker")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        // The newest contract's imports; a component built for an older 1.x minor
        // links against them too (semver-compatible names).
        Validator::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache_dir,
        })
    }

    /// Where the compiled form of a component with this sha256 is cached (none without
    /// a cache dir). The name carries the engine's compatibility hash.
    fn artifact_path(&self, sha: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        Some(dir.join(format!("{sha}-{:016x}.cwasm", h.finish())))
    }

    /// Whether loading `bytes` will compile them (no cached artifact): what a first start
    /// says before it spends seconds doing so.
    pub fn needs_compiling(&self, bytes: &[u8]) -> bool {
        self.artifact_path(&hex::encode(Sha256::digest(bytes)))
            .is_none_or(|p| !p.exists())
    }

    /// Compiles a component once per (sha256, engine); later loads come from the cache.
    pub fn load(&self, bytes: &[u8]) -> Result<(Component, String)> {
        let sha = hex::encode(Sha256::digest(bytes));
        let Some(path) = self.artifact_path(&sha) else {
            return Ok((self.compile(bytes)?, sha));
        };
        if path.exists() {
            // SAFETY: the file was produced by `Component::serialize` of this
            // engine configuration (the name carries its compatibility hash) and
            // lives in the operator's data dir; user input never reaches it.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok((c, sha)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unusable compiled artifact: {e}")
                }
            }
        }
        let component = self.compile(bytes)?;
        let serialized = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serialized)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .with_context(|| format!("caching {}", path.display()))?;
        Ok((component, sha))
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component> {
        Component::new(&self.engine, bytes).map_err(|e| anyhow::anyhow!("compiling component: {e}"))
    }
}

/// Pre-reserved instance slots make instantiation cheap: a fresh instance of a
/// trivial plugin costs tens of microseconds instead of mapping memory per call.
/// The memory slot is the full 4 GiB a 32-bit memory can address, so the
/// per-plugin cap stays the `ResourceLimiter`'s job (a typed `memory_exceeded`)
/// whatever the operator configures.
fn pooling() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .max_memory_size(1 << 32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(32)
        .linear_memory_keep_resident(0)
        .table_keep_resident(1 << 16);
    pool
}
