//! Validibot's engines: what actually runs a validator. `plugins` is the wasmtime host
//! for WASM components, `containers` the OCI container runner (Docker or Podman),
//! `extensions` the loader of signed native extensions and their typed hooks. Engines
//! know the shared types and the blob store, never the database or HTTP: a caller hands
//! them bytes and limits and gets typed outcomes back.

pub mod containers;
pub mod extensions;
pub mod plugins;
pub mod trust;
