/* gogroup_err_group: Go's errgroup tests (first error, TryGo, SetLimit), ported, plus the
 * extensions (collect-all, shutdown, cancellable go). */
#include <poll.h>

#include "common.h"

/* ---- tasks ------------------------------------------------------------------------------- */

/* Fails with code 503 and a message. */
static int fail_503(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    (void)arg;
    (void)token;
    snprintf(message, cap, "availability service: 503");
    return 503;
}

/* Fails with the code in *arg and no message. */
static int fail_with(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    (void)token;
    (void)message;
    (void)cap;
    return *(const int *)arg;
}

static int succeed(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    (void)arg;
    (void)token;
    (void)message;
    (void)cap;
    return 0;
}

/* Waits for the group's token, then reports the cause it saw (its code) as its own error. */
struct watcher {
    gogroup_result saw;
    int64_t saw_code;
};

static int wait_for_token(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    struct watcher *w = arg;
    if (gogroup_cancel_token_wait_timeout(token, HANG_MS) != GOGROUP_RESULT_OK) {
        snprintf(message, cap, "never cancelled");
        return -1;
    }
    gogroup_cancel_token_cause(token, &w->saw, &w->saw_code, NULL, 0, NULL);
    return 0;
}

/* Takes a permit from the gate in *arg (so the test decides when it finishes). */
static int take_permit(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    (void)token;
    (void)message;
    (void)cap;
    return gate_take(arg) ? 0 : -1;
}

/* ---- Go's TestWithContext: the first error cancels the token, with itself as the cause ------ */

static int first_error_cancels_the_token_with_that_error_as_cause(void) {
    gogroup_cancel_token *request = NULL, *group_token = NULL;
    gogroup_err_group *g = NULL;
    struct watcher w = {GOGROUP_RESULT_OK, 0};
    int64_t code = 0;
    char message[64] = "";
    size_t len = 0;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&request));
    CHECK_OK(gogroup_err_group_with_token(request, &g));
    /* The failing task first: the watcher sees the cause whether the pool runs the two side by
     * side or one after the other (core 0.1.0 may queue a task behind a blocked one). */
    CHECK_OK(gogroup_err_group_go(g, fail_503, NULL, NULL));
    CHECK_OK(gogroup_err_group_go(g, wait_for_token, &w, NULL));
    CHECK_RC(gogroup_err_group_wait(g, &code, message, sizeof message, &len),
             GOGROUP_RESULT_CUSTOM);
    CHECK(code == 503);
    CHECK(strcmp(message, "availability service: 503") == 0 && len == strlen(message));
    CHECK(w.saw == GOGROUP_RESULT_CUSTOM && w.saw_code == 503); /* the watcher saw the error */
    CHECK_OK(gogroup_err_group_token(g, &group_token));
    CHECK_RC(gogroup_cancel_token_err(group_token), GOGROUP_RESULT_CANCELED);
    gogroup_result kind = GOGROUP_RESULT_OK;
    CHECK_OK(gogroup_cancel_token_cause(group_token, &kind, &code, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == 503);
    CHECK(!gogroup_cancel_token_is_cancelled(request)); /* never the caller's token */
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(group_token);
    gogroup_cancel_token_free(request);
    return ok;
}

static int wait_cancels_the_token_even_on_success(void) {
    gogroup_cancel_token *request = NULL, *token = NULL;
    gogroup_err_group *g = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&request));
    CHECK_OK(gogroup_err_group_with_token(request, &g));
    CHECK_OK(gogroup_err_group_token(g, &token));
    CHECK_OK(gogroup_err_group_go(g, succeed, NULL, NULL));
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    CHECK_RC(gogroup_cancel_token_err(token), GOGROUP_RESULT_CANCELED);
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(token);
    gogroup_cancel_token_free(request);
    return ok;
}

/* ---- wait with a token: returns on the token, the group and its tasks untouched ------------- */

