/* Misuse: NULL anywhere, freed handles, handles of the wrong type, foreign pointers. Every case
 * returns an error and leaves the process (and valgrind, and ASan) happy. */
#include "common.h"

static void noop_fn(void *arg) {
    (void)arg;
}

static int noop_task(void *arg, const gogroup_cancel_token *t, char *m, size_t cap) {
    (void)arg;
    (void)t;
    (void)m;
    (void)cap;
    return 0;
}

static void noop_cancel(void *arg, gogroup_result r, int64_t c, const char *m) {
    (void)arg;
    (void)r;
    (void)c;
    (void)m;
}

#define CHECK_NULL(expr) CHECK_RC((expr), GOGROUP_RESULT_NULL_ARGUMENT)
#define CHECK_INVALID(expr) CHECK_RC((expr), GOGROUP_RESULT_INVALID_HANDLE)

static int null_anywhere_is_null_argument(void) {
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *t = NULL;
    gogroup_err_group *g = NULL;
    size_t n = 0;
    int64_t i = 0;
    int fd = 0;
    bool b = false;
    uint64_t u = 0;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_err_group_new(&g));
    /* constructors without an out-pointer */
    CHECK_NULL(gogroup_wait_group_new(NULL));
    CHECK_NULL(gogroup_cancel_token_new(NULL));
    CHECK_NULL(gogroup_err_group_new(NULL));
    CHECK_NULL(gogroup_wait_group_clone(wg, NULL));
    CHECK_NULL(gogroup_cancel_token_clone(t, NULL));
    CHECK_NULL(gogroup_cancel_token_child(t, NULL));
    CHECK_NULL(gogroup_cancel_token_with_timeout(t, 1, NULL));
    CHECK_NULL(gogroup_cancel_token_with_deadline(t, 1, NULL));
    CHECK_NULL(gogroup_cancel_token_any(NULL, 0, NULL));
    CHECK_NULL(gogroup_err_group_clone(g, NULL));
    CHECK_NULL(gogroup_err_group_with_token(t, NULL));
    CHECK_NULL(gogroup_err_group_token(g, NULL));
    /* NULL handles */
    CHECK_NULL(gogroup_wait_group_clone(NULL, &wg));
    CHECK_NULL(gogroup_wait_group_add(NULL, 1));
    CHECK_NULL(gogroup_wait_group_done(NULL));
    CHECK_NULL(gogroup_wait_group_count(NULL, &n));
    CHECK_NULL(gogroup_wait_group_wait(NULL));
    CHECK_NULL(gogroup_wait_group_wait_timeout(NULL, 1));
    CHECK_NULL(gogroup_wait_group_wait_token(NULL, t));
    CHECK_NULL(gogroup_wait_group_wait_token(wg, NULL));
    CHECK_NULL(gogroup_wait_group_go(NULL, noop_fn, NULL, NULL));
    CHECK_NULL(gogroup_cancel_token_clone(NULL, &t));
    CHECK_NULL(gogroup_cancel_token_child(NULL, &t));
    CHECK_NULL(gogroup_cancel_token_cancel(NULL));
    CHECK_NULL(gogroup_cancel_token_cancel_with(NULL, 1, "x"));
    CHECK_NULL(gogroup_cancel_token_cancel_with(t, 1, NULL));
    CHECK(!gogroup_cancel_token_is_cancelled(t));   /* the NULL message cancelled nothing */
    CHECK(gogroup_cancel_token_is_cancelled(NULL)); /* reads as cancelled: loops stop */
    CHECK_NULL(gogroup_cancel_token_err(NULL));
    CHECK_NULL(gogroup_cancel_token_cause(NULL, NULL, NULL, NULL, 0, NULL));
    CHECK_NULL(gogroup_cancel_token_deadline(NULL, &u));
    CHECK_NULL(gogroup_cancel_token_deadline(t, NULL));
    CHECK_NULL(gogroup_cancel_token_on_cancel(NULL, noop_cancel, NULL, NULL, NULL));
    CHECK_NULL(gogroup_cancel_token_on_cancel(t, NULL, NULL, NULL, NULL));
    CHECK_NULL(gogroup_cancel_token_on_cancel_inline(t, NULL, NULL, NULL, NULL));
    CHECK_NULL(gogroup_cancel_token_wait(NULL));
    CHECK_NULL(gogroup_cancel_token_wait_timeout(NULL, 1));
    CHECK_NULL(gogroup_cancel_token_fd(NULL, &fd));
    CHECK_NULL(gogroup_cancel_token_fd(t, NULL));
    CHECK_NULL(gogroup_registration_stop(NULL, &b));
    CHECK_NULL(gogroup_err_group_with_token(NULL, &g));
    CHECK_NULL(gogroup_err_group_go(NULL, noop_task, NULL, NULL));
    CHECK_NULL(gogroup_err_group_go(g, NULL, NULL, NULL));
    CHECK_NULL(gogroup_err_group_try_go(g, noop_task, NULL, NULL, NULL));
    CHECK_NULL(gogroup_err_group_try_go(g, NULL, NULL, NULL, &b));
    CHECK_NULL(gogroup_err_group_set_limit(NULL, 1));
    CHECK_NULL(gogroup_err_group_limit(g, NULL));
    CHECK_NULL(gogroup_err_group_limit(NULL, &i));
    CHECK_NULL(gogroup_err_group_active(NULL, &n));
    CHECK_NULL(gogroup_err_group_wait(NULL, NULL, NULL, 0, NULL));
    CHECK_OK(gogroup_err_group_wait(g, NULL, NULL, 0, NULL)); /* every output is optional */
    CHECK_NULL(gogroup_err_group_wait_timeout(NULL, 1, NULL, NULL, 0, NULL));
    CHECK_NULL(gogroup_err_group_error_count(NULL, &n));
    CHECK_NULL(gogroup_err_group_error_at(NULL, 0, NULL, NULL, NULL, 0, NULL));
    CHECK_NULL(gogroup_err_group_shutdown(NULL, 0, NULL, 0, NULL));
    CHECK_NULL(gogroup_err_group_token(NULL, &t));
    CHECK_NULL(gogroup_err_group_new_with(NULL, -1, GOGROUP_COLLECT_ALL, NULL));
    CHECK_RC(gogroup_err_group_new_with(NULL, -1, 7, &g), GOGROUP_RESULT_INVALID_ARGUMENT);
    /* free(NULL) is a no-op */
    gogroup_wait_group_free(NULL);
    gogroup_cancel_token_free(NULL);
    gogroup_err_group_free(NULL);
    gogroup_registration_free(NULL);
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(t);
    gogroup_err_group_free(g);
    return ok;
}

