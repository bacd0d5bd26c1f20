/*
 * gogroup.h: the C API of gogroup, Go's sync.WaitGroup, errgroup.Group and context
 * cancellation, written once in Rust (https://example.invalid/gogroup).
 *
 * Link: cc app.c $(pkg-config --cflags --libs gogroup)
 *
 * API CONVENTIONS (they hold for every function below)
 *
 * Names     gogroup_<type>_<verb>. Types: gogroup_wait_group, gogroup_cancel_token,
 *           gogroup_err_group, gogroup_registration; all are opaque handles.
 * Results   Every fallible function returns gogroup_result. GOGROUP_RESULT_OK (0) is success.
 *           Codes 1..8 equal gogroup's core ErrorKind codes (NEGATIVE_COUNTER, CANCELED,
 *           DEADLINE_EXCEEDED, TIMEOUT, LIMIT_IN_USE, PANIC, INVALID_ARGUMENT, CUSTOM); 256 and
 *           up are the C API's own (NULL_ARGUMENT, INVALID_HANDLE, OS).
 *           gogroup_result_name() gives the name of any code.
 * Outputs   Results go through trailing out-pointers (`*_out`), written only on success
 *           (the exceptions say so: the error details of a wait are written when it reports
 *           an error). A few out-pointers are documented as optional: NULL means "not wanted".
 * Ownership A function that writes a handle to `*_out` gives the caller one reference: release
 *           it with the type's _free. Handles are reference-counted: _clone gives another
 *           reference to the same object; the object lives until its last handle is freed (and,
 *           for groups, its last task finished). _free(NULL) is a no-op. `const` handle
 *           parameters are borrowed for the call only.
 * NULL      A NULL required argument returns GOGROUP_RESULT_NULL_ARGUMENT and does nothing.
 * Handles   Every handle starts with a header (magic, ABI version, function table). A handle of
 *           the wrong type, a freed handle (until its memory is reused, which gogroup delays by
 *           256 frees of the same type), or a pointer to other readable memory returns
 *           GOGROUP_RESULT_INVALID_HANDLE. A dangling pointer into unmapped memory, or a handle
 *           freed while another thread uses it, cannot be detected: those remain undefined
 *           behaviour. Double free is ignored while detected, but is a bug.
 * Copies    A handle made by ANY copy of gogroup in the process (libgogroup.so, the Python
 *           extension, the Node addon, a static copy) works with the functions of any other
 *           copy with the same GOGROUP_ABI_VERSION: calls are forwarded to the copy that made it.
 * Panics    No Rust panic ever unwinds into C: a panic inside gogroup returns
 *           GOGROUP_RESULT_PANIC (true for gogroup_cancel_token_is_cancelled) and the process
 *           goes on.
 * Threads   Every function may be called from any thread, concurrently, unless its comment
 *           says otherwise; the _free of a handle must not race with other uses of that handle.
 * Pool      Tasks run on gogroup's worker threads: up to one per CPU at once, more while tasks
 *           block (a task waiting inside gogroup hands its CPU over at once; one that sleeps or
 *           does I/O is noticed within about a millisecond), at most 10,000. Idle threads exit
 *           after 5 s. A thread the OS refuses is retried; a task never runs inside _go.
 * fork      After fork(), the child may use gogroup: its pool and timer are rebuilt on first
 *           use. Tasks queued or running in the parent at the fork run only in the parent (a
 *           group that counted them never reaches zero in the child), and deadlines armed in
 *           the parent fire only in the parent.
 * Callbacks Tasks and callbacks run on gogroup's pool threads (inline callbacks: on the
 *           cancelling thread) with no gogroup lock held, so they may call any gogroup function,
 *           including cancelling the token they were registered on.
 * arg       A callback's `void *arg` comes with an optional destructor `arg_free` (NULL: none),
 *           called exactly once when gogroup no longer needs arg: after the callback ran, or
 *           when it never will (stopped, refused, token released), or at once when the call
 *           that was given arg fails. arg must be usable from another thread.
 * Time      Durations are milliseconds (uint64_t; huge values mean "no limit"). Deadlines are
 *           nanoseconds on CLOCK_MONOTONIC (gogroup_now_ns()).
 */
