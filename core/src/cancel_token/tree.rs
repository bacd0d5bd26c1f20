//! The cancellation tree behind [`CancelToken`](crate::CancelToken): nodes, their dependents
//! (child nodes and callbacks) and the algorithms that cancel, attach and detach them.
//!
//! # Invariants
//! 1. A node is cancelled at most once: its `state` (which also says *why*: cancelled or
//!    deadline) and its `cause` are set together, exactly once, under the node's lock. Nothing
//!    ever un-cancels a node. A plain `cancel()` stores no `Error` at all (the cause is then
//!    the err, built on read), so cancelling costs no reference-count traffic.
//! 2. Lock order: *ancestor before descendant*, then a callback's `home` last. Several node
//!    locks are held together only by `attach` of an `any` node (parent, then the new node) and
//!    by a splice (parent, then the spliced node, then each of its children in turn, and each
//!    moved callback's `home`). A splice only ever moves a dependent to an existing ancestor,
//!    and a new node is always a descendant, so "ancestor" never turns into "descendant" and
//!    the order is the same for every thread at every moment. Everything else holds one node
//!    lock at a time (cancelling included), so cancel storms, interlocked cancels, splices and
//!    concurrent child creation cannot deadlock. `unregister` reads a callback's `home` before
//!    taking the node's lock, then checks it again under that lock (invariant 9).
//! 3. Cancelling takes the node's whole dependent list under its lock. A dependent attached
//!    (or moved there by a splice) before that is cancelled by it; an attach after it sees
//!    `CANCELLED` and is born cancelled, and a splice after it leaves the spliced node to the
//!    canceller, which already holds it. So no child is missed and none is cancelled twice.
//! 4. A node stays attached to its parents while it has handles or dependents (child nodes,
//!    callbacks), unless it is spliced out (invariant 7). When the last of these goes it
//!    detaches, drops its pending deadline (nothing could observe it fire), and its parent may
//!    detach in turn. This is why a million children created and dropped leave the parent's
//!    bookkeeping empty. A node whose handles are gone and that has neither a parent nor a
//!    deadline can never be cancelled: it lets its callbacks go at once (they could never
//!    run; `stop` still reports true), so a forgotten root does not keep them alive, and it
//!    unlinks its children (a link that can never carry a cancel; the children keep the
//!    deadline they inherited). A child left without handles and parents that way settles in
//!    turn: so an `any` token whose inputs are all forgotten lets its callbacks go too, and a
//!    dead root and its `any` child no longer hold each other.
//! 5. No user code runs under a lock: callbacks are collected and run (inline ones) or handed to
//!    the pool (ordinary ones) after every lock is released, and so are drops of callbacks and
//!    of the last reference to a node (its cause may carry a host's payload).
//! 6. A node's wait list is created on first use, under the node's lock, by the first thread or
//!    future about to wait; `cancel` reads it in the critical section that cancels and notifies
//!    it if there is one. Either the canceller sees the list, or the waiter sees the
//!    cancellation. A token nobody waits on carries no wait list at all.
//! 7. Splicing (as tokio-util's tree does): when a live node has lost its last handle, has
//!    dependents, exactly one parent and no deadline timer of its own, its dependents move to
//!    its parent and it leaves the tree. Nothing observable is lost: without a handle it can
//!    neither be cancelled directly nor observed, its children already hold the deadline they
//!    inherited (`Node::deadline`), and its parent cancels them exactly as it would have
//!    cancelled it. So a `t = t.child()` loop keeps one link however deep it goes, and
//!    cancelling or dropping its leaf costs the same at any depth. A node with its own timer
//!    stays (its deadline cancels its subtree only), as does an `any` node (several parents);
//!    `dependents()` counts what hangs from a node *now*, moved dependents included.
//! 8. No walk recurses: cancelling, detaching, settling after a handle is dropped and splicing
//!    all run from explicit worklists, and no `Drop` can cascade along a chain (a node is only
//!    freed once it holds no links: whoever takes its links keeps a reference until it has
//!    detached). Depth costs heap, never stack, on any thread: the timer thread included.
//! 9. A callback's `home` names the node whose dependents hold it and its key there. It is
//!    changed only under that node's lock: set by `register`, moved by a splice (holding both
//!    nodes), cleared by `unregister` and when it is let go (invariant 4). A cancel takes the
//!    callback without changing `home`; `unregister` then finds the key vacant and knows the
//!    callback was committed to run (or stopped) by that cancel.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::Error;
use crate::loom::{Arc, AtomicU8, AtomicU32, Mutex, lock};
use crate::pool;
use crate::timer::{self, TimerId};
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
    /// `CancelToken` handles alive (invariant 4). Once zero it stays zero: a handle is only
    /// ever made from another handle.
    pub(crate) handles: AtomicU32,
    inner: Mutex<NodeState>,
    /// Effective deadline (own or inherited), fixed at creation.
    pub(crate) deadline: Option<Instant>,
}

