/* cworkers from C alone, with handles made by libgogroup.so: the same three scenarios the
 * Python and Node demos run (done() releases a waiter, cancel stops the threads, a C thread
 * cancels the token), plus the misuse paths. `make test-cross` runs it under valgrind
 * (--leak-check=full): every thread joined, every handle freed.
 *
 * Synchronises on gogroup's own waits; the timeouts only bound a hang. Exits 0 when all pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cworkers.h"

#define HANG_MS 60000u

static int failures;
static int checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define OK(call) CHECK((call) == GOGROUP_RESULT_OK)

/* 1. Four SPIN workers with a quota: their done() calls release a wait that started first. */
static void done_releases_wait(void) {
    gogroup_cancel_token *token;
    gogroup_wait_group *finished;
    OK(gogroup_cancel_token_new(&token));
    OK(gogroup_wait_group_new(&finished));
    OK(gogroup_wait_group_add(finished, 4)); /* as Go's wg.Add before go */
    cworkers *pool;
    OK(cworkers_start(token, NULL, finished, 4, CWORKERS_SPIN, 200, 0, &pool));
    CHECK(gogroup_wait_group_wait_timeout(finished, HANG_MS) == GOGROUP_RESULT_OK);
    cworkers_report r[4];
    CHECK(cworkers_join(pool, r, 4) == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(r[i].units == 200);
        CHECK(r[i].cause_kind == GOGROUP_RESULT_OK);
        CHECK(r[i].done_result == GOGROUP_RESULT_OK);
    }
    CHECK(!gogroup_cancel_token_is_cancelled(token));
    gogroup_wait_group_free(finished);
    gogroup_cancel_token_free(token);
}

/* 2. SPIN (no quota) and POLL workers run until the token is cancelled with a cause. */
static void cancel_stops_workers(void) {
    gogroup_cancel_token *token;
    gogroup_wait_group *started, *finished;
    OK(gogroup_cancel_token_new(&token));
    OK(gogroup_wait_group_new(&started));
    OK(gogroup_wait_group_new(&finished));
    OK(gogroup_wait_group_add(started, 4));
    OK(gogroup_wait_group_add(finished, 4));
    cworkers *spinners, *pollers;
    OK(cworkers_start(token, started, finished, 2, CWORKERS_SPIN, 0, 0, &spinners));
    OK(cworkers_start(token, started, finished, 2, CWORKERS_POLL, 0, HANG_MS, &pollers));
    /* Every worker is working (spinners did a unit, pollers are set up to poll): cancel. */
    CHECK(gogroup_wait_group_wait_timeout(started, HANG_MS) == GOGROUP_RESULT_OK);
    CHECK(gogroup_wait_group_wait_timeout(finished, 0) == GOGROUP_RESULT_TIMEOUT);
    uint64_t cancelled_ns = gogroup_now_ns();
    OK(gogroup_cancel_token_cancel_with(token, 7, "stop from C"));
    CHECK(gogroup_wait_group_wait_timeout(finished, HANG_MS) == GOGROUP_RESULT_OK);
    cworkers_report r[4];
    CHECK(cworkers_join(spinners, r, 2) == 2);
    CHECK(cworkers_join(pollers, r + 2, 2) == 2);
    for (int i = 0; i < 4; i++) {
        CHECK(r[i].cause_kind == GOGROUP_RESULT_CUSTOM);
        CHECK(r[i].cause_code == 7);
        CHECK(strcmp(r[i].cause, "stop from C") == 0);
        CHECK(r[i].observed_ns >= cancelled_ns);
        CHECK(r[i].done_result == GOGROUP_RESULT_OK);
        CHECK(i >= 2 || r[i].units >= 1);
    }
    gogroup_wait_group_free(started);
    gogroup_wait_group_free(finished);
    gogroup_cancel_token_free(token);
}

