//! Faster guest primitives than wasi-libc's, linked into every validator that
//! keeps the default `guest-runtime` feature.
//!
//! Validators parse documents into many small values, so allocation and key
//! comparison dominate after the parser itself. wasi-libc's `malloc` is
//! dlmalloc and its `memcmp` a byte-at-a-time loop; talc and a word-at-a-time
//! `memcmp` cut the JSON Schema validator's per-call time by about 7%, and free
//! lists per small size class in front of talc (`SmallFirst`) more again for large
//! documents (see docs/benchmarks.md). Only compiled for single-threaded wasm.

use crate::small_first::SmallFirst;

#[global_allocator]
static ALLOCATOR: SmallFirst<talc::wasm::WasmDynamicTalc> =
    SmallFirst::new(talc::wasm::new_wasm_dynamic_allocator());

/// C `memcmp`, comparing eight bytes at a time. Overrides wasi-libc's, which the
/// linker only pulls in when no other definition exists.
///
/// # Safety
/// Same contract as C's `memcmp`: both pointers valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller guarantees both pointers are valid for `n` bytes.
    let (a, b) = unsafe {
        (
            core::slice::from_raw_parts(a, n),
            core::slice::from_raw_parts(b, n),
        )
    };
    crate::bytes::compare(a, b)
}
