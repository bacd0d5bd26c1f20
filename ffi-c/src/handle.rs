//! Opaque handles: a versioned header, a function table, and a quarantine for freed handles.
//!
//! Every handle gogroup gives to C is a `Handle<T>`: a [`Header`] followed by the Rust value.
//! The header is the only part another copy of gogroup may read:
//!
//! ```text
//! offset 0   u64 word         magic | cell << 32, one atomic word (native byte order):
//!                             magic: one value per handle type, DEAD once freed;
//!                             cell (tokens only): 0 until set up, then 2 live, 3 cancelled,
//!                             read by the header's inline `gogroup_cancel_token_is_cancelled_inline`
//! offset 8   u32 abi_version  GOGROUP_ABI_VERSION of the copy that made the handle
//! offset 12  u32 flags        BORROWED: valid only during a callback, `_free` ignores it
//! offset 16  *const VTable    that copy's function table
//! ```
//!
//! Magic and cell share one word so that the inline `is_cancelled` is one load and two
//! comparisons, and can never see a cell without the magic it belongs to.
//!
//! The magic values belong to one ABI version: an ABI version that changes the layout also
//! changes the magics, so code that checked the magic (the inline function) knows the layout.
//!
//! # Why a function table
//! A process may hold several copies of gogroup: libgogroup.so, the Python extension and the
//! Node addon each link their own, with their own Rust types and their own statics. A handle is
//! only meaningful to the copy that made it. So every export first reads the header: a handle of
//! this copy is used directly; a handle of another copy is forwarded to *that* copy's export of
//! the same function, found in the table the handle carries. A second handle argument from
//! another copy (a token to wait on, a parent token) is *bridged*: a local token is cancelled,
//! with the same cause kind, code and message, by a callback registered on the foreign one
//! through its own table (see `cancel_token::observe`).
//!
//! # Invariants
//! 1. The header layout and the table are append-only within one `GOGROUP_ABI_VERSION`: a
//!    field is never moved or removed, so an older copy's handle stays readable.
//! 2. A freed handle's memory is never returned to the allocator while it is quarantined: its
//!    magic is DEAD, so reading the header of a recently freed handle is defined behaviour and
//!    answers `INVALID_HANDLE` (under ASan and valgrind too). Slots are reused FIFO after
//!    [`QUARANTINE`] later frees of the same type.
//! 3. The value is dropped *before* the slot enters the quarantine and without any lock held,
//!    so a destructor (a caller's `arg_free`) may call back into gogroup.

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::result::gogroup_result;
use crate::vtable::{VTABLE, VTable};

/// Version of the header layout and the function table (`GOGROUP_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;

/// The magic of a freed handle.
const DEAD: u32 = 0xDEAD_6767;

/// A handle that lives on a gogroup stack frame for the duration of a callback.
const BORROWED: u32 = 1;

/// Freed slots of one type kept unusable before reuse (invariant 2).
const QUARANTINE: usize = 256;

/// The part of every handle that any copy of gogroup may read.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    word: AtomicU64,
    abi_version: u32,
    flags: u32,
    vtable: *const VTable,
}

/// The cell part of a header word.
pub(crate) const CELL_SHIFT: u32 = 32;

/// The magic part of a header word.
#[inline(always)]
fn magic(word: u64) -> u32 {
    word as u32
}

/// A handle: the header, then the value (only the copy that made it reads the value).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Handle<T: Kind> {
    header: Header,
    value: ManuallyDrop<T>,
}

/// A Rust type that gogroup hands to C behind an opaque pointer.
pub(crate) trait Kind: Sized + 'static {
    /// The header magic of this type.
    const MAGIC: u32;
    /// The opaque C type (`gogroup_wait_group`…).
    type Opaque;
    /// Where freed handles of this type wait before reuse.
    fn quarantine() -> &'static Quarantine<Self>;
}

