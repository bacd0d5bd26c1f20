/* The C side of gogroup's benchmarks: the same workloads and harness as bench/src/main.rs, run
 * through the C API (libgogroup.so), printing one JSON line per result:
 *
 *   {"lang":"c","impl":"gogroup-c","workload":"wg_add_done_1t","ns_per_op":12.3,"ops":1000000,"round":0}
 *
 * Harness (as the Rust one): warm up while sizing the iteration count so that one measurement
 * takes about --target-ms (150 ms), then measure once (again if that run was much shorter).
 *
 * Usage: bench [--filter SUBSTR[,SUBSTR...]] [--rounds N] [--round-start K] [--target-ms MS]
 * Built and run by `make bench-c` (C_BENCH_ARGS='--filter ...'). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gogroup.h"

/* N of the go+wait shapes: spawn N no-op tasks, then wait once. */
#define TASKS_PER_BATCH 10000u

typedef uint64_t (*run_fn)(uint64_t n);

static volatile int64_t sink;

static void must(gogroup_result rc, const char *what) {
    if (rc != GOGROUP_RESULT_OK) {
        fprintf(stderr, "%s: %s\n", what, gogroup_result_name((uint32_t)rc));
        exit(1);
    }
}

static uint64_t batches(uint64_t n) {
    return (n + TASKS_PER_BATCH - 1) / TASKS_PER_BATCH;
}

/* ---- workloads ------------------------------------------------------------------------------ */

static uint64_t wg_add_done_1t(uint64_t n) {
    gogroup_wait_group *wg = NULL;
    must(gogroup_wait_group_new(&wg), "new");
    for (uint64_t i = 0; i < n; i++) {
        must(gogroup_wait_group_add(wg, 1), "add");
        must(gogroup_wait_group_done(wg), "done");
    }
    gogroup_wait_group_free(wg);
    return n;
}

static uint64_t wg_add_done_wait_1t(uint64_t n) {
    gogroup_wait_group *wg = NULL;
    must(gogroup_wait_group_new(&wg), "new");
    for (uint64_t i = 0; i < n; i++) {
        must(gogroup_wait_group_add(wg, 1), "add");
        must(gogroup_wait_group_done(wg), "done");
        must(gogroup_wait_group_wait(wg), "wait");
    }
    gogroup_wait_group_free(wg);
    return n;
}

static void noop(void *arg) {
    (void)arg;
}

static uint64_t go_wait_noop(uint64_t n) {
    uint64_t b = batches(n);
    for (uint64_t i = 0; i < b; i++) {
        gogroup_wait_group *wg = NULL;
        must(gogroup_wait_group_new(&wg), "new");
        for (unsigned j = 0; j < TASKS_PER_BATCH; j++) {
            must(gogroup_wait_group_go(wg, noop, NULL, NULL), "go");
        }
        must(gogroup_wait_group_wait(wg), "wait");
        gogroup_wait_group_free(wg);
    }
    return b * TASKS_PER_BATCH;
}

static int ok_task(void *arg, const gogroup_cancel_token *t, char *m, size_t cap) {
    (void)arg;
    (void)t;
    (void)m;
    (void)cap;
    return 0;
}

static uint64_t errgroup_go_wait(uint64_t n) {
    uint64_t b = batches(n);
    for (uint64_t i = 0; i < b; i++) {
        gogroup_err_group *g = NULL;
        must(gogroup_err_group_new(&g), "new");
        for (unsigned j = 0; j < TASKS_PER_BATCH; j++) {
            must(gogroup_err_group_go(g, ok_task, NULL, NULL), "go");
        }
        must(gogroup_err_group_wait(g, NULL, NULL, 0, NULL), "wait");
        gogroup_err_group_free(g);
    }
    return b * TASKS_PER_BATCH;
}

static uint64_t token_new_cancel(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        gogroup_cancel_token *t = NULL;
        must(gogroup_cancel_token_new(&t), "new");
        must(gogroup_cancel_token_cancel(t), "cancel");
        gogroup_cancel_token_free(t);
    }
    return n;
}

/* `token` is re-read through a volatile pointer each time, as black_box(&t) in the Rust bench.
 * One function per way of asking (as the Rust bench monomorphizes one loop per closure), so the
 * inline loop's code is not shaped by the call loop's. */
__attribute__((noinline)) static int64_t count_cancelled_inline(const gogroup_cancel_token *token,
                                                                uint64_t n) {
    const gogroup_cancel_token *volatile t = token;
    int64_t c = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (gogroup_cancel_token_is_cancelled_inline(t)) {
            c++;
        }
    }
    return c;
}

__attribute__((noinline)) static int64_t count_cancelled_call(const gogroup_cancel_token *token,
                                                              uint64_t n) {
    const gogroup_cancel_token *volatile t = token;
    int64_t c = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (gogroup_cancel_token_is_cancelled(t)) {
            c++;
        }
    }
    return c;
}

