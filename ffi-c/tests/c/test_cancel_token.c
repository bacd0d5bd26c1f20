/* gogroup_cancel_token: Go's context tests (cancel, cause, deadlines, AfterFunc), ported, plus
 * the pollable descriptor. */
#include <poll.h>
#include <unistd.h>

#include "common.h"

static int cause_kind(const gogroup_cancel_token *t) {
    gogroup_result kind = GOGROUP_RESULT_PANIC;
    if (gogroup_cancel_token_cause(t, &kind, NULL, NULL, 0, NULL) != GOGROUP_RESULT_OK) {
        return -1;
    }
    return (int)kind;
}

/* ---- the tree ------------------------------------------------------------------------------ */

static int parent_cancel_reaches_grandchildren_after_the_child_handle_is_freed(void) {
    gogroup_cancel_token *root = NULL, *child = NULL, *grandchild = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_child(root, &child));
    CHECK_OK(gogroup_cancel_token_child(child, &grandchild));
    gogroup_cancel_token_free(child); /* the middle node lives on for its grandchild */
    child = NULL;
    CHECK(!gogroup_cancel_token_is_cancelled(grandchild));
    CHECK_OK(gogroup_cancel_token_err(grandchild));
    CHECK_OK(gogroup_cancel_token_cancel_with(root, 7, "root stop"));
    /* synchronously, before cancel returned */
    CHECK(gogroup_cancel_token_is_cancelled(grandchild));
    CHECK_RC(gogroup_cancel_token_err(grandchild), GOGROUP_RESULT_CANCELED);
    int64_t code = 0;
    char message[64];
    size_t len = 0;
    gogroup_result kind = GOGROUP_RESULT_OK;
    CHECK_OK(gogroup_cancel_token_cause(grandchild, &kind, &code, message, sizeof message, &len));
    CHECK(kind == GOGROUP_RESULT_CUSTOM);
    CHECK(code == 7);
    CHECK(strcmp(message, "root stop") == 0 && len == strlen("root stop"));
    ok = 1;
cleanup:
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(child);
    gogroup_cancel_token_free(grandchild);
    return ok;
}

static int cancelling_a_child_leaves_the_parent_alone_and_the_first_cancel_wins(void) {
    gogroup_cancel_token *root = NULL, *child = NULL, *late = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_child(root, &child));
    CHECK_OK(gogroup_cancel_token_cancel(child));
    CHECK(!gogroup_cancel_token_is_cancelled(root));
    CHECK(cause_kind(child) == GOGROUP_RESULT_CANCELED);
    CHECK_OK(gogroup_cancel_token_cancel_with(child, 1, "ignored: too late"));
    CHECK(cause_kind(child) == GOGROUP_RESULT_CANCELED);
    CHECK_OK(gogroup_cancel_token_cancel(root));
    CHECK_OK(gogroup_cancel_token_child(root, &late)); /* born cancelled */
    CHECK(gogroup_cancel_token_is_cancelled(late));
    ok = 1;
cleanup:
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(child);
    gogroup_cancel_token_free(late);
    return ok;
}

static int cause_is_copied_like_snprintf_and_reports_the_needed_length(void) {
    gogroup_cancel_token *t = NULL;
    const char *text = "availability service: 503 Service Unavailable";
    char small[8];
    size_t len = 0;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&t));
    /* live: kind OK, empty message */
    gogroup_result kind = GOGROUP_RESULT_PANIC;
    CHECK_OK(gogroup_cancel_token_cause(t, &kind, NULL, small, sizeof small, &len));
    CHECK(kind == GOGROUP_RESULT_OK && len == 0 && small[0] == '\0');
    CHECK_OK(gogroup_cancel_token_cancel_with(t, -5, text));
    CHECK_OK(gogroup_cancel_token_cause(t, NULL, NULL, NULL, 0, &len)); /* length query */
    CHECK(len == strlen(text));
    CHECK_OK(gogroup_cancel_token_cause(t, NULL, NULL, small, sizeof small, &len));
    CHECK(len == strlen(text));
    CHECK(strcmp(small, "availab") == 0); /* 7 bytes and a NUL */
    CHECK_RC(gogroup_cancel_token_cause(t, NULL, NULL, NULL, 4, &len),
             GOGROUP_RESULT_NULL_ARGUMENT);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(t);
    return ok;
}