/// The part of a [`Node`] behind its lock.
struct NodeState {
    /// The cause given to `cancel_with` (or a `*_cause` deadline), set once with `state`
    /// (invariant 1). `None` on a cancelled node means "the err is the cause".
    cause: Option<Error>,
    /// Created by the first waiter (invariant 6).
    list: Option<Arc<WaitList>>,
    parents: Links,
    dependents: Slab<Dependent>,
    /// This node's own pending deadline. Boxed: only deadline tokens have one, and a small node
    /// allocates faster.
    timer: Option<Box<TimerId>>,
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
    /// Where the callback is registered now: the node whose dependents hold it and its key
    /// there (invariant 9). It moves up when that node is spliced out (invariant 7).
    home: Mutex<Option<(Arc<Node>, u32)>>,
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
            inner: Mutex::new(NodeState {
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

    /// Child nodes and callbacks registered on this node right now, including those moved up
    /// from spliced descendants (invariant 7).
    pub(crate) fn dependents(&self) -> usize {
        lock(&self.inner).dependents.len()
    }

    fn unreferenced(&self) -> bool {
        self.handles.load(Ordering::Acquire) == 0
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
    let mut out = Cancelling::default();
    if !cancel_one(node, 0, why, &cause, &mut out) {
        return false;
    }
    while let Some((child, from)) = out.stack.pop() {
        cancel_one(&child, from, why, &cause, &mut out);
    }
    settle_all(out.orphans);
    if !out.callbacks.is_empty() {
        let cause = cause.unwrap_or_else(|| why.error());
        for cb in out.callbacks {
            fire(cb, cause.clone());
        }
    }
    true
}

/// The worklists of one [`cancel`] (invariant 8: never recursion). No allocation unless there
/// is something to put in them.
#[derive(Default)]
struct Cancelling {
    /// Descendants still to cancel, each with the address of the parent it was taken from (no
    /// need to detach a child from a parent that already took its whole dependent list).
    stack: Vec<(Arc<Node>, usize)>,
    callbacks: Vec<Arc<Callback>>,
    /// Parents that a cancelled node left unreferenced, live and without dependents.
    orphans: Vec<Arc<Node>>,
}

/// Cancels one node (invariant 1) and queues its dependents; `from` is the address of the
/// parent that is cancelling it (0 for the node `cancel` was called on).
fn cancel_one(
    n: &Arc<Node>,
    from: usize,
    why: Why,
    cause: &Option<Error>,
    out: &mut Cancelling,
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
    if let Some(id) = timer {
        timer::cancel(*id);
    }
    parents.for_each(|parent, key| {
        if Arc::as_ptr(&parent) as usize != from && detach_from(&parent, key, n) {
            out.orphans.push(parent);
        }
    });
    if let Some(list) = list {
        list.notify_all();
    }
    let me = Arc::as_ptr(n) as usize;
    out.stack.reserve(dependents.len());
    for (_, d) in dependents.into_entries() {
        match d {
            Dependent::Child(c) => out.stack.push((c, me)),
            Dependent::Callback(cb) => out.callbacks.push(cb),
        }
    }
    true
}

/// Removes `child` from `parent`'s dependents (if it is still there). True if that left the
/// parent unreferenced, live and without dependents: the caller must then [`settle`] it
/// (invariant 4). Never recurses.
fn detach_from(parent: &Arc<Node>, key: u32, child: &Arc<Node>) -> bool {
    let mut p = lock(&parent.inner);
    let ours = matches!(p.dependents.get(key), Some(Dependent::Child(c)) if Arc::ptr_eq(c, child));
    if ours {
        p.dependents.remove(key);
    }
    ours && p.dependents.is_empty() && !parent.is_cancelled() && parent.unreferenced()
}

/// Called when the last handle of `node` is dropped: detaches the node from its parents, or
/// splices it out of the tree, as far as nothing can observe it any more (invariants 4, 7).
pub(crate) fn release(node: &Arc<Node>) {
    let mut work = Vec::new();
    settle(node, &mut work, &mut Garbage::new());
    settle_all(work);
}

/// Settles every node of `work` and those that settling them affects (invariant 8).
fn settle_all(mut work: Vec<Arc<Node>>) {
    while let Some(next) = work.pop() {
        // Garbage of one step is dropped before the next: no lock is held in between.
        settle(&next, &mut work, &mut Garbage::new());
    }
}

/// Node references that settling unlinked under a lock, dropped only once none is held: the
/// last reference to a node may be among them, and dropping a node drops its cause, which may
/// carry a host's payload (invariant 5).
type Garbage = Vec<Arc<Node>>;

/// Brings one unreferenced node to the shape invariants 4 and 7 ask for, pushing onto `work`
/// every other node whose shape this changed (never recursing, invariant 8):
///
/// - no dependents: it detaches from its parents and drops its deadline;
/// - dependents, one parent and no deadline of its own: it is spliced out (its dependents move
///   to the parent);
/// - dependents, no parent and no deadline: nothing can ever cancel it, so its callbacks can
///   never run; they are let go (its children stay until they leave);
/// - otherwise (a deadline, or several parents) it stays as it is.
fn settle(node: &Arc<Node>, work: &mut Vec<Arc<Node>>, garbage: &mut Garbage) {
    loop {
        let mut g = lock(&node.inner);
        if !node.unreferenced() || node.is_cancelled() {
            return;
        }
        if g.dependents.is_empty() {
            let (parents, timer) = (std::mem::take(&mut g.parents), g.timer.take());
            drop(g);
            if let Some(id) = timer {
                timer::cancel(*id);
            }
            parents.for_each(|parent, key| {
                if detach_from(&parent, key, node) {
                    work.push(parent);
                }
            });
            return;
        }
        if g.timer.is_some() {
            return; // its deadline will cancel the subtree: it must stay
        }
        let (parent, key) = match &g.parents {
            Links::One(parent, key) => (parent.clone(), *key),
            Links::Many(_) => return,
            Links::None => {
                // Invariant 4: nothing can cancel this node any more.
                let dependents = std::mem::take(&mut g.dependents);
                let mut unhomed = Vec::new();
                for (key, d) in dependents.into_entries() {
                    match d {
                        Dependent::Callback(cb) => {
                            *lock(&cb.home) = None;
                            unhomed.push(cb);
                        }
                        Dependent::Child(child) => {
                            // Invariant 2: this node, then the child.
                            let unlinked = lock(&child.inner).parents.remove(node, key);
                            if let Some(me) = unlinked {
                                garbage.push(me);
                                if child.unreferenced() && !child.is_cancelled() {
                                    work.push(child.clone()); // it may be dead in turn
                                }
                            }
                            // Else a cancel or a release of the child took its link first,
                            // and finds nothing left here.
                            garbage.push(child);
                        }
                    }
                }
                drop(g);
                for cb in unhomed {
                    // Free the function (and what it captured) now, outside every lock, even if
                    // its `Registration` lives on: it can never run (`stop` still says true).
                    drop(lock(&cb.f).take());
                }
                return; // no dependents, no parents, no deadline: nothing left to detach
            }
        };
        drop(g); // invariant 2: the parent's lock comes first
        match splice(node, &parent, key, garbage) {
            Spliced::Done { settle_parent } => {
                if settle_parent {
                    work.push(parent);
                }
                return;
            }
            Spliced::Left => return,
            Spliced::Changed => {} // look again
        }
    }
}

enum Spliced {
    /// The node's dependents now hang from the parent, and the node from nothing.
    Done { settle_parent: bool },
    /// The parent is being cancelled: its canceller will cancel the node and its dependents.
    Left,
    /// The node changed between the two looks: settle it again.
    Changed,
}

/// Splices `node` (unreferenced, live, no deadline of its own) out from between `parent` and
/// its dependents (invariant 7). Holds the parent's lock, then the node's, then each child's
/// in turn (invariant 2).
fn splice(node: &Arc<Node>, parent: &Arc<Node>, key: u32, garbage: &mut Garbage) -> Spliced {
    let mut p = lock(&parent.inner);
    let mut g = lock(&node.inner);
    let same_parent = matches!(&g.parents, Links::One(q, k) if Arc::ptr_eq(q, parent) && *k == key);
    if !same_parent || node.is_cancelled() || g.dependents.is_empty() || g.timer.is_some() {
        return Spliced::Changed;
    }
    if parent.is_cancelled() {
        // The parent's cancel took its dependents, this node among them, and will cancel it.
        return Spliced::Left;
    }
    let dependents = std::mem::take(&mut g.dependents);
    let old_parent = std::mem::take(&mut g.parents);
    let me = p.dependents.remove(key);
    let mut moved_callbacks = false;
    debug_assert!(matches!(&me, Some(Dependent::Child(c)) if Arc::ptr_eq(c, node)));
    for (old_key, d) in dependents.into_entries() {
        match d {
            Dependent::Child(child) => {
                let new_key = p.dependents.vacant_key();
                let relinked = lock(&child.inner)
                    .parents
                    .relink(node, old_key, parent, new_key);
                match relinked {
                    Some(old) => {
                        let inserted = p.dependents.insert(Dependent::Child(child));
                        debug_assert_eq!(inserted, new_key);
                        garbage.push(old);
                    }
                    // Cancelled or released meanwhile: it already took its link to this node
                    // and will find nothing to detach here.
                    None => garbage.push(child),
                }
            }
            Dependent::Callback(cb) => {
                let new_key = p.dependents.vacant_key();
                *lock(&cb.home) = Some((parent.clone(), new_key));
                let inserted = p.dependents.insert(Dependent::Callback(cb));
                debug_assert_eq!(inserted, new_key);
                moved_callbacks = true;
            }
        }
    }
    // An unreferenced parent that is still here has a deadline or several parents (it stays:
    // nothing to do), or none (invariant 4: moved callbacks must be let go), or has just been
    // left without dependents. Only the last two need it settled again; checking for them
    // keeps a stream of splices into a big parent from rescanning it every time.
    let settle_parent = parent.unreferenced() && (moved_callbacks || p.dependents.is_empty());
    drop(g);
    drop(p);
    if let Some(Dependent::Child(me)) = me {
        garbage.push(me);
    }
    old_parent.for_each(|q, _| garbage.push(q));
    Spliced::Done { settle_parent }
}

/// Arms `node`'s deadline on the timer thread (it fires `cancel` with `DeadlineExceeded`).
pub(crate) fn arm_deadline(node: &Arc<Node>, at: Instant, cause: Option<Error>) {
    let target = node.clone();
    let id = timer::schedule(
        at,
        Box::new(move || {
            cancel(&target, Why::DeadlineExceeded, cause);
        }),
    );
    let mut g = lock(&node.inner);
    if node.is_cancelled() {
        drop(g);
        timer::cancel(id); // cancelled meanwhile: leave nothing scheduled
    } else {
        g.timer = Some(Box::new(id));
    }
}

/// Registers `f` to run when `node` is cancelled (at once if it already is).
pub(crate) fn register(node: &Arc<Node>, f: CallbackFn, inline: bool) -> Arc<Callback> {
    let cb = Arc::new(Callback {
        state: AtomicU8::new(CB_PENDING),
        inline,
        f: Mutex::new(Some(f)),
        home: Mutex::new(None),
    });
    let cause = {
        let mut g = lock(&node.inner);
        match node.why() {
            Some(why) => Some(g.cause.clone().unwrap_or_else(|| why.error())),
            None => {
                let key = g.dependents.insert(Dependent::Callback(cb.clone()));
                *lock(&cb.home) = Some((node.clone(), key));
                None
            }
        }
    };
    if let Some(cause) = cause {
        fire(cb.clone(), cause);
    }
    cb
}

/// Go's `AfterFunc` stop: true iff it prevented the callback from running. Removes the
/// callback from whichever node holds it now (invariant 9).
pub(crate) fn unregister(cb: &Arc<Callback>) -> bool {
    let stopped = cb
        .state
        .compare_exchange(CB_PENDING, CB_STOPPED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    loop {
        let Some((node, key)) = lock(&cb.home).clone() else {
            break; // never registered (born cancelled), already removed, or let go
        };
        let orphaned = {
            let mut g = lock(&node.inner);
            let mut home = lock(&cb.home);
            if !matches!(&*home, Some((n, k)) if Arc::ptr_eq(n, &node) && *k == key) {
                continue; // moved up by a splice before we got the lock: follow it
            }
            let ours =
                matches!(g.dependents.get(key), Some(Dependent::Callback(c)) if Arc::ptr_eq(c, cb));
            if !ours {
                break; // taken by a cancel, which committed it to run (or saw it stopped)
            }
            g.dependents.remove(key);
            *home = None;
            g.dependents.is_empty() && !node.is_cancelled() && node.unreferenced()
        };
        if orphaned {
            release(&node);
        }
        break;
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
        // Its payload is dropped where its `Drop` cannot unwind either.
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(cause))) {
            crate::panic_slot::drop_quietly(payload);
        }
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

    /// Replaces the link to `old` under `old_key` with one to `new` under `new_key` (a splice,
    /// invariant 7); returns the old parent, or `None` if there was no such link (the node has
    /// already taken its links to leave).
    fn relink(
        &mut self,
        old: &Arc<Node>,
        old_key: u32,
        new: &Arc<Node>,
        new_key: u32,
    ) -> Option<Arc<Node>> {
        let (p, k) = match self {
            Links::None => return None,
            Links::One(p, k) => (p, k),
            Links::Many(v) => {
                let link = v
                    .iter_mut()
                    .find(|(p, k)| Arc::ptr_eq(p, old) && *k == old_key)?;
                (&mut link.0, &mut link.1)
            }
        };
        if !Arc::ptr_eq(p, old) || *k != old_key {
            return None;
        }
        *k = new_key;
        Some(std::mem::replace(p, new.clone()))
    }

    /// Removes the link to `parent` under `key`, if there is one; returns that parent.
    fn remove(&mut self, parent: &Arc<Node>, key: u32) -> Option<Arc<Node>> {
        let here = |p: &Arc<Node>, k: u32| Arc::ptr_eq(p, parent) && k == key;
        match std::mem::take(self) {
            Links::One(p, k) if here(&p, k) => Some(p),
            Links::Many(mut v) => {
                let found = v.iter().position(|(p, k)| here(p, *k));
                let removed = found.map(|i| v.swap_remove(i).0);
                *self = match v.len() {
                    0 => Links::None,
                    1 => {
                        let (p, k) = v.pop().expect("one link");
                        Links::One(p, k)
                    }
                    _ => Links::Many(v),
                };
                removed
            }
            other => {
                *self = other;
                None
            }
        }
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

    /// Every value with its key.
    fn into_entries(self) -> impl Iterator<Item = (u32, T)> {
        self.entries
            .into_iter()
            .enumerate()
            .filter_map(|(k, e)| match e {
                Entry::Occupied(v) => Some((k as u32, v)),
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
