//! The `#[repr(C)]` types of the seam. Append-only: a new field goes at the end
//! with a minor bump; anything else is a major bump and a new entry symbol.

/// The entry symbol's name (NUL-terminated for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"validibot_extension_v1\0";
pub const ABI_MAJOR: u32 = 1;
pub const ABI_MINOR: u32 = 0;

/// A borrowed byte view; valid only for the duration of the call it is passed to
/// (or forever, for the descriptor's static strings).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    pub ptr: *const u8,
    pub len: usize,
}

impl Bytes {
    pub const fn from_static(s: &'static str) -> Bytes {
        Bytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    pub fn from_slice(s: &[u8]) -> Bytes {
        Bytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(self.ptr, self.len)
        }
    }
}

/// A buffer allocated by the extension and handed to the host, which copies it
/// and gives it back to [`Descriptor::free`]: the allocator that made it frees it.
#[repr(C)]
#[derive(Debug)]
pub struct OwnedBuffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl OwnedBuffer {
    pub const EMPTY: OwnedBuffer = OwnedBuffer {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    pub fn from_vec(v: Vec<u8>) -> OwnedBuffer {
        let mut v = std::mem::ManuallyDrop::new(v);
        OwnedBuffer {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }
}

/// What a hook call returned; the response buffer holds JSON for `Ok`, a UTF-8
/// message otherwise.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    UnknownHook = 1,
    Failed = 2,
    Panicked = 3,
}

impl Status {
    pub fn from_code(code: i32) -> Option<Status> {
        Some(match code {
            0 => Status::Ok,
            1 => Status::UnknownHook,
            2 => Status::Failed,
            3 => Status::Panicked,
            _ => return None,
        })
    }
}

/// `call(hook name, request JSON, &mut response) -> Status as i32`.
pub type CallFn =
    unsafe extern "C" fn(hook: Bytes, request: Bytes, response: *mut OwnedBuffer) -> i32;
/// Frees a buffer the extension returned.
pub type FreeFn = unsafe extern "C" fn(buffer: OwnedBuffer);
/// The entry symbol's type.
pub type EntryFn = unsafe extern "C" fn() -> *const Descriptor;

/// What the entry symbol returns. The first four fields are the fixed prefix the
/// host reads before trusting anything else.
#[repr(C)]
pub struct Descriptor {
    pub abi_major: u32,
    pub abi_minor: u32,
    /// `size_of::<Descriptor>()` as the extension was built.
    pub struct_size: u32,
    /// The extension's [`super::FINGERPRINT`].
    pub fingerprint: Bytes,
    pub name: Bytes,
    pub version: Bytes,
    pub call: CallFn,
    pub free: FreeFn,
}

// The descriptor is immutable static data: pointers to static strings and functions.
unsafe impl Sync for Descriptor {}

impl Descriptor {
    pub const fn new<E: super::Extension>(call: CallFn, free: FreeFn) -> Descriptor {
        Descriptor {
            abi_major: ABI_MAJOR,
            abi_minor: ABI_MINOR,
            struct_size: std::mem::size_of::<Descriptor>() as u32,
            fingerprint: Bytes::from_static(super::FINGERPRINT),
            name: Bytes::from_static(E::NAME),
            version: Bytes::from_static(E::VERSION),
            call,
            free,
        }
    }
}
