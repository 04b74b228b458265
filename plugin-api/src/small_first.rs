//! A free list per small size class in front of another allocator (talc in the
//! guest). Parsing a document allocates and frees millions of blocks of a few sizes —
//! map keys, short strings, numbers kept as text, small map nodes; a freed block is
//! pushed on its class's list and the next request of that class pops it: a few
//! instructions instead of the allocator's bin search and coalescing (a fifth of the
//! JSON record path's time in the sandbox before, see docs/benchmarks.md).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::ptr::null_mut;

/// Size classes are multiples of this (and blocks this aligned).
const GRAIN: usize = 8;
/// Classes of 8, 16, … 128 bytes.
const CLASSES: usize = 16;
/// Most bytes kept on the free lists; past it freed blocks go back to the allocator
/// behind, so memory a parse freed can still serve a large allocation afterwards.
const KEPT_MAX: usize = 16 << 20;

pub struct SmallFirst<A> {
    inner: A,
    /// Each class's most recently freed block; a free block holds the next one.
    free: UnsafeCell<[*mut u8; CLASSES]>,
    kept: Cell<usize>,
}

// SAFETY: compiled into the guest only for wasm without atomics: one thread.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SmallFirst<A> {}

impl<A> SmallFirst<A> {
    pub const fn new(inner: A) -> Self {
        SmallFirst {
            inner,
            free: UnsafeCell::new([null_mut(); CLASSES]),
            kept: Cell::new(0),
        }
    }
}

/// The class of a request, when it is small and no more aligned than a grain.
fn class(layout: Layout) -> Option<usize> {
    let small = layout.size() <= GRAIN * CLASSES && layout.align() <= GRAIN;
    (small && layout.size() > 0).then(|| (layout.size() - 1) / GRAIN)
}

/// The layout a class's blocks have in the allocator behind.
fn class_layout(class: usize) -> Layout {
    // SAFETY: a non-zero multiple of a power-of-two alignment, far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN, GRAIN) }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SmallFirst<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: forwarded with the caller's layout.
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: one thread (see `Sync`; tests use one instance per thread), and no
        // reference to the lists outlives this call.
        let free = unsafe { &mut *self.free.get() };
        let block = free[class];
        if block.is_null() {
            // SAFETY: a valid, non-zero layout.
            return unsafe { self.inner.alloc(class_layout(class)) };
        }
        // SAFETY: a block on a list is free, GRAIN-aligned and holds the next one.
        free[class] = unsafe { block.cast::<*mut u8>().read() };
        self.kept.set(self.kept.get() - class_layout(class).size());
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class(layout) else {
            // SAFETY: allocated by the allocator behind with this layout.
            return unsafe { self.inner.dealloc(ptr, layout) };
        };
        let size = class_layout(class).size();
        if self.kept.get() + size > KEPT_MAX {
            // SAFETY: small blocks come from the allocator behind with their class's layout.
            return unsafe { self.inner.dealloc(ptr, class_layout(class)) };
        }
        // SAFETY: one thread; the block is the caller's to free, GRAIN-aligned and at
        // least GRAIN bytes, so it can hold a pointer.
        unsafe {
            let free = &mut *self.free.get();
            ptr.cast::<*mut u8>().write(free[class]);
            free[class] = ptr;
        }
        self.kept.set(self.kept.get() + size);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract: `new_size` is valid with `layout`'s alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            (Some(a), Some(b)) if a == b => ptr,
            // Both large: the allocator behind may grow or shrink in place.
            // SAFETY: allocated by the allocator behind with `layout`.
            (None, None) => unsafe { self.inner.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: the caller's contract, as for `GlobalAlloc::realloc`'s default.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr.copy_to_nonoverlapping(moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_freed_small_block_serves_the_next_request_of_its_class() {
        let a = SmallFirst::new(System);
        unsafe {
            let first = a.alloc(layout(20, 4));
            a.dealloc(first, layout(20, 4));
            assert_eq!(a.kept.get(), 24);
            // 17..=24 bytes share the class: the same block comes back.
            assert_eq!(a.alloc(layout(24, 8)), first);
            assert_eq!(a.kept.get(), 0);
            // Larger or more aligned requests pass through.
            let big = a.alloc(layout(4096, 8));
            let aligned = a.alloc(layout(16, 64));
            assert!((aligned as usize).is_multiple_of(64));
            a.dealloc(big, layout(4096, 8));
            a.dealloc(aligned, layout(16, 64));
            assert_eq!(a.kept.get(), 0);
            a.dealloc(first, layout(24, 8));
        }
    }

    #[test]
    fn the_lists_keep_at_most_their_cap() {
        let a = SmallFirst::new(System);
        let l = layout(128, 8);
        unsafe {
            let blocks: Vec<*mut u8> = (0..KEPT_MAX / 128 + 100).map(|_| a.alloc(l)).collect();
            for &b in &blocks {
                a.dealloc(b, l);
            }
            assert_eq!(a.kept.get(), KEPT_MAX);
            for _ in 0..KEPT_MAX / 128 {
                a.alloc(l);
            }
            assert_eq!(a.kept.get(), 0);
        }
    }

    /// Random allocations, growths, shrinks and frees: every live block keeps its own
    /// bytes (no block is handed out twice, a move copies).
    #[test]
    fn random_use_keeps_every_live_blocks_bytes() {
        let a = SmallFirst::new(System);
        let mut seed = 0x5EED_A110_C000_0001u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let fill = |p: *mut u8, l: Layout, tag: u8| unsafe { p.write_bytes(tag, l.size()) };
        let intact = |p: *mut u8, l: Layout, tag: u8| unsafe {
            std::slice::from_raw_parts(p, l.size())
                .iter()
                .all(|&b| b == tag)
        };
        for step in 0..50_000u32 {
            let tag = (step % 251) as u8;
            let size = match next() % 10 {
                0 => 129 + (next() % 300) as usize,
                _ => 1 + (next() % 128) as usize,
            };
            let align = [1, 2, 4, 8, 16][(next() % 5) as usize];
            match next() % 4 {
                0 | 1 if live.len() < 2000 => unsafe {
                    let l = layout(size, align);
                    let p = a.alloc(l);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align));
                    fill(p, l, tag);
                    live.push((p, l, tag));
                },
                2 if !live.is_empty() => unsafe {
                    let (p, l, t) = live.swap_remove((next() as usize) % live.len());
                    assert!(intact(p, l, t));
                    let moved = a.realloc(p, l, size);
                    let nl = layout(size, l.align());
                    let kept = l.size().min(size);
                    assert!(std::slice::from_raw_parts(moved, kept)
                        .iter()
                        .all(|&b| b == t));
                    fill(moved, nl, tag);
                    live.push((moved, nl, tag));
                },
                _ if !live.is_empty() => unsafe {
                    let (p, l, t) = live.swap_remove((next() as usize) % live.len());
                    assert!(intact(p, l, t));
                    a.dealloc(p, l);
                },
                _ => {}
            }
        }
        for (p, l, t) in live {
            assert!(intact(p, l, t));
            unsafe { a.dealloc(p, l) };
        }
    }
}