static int wait_token_returns_on_the_token_and_leaves_the_group_running(void) {
    gogroup_err_group *g = NULL;
    gogroup_cancel_token *stop = NULL, *token = NULL;
    struct gate permits;
    size_t n = 99;
    int64_t code = 0;
    int ok = 0;
    gate_init(&permits);
    CHECK_OK(gogroup_cancel_token_new(&stop));
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_err_group_token(g, &token));
    CHECK_OK(gogroup_err_group_go(g, take_permit, &permits, NULL));
    CHECK_OK(gogroup_cancel_token_cancel_with(stop, 499, "client closed request"));
    CHECK_RC(gogroup_err_group_wait_token(g, stop, &code, NULL, 0, NULL), GOGROUP_RESULT_CUSTOM);
    CHECK(code == 0); /* outputs not written: the task has not failed */
    CHECK(!gogroup_cancel_token_is_cancelled(token)); /* nothing cancelled */
    CHECK_OK(gogroup_cancel_token_dependents(stop, &n));
    CHECK(n == 0); /* nothing left registered on the token */
    gate_post(&permits, 1);
    CHECK_OK(gogroup_err_group_wait_token(g, token, &code, NULL, 0, NULL)); /* finished first */
    ok = 1;
cleanup:
    if (!ok) {
        gate_post(&permits, 1);
        gogroup_err_group_wait(g, NULL, NULL, 0, NULL);
    }
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(token);
    gogroup_cancel_token_free(stop);
    gate_destroy(&permits);
    return ok;
}

/* ---- Go's zero Group: errors cancel nothing; the first error is sticky --------------------- */

static int zero_group_keeps_the_first_error_and_cancels_nothing(void) {
    gogroup_err_group *g = NULL;
    gogroup_cancel_token *token = NULL;
    static const int first = 1, second = 2;
    int64_t code = 0;
    char message[64];
    int ok = 0;
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_err_group_set_limit(g, 1)); /* one at a time: a known finishing order */
    CHECK_OK(gogroup_err_group_go(g, fail_with, (void *)&first, NULL));
    CHECK_OK(gogroup_err_group_go(g, fail_with, (void *)&second, NULL));
    CHECK_RC(gogroup_err_group_wait(g, &code, message, sizeof message, NULL),
             GOGROUP_RESULT_CUSTOM);
    CHECK(code == 1);
    CHECK(strcmp(message, "task failed with code 1") == 0);
    CHECK_OK(gogroup_err_group_token(g, &token));
    CHECK(!gogroup_cancel_token_is_cancelled(token));
    /* reuse: the first error is sticky */
    CHECK_OK(gogroup_err_group_go(g, succeed, NULL, NULL));
    code = 0;
    CHECK_RC(gogroup_err_group_wait(g, &code, NULL, 0, NULL), GOGROUP_RESULT_CUSTOM);
    CHECK(code == 1);
    size_t n = 9;
    CHECK_OK(gogroup_err_group_error_count(g, &n));
    CHECK(n == 1); /* GOGROUP_COLLECT_FIRST keeps only the first */
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(token);
    return ok;
}

/* ---- Go's TestTryGo, limits 42, 1 and 0 ------------------------------------------------------ */

static int try_go_respects_limits_42_then_1_then_0(void) {
    gogroup_err_group *g = NULL;
    struct gate ch;
    bool started = false;
    int ok = 0;
    gate_init(&ch);
    frees_reset();
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_err_group_set_limit(g, 42));
    for (int i = 0; i < 42; i++) {
        CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, NULL, &started));
        CHECK(started); /* "TryGo should succeed" */
    }
    CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, count_free, &started));
    CHECK(!started);           /* "TryGo is expected to fail" */
    CHECK(frees_count() == 1); /* refused: its arg was released at once */
    gate_post(&ch, 42);
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, NULL, &started));
    CHECK(started); /* "TryGo should succeed after all goroutines" */
    gate_post(&ch, 1);
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    /* switch limit */
    CHECK_OK(gogroup_err_group_set_limit(g, 1));
    CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, NULL, &started));
    CHECK(started);
    CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, NULL, &started));
    CHECK(!started);
    gate_post(&ch, 1);
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    /* block all calls */
    CHECK_OK(gogroup_err_group_set_limit(g, 0));
    for (int i = 0; i < 1024; i++) {
        CHECK_OK(gogroup_err_group_try_go(g, take_permit, &ch, NULL, &started));
        CHECK(!started);
    }
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gate_destroy(&ch);
    return ok;
}

/* ---- Go's SetLimit misuse, as an error ---------------------------------------------------------
 */