static int a_freed_handle_is_invalid_handle_and_double_free_is_ignored(void) {
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *t = NULL;
    gogroup_err_group *g = NULL;
    gogroup_registration *reg = NULL;
    bool b = false;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_cancel_token_on_cancel(t, noop_cancel, NULL, NULL, &reg));
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(t);
    gogroup_err_group_free(g);
    gogroup_registration_free(reg);
    /* gogroup keeps freed handles' memory quarantined, so these reads are defined behaviour */
    CHECK_INVALID(gogroup_wait_group_add(wg, 1));
    CHECK_INVALID(gogroup_wait_group_wait(wg));
    CHECK_INVALID(gogroup_cancel_token_cancel(t));
    CHECK_INVALID(gogroup_cancel_token_err(t));
    CHECK(gogroup_cancel_token_is_cancelled(t));
    CHECK_INVALID(gogroup_err_group_go(g, noop_task, NULL, NULL));
    CHECK_INVALID(gogroup_err_group_wait(g, NULL, NULL, 0, NULL));
    CHECK_INVALID(gogroup_registration_stop(reg, &b));
    /* double free: ignored while detectable (still a bug) */
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(t);
    gogroup_err_group_free(g);
    gogroup_registration_free(reg);
    ok = 1;
cleanup:
    return ok;
}

