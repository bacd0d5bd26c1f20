//! The cancellation tree behind [`CancelToken`](crate::CancelToken): nodes, their dependents
//! (child nodes and callbacks) and the algorithms that cancel, attach and detach them.
//!
//! # Invariants
//! 1. A node is cancelled at most once: its `state` (which also says *why*: cancelled or
//!    deadline) and its `cause` are set together, exactly once, under the node's lock. Nothing
//!    ever un-cancels a node. A plain `cancel()` stores no `Error` at all (the cause is then
//!    the err, built on read), so cancelling costs no reference-count traffic.
//! 2. Two locks are only ever held together as *parent, then child* (`attach` of an `any` node
//!    is the only place that nests). Cancelling holds one lock at a time, so cancel storms,
//!    interlocked cancels and concurrent child creation cannot deadlock.
//! 3. Cancelling takes the node's whole dependent list under its lock. A dependent attached
//!    before that is cancelled by it; an attach after it sees `CANCELLED` and is born cancelled.
//!    So no child is missed and none is cancelled twice.
//! 4. A node stays attached to its parents while it has handles or dependents (child nodes,
//!    callbacks). When the last of these goes it detaches, drops its pending deadline (nothing
//!    could observe it fire), and its parent may detach in turn. This is why a million children
//!    created and dropped leave the parent's bookkeeping empty.
//! 5. No user code runs under a lock: callbacks are collected and run (inline ones) or handed to
//!    the pool (ordinary ones) after every lock is released.
//! 6. A thread or future about to wait on a node first sets `has_waiters` under the node's lock;
//!    `cancel` reads it in the critical section that cancels, and touches the wait list only if
//!    it is set. Either the canceller sees the flag, or the waiter sees the cancellation.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::Error;
use crate::loom::{Arc, AtomicU8, AtomicUsize, Mutex, lock};
use crate::pool;
use crate::timer::{self, TimerKey};
use crate::wait_list::WaitList;

const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE: u8 = 2;

/// Why a node was cancelled: what `err()` reports (Go's `Canceled` / `DeadlineExceeded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    Canceled,
    DeadlineExceeded,
}

impl Why {
    fn state(self) -> u8 {
        match self {
            Why::Canceled => CANCELED,
            Why::DeadlineExceeded => DEADLINE,
        }
    }

    fn error(self) -> Error {
        match self {
            Why::Canceled => Error::canceled(),
            Why::DeadlineExceeded => Error::deadline_exceeded(),
        }
    }
}

pub(crate) struct Node {
    state: AtomicU8,
    /// `CancelToken` handles alive (invariant 4).
    pub(crate) handles: AtomicUsize,
    inner: Mutex<Inner>,
    pub(crate) list: WaitList,
    /// Effective deadline (own or inherited), fixed at creation.
    pub(crate) deadline: Option<Instant>,
}

struct Inner {
    /// Set once, with `state` (invariant 1). `Some(None)`: cancelled, cause = err.
    cause: Option<Option<Error>>,
    has_waiters: bool,
    parents: Vec<(Arc<Node>, usize)>,
    dependents: Slab<Dependent>,
    timer: Option<TimerKey>,
}

enum Dependent {
    Child(Arc<Node>),
    Callback(Arc<Callback>),
}

/// What `on_cancel` runs: it receives the cause.
pub(crate) type CallbackFn = Box<dyn FnOnce(Error) + Send>;

/// A registered `on_cancel` function and the race between running it and `stop()`.
pub(crate) struct Callback {
    state: AtomicU8,
    inline: bool,
    f: Mutex<Option<CallbackFn>>,
}

