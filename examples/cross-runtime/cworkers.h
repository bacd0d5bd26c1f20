/* cworkers: a small C library of pthread workers that take their cancellation token and their
 * wait groups as gogroup C handles — handles that any copy of gogroup in the process may have
 * made: libgogroup.so itself, the Python extension (`CancelToken.c_handle()`), the Node addon
 * (`token.cHandle()`). The library links against libgogroup.so only; it never knows which copy
 * made a handle (see ffi-c/README.md, "Handles across copies").
 *
 * The cross-runtime demos load it from Python (ctypes, python_to_c.py) and from Node (through
 * the small N-API addon node_addon.c, node_to_c.mjs); test_cworkers.c drives it from C alone,
 * under valgrind. */
#ifndef CWORKERS_H
#define CWORKERS_H

#include <stdint.h>

#include <gogroup.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a worker does until it stops. */
typedef enum {
    /* CPU work in small units, checking the token between units with
     * gogroup_cancel_token_is_cancelled_inline; stops after `quota` units (0: no quota, only
     * the token stops it). */
    CWORKERS_SPIN = 0,
    /* Blocks in poll() on the token's file descriptor (gogroup_cancel_token_fd), as a thread
     * waiting on a socket would, until the token is cancelled; `quota` is ignored. */
    CWORKERS_POLL = 1,
    /* Does `quota` units of CPU work, then cancels the token itself with
     * gogroup_cancel_token_cancel_with(token, CWORKERS_CANCEL_CODE, CWORKERS_CANCEL_MESSAGE):
     * a C thread cancelling a token that another runtime made. */
    CWORKERS_CANCEL_AFTER = 2,
} cworkers_mode;

#define CWORKERS_CANCEL_CODE 42
#define CWORKERS_CANCEL_MESSAGE "cworkers: quota reached, cancelling from C"
#define CWORKERS_CAUSE_CAP 96

/* What one worker did, filled in before it calls gogroup_wait_group_done(finished). */
typedef struct {
    /* Units of CPU work completed. */
    uint64_t units;
    /* GOGROUP_RESULT_OK: stopped at its quota, the token still live; else the kind of the
     * token's cause it observed (CANCELED, CUSTOM…); GOGROUP_RESULT_TIMEOUT: a POLL worker gave
     * up waiting (a hang guard: never in the demos). */
    int32_t cause_kind;
    /* Its cworkers_mode. */
    int32_t mode;
    /* The cause's application code (CUSTOM). */
    int64_t cause_code;
    /* gogroup_now_ns() (CLOCK_MONOTONIC) when it saw the cancellation. */
    uint64_t observed_ns;
    /* The first failed gogroup call of the worker (its done()s, the token's fd), else
     * GOGROUP_RESULT_OK; complete once joined. */
    int32_t done_result;
    int32_t reserved;
    /* The cause's message, truncated, NUL-terminated. */
    char cause[CWORKERS_CAUSE_CAP];
} cworkers_report;

typedef struct cworkers cworkers;

/* Starts `n` pthreads in `mode`. Each one:
 *   1. takes its own clone of `token` (gogroup_cancel_token_clone; freed when it stops);
 *   2. calls gogroup_wait_group_done(started) once it is working (after its first unit, or once
 *      its poll() is set up; at once if the token is already cancelled); `started` may be NULL;
 *   3. works until the token is cancelled (or its quota is done), fills its report, frees its
 *      token clone, then calls gogroup_wait_group_done(finished).
 * As with Go's wg.Add before `go`, the CALLER adds `n` to `started` and `finished` first.
 * The pool keeps its own clones of the wait group handles: the caller's handles may be freed
 * as soon as this returns. The threads block every signal (Ctrl-C stays with the runtime that
 * owns the process). `poll_limit_ms` bounds a POLL worker's wait (a hang guard, never a
 * synchronisation; 0: no bound).
 *
 * Returns GOGROUP_RESULT_OK with the pool in `*out`, or an error code: a gogroup result of a
 * clone, or GOGROUP_RESULT_OS if pthread_create failed. On GOGROUP_RESULT_OS, `*out` still
 * holds the threads that did start (release them with cworkers_join) and the ones that did not
 * were taken off both wait groups. On any other error nothing was started and `*out` is NULL. */
int32_t cworkers_start(const gogroup_cancel_token *token, const gogroup_wait_group *started,
                       const gogroup_wait_group *finished, uint32_t n, int32_t mode, uint64_t quota,
                       uint64_t poll_limit_ms, cworkers **out);

/* How many threads the pool started. */
uint32_t cworkers_count(const cworkers *pool);

/* Joins every thread (it returns as soon as they have all stopped: call it after `finished`
 * reached zero), copies up to `cap` reports into `reports` (may be NULL with `cap` 0), frees
 * the pool and its handles. Returns how many threads there were. */
uint32_t cworkers_join(cworkers *pool, cworkers_report *reports, uint32_t cap);

#ifdef __cplusplus
}
#endif

#endif /* CWORKERS_H */
