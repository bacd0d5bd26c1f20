/* Handles cross library copies: two copies of libgogroup.so loaded side by side with
 * dlopen(RTLD_LOCAL) (two files, so two sets of Rust statics, pools and types), each using the
 * other's handles. This is what happens when the Python extension, the Node addon and
 * libgogroup.so live in one process.
 *
 * Usage: test_cross_copy PATH_TO_COPY_A PATH_TO_COPY_B (the Makefile copies the .so twice). */
#include <dlfcn.h>

#define GOGROUP_TEST_DLOPEN
#include "common.h"

/* The functions of one copy, looked up with dlsym. */
struct copy {
    void *lib;
    const char *(*version)(void);
    gogroup_result (*wg_new)(gogroup_wait_group **);
    void (*wg_free)(gogroup_wait_group *);
    gogroup_result (*wg_add)(const gogroup_wait_group *, int64_t);
    gogroup_result (*wg_done)(const gogroup_wait_group *);
    gogroup_result (*wg_count)(const gogroup_wait_group *, size_t *);
    gogroup_result (*wg_wait_timeout)(const gogroup_wait_group *, uint64_t);
    gogroup_result (*wg_wait_token)(const gogroup_wait_group *, const gogroup_cancel_token *);
    gogroup_result (*wg_go)(const gogroup_wait_group *, gogroup_fn, void *, gogroup_free_fn);
    gogroup_result (*tk_new)(gogroup_cancel_token **);
    void (*tk_free)(gogroup_cancel_token *);
    gogroup_result (*tk_child)(const gogroup_cancel_token *, gogroup_cancel_token **);
    gogroup_result (*tk_any)(const gogroup_cancel_token *const *, size_t, gogroup_cancel_token **);
    gogroup_result (*tk_with_timeout)(const gogroup_cancel_token *, uint64_t,
                                      gogroup_cancel_token **);
    gogroup_result (*tk_err)(const gogroup_cancel_token *);
    gogroup_result (*last_error)(char *, size_t, size_t *);
    gogroup_result (*tk_cancel)(const gogroup_cancel_token *);
    gogroup_result (*tk_cancel_with)(const gogroup_cancel_token *, int64_t, const char *);
    bool (*tk_is_cancelled)(const gogroup_cancel_token *);
    gogroup_result (*tk_cause)(const gogroup_cancel_token *, gogroup_result *, int64_t *, char *,
                               size_t, size_t *);
    gogroup_result (*tk_wait_timeout)(const gogroup_cancel_token *, uint64_t);
    gogroup_result (*tk_on_cancel)(const gogroup_cancel_token *, gogroup_cancel_fn, void *,
                                   gogroup_free_fn, gogroup_registration **);
    void (*reg_free)(gogroup_registration *);
    gogroup_result (*eg_with_token)(const gogroup_cancel_token *, gogroup_err_group **);
    gogroup_result (*eg_token)(const gogroup_err_group *, gogroup_cancel_token **);
    void (*eg_free)(gogroup_err_group *);
};

/* dlsym returns void *; converting it to a function pointer is what POSIX requires to work. */
#define LOAD(c, field, name)                                                                       \
    do {                                                                                           \
        void *sym_ = dlsym((c)->lib, name);                                                        \
        if (sym_ == NULL) {                                                                        \
            fprintf(stderr, "dlsym %s: %s\n", name, dlerror());                                    \
            return false;                                                                          \
        }                                                                                          \
        memcpy(&(c)->field, &sym_, sizeof sym_);                                                   \
    } while (0)

