//! One clock and one thread for every deadline in the process.
//!
//! `with_timeout`/`with_deadline` tokens schedule a closure
//! at an [`Instant`] (the monotonic clock, the same for every runtime). One thread, started on
//! first use and gone after an idle period, sleeps until the earliest entry is due: 100,000
//! pending deadlines are 100,000 map entries, not 100,000 threads.
//!
//! # Invariants
//! 1. Entries are keyed by `(instant, sequence)`, so removal is `O(log n)` and a cancelled
//!    token leaves nothing behind: its entry (and the `Arc` it holds) is dropped at once.
//! 2. Due closures run on the timer thread with the timer's lock released; they must be short
//!    (cancelling a token is: user callbacks go to the pool).
//!
//! 3. The timer is per process (see [`crate::runtime`]): a fork child starts with an empty
//!    timer of its own; deadlines armed in the parent fire only in the parent.
//!
//! Uses `std` primitives even under loom: deadlines are outside loom's model.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

use crate::runtime::{self, PerProcess};

/// Identifies a scheduled entry (for [`cancel`]): its instant and a sequence number.
pub(crate) type TimerId = (Instant, u64);

type Entry = Box<dyn FnOnce() + Send>;

struct Timer {
    state: Mutex<State>,
    cv: Condvar,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<TimerId, Entry>,
    seq: u64,
    thread_running: bool,
}

static TIMER: PerProcess<Timer> = PerProcess::new();

fn timer() -> &'static Timer {
    TIMER.get(|| Timer {
        state: Mutex::new(State::default()),
        cv: Condvar::new(),
    })
}

/// Runs `f` on the timer thread at (or soon after) `at`.
pub(crate) fn schedule(at: Instant, f: Entry) -> TimerId {
    let t = timer();
    let mut st = t.state.lock().unwrap_or_else(PoisonError::into_inner);
    st.seq += 1;
    let id = (at, st.seq);
    let earliest = st.entries.first_key_value().is_none_or(|(k, _)| id < *k);
    st.entries.insert(id, f);
    if !st.thread_running {
        let spawned = std::thread::Builder::new()
            .name("gogroup-timer".into())
            .spawn(move || run(t))
            .is_ok();
        // If the OS refuses a thread, entries wait for the next schedule call to try again.
        st.thread_running = spawned;
    } else if earliest {
        t.cv.notify_one();
    }
    id
}

/// Removes a pending entry; true if it had not run yet.
pub(crate) fn cancel(id: TimerId) -> bool {
    let t = timer();
    let removed = {
        let mut st = t.state.lock().unwrap_or_else(PoisonError::into_inner);
        let was_first = st.entries.first_key_value().is_some_and(|(k, _)| *k == id);
        let removed = st.entries.remove(&id);
        if was_first {
            // The thread sleeps until this entry's instant: let it re-plan (or retire).
            t.cv.notify_one();
        }
        removed
    };
    // Drop the closure (and whatever it holds) outside the lock.
    removed.is_some()
}

/// Pending entries (diagnostics).
pub(crate) fn pending() -> usize {
    if !TIMER.exists() {
        return 0;
    }
    timer()
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entries
        .len()
}

/// Whether the timer thread is alive (diagnostics).
pub(crate) fn thread_running() -> bool {
    if !TIMER.exists() {
        return false;
    }
    timer()
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .thread_running
}

fn run(t: &'static Timer) {
    let mut st = t.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        match st.entries.first_key_value().map(|(k, _)| *k) {
            Some(due) if due.0 <= now => {
                let f = st.entries.remove(&due);
                drop(st);
                if let Some(f) = f {
                    // A panicking entry must not kill the one timer thread.
                    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    {
                        crate::panic_slot::drop_quietly(payload);
                    }
                }
                st = t.state.lock().unwrap_or_else(PoisonError::into_inner);
            }
            Some(due) => {
                st =
                    t.cv.wait_timeout(st, due.0 - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
            }
            None => {
                let (guard, res) =
                    t.cv.wait_timeout(st, runtime::idle_timeout())
                        .unwrap_or_else(PoisonError::into_inner);
                st = guard;
                if res.timed_out() && st.entries.is_empty() {
                    st.thread_running = false;
                    return;
                }
            }
        }
    }
}
