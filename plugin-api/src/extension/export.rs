//! The extension side of the seam: the [`Extension`] trait and the panic-catching
//! `extern "C"` functions [`crate::export_extension!`] exports.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use super::abi::{Bytes, OwnedBuffer, Status};

/// Why a hook call failed (the host sees the message).
#[derive(Debug)]
pub enum HookError {
    UnknownHook,
    Failed(String),
}

/// A native extension: synchronous, thread-safe, created once on first call.
pub trait Extension: Default + Send + Sync + 'static {
    const NAME: &'static str;
    const VERSION: &'static str;

    /// Handles one hook call: `request` is JSON, the result is JSON.
    fn call(&self, hook: &str, request: &[u8]) -> Result<Vec<u8>, HookError>;
}

fn instance<E: Extension>() -> &'static E {
    // One static per monomorphisation is not possible in a generic fn, so the
    // extension library holds exactly one Extension type: keep it type-erased.
    static INSTANCE: OnceLock<Box<dyn std::any::Any + Send + Sync>> = OnceLock::new();
    INSTANCE
        .get_or_init(|| Box::new(E::default()))
        .downcast_ref::<E>()
        .expect("one extension type per library")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The exported `call`: never unwinds into the host.
///
/// # Safety
/// `hook` and `request` must be valid views for the call; `response` must be writable.
pub unsafe extern "C" fn call_hook<E: Extension>(
    hook: Bytes,
    request: Bytes,
    response: *mut OwnedBuffer,
) -> i32 {
    let (hook, request) = (hook.as_slice(), request.as_slice());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let hook = std::str::from_utf8(hook).map_err(|_| HookError::UnknownHook)?;
        instance::<E>().call(hook, request)
    }));
    let (status, body) = match result {
        Ok(Ok(body)) => (Status::Ok, body),
        Ok(Err(HookError::UnknownHook)) => (Status::UnknownHook, Vec::new()),
        Ok(Err(HookError::Failed(m))) => (Status::Failed, m.into_bytes()),
        Err(p) => (Status::Panicked, panic_message(p.as_ref()).into_bytes()),
    };
    if !response.is_null() {
        response.write(OwnedBuffer::from_vec(body));
    }
    status as i32
}

/// The exported `free`: takes back a buffer [`call_hook`] handed out.
///
/// # Safety
/// `buffer` must come from this library's `call_hook` and be freed once.
pub unsafe extern "C" fn free_buffer(buffer: OwnedBuffer) {
    if !buffer.ptr.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap))
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Echo;
    impl Extension for Echo {
        const NAME: &'static str = "echo";
        const VERSION: &'static str = "1";
        fn call(&self, hook: &str, request: &[u8]) -> Result<Vec<u8>, HookError> {
            match hook {
                "echo" => Ok(request.to_vec()),
                "fail" => Err(HookError::Failed("no".into())),
                "panic" => panic!("boom in hook"),
                _ => Err(HookError::UnknownHook),
            }
        }
    }

    fn call(hook: &str, req: &[u8]) -> (i32, Vec<u8>) {
        let mut out = OwnedBuffer::EMPTY;
        let code = unsafe {
            call_hook::<Echo>(
                Bytes::from_slice(hook.as_bytes()),
                Bytes::from_slice(req),
                &mut out,
            )
        };
        let body = unsafe {
            Bytes {
                ptr: out.ptr,
                len: out.len,
            }
            .as_slice()
            .to_vec()
        };
        unsafe { free_buffer(out) };
        (code, body)
    }

    #[test]
    fn statuses_and_panics_cross_as_codes() {
        assert_eq!(call("echo", b"{\"a\":1}"), (0, b"{\"a\":1}".to_vec()));
        assert_eq!(call("fail", b""), (2, b"no".to_vec()));
        assert_eq!(call("nope", b""), (1, Vec::new()));
        assert_eq!(call("panic", b""), (3, b"boom in hook".to_vec()));
        // Still usable after a panic.
        assert_eq!(call("echo", b"x").0, 0);
    }
}