static int a_handle_of_another_type_or_foreign_memory_is_invalid_handle(void) {
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *t = NULL;
    int ok = 0;
    /* 8-byte aligned, readable, not a gogroup handle */
    static uint64_t not_a_handle[8] = {0x1234, 0, 0, 0, 0, 0, 0, 0};
    char misaligned[64] = {0};
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_INVALID(gogroup_cancel_token_cancel((const gogroup_cancel_token *)(const void *)wg));
    CHECK_INVALID(gogroup_wait_group_done((const gogroup_wait_group *)(const void *)t));
    CHECK_INVALID(
        gogroup_err_group_wait((const gogroup_err_group *)(const void *)t, NULL, NULL, 0, NULL));
    CHECK_INVALID(
        gogroup_wait_group_wait_token(wg, (const gogroup_cancel_token *)(const void *)wg));
    CHECK_INVALID(
        gogroup_wait_group_add((const gogroup_wait_group *)(const void *)not_a_handle, 1));
    CHECK_INVALID(
        gogroup_wait_group_add((const gogroup_wait_group *)(const void *)(misaligned + 1), 1));
    /* freeing a handle of another type is ignored, and the handle is still fine */
    gogroup_cancel_token_free((gogroup_cancel_token *)(void *)wg);
    CHECK_OK(gogroup_wait_group_add(wg, 1));
    CHECK_OK(gogroup_wait_group_done(wg));
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    gogroup_cancel_token_free(t);
    return ok;
}

/* gogroup_last_error: core's message behind the last non-OK result on this thread. */
static int last_error_gives_cores_message_for_the_last_failure_on_this_thread(void) {
    gogroup_wait_group *wg = NULL;
    char message[64];
    size_t len = 0;
    int ok = 0;
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK_RC(gogroup_wait_group_done(wg), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK_OK(gogroup_wait_group_add(wg, 1)); /* a success leaves the record alone */
    CHECK_RC(gogroup_last_error(message, sizeof message, &len), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK(strcmp(message, "sync: negative WaitGroup counter") == 0);
    CHECK(len == strlen("sync: negative WaitGroup counter"));
    char small[5];
    CHECK_RC(gogroup_last_error(small, sizeof small, &len), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK(strcmp(small, "sync") == 0 && len == strlen("sync: negative WaitGroup counter"));
    CHECK_RC(gogroup_wait_group_add(NULL, 1), GOGROUP_RESULT_NULL_ARGUMENT); /* the ABI's own */
    CHECK_RC(gogroup_last_error(message, sizeof message, NULL), GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK(strstr(message, "NULL") != NULL);
    CHECK_RC(gogroup_last_error(NULL, 1, NULL), GOGROUP_RESULT_NULL_ARGUMENT); /* bad buffer */
    CHECK_OK(gogroup_wait_group_done(wg));
    ok = 1;
cleanup:
    gogroup_wait_group_free(wg);
    return ok;
}

static int misuse_never_leaks_the_arg_of_a_refused_call(void) {
    gogroup_err_group *g = NULL;
    gogroup_cancel_token *t = NULL;
    int ok = 0;
    frees_reset();
    CHECK_OK(gogroup_err_group_new(&g));
    CHECK_OK(gogroup_cancel_token_new(&t));
    gogroup_cancel_token_free(t); /* now a freed handle */
    CHECK_RC(gogroup_err_group_go(g, NULL, NULL, count_free), GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK_RC(gogroup_cancel_token_on_cancel(t, noop_cancel, NULL, count_free, NULL),
             GOGROUP_RESULT_INVALID_HANDLE);
    CHECK_RC(gogroup_wait_group_go(NULL, noop_fn, NULL, count_free), GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK(frees_count() == 3);
    ok = 1;
cleanup:
    gogroup_err_group_free(g);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(null_anywhere_is_null_argument),
        TEST(a_freed_handle_is_invalid_handle_and_double_free_is_ignored),
        TEST(a_handle_of_another_type_or_foreign_memory_is_invalid_handle),
        TEST(misuse_never_leaks_the_arg_of_a_refused_call),
        TEST(last_error_gives_cores_message_for_the_last_failure_on_this_thread),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