static int changing_the_limit_while_busy_is_limit_in_use(void) {
    gogroup_err_group *g = NULL;
    struct gate ch;
    int64_t limit = 0;
    size_t active = 0;
    int ok = 0;
    gate_init(&ch);
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_err_group_limit(g, &limit));
    CHECK(limit == -1);
    CHECK_OK(gogroup_err_group_go(g, take_permit, &ch, NULL));
    CHECK_OK(gogroup_err_group_active(g, &active));
    CHECK(active == 1);
    CHECK_RC(gogroup_err_group_set_limit(g, 2), GOGROUP_RESULT_LIMIT_IN_USE);
    CHECK_OK(gogroup_err_group_set_limit(g, -1)); /* the current value: always allowed */
    gate_post(&ch, 1);
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    CHECK_OK(gogroup_err_group_set_limit(g, 2)); /* idle again: allowed */
    CHECK_OK(gogroup_err_group_limit(g, &limit));
    CHECK(limit == 2);
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gate_destroy(&ch);
    return ok;
}

/* ---- go on a full limit gives up when the token is cancelled --------------------------------- */

struct blocked_go {
    gogroup_err_group *g;
    gogroup_result rc;
};

static void *go_on_full_group(void *p) {
    struct blocked_go *b = p;
    b->rc = gogroup_err_group_go(b->g, succeed, NULL, count_free);
    return NULL;
}

static int go_blocked_on_a_full_limit_returns_the_cause_when_cancelled(void) {
    gogroup_cancel_token *parent = NULL;
    gogroup_err_group *g = NULL;
    struct gate ch;
    pthread_t th;
    bool joined = true;
    int ok = 0;
    gate_init(&ch);
    frees_reset();
    CHECK_OK(gogroup_cancel_token_new(&parent));
    CHECK_OK(gogroup_err_group_new_with(parent, 1, GOGROUP_COLLECT_FIRST, &g));
    CHECK_OK(gogroup_err_group_go(g, take_permit, &ch, NULL));
    struct blocked_go b = {g, GOGROUP_RESULT_PANIC};
    CHECK(pthread_create(&th, NULL, go_on_full_group, &b) == 0);
    joined = false;
    CHECK_OK(gogroup_cancel_token_cancel_with(parent, 77, "request abandoned"));
    pthread_join(th, NULL);
    joined = true;
    CHECK(b.rc == GOGROUP_RESULT_CUSTOM); /* the cause's kind; the task never ran */
    CHECK(frees_count() == 1);
    gate_post(&ch, 1);
    int64_t code = 0;
    CHECK_RC(gogroup_err_group_wait(g, &code, NULL, 0, NULL), GOGROUP_RESULT_OK);
    ok = 1;
cleanup:
    if (!joined) {
        gate_post(&ch, 1);
        pthread_join(th, NULL);
    }
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(parent);
    gate_destroy(&ch);
    return ok;
}

/* ---- collect-all ------------------------------------------------------------------------------
 */

static int collect_all_keeps_every_error_in_finishing_order(void) {
    gogroup_err_group *g = NULL;
    static const int codes[] = {11, 22, 33};
    int ok = 0;
    CHECK_OK(gogroup_err_group_new_with(NULL, 1, GOGROUP_COLLECT_ALL, &g));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(gogroup_err_group_go(g, fail_with, (void *)&codes[i], NULL));
    }
    CHECK_OK(gogroup_err_group_go(g, succeed, NULL, NULL));
    int64_t code = 0;
    CHECK_RC(gogroup_err_group_wait(g, &code, NULL, 0, NULL), GOGROUP_RESULT_CUSTOM);
    CHECK(code == 11);
    size_t n = 0;
    CHECK_OK(gogroup_err_group_error_count(g, &n));
    CHECK(n == 3);
    for (size_t i = 0; i < 3; i++) {
        gogroup_result kind = GOGROUP_RESULT_OK;
        char message[64];
        CHECK_OK(gogroup_err_group_error_at(g, i, &kind, &code, message, sizeof message, NULL));
        CHECK(kind == GOGROUP_RESULT_CUSTOM && code == codes[i]);
    }
    CHECK_RC(gogroup_err_group_error_at(g, 3, NULL, NULL, NULL, 0, NULL),
             GOGROUP_RESULT_INVALID_ARGUMENT);
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    return ok;
}

/* ---- shutdown ----------------------------------------------------------------------------------
 */