/// A handle as seen by an export: this copy's (use it), or another copy's (forward to it).
#[derive(Debug)]
pub(crate) enum Resolved<'a, T: Kind> {
    Mine(&'a T),
    Theirs(&'static VTable),
}

/// Freed slots of one handle type, oldest first.
#[derive(Debug)]
pub(crate) struct Quarantine<T: Kind> {
    slots: Mutex<VecDeque<Slot<T>>>,
}

#[derive(Debug)]
struct Slot<T: Kind>(*mut Handle<T>);

// SAFETY: a quarantined slot is plain memory owned by the quarantine (its value was dropped);
// moving the pointer between threads moves nothing else.
unsafe impl<T: Kind> Send for Slot<T> {}

impl<T: Kind> Quarantine<T> {
    pub(crate) const fn new() -> Self {
        Quarantine {
            slots: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Slot<T>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Header {
    fn new(magic: u32, flags: u32) -> Header {
        Header {
            word: AtomicU64::new(u64::from(magic)),
            abi_version: ABI_VERSION,
            flags,
            vtable: &VTABLE,
        }
    }

    /// The header word (magic and cell), read by the header's inline `is_cancelled`.
    pub(crate) fn word(&self) -> &AtomicU64 {
        &self.word
    }
}

impl<T: Kind> Handle<T> {
    /// A new heap handle owning `value`, returned as the opaque pointer C sees.
    pub(crate) fn into_raw(value: T) -> *mut T::Opaque {
        let handle = Handle {
            header: Header::new(T::MAGIC, 0),
            value: ManuallyDrop::new(value),
        };
        let reused = {
            let mut q = T::quarantine().lock();
            if q.len() > QUARANTINE {
                q.pop_front()
            } else {
                None
            }
        };
        let p = match reused {
            Some(Slot(p)) => {
                // SAFETY: a quarantined slot is a live allocation of `Handle<T>` whose value was
                // dropped (invariant 3); overwriting it without dropping is what we want.
                unsafe { p.write(handle) };
                p
            }
            None => Box::into_raw(Box::new(handle)),
        };
        p.cast()
    }

    /// A handle on the caller's stack, valid while it lives; `_free` ignores it.
    pub(crate) fn borrowed(value: T) -> Handle<T> {
        Handle {
            header: Header::new(T::MAGIC, BORROWED),
            value: ManuallyDrop::new(value),
        }
    }

    /// The opaque pointer to a borrowed handle.
    pub(crate) fn as_opaque(&self) -> *const T::Opaque {
        (self as *const Handle<T>).cast()
    }

    /// Checks the header of `p` and says whose it is.
    ///
    /// # Errors
    /// `NULL_ARGUMENT` for NULL; `INVALID_HANDLE` for a misaligned pointer, a wrong or DEAD
    /// magic, or another ABI version.
    ///
    /// # Safety
    /// `p` must be NULL, or point to at least a [`Header`]'s worth of readable memory: a live
    /// handle, a handle in quarantine, or any other readable object (whose magic will not
    /// match). A pointer to unmapped memory cannot be detected and crashes.
    #[inline(always)]
    pub(crate) unsafe fn resolve<'a>(
        p: *const T::Opaque,
    ) -> Result<Resolved<'a, T>, gogroup_result> {
        if p.is_null() {
            return Err(gogroup_result::NullArgument);
        }
        if !(p as usize).is_multiple_of(std::mem::align_of::<Header>()) {
            return Err(gogroup_result::InvalidHandle);
        }
        // SAFETY: aligned and readable per the caller's contract; the magic is atomic, so a
        // concurrent free (a caller bug) is at worst a stale read, not a torn one.
        let header = unsafe { &*p.cast::<Header>() };
        if magic(header.word.load(Ordering::Acquire)) != T::MAGIC {
            return Err(gogroup_result::InvalidHandle);
        }
        if std::ptr::eq(header.vtable, &VTABLE) {
            // SAFETY: our own live handle of type T (magic matched, made by this copy, so its
            // ABI version is ours).
            Ok(Resolved::Mine(unsafe { &*(*p.cast::<Handle<T>>()).value }))
        } else if header.abi_version != ABI_VERSION {
            Err(gogroup_result::InvalidHandle)
        } else {
            // SAFETY: a live handle of another copy with our ABI version carries a table that
            // lives as long as that copy is loaded (a caller using a handle of an unloaded
            // copy is outside any contract).
            let vt = unsafe { &*header.vtable };
            if vt.abi_version != ABI_VERSION || vt.size < std::mem::size_of::<VTable>() {
                return Err(gogroup_result::InvalidHandle);
            }
            Ok(Resolved::Theirs(vt))
        }
    }

    /// The header of a handle that `resolve` just called `Mine`.
    ///
    /// # Safety
    /// `p` resolved as `Resolved::Mine` and is still live.
    pub(crate) unsafe fn header<'a>(p: *const T::Opaque) -> &'a Header {
        // SAFETY: per the caller, `p` is this copy's live handle, which starts with a Header.
        unsafe { &*p.cast::<Header>() }
    }

    /// Frees a handle of this copy: marks it DEAD, drops the value, quarantines the slot.
    /// NULL, DEAD, borrowed and wrong-type handles are ignored.
    ///
    /// # Safety
    /// As [`Handle::resolve`]; and no other thread may be using the handle.
    pub(crate) unsafe fn free_mine(p: *mut T::Opaque) {
        if p.is_null() {
            return;
        }
        let h = p.cast::<Handle<T>>();
        // SAFETY: the caller resolved `p` as Mine just before, so it is our live handle.
        let header = unsafe { &(*h).header };
        if header.flags & BORROWED != 0 {
            return;
        }
        let mut word = header.word.load(Ordering::Acquire);
        loop {
            if magic(word) != T::MAGIC {
                return; // a double free that raced: the other one wins
            }
            match header.word.compare_exchange_weak(
                word,
                u64::from(DEAD),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        // SAFETY: we just won the transition to DEAD, so no one else drops the value; the slot
        // stays allocated (invariant 2). Invariant 3: no lock is held here.
        unsafe { ManuallyDrop::drop(&mut (*h).value) };
        T::quarantine().lock().push_back(Slot(h));
    }
}

impl<T: Kind> Drop for Handle<T> {
    /// Only borrowed handles are ever dropped as values (heap ones go through `free_mine`).
    fn drop(&mut self) {
        if self.header.flags & BORROWED != 0 {
            // SAFETY: a borrowed handle owns its value and is dropped exactly once.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The layout other copies and the header's inline function rely on (module docs).
    #[test]
    fn header_layout_is_the_documented_abi() {
        assert_eq!(offset_of!(Header, word), 0);
        assert_eq!(offset_of!(Header, abi_version), 8);
        assert_eq!(offset_of!(Header, flags), 12);
        assert_eq!(offset_of!(Header, vtable), 16);
        assert_eq!(size_of::<Header>(), 24);
        assert_eq!(std::mem::align_of::<Header>(), 8);
    }

    #[test]
    fn the_inline_header_function_knows_the_token_magic() {
        let inline = include_str!("inline.h");
        let magic = format!("0x{:08X}u", crate::cancel_token::TokenState::MAGIC);
        assert!(inline.contains(&magic), "src/inline.h must use {magic}");
        assert!(inline.contains("GOGROUP_ABI_VERSION") && ABI_VERSION == 1);
    }
}
