//! CPU-bound tasks never grow the pool beyond what keeps the cores busy: a task that computes
//! for a long time is on the CPU, not blocked. Its own test binary, so that the pool's peak
//! counts only these tasks.

use std::time::Duration;

use gogroup::{WaitGroup, pool};

#[test]
fn sixty_four_cpu_bound_tasks_start_only_a_handful_of_threads() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let wg = WaitGroup::new();
    for _ in 0..64 {
        wg.go(|| {
            // Enough arithmetic to run for many of the monitor's ticks, even on a fast core.
            let mut x = 0u64;
            for i in 0..4_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            std::hint::black_box(x);
        });
    }
    assert!(wg.wait_timeout(Duration::from_secs(300)));
    let peak = pool::stats().peak;
    assert!(
        peak <= cpus + 4,
        "{peak} workers for CPU-bound tasks on {cpus} CPUs"
    );
}
