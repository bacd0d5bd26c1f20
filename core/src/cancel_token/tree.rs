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
//! 6. A node's wait list is created on first use, under the node's lock, by the first thread or
//!    future about to wait; `cancel` reads it in the critical section that cancels and notifies
//!    it if there is one. Either the canceller sees the list, or the waiter sees the
//!    cancellation. A token nobody waits on carries no wait list at all.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::Error;
use crate::loom::{Arc, AtomicU8, AtomicU32, Mutex, lock};
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
    pub(crate) handles: AtomicU32,
    inner: Mutex<Inner>,
    /// Effective deadline (own or inherited), fixed at creation.
    pub(crate) deadline: Option<Instant>,
}

struct Inner {
    /// The cause given to `cancel_with` (or a `*_cause` deadline), set once with `state`
    /// (invariant 1). `None` on a cancelled node means "the err is the cause".
    cause: Option<Error>,
    /// Created by the first waiter (invariant 6).
    list: Option<Arc<WaitList>>,
    parents: Links,
    dependents: Slab<Dependent>,
    /// Boxed: only deadline tokens have one, and a small node allocates faster.
    timer: Option<Box<TimerKey>>,
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
        Arc::new(Node::with(None, Links::None))
    }

    fn with(deadline: Option<Instant>, parents: Links) -> Node {
        Node {
            state: AtomicU8::new(LIVE),
            handles: AtomicU32::new(1),
            inner: Mutex::new(Inner {
                cause: None,
                list: None,
                parents,
                dependents: Slab::new(),
                timer: None,
            }),
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
        let given = lock(&self.inner).cause.clone();
        Some(given.unwrap_or_else(|| why.error()))
    }

    /// The cause given to `cancel_with` (or a `*_cause` deadline), if any; `None` also if the
    /// node's lock is busy (never blocks: callers may run inside a garbage collector).
    pub(crate) fn try_given_cause(&self) -> Option<Error> {
        self.inner.try_lock().ok()?.cause.clone()
    }

    /// The wait list, created on first use (invariant 6): call before waiting on it.
    pub(crate) fn wait_list(&self) -> Arc<WaitList> {
        let mut g = lock(&self.inner);
        g.list
            .get_or_insert_with(|| Arc::new(WaitList::new()))
            .clone()
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
    if let [parent] = parents {
        return attach_one(parent, deadline);
    }
    let node = Arc::new(Node::with(deadline, Links::None));
    let mut inherited: Option<(Why, Option<Error>)> = None;
    for parent in parents {
        let mut p = lock(&parent.inner);
        if let Some(why) = parent.why() {
            inherited = Some((why, p.cause.clone()));
            break;
        }
        // Invariant 2: parent, then child.
        let mut n = lock(&node.inner);
        if node.is_cancelled() {
            break; // an earlier parent already cancelled us
        }
        let key = p.dependents.insert(Dependent::Child(node.clone()));
        n.parents.push((*parent).clone(), key);
    }
    if let Some((why, cause)) = inherited {
        cancel(&node, why, cause);
    }
    node
}

/// The common case of [`attach`]: one parent. The node is built inside the parent's critical
/// section already linked to it, so no second lock is needed (nobody else can see it yet).
fn attach_one(parent: &Arc<Node>, deadline: Option<Instant>) -> Arc<Node> {
    let mut p = lock(&parent.inner);
    if let Some(why) = parent.why() {
        let cause = p.cause.clone();
        drop(p);
        let node = Arc::new(Node::with(deadline, Links::None));
        cancel(&node, why, cause);
        return node;
    }
    let key = p.dependents.vacant_key();
    let node = Arc::new(Node::with(deadline, Links::One(parent.clone(), key)));
    let inserted = p.dependents.insert(Dependent::Child(node.clone()));
    debug_assert_eq!(inserted, key);
    node
}

/// Cancels `node` and, before returning, every descendant. True if this call did it.
pub(crate) fn cancel(node: &Arc<Node>, why: Why, cause: Option<Error>) -> bool {
    // Descendants still to cancel, each with the parent it was taken from (no need to detach
    // a child from a parent that already took its whole dependent list). No allocation unless
    // there are descendants.
    let mut stack: Vec<(Arc<Node>, usize)> = Vec::new();
    let mut callbacks: Vec<Arc<Callback>> = Vec::new();
    if !cancel_one(node, 0, why, &cause, &mut stack, &mut callbacks) {
        return false;
    }
    while let Some((child, from)) = stack.pop() {
        cancel_one(&child, from, why, &cause, &mut stack, &mut callbacks);
    }
    if !callbacks.is_empty() {
        let cause = cause.unwrap_or_else(|| why.error());
        for cb in callbacks {
            fire(cb, cause.clone());
        }
    }
    true
}

/// Cancels one node (invariant 1) and queues its dependents; `from` is the address of the
/// parent that is cancelling it (0 for the node `cancel` was called on).
fn cancel_one(
    n: &Arc<Node>,
    from: usize,
    why: Why,
    cause: &Option<Error>,
    stack: &mut Vec<(Arc<Node>, usize)>,
    callbacks: &mut Vec<Arc<Callback>>,
) -> bool {
    let (dependents, parents, timer, list) = {
        let mut g = lock(&n.inner);
        if n.is_cancelled() {
            return false;
        }
        g.cause = cause.clone();
        n.state.store(why.state(), Ordering::Release);
        (
            std::mem::take(&mut g.dependents),
            std::mem::take(&mut g.parents),
            g.timer.take(),
            g.list.clone(),
        )
    };
    if let Some(key) = timer {
        timer::cancel(*key);
    }
    parents.for_each(|parent, key| {
        if Arc::as_ptr(&parent) as usize != from {
            detach_from(&parent, key, n);
        }
    });
    if let Some(list) = list {
        list.notify_all();
    }
    let me = Arc::as_ptr(n) as usize;
    stack.reserve(dependents.len());
    for d in dependents.into_values() {
        match d {
            Dependent::Child(c) => stack.push((c, me)),
            Dependent::Callback(cb) => callbacks.push(cb),
        }
    }
    true
}

/// Removes `child` from `parent`'s dependents (if it is still there), then lets the parent
/// detach in turn if it has become unreachable (invariant 4).
fn detach_from(parent: &Arc<Node>, key: u32, child: &Arc<Node>) {
    let orphaned = {
        let mut p = lock(&parent.inner);
        let ours =
            matches!(p.dependents.get(key), Some(Dependent::Child(c)) if Arc::ptr_eq(c, child));
        if ours {
            p.dependents.remove(key);
        }
        ours && p.dependents.is_empty() && !parent.is_cancelled()
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
            || node.is_cancelled()
        {
            return;
        }
        (std::mem::take(&mut g.parents), g.timer.take())
    };
    if let Some(key) = timer {
        timer::cancel(*key);
    }
    parents.for_each(|parent, key| detach_from(&parent, key, node));
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
    if node.is_cancelled() {
        drop(g);
        timer::cancel(key); // cancelled meanwhile: leave nothing scheduled
    } else {
        g.timer = Some(Box::new(key));
    }
}

/// Registers `f` to run when `node` is cancelled (at once if it already is).
pub(crate) fn register(node: &Arc<Node>, f: CallbackFn, inline: bool) -> (Arc<Callback>, u32) {
    let cb = Arc::new(Callback {
        state: AtomicU8::new(CB_PENDING),
        inline,
        f: Mutex::new(Some(f)),
    });
    let (key, cause) = {
        let mut g = lock(&node.inner);
        match node.why() {
            Some(why) => (NONE, Some(g.cause.clone().unwrap_or_else(|| why.error()))),
            None => (g.dependents.insert(Dependent::Callback(cb.clone())), None),
        }
    };
    if let Some(cause) = cause {
        fire(cb.clone(), cause);
    }
    (cb, key)
}

/// Go's `AfterFunc` stop: true iff it prevented the callback from running.
pub(crate) fn unregister(node: &Arc<Node>, cb: &Arc<Callback>, key: u32) -> bool {
    let stopped = cb
        .state
        .compare_exchange(CB_PENDING, CB_STOPPED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if key != NONE {
        let orphaned = {
            let mut g = lock(&node.inner);
            let ours =
                matches!(g.dependents.get(key), Some(Dependent::Callback(c)) if Arc::ptr_eq(c, cb));
            if ours {
                g.dependents.remove(key);
            }
            ours && g.dependents.is_empty() && !node.is_cancelled()
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

/// The parents of a node, each with the node's key in that parent's dependents: almost always
/// one, so one is stored inline (no allocation, and a small node).
#[derive(Default)]
enum Links {
    #[default]
    None,
    One(Arc<Node>, u32),
    // A thin pointer (not a 24-byte `Vec`) keeps `Node` within the allocator's fast bins.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<(Arc<Node>, u32)>>),
}

impl Links {
    fn push(&mut self, parent: Arc<Node>, key: u32) {
        *self = match std::mem::take(self) {
            Links::None => Links::One(parent, key),
            Links::One(p, k) => Links::Many(Box::new(vec![(p, k), (parent, key)])),
            Links::Many(mut v) => {
                v.push((parent, key));
                Links::Many(v)
            }
        };
    }

    fn for_each(self, mut f: impl FnMut(Arc<Node>, u32)) {
        match self {
            Links::None => {}
            Links::One(p, k) => f(p, k),
            Links::Many(v) => v.into_iter().for_each(|(p, k)| f(p, k)),
        }
    }
}

/// A minimal slab: stable `u32` keys, O(1) insert and remove, the free list threaded through
/// the vacant entries, memory returned when it empties.
struct Slab<T> {
    entries: Vec<Entry<T>>,
    /// First vacant entry (`NONE`: none).
    next_free: u32,
    len: u32,
}

enum Entry<T> {
    Occupied(T),
    Vacant(u32),
}

const NONE: u32 = u32::MAX;

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    const fn new() -> Self {
        Slab {
            entries: Vec::new(),
            next_free: NONE,
            len: 0,
        }
    }

    /// The key the next [`Slab::insert`] will return.
    fn vacant_key(&self) -> u32 {
        if self.next_free == NONE {
            self.entries.len() as u32
        } else {
            self.next_free
        }
    }

    fn insert(&mut self, value: T) -> u32 {
        // More than 4 billion children of one token would exhaust memory long before this.
        assert!(self.len < NONE - 1, "too many dependents on one token");
        self.len += 1;
        if self.next_free == NONE {
            self.entries.push(Entry::Occupied(value));
            (self.entries.len() - 1) as u32
        } else {
            let key = self.next_free;
            match std::mem::replace(&mut self.entries[key as usize], Entry::Occupied(value)) {
                Entry::Vacant(next) => self.next_free = next,
                Entry::Occupied(_) => unreachable!("the free list only links vacant entries"),
            }
            key
        }
    }

    fn get(&self, key: u32) -> Option<&T> {
        match self.entries.get(key as usize)? {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    fn remove(&mut self, key: u32) -> Option<T> {
        let slot = self.entries.get_mut(key as usize)?;
        if matches!(slot, Entry::Vacant(_)) {
            return None;
        }
        let Entry::Occupied(v) = std::mem::replace(slot, Entry::Vacant(self.next_free)) else {
            unreachable!("checked above")
        };
        self.next_free = key;
        self.len -= 1;
        if self.len == 0 {
            // Invariant 4's "leave no trace": empty again, and a large table gives its memory
            // back (a small one keeps it, so a create/drop loop does not allocate each time).
            if self.entries.capacity() > 32 {
                *self = Slab::new();
            } else {
                self.entries.clear();
                self.next_free = NONE;
            }
        }
        Some(v)
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn into_values(self) -> impl Iterator<Item = T> {
        self.entries.into_iter().filter_map(|e| match e {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Node, Slab};

    #[test]
    fn a_node_stays_small_enough_for_the_allocators_fast_bins() {
        // glibc serves requests up to 120 bytes from its fast bins; an `Arc` adds 16.
        let size = std::mem::size_of::<Node>();
        assert!(size <= 104, "Node grew to {size} bytes");
    }

    #[test]
    fn slab_reuses_keys_and_forgets_everything_once_empty() {
        let mut s = Slab::new();
        let (a, b, c) = (s.insert('a'), s.insert('b'), s.insert('c'));
        assert_eq!(s.remove(b), Some('b'));
        assert_eq!(s.remove(b), None);
        assert_eq!(s.vacant_key(), b);
        assert_eq!(s.insert('d'), b);
        assert_eq!(s.get(b), Some(&'d'));
        assert_eq!(s.len(), 3);
        for k in [a, b, c] {
            s.remove(k);
        }
        assert!(s.is_empty());
        assert_eq!(s.vacant_key(), 0);
    }
}