static bool load(struct copy *c, const char *path) {
    c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (c->lib == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return false;
    }
    LOAD(c, version, "gogroup_version");
    LOAD(c, wg_new, "gogroup_wait_group_new");
    LOAD(c, wg_free, "gogroup_wait_group_free");
    LOAD(c, wg_add, "gogroup_wait_group_add");
    LOAD(c, wg_done, "gogroup_wait_group_done");
    LOAD(c, wg_count, "gogroup_wait_group_count");
    LOAD(c, wg_wait_timeout, "gogroup_wait_group_wait_timeout");
    LOAD(c, wg_wait_token, "gogroup_wait_group_wait_token");
    LOAD(c, wg_go, "gogroup_wait_group_go");
    LOAD(c, tk_new, "gogroup_cancel_token_new");
    LOAD(c, tk_free, "gogroup_cancel_token_free");
    LOAD(c, tk_child, "gogroup_cancel_token_child");
    LOAD(c, tk_any, "gogroup_cancel_token_any");
    LOAD(c, tk_with_timeout, "gogroup_cancel_token_with_timeout");
    LOAD(c, tk_err, "gogroup_cancel_token_err");
    LOAD(c, last_error, "gogroup_last_error");
    LOAD(c, tk_cancel, "gogroup_cancel_token_cancel");
    LOAD(c, tk_cancel_with, "gogroup_cancel_token_cancel_with");
    LOAD(c, tk_is_cancelled, "gogroup_cancel_token_is_cancelled");
    LOAD(c, tk_cause, "gogroup_cancel_token_cause");
    LOAD(c, tk_wait_timeout, "gogroup_cancel_token_wait_timeout");
    LOAD(c, tk_on_cancel, "gogroup_cancel_token_on_cancel");
    LOAD(c, reg_free, "gogroup_registration_free");
    LOAD(c, eg_with_token, "gogroup_err_group_with_token");
    LOAD(c, eg_token, "gogroup_err_group_token");
    LOAD(c, eg_free, "gogroup_err_group_free");
    return true;
}

static struct copy a, b;

/* The header's inline gogroup_cancel_token_is_cancelled_inline falls back to this symbol; this
 * program is not linked against gogroup, so it provides it: copy B's function. */
bool gogroup_cancel_token_is_cancelled(const gogroup_cancel_token *token) {
    return b.tk_is_cancelled(token);
}

static int the_two_copies_are_really_two(void) {
    int ok = 0;
    void *fa, *fb;
    memcpy(&fa, &a.wg_new, sizeof fa);
    memcpy(&fb, &b.wg_new, sizeof fb);
    CHECK(a.lib != b.lib);
    CHECK(fa != fb);
    CHECK(strcmp(a.version(), b.version()) == 0);
    ok = 1;
cleanup:
    return ok;
}

/* ---- a wait group made by A, driven by B ----------------------------------------------------- */

struct count_env {
    const struct copy *by;
    gogroup_wait_group *wg;
    size_t seen;
    gogroup_result rc;
};

static void count_task(void *arg) {
    struct count_env *e = arg;
    /* B's function, on A's pool, on A's group: the running task itself is counted */
    e->rc = e->by->wg_count(e->wg, &e->seen);
}

static int a_wait_group_of_one_copy_is_driven_by_the_other(void) {
    gogroup_wait_group *wg = NULL;
    size_t count = 0;
    int ok = 0;
    CHECK_OK(a.wg_new(&wg));
    CHECK_OK(b.wg_add(wg, 3));
    CHECK_OK(a.wg_count(wg, &count));
    CHECK(count == 3); /* A sees what B did */
    CHECK_OK(a.wg_done(wg));
    CHECK_OK(b.wg_count(wg, &count));
    CHECK(count == 2); /* B sees what A did */
    struct count_env e = {&b, wg, 0, GOGROUP_RESULT_PANIC};
    CHECK_OK(b.wg_go(wg, count_task, &e, NULL)); /* forwarded to A: counted by A's group */
    CHECK_OK(b.wg_done(wg));
    CHECK_OK(a.wg_done(wg));
    CHECK_OK(b.wg_wait_timeout(wg, HANG_MS)); /* returns once the task is done */
    CHECK(e.rc == GOGROUP_RESULT_OK && e.seen >= 1);
    CHECK_RC(b.wg_done(wg), GOGROUP_RESULT_NEGATIVE_COUNTER);
    ok = 1;
cleanup:
    b.wg_free(wg); /* freed through the other copy: forwarded to A */
    return ok;
}