/* ---- deadlines --------------------------------------------------------------------------- */

static int with_timeout_fires_deadline_exceeded(void) {
    gogroup_cancel_token *root = NULL, *t = NULL, *inner = NULL;
    uint64_t d1 = 0, d2 = 0, none = 0;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_deadline(root, &none));
    CHECK(none == GOGROUP_NO_DEADLINE);
    uint64_t before = gogroup_now_ns();
    CHECK_OK(gogroup_cancel_token_with_timeout(root, 20, &t));
    CHECK_OK(gogroup_cancel_token_deadline(t, &d1));
    CHECK(d1 >= before + 19000000u && d1 <= gogroup_now_ns() + 21000000u);
    /* a later deadline below an earlier one: the earlier governs (Go does the same) */
    CHECK_OK(gogroup_cancel_token_with_timeout(t, 3600000, &inner));
    CHECK_OK(gogroup_cancel_token_deadline(inner, &d2));
    CHECK(d2 == d1);
    CHECK_OK(gogroup_cancel_token_wait_timeout(inner, HANG_MS));
    CHECK_RC(gogroup_cancel_token_err(t), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_RC(gogroup_cancel_token_err(inner), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK(!gogroup_cancel_token_is_cancelled(root));
    ok = 1;
cleanup:
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(t);
    gogroup_cancel_token_free(inner);
    return ok;
}

/* A huge timeout is the far future: beyond what 64 bits of nanoseconds hold, the deadline
 * reads as GOGROUP_NO_DEADLINE (before, it wrapped, often to an instant in the past); a long
 * but representable one reads as the exact instant. The token is not cancelled. */
static int huge_timeouts_never_report_a_past_deadline(void) {
    static const uint64_t huge_ms[] = {
        (uint64_t)INT64_MAX,
        (uint64_t)1 << 63,
        18000000000000u,              /* ~1.8e13 ms: 570 years, still representable */
        18000000000000000u,           /* ~1.8e16 ms */
        1000ull * 365 * 86400 * 1000, /* 1,000 years */
        100ull * 86400 * 1000,        /* 100 days */
        UINT64_MAX,
    };
    gogroup_cancel_token *root = NULL, *t = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    for (size_t i = 0; i < sizeof huge_ms / sizeof huge_ms[0]; i++) {
        uint64_t deadline = 0, before = gogroup_now_ns();
        CHECK_OK(gogroup_cancel_token_with_timeout(root, huge_ms[i], &t));
        uint64_t after = gogroup_now_ns();
        CHECK_OK(gogroup_cancel_token_deadline(t, &deadline));
        /* The clock conversion is exact up to the gap between the two clock reads of its
         * base pair (microseconds; more under valgrind): allow 10 ms each way. */
        const uint64_t slack = 10000000u;
        bool fits = huge_ms[i] <= (GOGROUP_NO_DEADLINE - after - slack) / 1000000u;
        bool right = fits ? deadline + slack >= before + huge_ms[i] * 1000000u &&
                                deadline <= after + huge_ms[i] * 1000000u + slack
                          : deadline == GOGROUP_NO_DEADLINE;
        if (!right) {
            fprintf(stderr, "  timeout %llu ms: deadline %llu, now %llu\n",
                    (unsigned long long)huge_ms[i], (unsigned long long)deadline,
                    (unsigned long long)after);
        }
        CHECK(right);
        CHECK(!gogroup_cancel_token_is_cancelled(t));
        gogroup_cancel_token_free(t);
        t = NULL;
    }
    ok = 1;
cleanup:
    gogroup_cancel_token_free(t);
    gogroup_cancel_token_free(root);
    return ok;
}

/* Go's WithTimeoutCause / WithDeadlineCause: the cause is used only when the deadline fires. */
static int a_deadline_cause_is_recorded_when_it_fires_and_only_then(void) {
    gogroup_cancel_token *root = NULL, *fired = NULL, *by_hand = NULL, *past = NULL;
    gogroup_result kind = GOGROUP_RESULT_OK;
    int64_t code = 0;
    char message[32];
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_with_timeout_cause(root, 1, 504, "upstream too slow", &fired));
    CHECK_OK(gogroup_cancel_token_with_timeout_cause(root, 3600000, 1, "never used", &by_hand));
    CHECK_OK(gogroup_cancel_token_with_deadline_cause(root, 0, 7, "already late", &past));
    CHECK_OK(gogroup_cancel_token_wait_timeout(fired, HANG_MS));
    CHECK_RC(gogroup_cancel_token_err(fired), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_OK(gogroup_cancel_token_cause(fired, &kind, &code, message, sizeof message, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == 504 &&
          strcmp(message, "upstream too slow") == 0);
    CHECK_RC(gogroup_cancel_token_err(past), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_OK(gogroup_cancel_token_cause(past, &kind, &code, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == 7);
    CHECK_OK(gogroup_cancel_token_cancel(by_hand)); /* by hand first: its own cause */
    CHECK_RC(gogroup_cancel_token_err(by_hand), GOGROUP_RESULT_CANCELED);
    CHECK_OK(gogroup_cancel_token_cause(by_hand, &kind, NULL, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_CANCELED);
    CHECK_RC(gogroup_cancel_token_with_timeout_cause(root, 1, 0, NULL, &past),
             GOGROUP_RESULT_NULL_ARGUMENT);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(past);
    gogroup_cancel_token_free(by_hand);
    gogroup_cancel_token_free(fired);
    gogroup_cancel_token_free(root);
    return ok;
}

static void noop_cancel_fn(void *arg, gogroup_result cause, int64_t code, const char *message) {
    (void)arg;
    (void)cause;
    (void)code;
    (void)message;
}

/* dependents: children, registrations and waits on a token, back to 0 when they are gone. */
static int dependents_count_children_and_registrations_and_return_to_zero(void) {
    gogroup_cancel_token *root = NULL, *child = NULL;
    gogroup_registration *reg = NULL;
    size_t n = 99;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    int fd = -1;
    CHECK(!gogroup_cancel_token_is_cancelled(root)); /* the handle's own watches: not counted */
    CHECK_OK(gogroup_cancel_token_fd(root, &fd));
    CHECK_OK(gogroup_cancel_token_dependents(root, &n));
    CHECK(n == 0);
    CHECK_OK(gogroup_cancel_token_child(root, &child));
    CHECK_OK(gogroup_cancel_token_on_cancel(root, noop_cancel_fn, NULL, NULL, &reg));
    CHECK_OK(gogroup_cancel_token_dependents(root, &n));
    CHECK(n == 2);
    gogroup_cancel_token_free(child);
    child = NULL;
    CHECK_OK(gogroup_registration_stop(reg, NULL));
    CHECK_OK(gogroup_cancel_token_dependents(root, &n));
    CHECK(n == 0);
    CHECK_RC(gogroup_cancel_token_dependents(root, NULL), GOGROUP_RESULT_NULL_ARGUMENT);
    CHECK_RC(gogroup_cancel_token_dependents(NULL, &n), GOGROUP_RESULT_NULL_ARGUMENT);
    ok = 1;
cleanup:
    gogroup_registration_free(reg);
    gogroup_cancel_token_free(child);
    gogroup_cancel_token_free(root);
    return ok;
}

static int a_deadline_in_the_past_gives_a_cancelled_token(void) {
    gogroup_cancel_token *root = NULL, *t = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_with_deadline(root, gogroup_now_ns() - 1, &t));
    CHECK(gogroup_cancel_token_is_cancelled(t));
    CHECK_RC(gogroup_cancel_token_err(t), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_RC(gogroup_cancel_token_wait_timeout(root, 1), GOGROUP_RESULT_TIMEOUT);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(t);
    return ok;
}

/* ---- any ---------------------------------------------------------------------------------- */

static int any_is_cancelled_by_whichever_input_first_with_its_cause(void) {
    gogroup_cancel_token *a = NULL, *b = NULL, *either = NULL, *none = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&a));
    CHECK_OK(gogroup_cancel_token_new(&b));
    const gogroup_cancel_token *inputs[] = {a, b};
    CHECK_OK(gogroup_cancel_token_any(inputs, 2, &either));
    CHECK_OK(gogroup_cancel_token_any(NULL, 0, &none));
    CHECK(!gogroup_cancel_token_is_cancelled(either));
    CHECK_OK(gogroup_cancel_token_cancel_with(b, 2, "b gave up"));
    CHECK(gogroup_cancel_token_is_cancelled(either));
    CHECK(cause_kind(either) == GOGROUP_RESULT_CUSTOM);
    CHECK(!gogroup_cancel_token_is_cancelled(a));
    CHECK(!gogroup_cancel_token_is_cancelled(none));
    CHECK_RC(gogroup_cancel_token_any(NULL, 1, &none), GOGROUP_RESULT_NULL_ARGUMENT);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(a);
    gogroup_cancel_token_free(b);
    gogroup_cancel_token_free(either);
    gogroup_cancel_token_free(none);
    return ok;
}

/* ---- on_cancel: Go's AfterFunc semantics ---------------------------------------------------- */

struct after {
    struct gate ran; /* one permit per run */
    gogroup_result cause;
    int64_t code;
    char message[64];
    gogroup_cancel_token *to_cancel;    /* cancelled from inside the callback, if set */
    gogroup_registration *registration; /* stopped from inside the callback, if set */
    bool stop_result;
};

static void after_fn(void *arg, gogroup_result cause, int64_t code, const char *message) {
    struct after *a = arg;
    a->cause = cause;
    a->code = code;
    snprintf(a->message, sizeof a->message, "%s", message);
    if (a->to_cancel != NULL) {
        /* calling back into gogroup: must not deadlock, even on the token being cancelled */
        gogroup_cancel_token_cancel(a->to_cancel);
    }
    if (a->registration != NULL) {
        a->stop_result = true;
        gogroup_registration_stop(a->registration, &a->stop_result);
    }
    gate_post(&a->ran, 1);
}

static void after_init(struct after *a) {
    memset(a, 0, sizeof *a);
    gate_init(&a->ran);
}

static int after_func_runs_once_after_cancel_and_stop_then_returns_false(void) {
    gogroup_cancel_token *t = NULL;
    gogroup_registration *reg = NULL;
    struct after a;
    bool stopped = true;
    int ok = 0;
    after_init(&a);
    frees_reset();
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_cancel_token_on_cancel(t, after_fn, &a, count_free, &reg));
    CHECK(gate_permits(&a.ran) == 0);
    CHECK_OK(gogroup_cancel_token_cancel_with(t, 9, "done for"));
    CHECK(gate_take(&a.ran));
    CHECK(a.cause == GOGROUP_RESULT_CUSTOM && a.code == 9 && strcmp(a.message, "done for") == 0);
    CHECK_OK(gogroup_registration_stop(reg, &stopped));
    CHECK(!stopped); /* too late: it already ran */
    CHECK_OK(gogroup_cancel_token_cancel(t));
    CHECK(gogroup_cancel_token_wait_timeout(t, 0) == GOGROUP_RESULT_OK);
    CHECK(gate_permits(&a.ran) == 0); /* once only */
    ok = 1;
cleanup:
    gogroup_registration_free(reg);
    gogroup_cancel_token_free(t);
    /* the callback ran: its arg_free runs right after it, on the callback's thread */
    ok = ok && frees_wait_for(1) && frees_count() == 1;
    gate_destroy(&a.ran);
    return ok;
}

static int stop_before_cancel_prevents_the_callback_and_frees_the_arg(void) {
    gogroup_cancel_token *t = NULL;
    gogroup_registration *reg = NULL;
    struct after a;
    bool stopped = false;
    int ok = 0;
    after_init(&a);
    frees_reset();
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_cancel_token_on_cancel(t, after_fn, &a, count_free, &reg));
    CHECK_OK(gogroup_registration_stop(reg, &stopped));
    CHECK(stopped);
    CHECK(frees_count() == 1); /* freed by stop itself */
    CHECK_OK(gogroup_registration_stop(reg, &stopped));
    CHECK(!stopped);
    CHECK_OK(gogroup_cancel_token_cancel(t));
    /* A second callback registered after the cancel runs; it is the fence for the first. */
    struct after b;
    after_init(&b);
    CHECK_OK(gogroup_cancel_token_on_cancel(t, after_fn, &b, NULL, NULL));
    CHECK(gate_take(&b.ran));
    CHECK(gate_permits(&a.ran) == 0);
    gate_destroy(&b.ran);
    ok = 1;
cleanup:
    gogroup_registration_free(reg);
    gogroup_cancel_token_free(t);
    gate_destroy(&a.ran);
    return ok;
}

static int releasing_a_never_cancelled_token_frees_the_callback_arg(void) {
    gogroup_cancel_token *t = NULL;
    int ok = 0;
    frees_reset();
    CHECK_OK(gogroup_cancel_token_new(&t));
    struct after a;
    after_init(&a);
    CHECK_OK(gogroup_cancel_token_on_cancel(t, after_fn, &a, count_free, NULL));
    gogroup_cancel_token_free(t);
    t = NULL;
    CHECK(frees_count() == 1); /* by the free itself: the last handle of the token */
    CHECK(gate_permits(&a.ran) == 0);
    gate_destroy(&a.ran);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(t);
    return ok;
}

static int a_callback_may_cancel_its_own_token_and_stop_its_own_registration(void) {
    gogroup_cancel_token *root = NULL, *child = NULL;
    gogroup_registration *reg = NULL, *inline_reg = NULL;
    struct after pooled, inl;
    int ok = 0;
    after_init(&pooled);
    after_init(&inl);
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_child(root, &child));
    /* the inline one runs on the cancelling thread and cancels the very token it watches and
     * its parent, and stops itself */
    inl.to_cancel = root;
    CHECK_OK(gogroup_cancel_token_on_cancel_inline(child, after_fn, &inl, NULL, &inline_reg));
    inl.registration = inline_reg;
    pooled.to_cancel = child;
    CHECK_OK(gogroup_cancel_token_on_cancel(child, after_fn, &pooled, NULL, &reg));
    pooled.registration = reg;
    CHECK_OK(gogroup_cancel_token_cancel(child));
    CHECK(gate_permits(&inl.ran) == 1); /* inline: before cancel returned */
    CHECK(!inl.stop_result);
    CHECK(gate_take(&pooled.ran));
    CHECK(!pooled.stop_result);
    CHECK(gogroup_cancel_token_is_cancelled(root));
    ok = 1;
cleanup:
    gogroup_registration_free(reg);
    gogroup_registration_free(inline_reg);
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(child);
    gate_destroy(&pooled.ran);
    gate_destroy(&inl.ran);
    return ok;
}

