//! `fork()` from a busy parent: the child can use the library (a fresh pool, monitor and timer
//! start on first use), and a thread the OS refuses (a thread cap in a child process) is
//! retried, and its task never runs inside `go`.
//!
//! Its own test binary: it forks, and a fork child of a process whose other threads hold locks
//! (the test harness's) must only touch what the test controls. Each child reports through its
//! exit status: 0 is success, anything else names the check that failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use gogroup::{CancelToken, ErrGroup, WaitGroup, pool};

const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `child` in a fork child and returns its exit status (the child never returns).
fn in_fork_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` and then `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        // SAFETY: ends the child at once, running no destructor or atexit hook of the parent's.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child we just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    libc::WEXITSTATUS(status)
}

/// What a child checks: go + wait, an ErrGroup with a limit, a deadline, a raw pool task and a
/// callback on the pool. Returns 0 or the number of the failed check.
fn use_everything() -> i32 {
    let wg = WaitGroup::new();
    let (tx, rx) = mpsc::channel();
    for i in 0..8 {
        let tx = tx.clone();
        wg.go(move || tx.send(i).unwrap());
    }
    if !wg.wait_timeout(PATIENCE) {
        return 1;
    }
    if rx.try_iter().count() != 8 {
        return 2;
    }
    let g = ErrGroup::new();
    if g.set_limit(2).is_err() {
        return 3;
    }
    for _ in 0..16 {
        if g.go(|_| Ok::<(), gogroup::Error>(())).is_err() {
            return 4;
        }
    }
    if g.wait_timeout(PATIENCE).is_err() {
        return 5;
    }
    let deadline = CancelToken::new().with_timeout(Duration::from_millis(5));
    if !deadline.wait_timeout(PATIENCE) {
        return 6;
    }
    let (tx, rx) = mpsc::channel();
    let token = CancelToken::new();
    let _registration = token.on_cancel(move |_| tx.send(()).unwrap());
    token.cancel();
    if rx.recv_timeout(PATIENCE).is_err() {
        return 7;
    }
    let (tx, rx) = mpsc::channel();
    pool::spawn(move || tx.send(()).unwrap());
    if rx.recv_timeout(PATIENCE).is_err() {
        return 8;
    }
    0
}

#[test]
fn a_child_forked_from_a_busy_parent_can_use_the_library() {
    // Busy parent: workers blocked in tasks, work queued behind them, a deadline pending, the
    // monitor and the timer running.
    let release = WaitGroup::new();
    release.add(1).unwrap();
    let busy = WaitGroup::new();
    for _ in 0..16 {
        let release = release.clone();
        busy.go(move || release.wait());
    }
    let pending = CancelToken::new().with_timeout(Duration::from_secs(3600));
    assert_eq!(in_fork_child(use_everything), 0);
    // A second generation: a child of a child.
    assert_eq!(
        in_fork_child(|| match use_everything() {
            0 => in_fork_child(use_everything),
            failed => 10 + failed,
        }),
        0
    );
    // The parent is untouched.
    release.done().unwrap();
    assert!(busy.wait_timeout(PATIENCE));
    assert_eq!(use_everything(), 0);
    assert!(!pending.is_cancelled());
}

#[test]
fn a_refused_thread_is_retried_and_the_task_never_runs_inside_go() {
    let code = in_fork_child(|| {
        // A fresh pool with no worker yet. Make the OS refuse every new thread: a soft
        // RLIMIT_NPROC of 0 (root is exempt from it, so a root child first becomes `nobody`).
        // SAFETY: plain syscalls on our own process and a local struct.
        unsafe {
            if libc::geteuid() == 0 && libc::setuid(65534) != 0 {
                return 20;
            }
        }
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) };
        let saved = limit;
        limit.rlim_cur = 0;
        // SAFETY: lowers our own soft limit; restored below (a soft limit may rise up to the
        // hard one).
        if unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) } != 0 {
            return 20;
        }
        let ran_inline = Arc::new(AtomicBool::new(false));
        let me = std::thread::current().id();
        let wg = WaitGroup::new();
        {
            let ran_inline = ran_inline.clone();
            wg.go(move || ran_inline.store(std::thread::current().id() == me, Ordering::SeqCst));
        }
        let refused = pool::stats().spawn_failures > 0;
        // SAFETY: restores the limit saved above.
        unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &saved) };
        if !refused {
            return 21; // the cap did not bite: the test proves nothing
        }
        if pool::stats().live != 0 || wg.count() != 1 {
            return 22; // the task ran inside go(), or a worker appeared
        }
        // A bounded wait: it must not run the task itself (only unbounded waits run a handoff),
        // so the task completing proves the retry started a worker.
        if !wg.wait_timeout(PATIENCE) {
            return 23;
        }
        if ran_inline.load(Ordering::SeqCst) {
            return 24;
        }
        0
    });
    assert_eq!(code, 0);
}