static uint64_t is_cancelled(uint64_t n, int cancel, int inlined) {
    gogroup_cancel_token *t = NULL;
    must(gogroup_cancel_token_new(&t), "new");
    if (cancel) {
        must(gogroup_cancel_token_cancel(t), "cancel");
    }
    sink += inlined ? count_cancelled_inline(t, n) : count_cancelled_call(t, n);
    gogroup_cancel_token_free(t);
    return n;
}

static uint64_t token_is_cancelled_live(uint64_t n) {
    return is_cancelled(n, 0, 1);
}
static uint64_t token_is_cancelled_done(uint64_t n) {
    return is_cancelled(n, 1, 1);
}
static uint64_t token_is_cancelled_live_call(uint64_t n) {
    return is_cancelled(n, 0, 0);
}
static uint64_t token_is_cancelled_done_call(uint64_t n) {
    return is_cancelled(n, 1, 0);
}

/* impl "gogroup-c" is the API a C programmer uses for that workload (for is_cancelled: the
 * header's inline function); "gogroup-c-call" is the exported function called through the
 * shared library, for comparison. */
static const struct {
    const char *name;
    const char *impl;
    run_fn run;
} workloads[] = {
    {"wg_add_done_1t", "gogroup-c", wg_add_done_1t},
    {"wg_add_done_wait_1t", "gogroup-c", wg_add_done_wait_1t},
    {"go_wait_noop", "gogroup-c", go_wait_noop},
    {"errgroup_go_wait", "gogroup-c", errgroup_go_wait},
    {"token_new_cancel", "gogroup-c", token_new_cancel},
    {"token_is_cancelled_live", "gogroup-c", token_is_cancelled_live},
    {"token_is_cancelled_live", "gogroup-c-call", token_is_cancelled_live_call},
    {"token_is_cancelled_done", "gogroup-c", token_is_cancelled_done},
    {"token_is_cancelled_done", "gogroup-c-call", token_is_cancelled_done_call},
};

/* ---- harness (bench/src/main.rs: calibrate, then measure) ----------------------------------- */

static double time_it(run_fn run, uint64_t n, uint64_t *ops) {
    uint64_t start = gogroup_now_ns();
    *ops = run(n);
    return (double)(gogroup_now_ns() - start) / 1e9;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t calibrate(run_fn run, double target, uint64_t max_n) {
    uint64_t n = 1;
    for (;;) {
        uint64_t ops;
        double d = time_it(run, n, &ops);
        n = n > ops ? n : ops;
        d = d > 1e-9 ? d : 1e-9;
        if (d >= target / 4.0 || n >= max_n) {
            return clamp_u64((uint64_t)((double)n * target / d), 1, max_n);
        }
        uint64_t grow = (uint64_t)(1.5 * (double)n * target / d);
        uint64_t next = n * 100 < grow ? n * 100 : grow;
        n = clamp_u64(next, n + 1, max_n);
    }
}

static double measure(run_fn run, double target, uint64_t max_n, uint64_t *ops) {
    uint64_t n = calibrate(run, target, max_n);
    for (int attempt = 1;; attempt++) {
        double d = time_it(run, n, ops);
        if (d >= target / 2.0 || *ops >= max_n || attempt >= 6) {
            return d;
        }
        d = d > 1e-9 ? d : 1e-9;
        uint64_t next = (uint64_t)((double)*ops * target / d);
        uint64_t hi = *ops * 100 < max_n ? *ops * 100 : max_n;
        n = clamp_u64(next, *ops + 1, hi);
    }
}

static int selected(const char *name, const char *filter) {
    if (filter == NULL || *filter == '\0') {
        return 1;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f != NULL;
         f = strtok_r(NULL, ",", &save)) {
        if (strstr(name, f) != NULL) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    long rounds = 1;
    long round_start = 0;
    double target = 0.150;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atol(argv[++i]);
        } else if (strcmp(argv[i], "--round-start") == 0 && i + 1 < argc) {
            round_start = atol(argv[++i]);
        } else if (strcmp(argv[i], "--target-ms") == 0 && i + 1 < argc) {
            target = atof(argv[++i]) / 1000.0;
        } else {
            fprintf(stderr,
                    "usage: %s [--filter SUBSTR[,SUBSTR...]] [--rounds N] "
                    "[--round-start K] [--target-ms MS]\n",
                    argv[0]);
            return 2;
        }
    }
    for (long r = 0; r < rounds; r++) {
        for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
            if (!selected(workloads[w].name, filter)) {
                continue;
            }
            uint64_t ops = 0;
            double d = measure(workloads[w].run, target, (uint64_t)1 << 40, &ops);
            printf("{\"lang\":\"c\",\"impl\":\"%s\",\"workload\":\"%s\",\"ns_per_op\":%.3f,"
                   "\"ops\":%llu,\"round\":%ld}\n",
                   workloads[w].impl, workloads[w].name, d * 1e9 / (double)ops,
                   (unsigned long long)ops, round_start + r);
            fflush(stdout);
        }
    }
    return 0;
}
