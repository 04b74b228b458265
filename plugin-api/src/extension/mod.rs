//! The native extension seam: one versioned C-ABI entry symbol through which a
//! separately built shared library (the Pro crate) registers hooks with the host.
//!
//! Why this shape: Rust has no stable ABI, so nothing Rust-typed crosses. The
//! entry symbol [`ENTRY_SYMBOL`] returns a `#[repr(C)]` [`Descriptor`] whose
//! prefix (ABI major/minor, struct size, compatibility fingerprint) never changes; the
//! host checks it before calling anything else. Hooks are named (`license.status`,
//! …) and exchange JSON byte buffers, each freed by the side that allocated it.
//! Every export catches panics. Extensions are plain synchronous code: they never
//! see the host's async runtime.
//!
//! An extension implements [`Extension`] and calls [`export_extension!`].

pub mod abi;
mod export;
pub mod features;
pub mod fingerprint;
mod signature;

pub use abi::{
    Bytes, Descriptor, EntryFn, OwnedBuffer, Status, ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL,
};
pub use export::{call_hook, free_buffer, Extension, HookError};
pub use signature::{parse_signature_line, signature_line, SIGNATURE_DOMAIN};

pub use fingerprint::{Compat, FINGERPRINT, HOOKS_SCHEMA};

/// Exports `$ty` (an [`Extension`] + `Default`) as this library's extension.
#[macro_export]
macro_rules! export_extension {
    ($ty:ty) => {
        static __VALIDIBOT_EXTENSION_DESCRIPTOR: $crate::extension::Descriptor =
            $crate::extension::Descriptor::new::<$ty>(
                $crate::extension::call_hook::<$ty>,
                $crate::extension::free_buffer,
            );

        /// The extension entry point (`validibot_extension_v1`).
        #[no_mangle]
        pub extern "C" fn validibot_extension_v1() -> *const $crate::extension::Descriptor {
            &__VALIDIBOT_EXTENSION_DESCRIPTOR
        }
    };
}
