//! Handing a token or a wait group to another JS thread (`worker_threads`) by number.
//!
//! `share()` registers a handle to the *same* core object under a number — a plain value that
//! `postMessage` and `workerData` copy — and `fromShared(n)` on any thread returns a new JS
//! object for that core object.
//!
//! # The lifetime of a number
//! A number is *taken* by its first `fromShared`, and then lives as long as its objects:
//! 1. `share()` returns a new number on each call. Until it is first taken, the number keeps
//!    the core object alive on its own — whatever happens to the object that shared it — so
//!    `new Worker(file, { workerData: { token: token.share() } })` works even if the main
//!    thread drops `token` before the worker reads its `workerData`.
//! 2. Its first `fromShared(n)`, on any thread, takes that reference over: from then on the
//!    number is valid while the object that shared it or any object made from it by
//!    `fromShared` is alive (so one number may also be read by several workers while the
//!    sharer lives). When the last of them is collected, the number is released, and
//!    `fromShared(n)` then throws `GOGROUP_INVALID_ARGUMENT`, as it does for a number never
//!    handed out.
//! 3. A number that is never taken keeps its core object until the process exits, as a file
//!    descriptor sent and never received would: share once per receiver.
//!
//! Why: a number is copied, so nothing can tell when its last copy is gone; only its uses can
//! be counted. Tying it to the sharer's garbage collection (as before) broke the common
//! pattern above; tying it to nothing would leak every number. A taken number's holders are
//! JS objects whose collection is observable, on every thread (a worker's objects are
//! finalized when it exits).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A core object registered for another thread.
#[derive(Clone)]
pub(crate) enum Shared {
    Token(gogroup::CancelToken),
    WaitGroup(gogroup::WaitGroup),
}

struct Entry {
    object: Shared,
    /// The sharers' and takers' [`Ref`]s alive, plus one while the number is not yet taken.
    refs: usize,
    taken: bool,
}

static REGISTRY: Mutex<Option<HashMap<u64, Entry>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

fn with<T>(f: impl FnOnce(&mut HashMap<u64, Entry>) -> T) -> T {
    let mut g = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(g.get_or_insert_with(HashMap::new))
}

/// One holder of a number (module doc, rule 2): the object that shared it, or one made from
/// it. Releases the number when it is the last.
#[derive(Debug)]
pub(crate) struct Ref(u64);

impl Drop for Ref {
    fn drop(&mut self) {
        let released = with(|m| {
            let e = m.get_mut(&self.0)?;
            e.refs -= 1;
            if e.refs == 0 { m.remove(&self.0) } else { None }
        });
        // The core object is dropped outside the lock (its drop may run core's bookkeeping).
        drop(released.map(|e| e.object));
    }
}

/// Registers `object` under a new number (below 2^53, so it is exact as a JS number), and
/// returns it with the sharer's [`Ref`].
pub(crate) fn register(object: Shared) -> (i64, Ref) {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    with(|m| {
        m.insert(
            id,
            Entry {
                object,
                refs: 2, // the sharer, and the number itself until it is taken (rule 1)
                taken: false,
            },
        )
    });
    (id as i64, Ref(id))
}

/// The object behind `id` and a [`Ref`] for the object made from it (rule 2).
pub(crate) fn take(id: i64) -> Option<(Shared, Ref)> {
    let id = u64::try_from(id).ok()?;
    with(|m| {
        let e = m.get_mut(&id)?;
        if e.taken {
            e.refs += 1;
        } else {
            e.taken = true; // the number's own reference becomes this object's
        }
        Some((e.object.clone(), Ref(id)))
    })
}

/// Numbers registered and not released (for `testing.hostStats`; process-wide).
pub(crate) fn live() -> usize {
    with(|m| m.len())
}

/// The error for an unknown number.
pub(crate) fn unknown(id: i64) -> gogroup::Error {
    gogroup::Error::new(
        gogroup::ErrorKind::InvalidArgument,
        format!(
            "no shared gogroup object has the number {id} (never shared, or released once every object made from it was collected)"
        ),
    )
}