/* ---- a token made by B, cancelled by B, observed by A's functions and A's objects ---------- */

struct waiter {
    gogroup_wait_group *wg;
    gogroup_cancel_token *token;
    gogroup_result rc;
};

static void *wait_token_with_a(void *p) {
    struct waiter *w = p;
    w->rc = a.wg_wait_token(w->wg, w->token); /* A's group, B's token: bridged */
    return NULL;
}

struct seen {
    struct gate ran;
    gogroup_result cause;
    int64_t code;
};

static void seen_fn(void *arg, gogroup_result cause, int64_t code, const char *message) {
    struct seen *s = arg;
    (void)message;
    s->cause = cause;
    s->code = code;
    gate_post(&s->ran, 1);
}

static int a_token_of_one_copy_cancels_waits_and_objects_of_the_other(void) {
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *tb = NULL, *ta = NULL, *child = NULL, *either = NULL, *gtoken = NULL;
    gogroup_err_group *group = NULL;
    gogroup_registration *reg = NULL;
    struct seen s;
    pthread_t th;
    bool joined = true;
    int ok = 0;
    gate_init(&s.ran);
    CHECK_OK(a.wg_new(&wg));
    CHECK_OK(a.wg_add(wg, 1));
    CHECK_OK(b.tk_new(&tb));
    CHECK_OK(a.tk_new(&ta));
    CHECK_OK(a.tk_child(tb, &child)); /* forwarded: B makes the child */
    const gogroup_cancel_token *inputs[] = {ta, tb};
    CHECK_OK(a.tk_any(inputs, 2, &either)); /* A's token following A's and B's */
    CHECK_OK(a.eg_with_token(tb, &group));  /* A's group under B's token */
    CHECK_OK(a.eg_token(group, &gtoken));
    CHECK_OK(a.tk_on_cancel(tb, seen_fn, &s, NULL, &reg)); /* registered in B, through A */
    struct waiter w = {wg, tb, GOGROUP_RESULT_PANIC};
    CHECK(pthread_create(&th, NULL, wait_token_with_a, &w) == 0);
    joined = false;
    CHECK(!a.tk_is_cancelled(tb) && !a.tk_is_cancelled(either) && !b.tk_is_cancelled(gtoken));
    CHECK_OK(b.tk_cancel_with(tb, 504, "gateway timeout"));
    pthread_join(th, NULL);
    joined = true;
    CHECK(w.rc == GOGROUP_RESULT_CUSTOM); /* A's wait returned on B's cancel */
    CHECK(a.tk_is_cancelled(tb));         /* A reads B's token */
    CHECK(a.tk_is_cancelled(child));
    CHECK(b.tk_is_cancelled(either)); /* bridged synchronously, before cancel returned */
    CHECK(b.tk_is_cancelled(gtoken));
    gogroup_result kind = GOGROUP_RESULT_OK;
    int64_t code = 0;
    char message[32];
    CHECK_OK(b.tk_cause(either, &kind, &code, message, sizeof message, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == 504 && strcmp(message, "gateway timeout") == 0);
    CHECK_OK(a.tk_cause(gtoken, &kind, &code, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_CUSTOM && code == 504);
    CHECK(gate_take(&s.ran));
    CHECK(s.cause == GOGROUP_RESULT_CUSTOM && s.code == 504);
    CHECK(!a.tk_is_cancelled(ta)); /* never the other input */
    CHECK_OK(b.wg_done(wg));
    ok = 1;
cleanup:
    if (!joined) {
        b.tk_cancel(tb);
        pthread_join(th, NULL);
    }
    b.reg_free(reg);
    b.eg_free(group);
    a.tk_free(gtoken);
    b.tk_free(either);
    b.tk_free(child);
    a.tk_free(ta);
    a.tk_free(tb);
    a.wg_free(wg);
    gate_destroy(&s.ran);
    return ok;
}

/* ---- and the other way round: A cancels, B waits -------------------------------------------- */

static int a_token_cancelled_by_one_copy_wakes_a_waiter_in_the_other(void) {
    gogroup_cancel_token *ta = NULL;
    int ok = 0;
    CHECK_OK(a.tk_new(&ta));
    /* the inline reader: B's function sets up A's handle (forwarded), then it reads the header */
    CHECK(!gogroup_cancel_token_is_cancelled_inline(ta));
    CHECK(!gogroup_cancel_token_is_cancelled_inline(ta));
    CHECK_RC(b.tk_wait_timeout(ta, 1), GOGROUP_RESULT_TIMEOUT);
    CHECK_OK(a.tk_cancel(ta));
    CHECK(gogroup_cancel_token_is_cancelled_inline(ta));
    CHECK_OK(b.tk_wait_timeout(ta, HANG_MS));
    CHECK(b.tk_is_cancelled(ta));
    ok = 1;
cleanup:
    b.tk_free(ta);
    return ok;
}

/* Go's ctx.Err() of a token that follows another copy's token whose deadline passed: the mirror
 * says DEADLINE_EXCEEDED too, not CANCELED. */
static int a_deadline_in_one_copy_is_a_deadline_in_the_other(void) {
    gogroup_cancel_token *root = NULL, *timed = NULL, *ta = NULL, *either = NULL;
    int ok = 0;
    CHECK_OK(b.tk_new(&root));
    CHECK_OK(b.tk_with_timeout(root, 1, &timed)); /* B's deadline, 1 ms away */
    CHECK_OK(a.tk_new(&ta));
    const gogroup_cancel_token *inputs[] = {ta, timed};
    CHECK_OK(a.tk_any(inputs, 2, &either)); /* A's token, bridged to B's */
    CHECK_OK(a.tk_wait_timeout(either, HANG_MS));
    CHECK_RC(b.tk_err(timed), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_RC(a.tk_err(either), GOGROUP_RESULT_DEADLINE_EXCEEDED);
    gogroup_result kind = GOGROUP_RESULT_OK;
    CHECK_OK(a.tk_cause(either, &kind, NULL, NULL, 0, NULL));
    CHECK(kind == GOGROUP_RESULT_DEADLINE_EXCEEDED);
    CHECK_RC(a.tk_err(ta), GOGROUP_RESULT_OK);
    ok = 1;
cleanup:
    a.tk_free(either);
    a.tk_free(ta);
    b.tk_free(timed);
    b.tk_free(root);
    return ok;
}

/* A failure of a call forwarded to the other copy: its message comes back with it. */
static int the_message_of_a_forwarded_failure_comes_back(void) {
    gogroup_wait_group *wg = NULL;
    char message[64];
    int ok = 0;
    CHECK_OK(a.wg_new(&wg));
    CHECK_RC(b.wg_done(wg), GOGROUP_RESULT_NEGATIVE_COUNTER); /* B forwards to A */
    CHECK_RC(b.last_error(message, sizeof message, NULL), GOGROUP_RESULT_NEGATIVE_COUNTER);
    CHECK(strcmp(message, "sync: negative WaitGroup counter") == 0);
    ok = 1;
cleanup:
    a.wg_free(wg);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s COPY_A.so COPY_B.so\n", argv[0]);
        return 2;
    }
    if (!load(&a, argv[1]) || !load(&b, argv[2])) {
        return 1;
    }
    static const struct test_case tests[] = {
        TEST(the_two_copies_are_really_two),
        TEST(a_wait_group_of_one_copy_is_driven_by_the_other),
        TEST(a_token_of_one_copy_cancels_waits_and_objects_of_the_other),
        TEST(a_token_cancelled_by_one_copy_wakes_a_waiter_in_the_other),
        TEST(a_deadline_in_one_copy_is_a_deadline_in_the_other),
        TEST(the_message_of_a_forwarded_failure_comes_back),
    };
    /* The libraries stay loaded: their pool threads may still be winding down. */
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
