//! The WASM plugin host: validators are wasm32-wasip2 components run by
//! wasmtime in a sandbox (no filesystem, network, env or clock), with a
//! deadline, a memory cap and a bounded output on every call.

mod bindings;
mod builtin;
mod call;
pub mod contract;
mod document;
mod error;
pub mod grants;
mod host_state;
mod input;
mod instance;
mod pool;
mod registry;
mod runtime;
mod source;
mod stderr_tail;

pub use call::{CallFile, CallInput, Limits, Plugin, PluginMeta, ValidationOutcome};
pub use document::Document;
pub use error::CallError;
pub use registry::PluginRegistry;
pub use runtime::Runtime;