const CB_PENDING: u8 = 0;
const CB_STARTED: u8 = 1;
const CB_STOPPED: u8 = 2;

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Node {
    pub(crate) fn new_root() -> Arc<Node> {
        Arc::new(Node::with(None, Vec::new()))
    }

    fn with(deadline: Option<Instant>, parents: Vec<(Arc<Node>, usize)>) -> Node {
        Node {
            state: AtomicU8::new(LIVE),
            handles: AtomicUsize::new(1),
            inner: Mutex::new(Inner {
                cause: None,
                has_waiters: false,
                parents,
                dependents: Slab::new(),
                timer: None,
            }),
            list: WaitList::new(),
            deadline,
        }
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) != LIVE
    }

    fn why(&self) -> Option<Why> {
        match self.state.load(Ordering::Acquire) {
            LIVE => None,
            CANCELED => Some(Why::Canceled),
            _ => Some(Why::DeadlineExceeded),
        }
    }

    pub(crate) fn err(&self) -> Option<Error> {
        self.why().map(Why::error)
    }

    pub(crate) fn cause(&self) -> Option<Error> {
        let why = self.why()?;
        let given = lock(&self.inner).cause.clone().flatten();
        Some(given.unwrap_or_else(|| why.error()))
    }

    /// Invariant 6: call before waiting on `list`.
    pub(crate) fn announce_waiter(&self) {
        let mut g = lock(&self.inner);
        g.has_waiters = true;
    }

    pub(crate) fn dependents(&self) -> usize {
        lock(&self.inner).dependents.len()
    }
}

/// Creates a node attached to every node of `parents` (a child has one, `any` several).
///
/// If a parent is already cancelled, the new node is born cancelled with that parent's err and
/// cause, and attaches to nothing more.
pub(crate) fn attach(parents: &[&Arc<Node>], deadline: Option<Instant>) -> Arc<Node> {
    let node = Arc::new(Node::with(deadline, Vec::with_capacity(parents.len())));
    let mut inherited: Option<(Why, Option<Error>)> = None;
    for parent in parents {
        let mut p = lock(&parent.inner);
        if let (Some(why), Some(cause)) = (parent.why(), &p.cause) {
            inherited = Some((why, cause.clone()));
            break;
        }
        // Invariant 2: parent, then child.
        let mut n = lock(&node.inner);
        if n.cause.is_some() {
            break; // an earlier parent already cancelled us
        }
        let key = p.dependents.insert(Dependent::Child(node.clone()));
        n.parents.push(((*parent).clone(), key));
    }
    if let Some((why, cause)) = inherited {
        cancel(&node, why, cause);
    }
    node
}

/// Cancels `node` and, before returning, every descendant. True if this call did it.
pub(crate) fn cancel(node: &Arc<Node>, why: Why, cause: Option<Error>) -> bool {
    let mut first = true;
    let mut did = false;
    let mut stack = vec![node.clone()];
    let mut callbacks: Vec<Arc<Callback>> = Vec::new();
    while let Some(n) = stack.pop() {
        let (dependents, parents, timer, has_waiters) = {
            let mut g = lock(&n.inner);
            if g.cause.is_some() {
                first = false;
                continue;
            }
            g.cause = Some(cause.clone());
            n.state.store(why.state(), Ordering::Release);
            (
                std::mem::take(&mut g.dependents),
                std::mem::take(&mut g.parents),
                g.timer.take(),
                g.has_waiters,
            )
        };
        if first {
            did = true;
            first = false;
        }
        if let Some(key) = timer {
            timer::cancel(key);
        }
        for (parent, key) in parents {
            detach_from(&parent, key, &n);
        }
        if has_waiters {
            n.list.notify_all();
        }
        for d in dependents.into_values() {
            match d {
                Dependent::Child(c) => stack.push(c),
                Dependent::Callback(cb) => callbacks.push(cb),
            }
        }
    }
    if !callbacks.is_empty() {
        let cause = cause.unwrap_or_else(|| why.error());
        for cb in callbacks {
            fire(cb, cause.clone());
        }
    }
    did
}

/// Removes `child` from `parent`'s dependents (if it is still there), then lets the parent
/// detach in turn if it has become unreachable (invariant 4).
fn detach_from(parent: &Arc<Node>, key: usize, child: &Arc<Node>) {
    let orphaned = {
        let mut p = lock(&parent.inner);
        let ours =
            matches!(p.dependents.get(key), Some(Dependent::Child(c)) if Arc::ptr_eq(c, child));
        if ours {
            p.dependents.remove(key);
        }
        ours && p.dependents.is_empty() && p.cause.is_none()
    };
    if orphaned && parent.handles.load(Ordering::Acquire) == 0 {
        release(parent);
    }
}