static int on_cancel_of_a_cancelled_token_runs_at_once(void) {
    gogroup_cancel_token *t = NULL;
    struct after a;
    int ok = 0;
    after_init(&a);
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_cancel_token_cancel(t));
    CHECK_OK(gogroup_cancel_token_on_cancel_inline(t, after_fn, &a, NULL, NULL));
    CHECK(gate_permits(&a.ran) == 1);
    CHECK(a.cause == GOGROUP_RESULT_CANCELED && strcmp(a.message, "context canceled") == 0);
    ok = 1;
cleanup:
    gogroup_cancel_token_free(t);
    gate_destroy(&a.ran);
    return ok;
}

/* ---- the pollable descriptor ---------------------------------------------------------------- */

struct poll_env {
    int fd;
    int revents;
    int polled;
};

static void *poll_fd(void *p) {
    struct poll_env *e = p;
    struct pollfd pfd = {e->fd, POLLIN, 0};
    e->polled = poll(&pfd, 1, (int)HANG_MS);
    e->revents = pfd.revents;
    return NULL;
}

static int fd_becomes_readable_on_cancel_and_stays_readable(void) {
    gogroup_cancel_token *t = NULL, *child = NULL;
    int fd = -1, again = -1, child_fd = -1;
    pthread_t th;
    bool joined = true;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_cancel_token_child(t, &child));
    CHECK_OK(gogroup_cancel_token_fd(t, &fd));
    CHECK_OK(gogroup_cancel_token_fd(t, &again));
    CHECK(fd >= 0 && fd == again);
    CHECK_OK(gogroup_cancel_token_fd(child, &child_fd));
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK(poll(&pfd, 1, 0) == 0); /* live: not readable */
    struct poll_env env = {child_fd, 0, -1};
    CHECK(pthread_create(&th, NULL, poll_fd, &env) == 0); /* a thread blocked in poll() */
    joined = false;
    CHECK_OK(gogroup_cancel_token_cancel(t));
    pthread_join(th, NULL);
    joined = true;
    CHECK(env.polled == 1 && (env.revents & POLLIN));
    CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
    CHECK(poll(&pfd, 1, 0) == 1); /* level-triggered: stays readable */
    /* a token cancelled before its fd was asked for: readable at once */
    gogroup_cancel_token *late = NULL;
    int late_fd = -1;
    CHECK_OK(gogroup_cancel_token_child(t, &late));
    CHECK_OK(gogroup_cancel_token_fd(late, &late_fd));
    struct pollfd lp = {late_fd, POLLIN, 0};
    CHECK(poll(&lp, 1, 0) == 1);
    gogroup_cancel_token_free(late);
    ok = 1;
