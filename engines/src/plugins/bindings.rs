//! Host-side bindings generated from the WIT contract, one module per minor the host
//! runs. Both share the 1.0 Rust types (records are matched by structure), so a
//! finding is converted the same way whichever contract the component was built for.

/// `validibot:validator@1.0.0`: the whole document in one `validate` call.
pub mod v1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/1.0.0",
        world: "validator",
    });
}

/// `validibot:validator@1.1.0`: adds `inputs` (the document and step files read on
/// demand) and `validate-request`. Its imports are what the linker provides: a 1.0
/// component's `@1.0.0` imports resolve to them too.
pub mod v1_1 {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        world: "validator",
        with: {
            "validibot:validator/types": crate::plugins::bindings::v1_0::validibot::validator::types,
            "validibot:validator/inputs.source": crate::plugins::source::Source,
        },
    });
}

pub use v1_0::validibot::validator::types as wit;
