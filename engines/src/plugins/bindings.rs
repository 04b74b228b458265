//! Host-side bindings generated from the WIT contract.

wasmtime::component::bindgen!({
    path: "../wit/1.0.0",
    world: "validator",
});