cleanup:
    if (!joined) {
        pthread_join(th, NULL);
    }
    gogroup_cancel_token_free(t);
    gogroup_cancel_token_free(child);
    return ok;
}

static int freeing_the_handle_closes_its_fd(void) {
    gogroup_cancel_token *t = NULL;
    int fd = -1;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&t));
    CHECK_OK(gogroup_cancel_token_fd(t, &fd));
    gogroup_cancel_token_free(t);
    t = NULL;
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLNVAL)); /* closed */
    ok = 1;
cleanup:
    gogroup_cancel_token_free(t);
    return ok;
}

/* ---- the header's inline is_cancelled -------------------------------------------------------- */

static int the_inline_is_cancelled_agrees_with_the_function_at_every_step(void) {
    gogroup_cancel_token *root = NULL, *child = NULL, *dead = NULL;
    gogroup_wait_group *wg = NULL;
    int ok = 0;
    CHECK_OK(gogroup_cancel_token_new(&root));
    CHECK_OK(gogroup_cancel_token_child(root, &child));
    CHECK(!gogroup_cancel_token_is_cancelled_inline(root)); /* first call: sets the cell up */
    CHECK(!gogroup_cancel_token_is_cancelled_inline(root)); /* then: the inline path */
    CHECK(!gogroup_cancel_token_is_cancelled_inline(child));
    CHECK_OK(gogroup_cancel_token_cancel(root));
    /* synchronously: the cell is marked before cancel returns, for children too */
    CHECK(gogroup_cancel_token_is_cancelled_inline(root));
    CHECK(gogroup_cancel_token_is_cancelled_inline(child));
    CHECK(gogroup_cancel_token_is_cancelled(child));
    /* misuse reads as cancelled, as the function does */
    CHECK(gogroup_cancel_token_is_cancelled_inline(NULL));
    CHECK_OK(gogroup_wait_group_new(&wg));
    CHECK(gogroup_cancel_token_is_cancelled_inline((const gogroup_cancel_token *)(const void *)wg));
    CHECK_OK(gogroup_cancel_token_new(&dead));
    CHECK(!gogroup_cancel_token_is_cancelled_inline(dead));
    gogroup_cancel_token_free(dead); /* freed with its cell set up: DEAD wins */
    CHECK(gogroup_cancel_token_is_cancelled_inline(dead));
    ok = 1;
cleanup:
    gogroup_cancel_token_free(root);
    gogroup_cancel_token_free(child);
    gogroup_wait_group_free(wg);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(parent_cancel_reaches_grandchildren_after_the_child_handle_is_freed),
        TEST(huge_timeouts_never_report_a_past_deadline),
        TEST(cancelling_a_child_leaves_the_parent_alone_and_the_first_cancel_wins),
        TEST(cause_is_copied_like_snprintf_and_reports_the_needed_length),
        TEST(with_timeout_fires_deadline_exceeded),
        TEST(a_deadline_cause_is_recorded_when_it_fires_and_only_then),
        TEST(dependents_count_children_and_registrations_and_return_to_zero),
        TEST(a_deadline_in_the_past_gives_a_cancelled_token),
        TEST(any_is_cancelled_by_whichever_input_first_with_its_cause),
        TEST(after_func_runs_once_after_cancel_and_stop_then_returns_false),
        TEST(stop_before_cancel_prevents_the_callback_and_frees_the_arg),
        TEST(releasing_a_never_cancelled_token_frees_the_callback_arg),
        TEST(a_callback_may_cancel_its_own_token_and_stop_its_own_registration),
        TEST(on_cancel_of_a_cancelled_token_runs_at_once),
        TEST(fd_becomes_readable_on_cancel_and_stays_readable),
        TEST(freeing_the_handle_closes_its_fd),
        TEST(the_inline_is_cancelled_agrees_with_the_function_at_every_step),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
