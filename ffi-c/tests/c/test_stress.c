/* Stress, meant for the sanitizers: 8 threads x 1,000,000 add/done on one wait group, and
 * cancel storms racing child creation and callback registration.
 *
 * Under valgrind (GOGROUP_TEST_SCALE=valgrind, set by `make test-c`) the iteration counts are
 * divided by 10 (8 threads x 100,000 add/done): valgrind serialises threads and runs each about
 * 50x slower, and the faults it checks (invalid accesses, leaks) do not need a million rounds to
 * show. */
#include "common.h"

enum { THREADS = 8 };

static long scaled(long n) {
    return under_valgrind() ? n / 10 : n;
}

struct add_done_env {
    gogroup_wait_group *wg;
    pthread_barrier_t start;
    long iterations;
    atomic_long errors;
};

static void *add_done_worker(void *p) {
    struct add_done_env *e = p;
    pthread_barrier_wait(&e->start);
    for (long i = 0; i < e->iterations; i++) {
        if (gogroup_wait_group_add(e->wg, 1) != GOGROUP_RESULT_OK ||
            gogroup_wait_group_done(e->wg) != GOGROUP_RESULT_OK) {
            atomic_fetch_add(&e->errors, 1);
        }
    }
    return NULL;
}

static int eight_threads_add_and_done_a_million_times(void) {
    struct add_done_env e;
    pthread_t th[THREADS];
    int started = 0;
    size_t count = 1;
    int ok = 0;
    e.wg = NULL;
    e.iterations = scaled(1000000);
    atomic_init(&e.errors, 0);
    pthread_barrier_init(&e.start, NULL, THREADS);
    CHECK_OK(gogroup_wait_group_new(&e.wg));
    for (; started < THREADS; started++) {
        CHECK(pthread_create(&th[started], NULL, add_done_worker, &e) == 0);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    started = 0;
    CHECK(atomic_load(&e.errors) == 0);
    CHECK_OK(gogroup_wait_group_count(e.wg, &count));
    CHECK(count == 0);
    CHECK_OK(gogroup_wait_group_wait_timeout(e.wg, 0));
    ok = 1;
cleanup:
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&e.start);
    gogroup_wait_group_free(e.wg);
    return ok;
}

/* ---- cancel storms ------------------------------------------------------------------------- */

struct storm_env {
    gogroup_cancel_token *root;
    pthread_barrier_t start;
    atomic_long callbacks_run;
    atomic_long callbacks_freed;
    atomic_long errors;
};

static void storm_callback(void *arg, gogroup_result cause, int64_t code, const char *message) {
    struct storm_env *e = arg;
    (void)code;
    (void)message;
    if (cause != GOGROUP_RESULT_CANCELED) {
        atomic_fetch_add(&e->errors, 1);
    }
    atomic_fetch_add(&e->callbacks_run, 1);
}

static void storm_free(void *arg) {
    struct storm_env *e = arg;
    atomic_fetch_add(&e->callbacks_freed, 1);
}

/* Creates children and grandchildren, registers callbacks (some stopped), cancels some children
 * itself, while another thread cancels the root. */
static void *storm_worker(void *p) {
    struct storm_env *e = p;
    long rounds = scaled(2000);
    pthread_barrier_wait(&e->start);
    for (long i = 0; i < rounds; i++) {
        gogroup_cancel_token *child = NULL, *grandchild = NULL;
        gogroup_registration *reg = NULL;
        if (gogroup_cancel_token_child(e->root, &child) != GOGROUP_RESULT_OK ||
            gogroup_cancel_token_child(child, &grandchild) != GOGROUP_RESULT_OK ||
            gogroup_cancel_token_on_cancel_inline(grandchild, storm_callback, e, storm_free,
                                                  &reg) != GOGROUP_RESULT_OK) {
            atomic_fetch_add(&e->errors, 1);
        }
        if (i % 3 == 0) {
            gogroup_registration_stop(reg, NULL);
        }
        if (i % 2 == 0) {
            gogroup_cancel_token_cancel(child);
        }
        gogroup_registration_free(reg);
        gogroup_cancel_token_free(grandchild);
        gogroup_cancel_token_free(child);
    }
    return NULL;
}

static void *storm_canceller(void *p) {
    struct storm_env *e = p;
    pthread_barrier_wait(&e->start);
    gogroup_cancel_token_cancel(e->root);
    return NULL;
}

static int cancel_storms_race_child_creation_and_callback_registration(void) {
    struct storm_env e;
    pthread_t th[THREADS];
    int started = 0;
    int ok = 0;
    long rounds = under_valgrind() ? 3 : 30;
    for (long r = 0; r < rounds; r++) {
        e.root = NULL;
        atomic_init(&e.callbacks_run, 0);
        atomic_init(&e.callbacks_freed, 0);
        atomic_init(&e.errors, 0);
        pthread_barrier_init(&e.start, NULL, THREADS);
        CHECK_OK(gogroup_cancel_token_new(&e.root));
        for (started = 0; started < THREADS; started++) {
            void *(*fn)(void *) = started == 0 ? storm_canceller : storm_worker;
            CHECK(pthread_create(&th[started], NULL, fn, &e) == 0);
        }
        for (int i = 0; i < started; i++) {
            pthread_join(th[i], NULL);
        }
        started = 0;
        pthread_barrier_destroy(&e.start);
        gogroup_cancel_token_free(e.root);
        e.root = NULL;
        CHECK(atomic_load(&e.errors) == 0);
        /* every registration's arg was released exactly once: ran, stopped or dropped */
        long per_worker = scaled(2000);
        CHECK(atomic_load(&e.callbacks_freed) == per_worker * (THREADS - 1));
        CHECK(atomic_load(&e.callbacks_run) <= per_worker * (THREADS - 1));
    }
    ok = 1;
cleanup:
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    gogroup_cancel_token_free(e.root);
    return ok;
}