/* 3. A CANCEL_AFTER worker cancels the token that POLL workers (and this thread) wait on. */
static void c_thread_cancels(void) {
    gogroup_cancel_token *token;
    gogroup_wait_group *finished;
    OK(gogroup_cancel_token_new(&token));
    OK(gogroup_wait_group_new(&finished));
    OK(gogroup_wait_group_add(finished, 3));
    cworkers *pollers, *canceller;
    OK(cworkers_start(token, NULL, finished, 2, CWORKERS_POLL, 0, HANG_MS, &pollers));
    OK(cworkers_start(token, NULL, finished, 1, CWORKERS_CANCEL_AFTER, 10, 0, &canceller));
    /* The caller's handles may go at once: the pools hold their own. */
    gogroup_wait_group *keep;
    OK(gogroup_wait_group_clone(finished, &keep));
    gogroup_wait_group_free(finished);
    CHECK(gogroup_cancel_token_wait_timeout(token, HANG_MS) == GOGROUP_RESULT_OK);
    gogroup_result kind = GOGROUP_RESULT_OK;
    int64_t code = 0;
    OK(gogroup_cancel_token_cause(token, &kind, &code, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == CWORKERS_CANCEL_CODE);
    CHECK(gogroup_wait_group_wait_timeout(keep, HANG_MS) == GOGROUP_RESULT_OK);
    cworkers_report r[3];
    CHECK(cworkers_join(pollers, r, 2) == 2);
    CHECK(cworkers_join(canceller, r + 2, 1) == 1);
    CHECK(r[2].units == 10);
    for (int i = 0; i < 3; i++) {
        CHECK(r[i].cause_kind == GOGROUP_RESULT_CUSTOM);
        CHECK(r[i].cause_code == CWORKERS_CANCEL_CODE);
        CHECK(strcmp(r[i].cause, CWORKERS_CANCEL_MESSAGE) == 0);
    }
    gogroup_wait_group_free(keep);
    gogroup_cancel_token_free(token);
}

/* 4. Misuse: nothing starts, nothing leaks. */
static void misuse(void) {
    gogroup_cancel_token *token;
    gogroup_wait_group *wg;
    OK(gogroup_cancel_token_new(&token));
    OK(gogroup_wait_group_new(&wg));
    cworkers *pool = (cworkers *)&pool;
    CHECK(cworkers_start(NULL, NULL, wg, 1, CWORKERS_SPIN, 1, 0, &pool) ==
          GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK(cworkers_start(token, NULL, wg, 0, CWORKERS_SPIN, 1, 0, &pool) ==
          GOGROUP_RESULT_INVALID_ARGUMENT);
    CHECK(pool == NULL);
    CHECK(cworkers_start(token, NULL, wg, 1, 99, 1, 0, &pool) == GOGROUP_RESULT_INVALID_ARGUMENT);
    /* A wait group passed as a token: the clone fails before any thread runs. */
    CHECK(cworkers_start((const gogroup_cancel_token *)(const void *)wg, NULL, wg, 2, CWORKERS_SPIN,
                         1, 0, &pool) == GOGROUP_RESULT_INVALID_HANDLE);
    CHECK(pool == NULL);
    CHECK(cworkers_join(NULL, NULL, 0) == 0);
    /* Already cancelled: every worker stops at once, still calling both done()s. */
    gogroup_wait_group *started;
    OK(gogroup_wait_group_new(&started));
    OK(gogroup_wait_group_add(started, 2));
    OK(gogroup_wait_group_add(wg, 2));
    OK(gogroup_cancel_token_cancel(token));
    OK(cworkers_start(token, started, wg, 2, CWORKERS_POLL, 0, HANG_MS, &pool));
    CHECK(gogroup_wait_group_wait_timeout(wg, HANG_MS) == GOGROUP_RESULT_OK);
    CHECK(gogroup_wait_group_wait_timeout(started, 0) == GOGROUP_RESULT_OK);
    cworkers_report r[2];
    CHECK(cworkers_join(pool, r, 2) == 2);
    CHECK(r[0].cause_kind == GOGROUP_RESULT_CANCELED && r[1].cause_kind == GOGROUP_RESULT_CANCELED);
    gogroup_wait_group_free(started);
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(token);
}

int main(void) {
    done_releases_wait();
    cancel_stops_workers();
    c_thread_cancels();
    misuse();
    printf("test_cworkers: %d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
