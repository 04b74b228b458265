//! Faster guest primitives than wasi-libc's, linked into every validator that
//! keeps the default `guest-runtime` feature.
//!
//! Validators parse documents into many small values, so allocation and key
//! comparison dominate after the parser itself. wasi-libc's `malloc` is
//! dlmalloc and its `memcmp` a byte-at-a-time loop; talc and a word-at-a-time
//! `memcmp` cut the JSON Schema validator's per-call time by about 7%
//! (see docs/benchmarks.md). Only compiled for single-threaded wasm.

#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// C `memcmp`, comparing eight bytes at a time. Overrides wasi-libc's, which the
/// linker only pulls in when no other definition exists.
///
/// # Safety
/// Same contract as C's `memcmp`: both pointers valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n, so both 8-byte reads are in bounds.
        let (x, y) = unsafe {
            (
                u64::from_be_bytes(a.add(i).cast::<[u8; 8]>().read_unaligned()),
                u64::from_be_bytes(b.add(i).cast::<[u8; 8]>().read_unaligned()),
            )
        };
        if x != y {
            // Big-endian words compare like the bytes they hold.
            return if x < y { -1 } else { 1 };
        }
        i += 8;
    }
    while i < n {
        // SAFETY: i < n.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}
