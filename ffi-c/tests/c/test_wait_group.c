/* gogroup_wait_group: Go's WaitGroup tests, ported, plus the extensions (timeouts, tokens, go). */
#include "common.h"

/* ---- Go's TestWaitGroup: the barrier, reused 8 times --------------------------------------- */

struct barrier_env {
    gogroup_wait_group *wg1;
    gogroup_wait_group *wg2;
    atomic_int exited;
    atomic_int errors;
};

static void *barrier_worker(void *p) {
    struct barrier_env *env = p;
    if (gogroup_wait_group_done(env->wg1) != GOGROUP_RESULT_OK) {
        atomic_fetch_add(&env->errors, 1);
    }
    if (gogroup_wait_group_wait(env->wg2) != GOGROUP_RESULT_OK) {
        atomic_fetch_add(&env->errors, 1);
    }
    atomic_fetch_add(&env->exited, 1);
    return NULL;
}

static int barrier_is_reusable_eight_times(void) {
    enum { N = 16 };
    struct barrier_env env = {NULL, NULL, 0, 0};
    pthread_t threads[N];
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&env.wg1));
    CHECK_OK(gogroup_wait_group_new(&env.wg2));
    for (int round = 0; round < 8; round++) {
        atomic_store(&env.exited, 0);
        CHECK_OK(gogroup_wait_group_add(env.wg1, N));
        CHECK_OK(gogroup_wait_group_add(env.wg2, N));
        for (int i = 0; i < N; i++) {
            CHECK(pthread_create(&threads[i], NULL, barrier_worker, &env) == 0);
        }
        CHECK_OK(gogroup_wait_group_wait(env.wg1));
        for (int i = 0; i < N; i++) {
            /* "WaitGroup released group too soon" */
            CHECK(atomic_load(&env.exited) == 0);
            CHECK_OK(gogroup_wait_group_done(env.wg2));
        }
        for (int i = 0; i < N; i++) {
            pthread_join(threads[i], NULL); /* blocks if the barrier failed to unlock someone */
        }
        CHECK(atomic_load(&env.exited) == N);
        CHECK(atomic_load(&env.errors) == 0);
    }
    ok = 1;
cleanup:
    gogroup_wait_group_free(env.wg1);
    gogroup_wait_group_free(env.wg2);
    return ok;
}

/* ---- Go's TestWaitGroupMisuse, without the panic: rejected, and still usable --------------- */

static int negative_counter_is_rejected_and_the_group_stays_usable(void) {
    gogroup_wait_group *wg = NULL;
    size_t count = 99;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_wait_group_add(wg, 1));
    CHECK_OK(gogroup_wait_group_done(wg));
    CHECK_RC(gogroup_wait_group_done(wg), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK_OK(gogroup_wait_group_count(wg, &count));
    CHECK(count == 0);
    CHECK_OK(gogroup_wait_group_add(wg, 2));
    CHECK_RC(gogroup_wait_group_add(wg, -3), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK_OK(gogroup_wait_group_count(wg, &count));
    CHECK(count == 2); /* rejected, not applied */
    CHECK_RC(gogroup_wait_group_add(wg, INT64_MAX), GOGROUP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(gogroup_wait_group_add(wg, -2));
    CHECK_OK(gogroup_wait_group_wait(wg));
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    return ok;
}

/* ---- wait with a timeout, and with a token --------------------------------------------------- */

static int wait_timeout_gives_up_and_then_succeeds(void) {
    gogroup_wait_group *wg = NULL;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_wait_group_wait_timeout(wg, 0)); /* zero: at once */
    CHECK_OK(gogroup_wait_group_add(wg, 1));
    CHECK_RC(gogroup_wait_group_wait_timeout(wg, 1), GOGROUP_RESULT_TIMEOUT);
    CHECK_OK(gogroup_wait_group_done(wg));
    CHECK_OK(gogroup_wait_group_wait_timeout(wg, HANG_MS));
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    return ok;
}

struct cancel_later {
    gogroup_cancel_token *token;
    struct gate *started;
};

static void *cancel_when_told(void *p) {
    struct cancel_later *c = p;
    gate_take(c->started);
    gogroup_cancel_token_cancel_with(c->token, 42, "operator stop");
    return NULL;
}

static int wait_token_returns_the_cause_when_cancelled_first(void) {
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *token = NULL;
    struct gate started;
    pthread_t th;
    bool joined = true;
    int ok = 0;
    gate_init(&started);
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_cancel_token_new(&token));
    CHECK_OK(gogroup_wait_group_add(wg, 1));
    struct cancel_later c = {token, &started};
    CHECK(pthread_create(&th, NULL, cancel_when_told, &c) == 0);
    joined = false;
    gate_post(&started, 1);
    CHECK_RC(gogroup_wait_group_wait_token(wg, token), GOGROUP_RESULT_CUSTOM);
    pthread_join(th, NULL);
    joined = true;
    /* An already-cancelled token: returns at once; the counter was never touched. */
    CHECK_RC(gogroup_wait_group_wait_token(wg, token), GOGROUP_RESULT_CUSTOM);
    CHECK_OK(gogroup_wait_group_done(wg));
    CHECK_OK(gogroup_wait_group_wait_token(wg, token)); /* zero wins over cancelled */
    ok = 1;
cleanup:
    if (!joined) {
        pthread_join(th, NULL);
    }
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(token);
    gate_destroy(&started);
    return ok;
}

