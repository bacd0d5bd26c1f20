/* Shared helpers of the C tests: checks, a result printer, and synchronisation primitives.
 *
 * Tests synchronise on events (mutex + condition variable gates, pthread barriers, gogroup's
 * own waits), never on sleeps. Every blocking wait in a test has a generous upper bound that
 * only turns a hang (a lost wake-up) into a failure. */
#ifndef GOGROUP_TEST_COMMON_H
#define GOGROUP_TEST_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gogroup.h"

/* Upper bound for any wait that should finish promptly: a hang here means a lost wake-up. */
#define HANG_MS 30000u

static inline void print_result(const char *prefix, gogroup_result rc) {
#ifdef GOGROUP_TEST_DLOPEN /* not linked against gogroup: no gogroup_result_name */
    fprintf(stderr, "%s: result %u\n", prefix, (unsigned)rc);
#else
    fprintf(stderr, "%s: %s (%u)\n", prefix, gogroup_result_name((uint32_t)rc), (unsigned)rc);
#endif
}

/* Fails the current test (jumps to its `cleanup:` label) unless `cond` holds. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

/* Fails the current test unless `expr` returns `want`. */
#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        gogroup_result rc_ = (expr);                                                               \
        if (rc_ != (want)) {                                                                       \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #expr);                             \
            print_result("  got", rc_);                                                            \
            print_result("  want", (want));                                                        \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_RC((expr), GOGROUP_RESULT_OK)

typedef int (*test_fn)(void);

struct test_case {
    const char *name;
    test_fn fn;
};

#define TEST(name) {#name, name}

/* Runs every test; returns the process exit code. */
static inline int run_tests(const char *file, const struct test_case *tests, size_t n) {
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = tests[i].fn();
        fprintf(stderr, "%s %s: %s\n", ok ? "ok  " : "FAIL", file, tests[i].name);
        if (!ok) {
            failed++;
        }
    }
    fprintf(stderr, "%s: %zu passed, %d failed\n", file, n - (size_t)failed, failed);
    return failed ? 1 : 0;
}

/* The test scale: GOGROUP_TEST_SCALE=valgrind (set by `make test-c` for its valgrind run)
 * divides the iteration counts of the stress tests (by 10, see test_stress.c), because
 * valgrind runs one thread at a time and about 50x slower. */
static inline bool under_valgrind(void) {
    const char *s = getenv("GOGROUP_TEST_SCALE");
    return s != NULL && strcmp(s, "valgrind") == 0;
}

/* An absolute CLOCK_REALTIME time `ms` from now, for pthread_cond_timedwait. */
static inline struct timespec deadline_in(unsigned ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000u;
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* A counting gate: `gate_post` adds permits, `gate_take` takes one (bounded by HANG_MS). */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long permits;
};

static inline void gate_init(struct gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->permits = 0;
}

static inline void gate_destroy(struct gate *g) {
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static inline void gate_post(struct gate *g, long n) {
    pthread_mutex_lock(&g->mu);
    g->permits += n;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Takes one permit; false if none came within HANG_MS. */
static inline bool gate_take(struct gate *g) {
    struct timespec until = deadline_in(HANG_MS);
    bool ok = true;
    pthread_mutex_lock(&g->mu);
    while (g->permits == 0) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) {
            ok = false;
            break;
        }
    }
    if (ok) {
        g->permits--;
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

/* Waits until `*counter` reaches `want` (a gate whose permits are a counter). */
static inline bool gate_wait_for(struct gate *g, long want) {
    struct timespec until = deadline_in(HANG_MS);
    bool ok = true;
    pthread_mutex_lock(&g->mu);
    while (g->permits < want) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) {
            ok = false;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static inline long gate_permits(struct gate *g) {
    pthread_mutex_lock(&g->mu);
    long n = g->permits;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* Counts the calls of `count_free`, an arg_free, to prove "exactly once"; tests wait for a
 * count with `frees_wait_for` (a destructor may run on another thread just after a callback). */
static struct gate frees = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static inline void count_free(void *arg) {
    (void)arg;
    gate_post(&frees, 1);
}

static inline void frees_reset(void) {
    pthread_mutex_lock(&frees.mu);
    frees.permits = 0;
    pthread_mutex_unlock(&frees.mu);
}

static inline long frees_count(void) {
    return gate_permits(&frees);
}

/* True once `n` frees happened (bounded by HANG_MS). */
static inline bool frees_wait_for(long n) {
    return gate_wait_for(&frees, n);
}

#endif
