//! Calling a plugin: one sandboxed call with a deadline, memory cap and bounded output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::wit;
use super::error::CallError;
use super::error::CancelledCall;
use super::grants::Grants;
use super::host_state::HostState;
pub use super::input::{CallFile, CallInput};
use super::instance::{Bindings, Pre};
use super::pool::{InstancePool, Warm};
use super::runtime::{Runtime, EPOCH_TICK};

/// How often (in epoch ticks) a cancellable call looks at its flag.
const CANCEL_CHECK_TICKS: u64 = 5;
use validibot_types::{Finding, Output, Severity};

/// Deadline for operator-side calls (`describe`, `validate-config`) and
/// instantiation: independent of the per-document deadline, which may be tiny.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Sandbox limits for one plugin.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// The memory cap of a call on a small document.
    pub memory_bytes: usize,
    /// The most a call's cap grows to with its document (see [`Limits::memory_for`]).
    pub memory_max_bytes: usize,
    pub max_output_bytes: usize,
}

/// A call's memory cap per byte of its document: a validator that parses the document
/// into a tree (JSON, XML) needs several times its text; one that streams needs little
/// and never comes near it.
pub const MEMORY_PER_DOCUMENT_BYTE: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            memory_bytes: 256 << 20,
            memory_max_bytes: 1 << 30,
            max_output_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// The most any call gets: the maximum, or the base cap when that is set higher.
    pub fn memory_ceiling(&self) -> usize {
        self.memory_max_bytes.max(self.memory_bytes)
    }

    /// The memory cap of a call on a document of `document_bytes`: the base cap (the
    /// workflow's `base`, else the plugin's), raised to [`MEMORY_PER_DOCUMENT_BYTE`] times
    /// the document, at most the maximum — which also bounds a workflow's base.
    pub fn memory_for(&self, document_bytes: u64, base: Option<usize>) -> usize {
        let max = self.memory_ceiling();
        let base = base.map_or(self.memory_bytes, |b| b.min(max));
        let scaled = usize::try_from(document_bytes)
            .unwrap_or(usize::MAX)
            .saturating_mul(MEMORY_PER_DOCUMENT_BYTE);
        scaled.clamp(base, max)
    }
}

/// What `describe` said, plus the component's digest.
#[derive(Debug, Clone, Serialize)]
pub struct PluginMeta {
    pub slug: String,
    pub version: String,
    pub name: String,
    pub description: String,
    pub content_types: Vec<String>,
    pub config_schema: serde_json::Value,
    pub sha256: String,
    /// The `validibot:validator` version the component was built against.
    pub wit_version: String,
}

#[derive(Debug, Clone, Default)]
pub struct ValidationOutcome {
    pub findings: Vec<Finding>,
    pub outputs: Vec<Output>,
}

pub struct Plugin {
    pub meta: PluginMeta,
    pub limits: Limits,
    pub grants: Grants,
    pre: Pre,
    pool: InstancePool,
    /// How calls get an instance: warm from the pool (built-ins, trusted code whose
    /// caches are the point), or fresh each call (third-party plugins: nothing one
    /// workspace's document leaves in guest memory can reach another's call).
    reuse: Reuse,
}

impl Plugin {
    /// Prepares a component for calls and asks it to describe itself.
    pub fn load(runtime: &Runtime, bytes: &[u8], limits: Limits) -> anyhow::Result<Plugin> {
        Plugin::load_with(runtime, bytes, limits, Grants::default())
    }