/// Called when the last handle of `node` is dropped, or its last dependent left: detaches the
/// node from its parents and drops its pending deadline if nothing can observe it any more.
pub(crate) fn release(node: &Arc<Node>) {
    let (parents, timer) = {
        let mut g = lock(&node.inner);
        if node.handles.load(Ordering::Acquire) != 0
            || !g.dependents.is_empty()
            || g.cause.is_some()
        {
            return;
        }
        (std::mem::take(&mut g.parents), g.timer.take())
    };
    if let Some(key) = timer {
        timer::cancel(key);
    }
    for (parent, key) in parents {
        detach_from(&parent, key, node);
    }
}

/// Arms `node`'s deadline on the timer thread (it fires `cancel` with `DeadlineExceeded`).
pub(crate) fn arm_deadline(node: &Arc<Node>, at: Instant, cause: Option<Error>) {
    let target = node.clone();
    let key = timer::schedule(
        at,
        Box::new(move || {
            cancel(&target, Why::DeadlineExceeded, cause);
        }),
    );
    let mut g = lock(&node.inner);
    if g.cause.is_some() {
        drop(g);
        timer::cancel(key); // cancelled meanwhile: leave nothing scheduled
    } else {
        g.timer = Some(key);
    }
}

/// Registers `f` to run when `node` is cancelled (at once if it already is).
pub(crate) fn register(node: &Arc<Node>, f: CallbackFn, inline: bool) -> (Arc<Callback>, usize) {
    let cb = Arc::new(Callback {
        state: AtomicU8::new(CB_PENDING),
        inline,
        f: Mutex::new(Some(f)),
    });
    let (key, cause) = {
        let mut g = lock(&node.inner);
        match &g.cause {
            Some(cause) => (usize::MAX, Some(cause.clone())),
            None => (g.dependents.insert(Dependent::Callback(cb.clone())), None),
        }
    };
    if let Some(cause) = cause {
        let why = node.why().unwrap_or(Why::Canceled);
        fire(cb.clone(), cause.unwrap_or_else(|| why.error()));
    }
    (cb, key)
}

/// Go's `AfterFunc` stop: true iff it prevented the callback from running.
pub(crate) fn unregister(node: &Arc<Node>, cb: &Arc<Callback>, key: usize) -> bool {
    let stopped = cb
        .state
        .compare_exchange(CB_PENDING, CB_STOPPED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if key != usize::MAX {
        let orphaned = {
            let mut g = lock(&node.inner);
            let ours =
                matches!(g.dependents.get(key), Some(Dependent::Callback(c)) if Arc::ptr_eq(c, cb));
            if ours {
                g.dependents.remove(key);
            }
            ours && g.dependents.is_empty() && g.cause.is_none()
        };
        if orphaned && node.handles.load(Ordering::Acquire) == 0 {
            release(node);
        }
    }
    if stopped {
        // Drop the function (and what it captured) now, not when the token goes away.
        drop(lock(&cb.f).take());
    }
    stopped
}

/// Commits `cb` to run (as Go's cancel does: once `cancel` returned, `stop` can no longer
/// prevent it), then runs it inline or hands it to the pool.
fn fire(cb: Arc<Callback>, cause: Error) {
    if cb
        .state
        .compare_exchange(CB_PENDING, CB_STARTED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return; // stopped first
    }
    if cb.inline {
        run_callback(&cb, cause);
    } else {
        pool::submit(Box::new(move || run_callback(&cb, cause)));
    }
}

fn run_callback(cb: &Callback, cause: Error) {
    let f = lock(&cb.f).take();
    if let Some(f) = f {
        // A panicking callback must not take the canceller (or a pool worker) down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(cause)));
    }
}

/// A minimal slab: stable `usize` keys, O(1) insert and remove, memory returned when empty.
struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    const fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(k) => {
                self.entries[k] = Some(value);
                k
            }
            None => {
                self.entries.push(Some(value));
                self.entries.len() - 1
            }
        }
    }

    fn get(&self, key: usize) -> Option<&T> {
        self.entries.get(key)?.as_ref()
    }

    fn remove(&mut self, key: usize) -> Option<T> {
        let v = self.entries.get_mut(key)?.take()?;
        self.len -= 1;
        if self.len == 0 {
            // Invariant 4's "leave no trace": give the memory back once empty.
            *self = Slab::new();
        } else {
            self.free.push(key);
        }
        Some(v)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn into_values(self) -> impl Iterator<Item = T> {
        self.entries.into_iter().flatten()
    }
}
