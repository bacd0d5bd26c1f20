//! Handing a token or a wait group to another JS thread (`worker_threads`) or to native code.
//!
//! `share()` registers a handle to the *same* core object under a number — a plain value that
//! `postMessage` copies — and `fromShared(n)` on any thread returns a new JS object for that
//! core object. The number stays valid while the JS object that shared it is alive; an unknown
//! or expired number is an `INVALID_ARGUMENT` error, never undefined behaviour.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A core object registered for another thread.
#[derive(Clone)]
pub(crate) enum Entry {
    Token(gogroup::CancelToken),
    WaitGroup(gogroup::WaitGroup),
}

static REGISTRY: Mutex<Option<HashMap<u64, Entry>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

fn with<T>(f: impl FnOnce(&mut HashMap<u64, Entry>) -> T) -> T {
    let mut g = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(g.get_or_insert_with(HashMap::new))
}

/// Registers `entry`; the returned number is below 2^53, so it is exact as a JS number.
pub(crate) fn register(entry: Entry) -> i64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    with(|m| m.insert(id, entry));
    id as i64
}

/// The entry registered under `id`.
pub(crate) fn lookup(id: i64) -> Option<Entry> {
    u64::try_from(id)
        .ok()
        .and_then(|id| with(|m| m.get(&id).cloned()))
}

/// Forgets the numbers a JS object handed out (it was garbage-collected).
pub(crate) fn unregister(ids: &[i64]) {
    if !ids.is_empty() {
        with(|m| {
            for id in ids {
                m.remove(&(*id as u64));
            }
        });
    }
}

/// The error for an unknown number.
pub(crate) fn unknown(id: i64) -> gogroup::Error {
    gogroup::Error::new(
        gogroup::ErrorKind::InvalidArgument,
        format!("no shared gogroup object has the number {id} (its owner was garbage-collected?)"),
    )
}
