/* cworkers: pthread workers driven by gogroup handles from any copy of gogroup (cworkers.h). */
#include "cworkers.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker {
    pthread_t thread;
    struct cworkers *pool;
    gogroup_cancel_token *token; /* this worker's own clone; freed by the worker */
    uint64_t checksum;           /* the result of its CPU work (kept so it is not optimised out) */
    cworkers_report report;
};

struct cworkers {
    uint32_t n;
    int32_t mode;
    uint64_t quota;
    uint64_t poll_limit_ms;
    gogroup_wait_group *started; /* the pool's clones (started may be NULL) */
    gogroup_wait_group *finished;
    struct worker workers[];
};

/* One unit of CPU work: a few thousand steps of a 64-bit LCG (tens of microseconds). */
static uint64_t work_unit(uint64_t x) {
    for (int i = 0; i < 4096; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
    }
    return x;
}

static void note(cworkers_report *r, gogroup_result rc) {
    if (rc != GOGROUP_RESULT_OK && r->done_result == GOGROUP_RESULT_OK) {
        r->done_result = (int32_t)rc;
    }
}

static void mark_started(struct worker *w, int *started) {
    if (!*started) {
        *started = 1;
        if (w->pool->started != NULL) {
            note(&w->report, gogroup_wait_group_done(w->pool->started));
        }
    }
}

static void spin(struct worker *w, int *started, uint64_t quota) {
    do {
        w->checksum = work_unit(w->checksum);
        w->report.units++;
        mark_started(w, started);
        if (quota != 0 && w->report.units >= quota) {
            return;
        }
    } while (!gogroup_cancel_token_is_cancelled_inline(w->token));
}

static void wait_on_fd(struct worker *w, int *started) {
    int fd = -1;
    gogroup_result rc = gogroup_cancel_token_fd(w->token, &fd);
    mark_started(w, started);
    if (rc != GOGROUP_RESULT_OK) {
        note(&w->report, rc);
        return;
    }
    uint64_t limit = w->pool->poll_limit_ms;
    uint64_t deadline = gogroup_now_ns() + limit * 1000000u;
    for (;;) {
        int timeout = -1;
        if (limit != 0) {
            uint64_t now = gogroup_now_ns();
            if (now >= deadline) {
                return; /* a hang guard only: the report says the token was live */
            }
            uint64_t left_ms = (deadline - now) / 1000000u + 1u;
            timeout = left_ms > 60000u ? 60000 : (int)left_ms;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int got = poll(&p, 1, timeout);
        if (got > 0) {
            return; /* readable: cancelled (the fd stays readable; never read it) */
        }
        if (got < 0 && errno != EINTR) {
            note(&w->report, GOGROUP_RESULT_OS);
            return;
        }
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct cworkers *pool = w->pool;
    int started = 0;
    w->checksum = (uint64_t)(uintptr_t)w;
    if (!gogroup_cancel_token_is_cancelled(w->token)) {
        switch ((cworkers_mode)pool->mode) {
        case CWORKERS_SPIN:
            spin(w, &started, pool->quota);
            break;
        case CWORKERS_POLL:
            wait_on_fd(w, &started);
            break;
        case CWORKERS_CANCEL_AFTER:
            spin(w, &started, pool->quota == 0 ? 1 : pool->quota);
            /* The first cancellation wins: if another one came first, this is a no-op. */
            note(&w->report, gogroup_cancel_token_cancel_with(w->token, CWORKERS_CANCEL_CODE,
                                                              CWORKERS_CANCEL_MESSAGE));
            break;
        }
    }
    mark_started(w, &started);

    if (gogroup_cancel_token_is_cancelled(w->token)) {
        w->report.observed_ns = gogroup_now_ns();
        gogroup_result kind = GOGROUP_RESULT_OK;
        int64_t code = 0;
        note(&w->report, gogroup_cancel_token_cause(w->token, &kind, &code, w->report.cause,
                                                    sizeof w->report.cause, NULL));
        w->report.cause_kind = (int32_t)kind;
        w->report.cause_code = code;
    } else if ((cworkers_mode)pool->mode == CWORKERS_POLL) {
        w->report.cause_kind = GOGROUP_RESULT_TIMEOUT;
    }
    /* Release everything of this thread before saying it is finished. */
    gogroup_cancel_token_free(w->token);
    w->token = NULL;
    note(&w->report, gogroup_wait_group_done(pool->finished));
    return NULL;
}

static void release_handles(struct cworkers *pool) {
    gogroup_wait_group_free(pool->started);
    gogroup_wait_group_free(pool->finished);
}

int32_t cworkers_start(const gogroup_cancel_token *token, const gogroup_wait_group *started,
                       const gogroup_wait_group *finished, uint32_t n, int32_t mode, uint64_t quota,
                       uint64_t poll_limit_ms, cworkers **out) {
    if (out == NULL || token == NULL || finished == NULL) {
        return GOGROUP_RESULT_NULL_ARGUMENT;
    }
    *out = NULL;
    if (n == 0 || mode < CWORKERS_SPIN || mode > CWORKERS_CANCEL_AFTER) {
        return GOGROUP_RESULT_INVALID_ARGUMENT;
    }
    struct cworkers *pool = calloc(1, sizeof *pool + (size_t)n * sizeof pool->workers[0]);
    if (pool == NULL) {
        return GOGROUP_RESULT_OS;
    }
    pool->n = n;
    pool->mode = mode;
    pool->quota = quota;
    pool->poll_limit_ms = poll_limit_ms;

    /* Every clone first, so that a bad handle fails before any thread runs. */
    gogroup_result rc = gogroup_wait_group_clone(finished, &pool->finished);
    if (rc == GOGROUP_RESULT_OK && started != NULL) {
        rc = gogroup_wait_group_clone(started, &pool->started);
    }
    for (uint32_t i = 0; rc == GOGROUP_RESULT_OK && i < n; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].report.mode = mode;
        rc = gogroup_cancel_token_clone(token, &pool->workers[i].token);
    }
    if (rc != GOGROUP_RESULT_OK) {
        for (uint32_t i = 0; i < n; i++) {
            gogroup_cancel_token_free(pool->workers[i].token);
        }
        release_handles(pool);
        free(pool);
        return (int32_t)rc;
    }

    /* The threads inherit this mask: they never run a signal handler of the host runtime. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    uint32_t created = 0;
    for (; created < n; created++) {
        struct worker *w = &pool->workers[created];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    *out = pool;
    if (created == n) {
        return GOGROUP_RESULT_OK;
    }
    uint32_t missing = n - created;
    for (uint32_t i = created; i < n; i++) {
        gogroup_cancel_token_free(pool->workers[i].token);
        pool->workers[i].token = NULL;
    }
    if (pool->started != NULL) {
        gogroup_wait_group_add(pool->started, -(int64_t)missing);
    }
    gogroup_wait_group_add(pool->finished, -(int64_t)missing);
    pool->n = created;
    return GOGROUP_RESULT_OS;
}

uint32_t cworkers_count(const cworkers *pool) {
    return pool == NULL ? 0 : pool->n;
}

uint32_t cworkers_join(cworkers *pool, cworkers_report *reports, uint32_t cap) {
    if (pool == NULL) {
        return 0;
    }
    uint32_t n = pool->n;
    for (uint32_t i = 0; i < n; i++) {
        pthread_join(pool->workers[i].thread, NULL);
        if (reports != NULL && i < cap) {
            reports[i] = pool->workers[i].report;
        }
    }
    release_handles(pool);
    free(pool);
    return n;
}
