//! A counting global allocator: how much heap one input makes live on the fuzzing thread.
//!
//! While a thread runs an input ([`begin`] .. [`end`]) every allocation it makes is added
//! to its live count and the peak is kept; [`end`] returns the peak, which the engine
//! compares with its soft limit (256 MiB by default). An allocation that would take the
//! live count past the hard limit ([`HARD_LIMIT`]) is never attempted: the engine's fatal
//! hook saves the input as a crash and ends the process, as the allocation would (a Rust
//! allocation failure aborts and cannot be caught).
//!
//! Only the fuzzing thread's own allocations count (burn's worker threads do not); memory
//! maps are not heap and do not count either.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Live bytes at which an allocation is refused and the input saved before the process
/// ends (the soft limit, checked after the input, is lower).
pub const HARD_LIMIT: usize = 2 << 30;

/// [`System`], counting the calling thread's bytes while it runs an input.
pub struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

thread_local! {
    // `const` and without `Drop`: reading them allocates nothing and needs no destructor, so
    // they are safe to use inside the allocator.
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static FATAL: Cell<Option<fn(usize)>> = const { Cell::new(None) };
}

/// Starts counting this thread's allocations from zero; `fatal` is called (with the live
/// byte count the allocation would reach) instead of an allocation past [`HARD_LIMIT`], and
/// must not return.
pub fn begin(fatal: fn(usize)) {
    LIVE.set(0);
    PEAK.set(0);
    FATAL.set(Some(fatal));
    TRACKING.set(true);
}

/// Stops counting; returns the peak of live bytes since [`begin`].
pub fn end() -> usize {
    TRACKING.set(false);
    PEAK.get()
}

/// Adds `size` bytes to the live count; `false` when they would pass the hard limit.
fn grow(size: usize) -> bool {
    if !TRACKING.try_with(Cell::get).unwrap_or(false) {
        return true;
    }
    let live = LIVE.get().saturating_add(size);
    if live > HARD_LIMIT {
        // Allocations made by the hook (writing the crash file) are not counted.
        TRACKING.set(false);
        if let Some(fatal) = FATAL.get() {
            fatal(live);
        }
        return false;
    }
    LIVE.set(live);
    if live > PEAK.get() {
        PEAK.set(live);
    }
    true
}

fn shrink(size: usize) {
    if TRACKING.try_with(Cell::get).unwrap_or(false) {
        LIVE.set(LIVE.get().saturating_sub(size));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged (or
// returns null, which `GlobalAlloc` allows for a failed allocation); the bookkeeping only
// touches `const` thread-locals of `Copy` types, which neither allocate nor unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation here is).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !grow(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        if new_size < layout.size() {
            shrink(layout.size() - new_size);
        }
        // SAFETY: as for `dealloc`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