/* ---- go: tasks on the pool, arg ownership, calling back into gogroup ------------------------- */

struct go_env {
    atomic_int ran;
    gogroup_wait_group *wg; /* for tasks that start more tasks */
};

static void increment(void *arg) {
    struct go_env *env = arg;
    atomic_fetch_add(&env->ran, 1);
}

static void start_two_more(void *arg) {
    struct go_env *env = arg;
    atomic_fetch_add(&env->ran, 1);
    /* A task may call back into gogroup, including go on its own group. */
    gogroup_wait_group_go(env->wg, increment, env, NULL);
    gogroup_wait_group_go(env->wg, increment, env, NULL);
}

static int go_runs_every_task_and_wait_waits_for_them(void) {
    struct go_env env = {0, NULL};
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&env.wg));
    for (int i = 0; i < 100; i++) {
        CHECK_OK(gogroup_wait_group_go(env.wg, start_two_more, &env, NULL));
    }
    CHECK_OK(gogroup_wait_group_wait(env.wg));
    CHECK(atomic_load(&env.ran) == 300);
    ok = 1;
cleanup:
    gogroup_wait_group_free(env.wg);
    return ok;
}

static atomic_int freed_ints;

static void free_int(void *arg) {
    atomic_fetch_add(&freed_ints, 1);
    free(arg);
}

static void check_int(void *arg) {
    int *v = arg;
    if (*v == 7) {
        atomic_fetch_add(&freed_ints, 100);
    }
}

static int go_frees_arg_exactly_once_after_the_task(void) {
    gogroup_wait_group *wg = NULL;
    int ok = 0;
    atomic_store(&freed_ints, 0);
    CHECK_OK(gogroup_wait_group_new(&wg));
    for (int i = 0; i < 10; i++) {
        int *v = malloc(sizeof *v);
        CHECK(v != NULL);
        *v = 7;
        CHECK_OK(gogroup_wait_group_go(wg, check_int, v, free_int));
    }
    CHECK_OK(gogroup_wait_group_wait(wg));
    /* A task's arg_free runs before the task counts as done, so wait has seen all of them. */
    CHECK(atomic_load(&freed_ints) == 10 * 101);
    /* A NULL fn is refused, and the arg is still freed (the call consumed it). */
    int *v = malloc(sizeof *v);
    CHECK(v != NULL);
    CHECK_RC(gogroup_wait_group_go(wg, NULL, v, free_int), GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK(atomic_load(&freed_ints) == 10 * 101 + 1);
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    return ok;
}

static int clones_share_one_counter(void) {
    gogroup_wait_group *a = NULL, *b = NULL;
    size_t count = 0;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&a));
    CHECK_OK(gogroup_wait_group_clone(a, &b));
    CHECK_OK(gogroup_wait_group_add(a, 3));
    CHECK_OK(gogroup_wait_group_count(b, &count));
    CHECK(count == 3);
    gogroup_wait_group_free(a);
    a = NULL;
    CHECK_OK(gogroup_wait_group_add(b, -3)); /* the counter outlives the first handle */
    CHECK_OK(gogroup_wait_group_wait(b));
    ok = 1;
cleanup:
    gogroup_wait_group_free(a);
    gogroup_wait_group_free(b);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(barrier_is_reusable_eight_times),
        TEST(negative_counter_is_rejected_and_the_group_stays_usable),
        TEST(wait_timeout_gives_up_and_then_succeeds),
        TEST(wait_token_returns_the_cause_when_cancelled_first),
        TEST(go_runs_every_task_and_wait_waits_for_them),
        TEST(go_frees_arg_exactly_once_after_the_task),
        TEST(clones_share_one_counter),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
