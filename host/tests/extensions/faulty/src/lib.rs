//! A misbehaving extension for the host's tests. `FAULTY_EXTENSION_MODE`
//! (read when the host calls the entry symbol) picks the fault:
//! - `panic` (default): registers license and policy hooks that panic;
//! - `mismatch`: a descriptor whose hook payload schema is not the host's;
//! - `other-compiler`: the host's ABI and hook schema, built (it says) by another rustc:
//!   this one must load, since the seam does not depend on the compiler.

use validibot_plugin_api::extension::abi::{Bytes, Descriptor};
use validibot_plugin_api::extension::{call_hook, free_buffer, Extension, HookError};

#[derive(Default)]
struct Faulty;

impl Extension for Faulty {
    const NAME: &'static str = "faulty";
    const VERSION: &'static str = "0.1.0";

    fn call(&self, hook: &str, _request: &[u8]) -> Result<Vec<u8>, HookError> {
        match hook {
            "describe" => Ok(br#"{"hooks": ["license.status", "license.verify", "workspaces.policy"]}"#.to_vec()),
            "license.verify" => Ok(b"this is not JSON".to_vec()),
            other => panic!("deliberate panic in {other}"),
        }
    }
}

static PANICKY: Descriptor = Descriptor::new::<Faulty>(call_hook::<Faulty>, free_buffer);

static FOREIGN: Descriptor = Descriptor {
    fingerprint: Bytes::from_static("abi 1.0; hooks 99; rustc 0.0.0 (sparc-sun-solaris)"),
    ..Descriptor::new::<Faulty>(call_hook::<Faulty>, free_buffer)
};

static OTHER_COMPILER: Descriptor = Descriptor {
    fingerprint: Bytes::from_static("abi 1.0; hooks 1; rustc 1.70.0 (90c541806 2023-05-31)"),
    ..Descriptor::new::<Faulty>(call_hook::<Faulty>, free_buffer)
};

#[no_mangle]
pub extern "C" fn validibot_extension_v1() -> *const Descriptor {
    match std::env::var("FAULTY_EXTENSION_MODE").as_deref() {
        Ok("mismatch") => &FOREIGN,
        Ok("other-compiler") => &OTHER_COMPILER,
        _ => &PANICKY,
    }
}
