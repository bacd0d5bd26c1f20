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
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- latency: release (cancel / last done) -> a blocked C thread running again -------------- */

/* Lets a fresh waiter reach its blocking wait. */
#define SETTLE_NS 1000000L

typedef struct {
    const gogroup_cancel_token *token; /* gogroup: wait on this token */
    const gogroup_wait_group *wg;      /* or on this WaitGroup */
    pthread_mutex_t *mu;               /* the peer: a flag under a mutex and a condvar */
    pthread_cond_t *cond;
    int *flag;
    uint64_t woke;
} waiter_arg;

static void *waiter(void *p) {
    waiter_arg *a = p;
    if (a->token != NULL) {
        must(gogroup_cancel_token_wait(a->token), "token wait");
    } else if (a->wg != NULL) {
        must(gogroup_wait_group_wait(a->wg), "wg wait");
    } else {
        pthread_mutex_lock(a->mu);
        while (!*a->flag) {
            pthread_cond_wait(a->cond, a->mu);
        }
        pthread_mutex_unlock(a->mu);
    }
    a->woke = gogroup_now_ns();
    return NULL;
}

static void settle(void) {
    struct timespec ts = {0, SETTLE_NS};
    nanosleep(&ts, NULL);
}

static uint64_t run_sample(waiter_arg *a, int which) {
    pthread_t th;
    if (pthread_create(&th, NULL, waiter, a) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
    }
    settle();
    uint64_t t0 = gogroup_now_ns();
    if (which == 0) {
        must(gogroup_cancel_token_cancel(a->token), "cancel");
    } else if (which == 1) {
        must(gogroup_wait_group_done(a->wg), "done");
    } else {
        pthread_mutex_lock(a->mu);
        *a->flag = 1;
        pthread_cond_broadcast(a->cond);
        pthread_mutex_unlock(a->mu);
    }
    pthread_join(th, NULL);
    return a->woke - t0;
}

static uint64_t lat_cancel_gogroup(void) {
    gogroup_cancel_token *t = NULL;
    must(gogroup_cancel_token_new(&t), "new");
    waiter_arg a = {.token = t};
    uint64_t ns = run_sample(&a, 0);
    gogroup_cancel_token_free(t);
    return ns;
}

static uint64_t lat_done_gogroup(void) {
    gogroup_wait_group *wg = NULL;
    must(gogroup_wait_group_new(&wg), "new");
    must(gogroup_wait_group_add(wg, 1), "add");
    waiter_arg a = {.wg = wg};
    uint64_t ns = run_sample(&a, 1);
    gogroup_wait_group_free(wg);
    return ns;
}

static uint64_t lat_condvar(void) {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int flag = 0;
    waiter_arg a = {.mu = &mu, .cond = &cond, .flag = &flag};
    return run_sample(&a, 2);
}

static const struct {
    const char *name;
    const char *impl;
    uint64_t (*sample)(void);
} latency_cases[] = {
    {"latency_cancel_thread", "gogroup-c", lat_cancel_gogroup},
    {"latency_cancel_thread", "pthread_cond", lat_condvar},
    {"latency_done_thread", "gogroup-c", lat_done_gogroup},
};

#define N_LATENCY (sizeof latency_cases / sizeof latency_cases[0])

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static uint64_t nearest_rank(const uint64_t *sorted, size_t n, double p) {
    size_t i = (size_t)(p * (double)n + 0.999999);
    i = i < 1 ? 1 : i > n ? n : i;
    return sorted[i - 1];
}

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
    long samples = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atol(argv[++i]);
        } else if (strcmp(argv[i], "--round-start") == 0 && i + 1 < argc) {
            round_start = atol(argv[++i]);
        } else if (strcmp(argv[i], "--target-ms") == 0 && i + 1 < argc) {
            target = atof(argv[++i]) / 1000.0;
        } else if (strcmp(argv[i], "--latency-samples") == 0 && i + 1 < argc) {
            samples = atol(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: %s [--filter SUBSTR[,SUBSTR...]] [--rounds N] "
                    "[--round-start K] [--target-ms MS] [--latency-samples N]\n",
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
        /* Latency: the cases interleaved sample by sample. */
        uint64_t *got = calloc(N_LATENCY * (size_t)(samples > 0 ? samples : 1), sizeof *got);
        if (got == NULL) {
            return 1;
        }
        for (long k = 0; k < samples; k++) {
            for (size_t c = 0; c < N_LATENCY; c++) {
                if (selected(latency_cases[c].name, filter)) {
                    got[c * (size_t)samples + (size_t)k] = latency_cases[c].sample();
                }
            }
        }
        for (size_t c = 0; c < N_LATENCY && samples > 0; c++) {
            if (!selected(latency_cases[c].name, filter)) {
                continue;
            }
            uint64_t *s = got + c * (size_t)samples;
            qsort(s, (size_t)samples, sizeof *s, cmp_u64);
            printf("{\"lang\":\"c\",\"impl\":\"%s\",\"kind\":\"latency\",\"workload\":\"%s\","
                   "\"p50_ns\":%llu,\"p99_ns\":%llu,\"samples\":%ld,\"round\":%ld}\n",
                   latency_cases[c].impl, latency_cases[c].name,
                   (unsigned long long)nearest_rank(s, (size_t)samples, 0.50),
                   (unsigned long long)nearest_rank(s, (size_t)samples, 0.99), samples,
                   round_start + r);
            fflush(stdout);
        }
        free(got);
    }
    return 0;
}
