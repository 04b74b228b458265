//! One loaded extension library: safe calls through its descriptor's function
//! pointers. The library is leaked on purpose: extensions are never unloaded, so
//! the pointers stay valid for the life of the process.

use plugin_api::extension::{Bytes, Descriptor, OwnedBuffer, Status};
use validibot_plugin_api as plugin_api;

/// A hook call that did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HookCallError {
    #[error("the extension does not implement hook {0}")]
    Unknown(String),
    #[error("hook {hook} failed: {message}")]
    Failed { hook: String, message: String },
    #[error("hook {hook} panicked: {message}")]
    Panicked { hook: String, message: String },
    #[error("hook {hook} returned an unknown status {code}")]
    BadStatus { hook: String, code: i32 },
}

pub struct NativeExtension {
    pub name: String,
    pub version: String,
    pub file: String,
    descriptor: &'static Descriptor,
}

impl NativeExtension {
    /// # Safety
    /// `descriptor` must come from a library that is never unloaded and whose
    /// ABI prefix and fingerprint were checked.
    pub unsafe fn new(descriptor: &'static Descriptor, file: String) -> NativeExtension {
        let text = |b: Bytes| String::from_utf8_lossy(b.as_slice()).into_owned();
        NativeExtension {
            name: text(descriptor.name),
            version: text(descriptor.version),
            file,
            descriptor,
        }
    }

    /// Calls `hook` with a JSON request; the answer's bytes are copied and the
    /// extension's buffer is handed back to the extension to free.
    pub fn call(&self, hook: &str, request: &[u8]) -> Result<Vec<u8>, HookCallError> {
        let mut response = OwnedBuffer::EMPTY;
        // SAFETY: the views live for the call; the extension catches its panics.
        let code = unsafe {
            (self.descriptor.call)(
                Bytes::from_slice(hook.as_bytes()),
                Bytes::from_slice(request),
                &mut response,
            )
        };
        // SAFETY: the extension filled `response` (or left it empty).
        let body = unsafe {
            Bytes {
                ptr: response.ptr,
                len: response.len,
            }
            .as_slice()
            .to_vec()
        };
        if !response.ptr.is_null() {
            // SAFETY: the buffer came from this extension and is freed once.
            unsafe { (self.descriptor.free)(response) };
        }
        let message = || String::from_utf8_lossy(&body).into_owned();
        match Status::from_code(code) {
            Some(Status::Ok) => Ok(body),
            Some(Status::UnknownHook) => Err(HookCallError::Unknown(hook.into())),
            Some(Status::Failed) => Err(HookCallError::Failed {
                hook: hook.into(),
                message: message(),
            }),
            Some(Status::Panicked) => Err(HookCallError::Panicked {
                hook: hook.into(),
                message: message(),
            }),
            None => Err(HookCallError::BadStatus {
                hook: hook.into(),
                code,
            }),
        }
    }
}