    /// Like [`Plugin::load`], with capabilities the operator granted.
    pub fn load_with(
        runtime: &Runtime,
        bytes: &[u8],
        limits: Limits,
        grants: Grants,
    ) -> anyhow::Result<Plugin> {
        let (component, sha256) = runtime.load(bytes)?;
        let version = super::contract::check(&runtime.engine, &component)?;
        let wit_version = version.to_string();
        let instance_pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("linking component: {e}"))?;
        let pre = Pre::new(instance_pre, version.minor).map_err(|e| {
            anyhow::anyhow!("component does not implement validibot:validator@{version}: {e}")
        })?;
        let mut plugin = Plugin {
            meta: PluginMeta {
                slug: String::new(),
                version: String::new(),
                name: String::new(),
                description: String::new(),
                content_types: vec![],
                config_schema: serde_json::Value::Null,
                sha256,
                wit_version,
            },
            limits,
            grants,
            pre,
            pool: InstancePool::default(),
            reuse: Reuse::Pooled,
        };
        let m = plugin
            .with_instance(
                SETUP_TIMEOUT,
                limits.memory_bytes,
                Reuse::Pooled,
                None,
                |b, s| b.describe(s),
            )
            .map_err(|e| anyhow::anyhow!("describe failed: {e}"))?;
        plugin.meta = PluginMeta {
            config_schema: serde_json::from_str(&m.config_schema)
                .unwrap_or(serde_json::Value::Null),
            slug: m.slug,
            version: m.version,
            name: m.name,
            description: m.description,
            content_types: m.content_types,
            sha256: plugin.meta.sha256.clone(),
            wit_version: plugin.meta.wit_version.clone(),
        };
        Ok(plugin)
    }

    /// Every call from now on gets a fresh instance, dropped afterwards. Installed
    /// (third-party) plugins are loaded this way, so no state crosses calls, runs or
    /// workspaces; it costs an instantiation per call (see docs/benchmarks.md).
    pub fn isolated(mut self) -> Plugin {
        self.reuse = Reuse::Fresh;
        self
    }

    /// Whether every call gets a fresh instance (see [`Plugin::isolated`]).
    pub fn is_isolated(&self) -> bool {
        self.reuse == Reuse::Fresh
    }

    /// Checks a step config; `Ok(Err(findings))` when the config is invalid.
    pub fn validate_config(&self, config: &str) -> Result<Result<(), Vec<Finding>>, CallError> {
        let res = self.with_instance(
            SETUP_TIMEOUT,
            self.limits.memory_bytes,
            self.reuse,
            None,
            |b, s| b.validate_config(s, config),
        )?;
        Ok(res.map_err(|fs| fs.into_iter().map(from_wit).collect()))
    }

    /// Validates one document: on a warm instance, or a fresh one for an isolated
    /// plugin. `timeout` may be shorter than the plugin's own (run deadline).
    pub fn validate(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
    ) -> Result<ValidationOutcome, CallError> {
        self.validate_on(input, timeout, self.reuse)
    }

    /// Like [`Plugin::validate`], interrupted (`CallError::Cancelled`) within a few
    /// milliseconds of `cancel` becoming true — a run cancelled while its step runs.
    pub fn validate_cancellable(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
        cancel: Arc<AtomicBool>,
    ) -> Result<ValidationOutcome, CallError> {
        self.validate_with(input, timeout, self.reuse, Some(cancel))
    }

    /// Validates on a warm instance from the pool, whatever the plugin's isolation
    /// (what `plugin bench` compares the fresh path against).
    pub fn validate_pooled(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
    ) -> Result<ValidationOutcome, CallError> {
        self.validate_on(input, timeout, Reuse::Pooled)
    }

    /// Validates on a new instance that is dropped afterwards (full isolation; what
    /// `plugin bench` compares the pooled path against).
    pub fn validate_fresh(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
    ) -> Result<ValidationOutcome, CallError> {
        self.validate_on(input, timeout, Reuse::Fresh)
    }

    fn validate_on(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
        reuse: Reuse,
    ) -> Result<ValidationOutcome, CallError> {
        self.validate_with(input, timeout, reuse, None)
    }

    fn validate_with(
        &self,
        input: &CallInput<'_>,
        timeout: Duration,
        reuse: Reuse,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<ValidationOutcome, CallError> {
        let memory = self
            .limits
            .memory_for(input.document.len(), input.memory_bytes);
        let res = self.with_instance(
            timeout.min(self.limits.timeout),
            memory,
            reuse,
            cancel,
            |b, s| b.validate(s, input),
        )?;
        let outcome = res.map_err(|e| CallError::Validator {
            code: e.code,
            message: e.message,
        })?;
        let size: usize = outcome
            .findings
            .iter()
            .map(|f| f.code.len() + f.message.len() + f.path.len() + f.meta.len() + 16)
            .sum::<usize>()
            + outcome
                .outputs
                .iter()
                .map(|o| o.name.len() + o.value.len() + 16)
                .sum::<usize>();
        if size > self.limits.max_output_bytes {
            return Err(CallError::OutputTooLarge(self.limits.max_output_bytes));
        }
        Ok(ValidationOutcome {
            findings: outcome.findings.into_iter().map(from_wit).collect(),
            outputs: outcome
                .outputs
                .into_iter()
                .map(|o| Output {
                    name: o.name,
                    value: serde_json::from_str(&o.value)
                        .unwrap_or(serde_json::Value::String(o.value)),
                    unit: o.unit,
                })
                .collect(),
        })
    }

    /// Runs `f` on a warm (or fresh) instance under the deadline and a memory cap of
    /// `memory` bytes.
    fn with_instance<R>(
        &self,
        timeout: Duration,
        memory: usize,
        reuse: Reuse,
        cancel: Option<Arc<AtomicBool>>,
        f: impl FnOnce(&Bindings, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let mut warm = match reuse {
            Reuse::Pooled => match self.pool.take() {
                Some(w) => w,
                None => self.instantiate()?,
            },
            Reuse::Fresh => self.instantiate()?,
        };
        warm.store.data_mut().begin_call(memory);
        let ticks = (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64;
        match cancel {
            // The deadline in slices: between slices the callback looks at the flag.
            Some(flag) => {
                let first = ticks.min(CANCEL_CHECK_TICKS);
                let mut left = ticks - first;
                warm.store.set_epoch_deadline(first);
                warm.store.epoch_deadline_callback(move |_| {
                    if flag.load(Ordering::Relaxed) {
                        return Err(CancelledCall.into());
                    }
                    if left == 0 {
                        return Ok(UpdateDeadline::Interrupt);
                    }
                    let slice = left.min(CANCEL_CHECK_TICKS);
                    left -= slice;
                    Ok(UpdateDeadline::Continue(slice))
                });
            }
            None => {
                // A pooled store may keep an earlier call's callback.
                warm.store.epoch_deadline_trap();
                warm.store.set_epoch_deadline(ticks);
            }
        }
        match f(&warm.bindings, &mut warm.store) {
            Ok(r) if !warm.store.data().memory.exceeded => {
                // An instance a large document grew past the base cap is not kept: the
                // pool would hold its memory, and a later call's cap could be below it.
                if reuse == Reuse::Pooled
                    && warm.store.data().memory.current <= self.limits.memory_bytes
                {
                    self.pool.give_back(warm);
                }
                Ok(r)
            }
            Ok(r) => Ok(r), // succeeded despite a refused growth: don't reuse
            Err(e) => Err(classify(e, &warm, timeout, &self.limits)),
        }
    }

    fn instantiate(&self) -> Result<Warm, CallError> {
        let mut store = Store::new(
            self.pre.engine(),
            HostState::new(&self.meta.slug, self.limits.memory_bytes, &self.grants),
        );
        store.limiter(|s| &mut s.memory);
        store.set_epoch_deadline((SETUP_TIMEOUT.as_micros() / EPOCH_TICK.as_micros()) as u64);
        let bindings = self.pre.instantiate(&mut store).map_err(|e| {
            if store.data().memory.exceeded {
                CallError::MemoryExceeded {
                    limit: self.limits.memory_bytes,
                    max: self.limits.memory_ceiling(),
                }
            } else {
                CallError::Host(format!("instantiating: {e}"))
            }
        })?;
        Ok(Warm {
            store,
            bindings,
            calls: 0,
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Reuse {
    Pooled,
    Fresh,
}

/// Rust (and C) guests keep their stack in linear memory, placed first and growing
/// down from its top towards address 0. Running off its end wraps the stack pointer
/// to just below 4 GiB, so the fault lands there (plus the access's static offset)
/// rather than in wasm's own stack (which wasmtime reports as `StackOverflow`).
fn ran_off_stack(err: &wasmtime::Error) -> bool {
    const PREFIX: &str = "memory fault at wasm address 0x";
    err.chain().any(|cause| {
        let text = cause.to_string();
        text.strip_prefix(PREFIX)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|addr| (0xFFF0_0000..1 << 33).contains(&addr))
    })
}

fn classify(err: wasmtime::Error, warm: &Warm, timeout: Duration, limits: &Limits) -> CallError {
    if err.downcast_ref::<CancelledCall>().is_some() {
        return CallError::Cancelled;
    }
    let trap = err.downcast_ref::<wasmtime::Trap>().copied();
    if trap == Some(wasmtime::Trap::Interrupt) {
        return CallError::DeadlineExceeded(timeout.as_millis() as u64);
    }
    if warm.store.data().memory.exceeded {
        return CallError::MemoryExceeded {
            limit: warm.store.data().memory.limit,
            max: limits.memory_ceiling(),
        };
    }
    if trap == Some(wasmtime::Trap::StackOverflow) || ran_off_stack(&err) {
        return CallError::StackOverflow;
    }
    let stderr = warm.store.data().stderr.text();
    // A Rust guest's panic prints "panicked at <file:line:col>:\n<message>" and aborts.
    if let Some(at) = stderr.rfind("panicked at ") {
        return CallError::Panic(
            stderr[at + "panicked at ".len()..]
                .chars()
                .take(2000)
                .collect(),
        );
    }
    let mut detail = match trap {
        Some(t) => t.to_string(),
        None => format!("{err:#}"),
    };
    if !stderr.is_empty() {
        detail = format!("{detail}; stderr: {stderr}");
    }
    CallError::Trap(detail.chars().take(2000).collect())
}

fn from_wit(f: wit::Finding) -> Finding {
    Finding {
        severity: match f.severity {
            wit::Severity::Error => Severity::Error,
            wit::Severity::Warning => Severity::Warning,
            wit::Severity::Info => Severity::Info,
            wit::Severity::Success => Severity::Success,
        },
        code: f.code,
        message: f.message,
        path: f.path,
        meta: if f.meta.is_empty() {
            None
        } else {
            serde_json::from_str(&f.meta).ok()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_grows_with_the_document_up_to_the_maximum() {
        let limits = Limits {
            memory_bytes: 256 << 20,
            memory_max_bytes: 1 << 30,
            ..Limits::default()
        };
        assert_eq!(limits.memory_for(1_000, None), 256 << 20);
        assert_eq!(limits.memory_for(64 << 20, None), 512 << 20);
        assert_eq!(limits.memory_for(1 << 40, None), 1 << 30);
        // A workflow's base cap replaces the plugin's, within the maximum.
        assert_eq!(limits.memory_for(1_000, Some(600 << 20)), 600 << 20);
        assert_eq!(limits.memory_for(1_000, Some(16 << 20)), 16 << 20);
        assert_eq!(limits.memory_for(1_000, Some(4 << 30)), 1 << 30);
        // A maximum below the base cap leaves the base cap.
        let fixed = Limits {
            memory_max_bytes: 16 << 20,
            ..limits
        };
        assert_eq!(fixed.memory_for(1 << 30, None), 256 << 20);
        let message = CallError::MemoryExceeded {
            limit: 1 << 30,
            max: 1 << 30,
        }
        .to_string();
        assert!(
            message.contains("1024 MiB") && message.contains("VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB"),
            "{message}"
        );
    }
}
