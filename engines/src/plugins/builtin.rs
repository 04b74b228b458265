//! The built-in validators, compiled by `build.rs` and embedded in the binary.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