static int shutdown_cancels_waits_the_grace_and_counts_stragglers(void) {
    gogroup_err_group *g = NULL, *stubborn = NULL;
    gogroup_cancel_token *token = NULL;
    struct watcher w1 = {GOGROUP_RESULT_OK, 0}, w2 = {GOGROUP_RESULT_OK, 0};
    struct gate ch;
    size_t left = 99;
    int ok = 0;
    gate_init(&ch);
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_err_group_go(g, wait_for_token, &w1, NULL));
    CHECK_OK(gogroup_err_group_go(g, wait_for_token, &w2, NULL));
    CHECK_OK(gogroup_err_group_shutdown(g, 3, "deploying", HANG_MS, &left));
    CHECK(left == 0);
    CHECK(w1.saw == GOGROUP_RESULT_CUSTOM && w1.saw_code == 3 && w2.saw_code == 3);
    CHECK_OK(gogroup_err_group_token(g, &token));
    CHECK(gogroup_cancel_token_is_cancelled(token));
    /* a task that ignores its token is still running after a short grace */
    CHECK_OK(gogroup_err_group_new(&stubborn));
    CHECK_OK(gogroup_err_group_go(stubborn, take_permit, &ch, NULL));
    CHECK_OK(gogroup_err_group_shutdown(stubborn, 0, NULL, 1, &left));
    CHECK(left == 1);
    int64_t code = 0;
    char message[8];
    CHECK_RC(gogroup_err_group_wait_timeout(stubborn, 1, &code, message, sizeof message, NULL),
             GOGROUP_RESULT_TIMEOUT);
    gate_post(&ch, 1);
    CHECK_OK(gogroup_err_group_wait(stubborn, NULL, NULL, 0, NULL));
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    gogroup_err_group_free(stubborn);
    gogroup_cancel_token_free(token);
    gate_destroy(&ch);
    return ok;
}

/* ---- the task's token is a borrowed handle ------------------------------------------------- */

struct keeper {
    gogroup_cancel_token *kept;
    int fd;
    bool fd_was_live;
};

static int keep_token(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    struct keeper *k = arg;
    (void)message;
    (void)cap;
    /* freeing a borrowed handle is ignored; cloning it keeps the token */
    gogroup_cancel_token_free((gogroup_cancel_token *)token);
    if (gogroup_cancel_token_clone(token, &k->kept) != GOGROUP_RESULT_OK) {
        return 1;
    }
    if (gogroup_cancel_token_fd(token, &k->fd) != GOGROUP_RESULT_OK) {
        return 2;
    }
    struct pollfd pfd = {k->fd, POLLIN, 0};
    k->fd_was_live = poll(&pfd, 1, 0) == 0;
    return 0;
}

static int a_task_token_is_borrowed_and_can_be_cloned(void) {
    gogroup_cancel_token *parent = NULL;
    gogroup_err_group *g = NULL;
    struct keeper k = {NULL, -1, false};
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&parent));
    CHECK_OK(gogroup_err_group_with_token(parent, &g));
    CHECK_OK(gogroup_err_group_go(g, keep_token, &k, NULL));
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    CHECK(k.kept != NULL && k.fd_was_live);
    CHECK(gogroup_cancel_token_is_cancelled(k.kept)); /* wait cancelled the group's token */
    /* the borrowed handle's fd was closed when the task returned */
    struct pollfd pfd = {k.fd, POLLIN, 0};
    CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLNVAL));
    ok = 1;
cleanup:
    gogroup_cancel_token_free(k.kept);
    gogroup_err_group_free(g);
    gogroup_cancel_token_free(parent);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(first_error_cancels_the_token_with_that_error_as_cause),
        TEST(wait_cancels_the_token_even_on_success),
        TEST(wait_token_returns_on_the_token_and_leaves_the_group_running),
        TEST(zero_group_keeps_the_first_error_and_cancels_nothing),
        TEST(try_go_respects_limits_42_then_1_then_0),
        TEST(changing_the_limit_while_busy_is_limit_in_use),
        TEST(go_blocked_on_a_full_limit_returns_the_cause_when_cancelled),
        TEST(collect_all_keeps_every_error_in_finishing_order),
        TEST(shutdown_cancels_waits_the_grace_and_counts_stragglers),
        TEST(a_task_token_is_borrowed_and_can_be_cloned),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