/* ---- go and cancel from many threads at once ------------------------------------------------ */

static int count_task(void *arg, const gogroup_cancel_token *t, char *m, size_t cap) {
    (void)t;
    (void)m;
    (void)cap;
    atomic_fetch_add((atomic_long *)arg, 1);
    return 0;
}

struct go_env {
    gogroup_err_group *g;
    pthread_barrier_t start;
    atomic_long ran;
    atomic_long refused;
};

static void *go_worker(void *p) {
    struct go_env *e = p;
    pthread_barrier_wait(&e->start);
    for (long i = 0; i < scaled(5000); i++) {
        gogroup_result rc = gogroup_err_group_go(e->g, count_task, &e->ran, NULL);
        if (rc != GOGROUP_RESULT_OK) {
            atomic_fetch_add(&e->refused, 1);
        }
    }
    return NULL;
}

static int concurrent_go_with_a_limit_counts_every_task(void) {
    struct go_env e;
    pthread_t th[THREADS];
    int started = 0;
    int ok = 0;
    e.g = NULL;
    atomic_init(&e.ran, 0);
    atomic_init(&e.refused, 0);
    pthread_barrier_init(&e.start, NULL, THREADS);
    CHECK_OK(gogroup_err_group_new_with(NULL, 4, GOGROUP_COLLECT_FIRST, &e.g));
    for (; started < THREADS; started++) {
        CHECK(pthread_create(&th[started], NULL, go_worker, &e) == 0);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    started = 0;
    CHECK_OK(gogroup_err_group_wait(e.g, NULL, NULL, 0, NULL));
    CHECK(atomic_load(&e.refused) == 0);
    CHECK(atomic_load(&e.ran) == scaled(5000) * THREADS);
    ok = 1;
cleanup:
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&e.start);
    gogroup_err_group_free(e.g);
    return ok;
}

/* ---- the inline is_cancelled never misses a cancel --------------------------------------------
 */

struct poller_env {
    gogroup_cancel_token *token;
    pthread_barrier_t start;
    atomic_int cancel_returned;
    atomic_long late; /* polls that said "live" after cancel had returned */
};

static void *poll_until_cancelled(void *p) {
    struct poller_env *e = p;
    gogroup_cancel_token *mine = NULL;
    /* each thread polls its own handle, set up concurrently with the cancel */
    if (gogroup_cancel_token_clone(e->token, &mine) != GOGROUP_RESULT_OK) {
        atomic_fetch_add(&e->late, 1000000);
        pthread_barrier_wait(&e->start);
        return NULL;
    }
    pthread_barrier_wait(&e->start);
    for (;;) {
        int returned = atomic_load(&e->cancel_returned);
        if (gogroup_cancel_token_is_cancelled_inline(mine)) {
            break;
        }
        if (returned) {
            atomic_fetch_add(&e->late, 1);
            break;
        }
    }
    gogroup_cancel_token_free(mine);
    return NULL;
}

static int the_inline_is_cancelled_never_misses_a_cancel(void) {
    struct poller_env e;
    pthread_t th[THREADS];
    int started = 0;
    int ok = 0;
    long rounds = under_valgrind() ? 5 : 200;
    for (long r = 0; r < rounds; r++) {
        e.token = NULL;
        atomic_init(&e.cancel_returned, 0);
        atomic_init(&e.late, 0);
        pthread_barrier_init(&e.start, NULL, THREADS + 1);
        CHECK_OK(gogroup_cancel_token_new(&e.token));
        for (started = 0; started < THREADS; started++) {
            CHECK(pthread_create(&th[started], NULL, poll_until_cancelled, &e) == 0);
        }
        pthread_barrier_wait(&e.start);
        CHECK_OK(gogroup_cancel_token_cancel(e.token));
        atomic_store(&e.cancel_returned, 1);
        for (int i = 0; i < started; i++) {
            pthread_join(th[i], NULL);
        }
        started = 0;
        pthread_barrier_destroy(&e.start);
        gogroup_cancel_token_free(e.token);
        e.token = NULL;
        CHECK(atomic_load(&e.late) == 0);
    }
    ok = 1;
cleanup:
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    gogroup_cancel_token_free(e.token);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(eight_threads_add_and_done_a_million_times),
        TEST(cancel_storms_race_child_creation_and_callback_registration),
        TEST(concurrent_go_with_a_limit_counts_every_task),
        TEST(the_inline_is_cancelled_never_misses_a_cancel),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
