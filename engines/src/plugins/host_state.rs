//! Per-store state: a WASI context that grants nothing, the memory limiter and the log sink.

use wasmtime::ResourceLimiter;
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, ResourceTable, WasiCtx, WasiCtxBuilder,
    WasiCtxView, WasiView,
};

use wasmtime::component::Resource;

use super::bindings::v1_0::validibot::validator::types;
use super::bindings::v1_1::validibot::validator::{inputs, log};
use super::grants::Grants;
use super::source::Source;
use super::stderr_tail::StderrTail;

/// Per-call budget for guest log text; the rest is dropped.
const LOG_BUDGET_BYTES: usize = 64 * 1024;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryLimiter,
    pub slug: String,
    /// The end of what the guest wrote to stderr (panic messages).
    pub stderr: StderrTail,
    log_budget: usize,
}

impl HostState {
    pub fn new(slug: &str, memory_limit: usize, grants: &Grants) -> Self {
        // By default no preopens, env, args, network or stdin/stdout, and clocks frozen at
        // zero; `grants` opens exactly what the operator allowed. Stderr goes to a small
        // in-memory tail.
        let stderr = StderrTail::default();
        let mut builder = WasiCtxBuilder::new();
        builder.stderr(stderr.clone());
        if !grants.clock {
            builder.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
        }
        for name in &grants.env {
            if let Ok(value) = std::env::var(name) {
                builder.env(name, value);
            }
        }
        for dir in &grants.read_dirs {
            if let Err(e) = builder.preopened_dir(dir, dir, FsPerms::ReadOnly) {
                tracing::warn!(plugin = %slug, %dir, "granted directory not mounted: {e}");
            }
        }
        if grants.network {
            // wasmtime-wasi allows no socket use by default: each kind is opened here.
            builder
                .inherit_network()
                .allow_tcp(true)
                .allow_udp(true)
                .allow_ip_name_lookup(true);
        }
        let wasi = builder.build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryLimiter {
                limit: memory_limit,
                exceeded: false,
                current: 0,
            },
            slug: slug.to_owned(),
            stderr,
            log_budget: LOG_BUDGET_BYTES,
        }
    }

    /// The handles the guest holds (WASI's and the call's `inputs.source`s).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Resets per-call budgets before a call (on a new or reused instance) whose memory
    /// cap is `memory_limit` bytes.
    pub fn begin_call(&mut self, memory_limit: usize) {
        self.memory.limit = memory_limit;
        self.memory.exceeded = false;
        self.stderr.clear();
        self.log_budget = LOG_BUDGET_BYTES;
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        let message: String = message.chars().take(self.log_budget).collect();
        self.log_budget = self.log_budget.saturating_sub(message.len().max(1));
        let slug = &self.slug;
        match level {
            log::Level::Trace | log::Level::Debug => tracing::debug!(plugin = %slug, "{message}"),
            log::Level::Info => tracing::info!(plugin = %slug, "{message}"),
            log::Level::Warn => tracing::warn!(plugin = %slug, "{message}"),
            log::Level::Error => tracing::error!(plugin = %slug, "{message}"),
        }
    }
}

// `inputs.source` (contract 1.1): the guest reads the call's document and step files
// in pieces; a handle it drops is gone from the table.
impl inputs::Host for HostState {}

impl inputs::HostSource for HostState {
    fn size(&mut self, source: Resource<Source>) -> u64 {
        self.table().get(&source).map_or(0, Source::size)
    }

    fn read(&mut self, source: Resource<Source>, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        self.table()
            .get(&source)
            .map_err(|e| format!("source: {e}"))
            .and_then(|s| s.read(offset, len))
    }

    fn drop(&mut self, source: Resource<Source>) -> wasmtime::Result<()> {
        self.table().delete(source)?;
        Ok(())
    }
}

/// Caps the linear memory of the whole instance — every memory of every core module a
/// component holds, added up, not each one alone; remembers a refused growth so the
/// trap that follows (Rust guests abort on allocation failure) is reported as
/// `memory_exceeded`.
pub struct MemoryLimiter {
    pub limit: usize,
    pub exceeded: bool,
    /// Bytes of linear memory the instance holds now, all memories together.
    pub current: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        if self.current.saturating_add(growth) > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.current += growth;
        Ok(true)
    }

    fn memories(&self) -> usize {
        // A component is a few core modules (the guest, WASI adapters), each with one memory.
        16
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// A clock that never moves: validators get no time source unless granted.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_on_all_memories_together() {
        let mut limiter = MemoryLimiter {
            limit: 100 << 20,
            exceeded: false,
            current: 0,
        };
        // Two memories (a component's guest module and an adapter), 60 MiB each.
        assert!(limiter.memory_growing(0, 60 << 20, None).unwrap());
        assert!(!limiter.memory_growing(0, 60 << 20, None).unwrap());
        assert!(limiter.exceeded);
        // Growing the first by 40 MiB more still fits exactly.
        assert!(limiter.memory_growing(60 << 20, 100 << 20, None).unwrap());
        assert_eq!(limiter.current, 100 << 20);
    }
}
