/*
 * The C driver of gogroup's conformance suite: runs scenarios through libgogroup's C API.
 *
 * Runs each scenario file given on the command line (format: conformance/README.md) against
 * include/gogroup.h / libgogroup and prints one JSON line per scenario:
 *
 *   {"scenario":"wg_add_done_wait_releases_waiter","status":"pass","detail":"","ms":1}
 *
 * The `go` overrides of a scenario state Go's behaviour; this driver never reads them.
 *
 * C idioms (see conformance/README.md, "Drivers"):
 * - A named error is an application error: CUSTOM with a code the driver gives it (1000 + n)
 *   and its message; "that very error" is that kind, code and message. A task returns it as
 *   its nonzero code and message; cancel_with gives it as the cause.
 * - Where a call returns only a result code (eg.go cut short by cancellation, wg.wait with a
 *   token), the code and message are read from the token's cause, as gogroup.h says.
 * - "Whether this cancel cancelled it" is read off is_cancelled before the call (the C cancel
 *   returns no such flag), as the Go driver reads Err().
 * - ErrGroup wait with a token: the C API has none, so the driver uses Go's idiom: a thread
 *   waits for the group while the caller waits for the first of that thread and the token (an
 *   inline on_cancel callback wakes it). gogroup_wait_group_wait_token has no timed form: it
 *   runs on a thread of its own so that the bound applies.
 * - What the C API cannot express is reported as "unsupported" with the feature's name (see
 *   run.py, C_UNSUPPORTED): a task panic. An observation the API lacks is skipped and named (the
 * rest of the scenario still runs); a step it cannot perform ends the scenario.
 *
 * Usage: c-driver [--bound-ms N] FILE.json...
 */
#include <gogroup.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

enum { MSG = 1024, NAMED_CODE_BASE = 1000 };

/* ---- small utilities ------------------------------------------------------------------- */

static char *xstrdup(const char *s) {
    char *d = xcalloc(strlen(s) + 1, 1);
    strcpy(d, s);
    return d;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec abs_ms(int64_t at_ms) {
    struct timespec ts = {(time_t)(at_ms / 1000), (long)(at_ms % 1000) * 1000000L};
    return ts;
}

/* What a step did: 0 ok, 1 failed (msg says why), 2 cannot be expressed in C (feature). */
typedef struct {
    int status;
    char msg[MSG];
    char feature[64];
} outcome;

#define OK 0
#define FAILED 1
#define UNSUPPORTED 2

static int failf(outcome *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    o->status = FAILED;
    return FAILED;
}

static int unsupported(outcome *o, const char *feature, const char *why) {
    snprintf(o->feature, sizeof o->feature, "%s", feature);
    snprintf(o->msg, sizeof o->msg, "%s", why);
    o->status = UNSUPPORTED;
    return UNSUPPORTED;
}

/* Prefixes o->msg with `prefix` (keeps the status). */
static void prefix(outcome *o, const char *fmt, ...) {
    char head[256], old[MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", o->msg);
    if (snprintf(o->msg, sizeof o->msg, "%s%s", head, old) < 0) {
        o->msg[0] = '\0'; /* truncation is fine: the message is a diagnostic */
    }
}

/* An error as the C API reports it: kind OK is "no error". */
typedef struct {
    gogroup_result kind;
    int64_t code;
    bool has_message; /* the API gave a message (CUSTOM and causes do; plain results do not) */
    char message[MSG];
} error_value;

static error_value result_only(gogroup_result kind) {
    error_value e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    return e;
}

/* The result of the C API call just made on this thread, with its message
 * (gogroup_last_error). */
static error_value api_result(gogroup_result kind) {
    error_value e = result_only(kind);
    if (kind != GOGROUP_RESULT_OK &&
        gogroup_last_error(e.message, sizeof e.message, NULL) == kind) {
        e.has_message = true;
    }
    return e;
}

/* ---- scenario state -------------------------------------------------------------------- */

typedef struct {
    char *name;
    void *ptr;
    int64_t value;
} entry;

typedef struct {
    entry *items;
    size_t n, cap;
} table;

static entry *table_find(table *t, const char *name) {
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->items[i].name, name) == 0) {
            return &t->items[i];
        }
    }
    return NULL;
}

static entry *table_put(table *t, const char *name) {
    entry *e = table_find(t, name);
    if (e != NULL) {
        return e;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        entry *items = xcalloc(t->cap, sizeof *items);
        if (t->n > 0) {
            memcpy(items, t->items, t->n * sizeof *items);
        }
        /* The old array is leaked on purpose: a pointer into it may be held by a reader that
         * took the lock before; entries are never removed. */
        t->items = items;
    }
    e = &t->items[t->n++];
    e->name = xstrdup(name);
    return e;
}

typedef struct {
    bool done;
    outcome result;
} call;

typedef struct {
    int64_t code;
    char *message;
} named_error;

typedef struct {
    int64_t current, max;
} gauge;

typedef struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* every change: an event set, a call finished, the scenario ended */
    const json *messages;
    int64_t bound_ms;
    bool aborted;
    table wgs, tokens, groups, regs, calls, events, errors, counters, gauges;
    table log;     /* names only, in order */
    table spawned; /* ptr: call */
    char failures[4 * MSG];
    char features[256]; /* unsupported features met, comma-separated */
    char unsupported_detail[MSG];
} run;

static void lock(run *r) {
    pthread_mutex_lock(&r->mu);
}

static void unlock(run *r) {
    pthread_mutex_unlock(&r->mu);
}

/* Waits on r->cv until `deadline_ms`; the caller holds r->mu. */
static void wait_until(run *r, int64_t deadline_ms) {
    struct timespec ts = abs_ms(deadline_ms);
    int rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    (void)rc; /* ETIMEDOUT or a wake-up: the caller re-checks its condition and the time */
}

static void note_feature(run *r, const char *feature, const char *why) {
    lock(r);
    if (strstr(r->features, feature) == NULL) {
        size_t used = strlen(r->features);
        snprintf(r->features + used, sizeof r->features - used, "%s%s", used ? "," : "", feature);
    }
    if (r->unsupported_detail[0] == '\0') {
        snprintf(r->unsupported_detail, sizeof r->unsupported_detail, "%s: %s", feature, why);
    }
    unlock(r);
}

/* Records what a task or callback outcome was (failures end the scenario as a failure). */
static void note_outcome(run *r, const outcome *o, const char *where) {
    if (o->status == UNSUPPORTED) {
        note_feature(r, o->feature, o->msg);
    } else if (o->status == FAILED) {
        lock(r);
        size_t used = strlen(r->failures);
        snprintf(r->failures + used, sizeof r->failures - used, "%s%s%s", used ? "; " : "", where,
                 o->msg);
        unlock(r);
    }
}

static named_error *named(run *r, const char *name) {
    lock(r);
    entry *e = table_put(&r->errors, name);
    if (e->ptr == NULL) {
        named_error *n = xcalloc(1, sizeof *n);
        n->code = NAMED_CODE_BASE + (int64_t)r->errors.n;
        const char *msg = json_str(json_get(r->messages, name));
        n->message = xstrdup(msg ? msg : name);
        e->ptr = n;
    }
    named_error *n = e->ptr;
    unlock(r);
    return n;
}

static void *lookup(run *r, table *t, const char *name) {
    lock(r);
    entry *e = name ? table_find(t, name) : NULL;
    void *p = e ? e->ptr : NULL;
    unlock(r);
    return p;
}

static void store(run *r, table *t, const char *name, void *ptr) {
    lock(r);
    table_put(t, name)->ptr = ptr;
    unlock(r);
}

static const char *sfield(const json *st, const char *key) {
    const char *s = json_str(json_get(st, key));
    return s ? s : "";
}

#define GET(var, table_name, what, st, key)                                                        \
    do {                                                                                           \
        var = lookup(r, &r->table_name, sfield(st, key));                                          \
        if (var == NULL) {                                                                         \
            return failf(o, "no %s \"%s\"", what, sfield(st, key));                                \
        }                                                                                          \
    } while (0)

/* ---- events ---------------------------------------------------------------------------- */

static void signal_event(run *r, const char *name) {
    lock(r);
    table_put(&r->events, name)->value = 1;
    pthread_cond_broadcast(&r->cv);
    unlock(r);
}

static int await_event(run *r, const char *name, outcome *o) {
    int64_t deadline = now_ms() + r->bound_ms;
    lock(r);
    for (;;) {
        entry *e = table_put(&r->events, name);
        if (e->value) {
            unlock(r);
            return OK;
        }
        if (r->aborted) {
            unlock(r);
            return failf(o, "scenario ended while waiting for event \"%s\"", name);
        }
        if (now_ms() >= deadline) {
            unlock(r);
            return failf(o,
                         "event \"%s\" not set within %lld ms (a hang here means a lost wake-up)",
                         name, (long long)r->bound_ms);
        }
        wait_until(r, deadline);
    }
}

/* ---- matching -------------------------------------------------------------------------- */

static bool is_kind(const char *s) {
    if (*s == '\0') {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || *s == '_')) {
            return false;
        }
    }
    return true;
}

static void describe(const error_value *e, char *out, size_t cap) {
    if (e->kind == GOGROUP_RESULT_OK) {
        snprintf(out, cap, "no error");
    } else if (e->has_message) {
        if (snprintf(out, cap, "%s (code %lld, \"%s\")", gogroup_result_name(e->kind),
                     (long long)e->code, e->message) < 0) {
            out[0] = '\0';
        }
    } else {
        snprintf(out, cap, "%s", gogroup_result_name(e->kind));
    }
}

static int match_err(run *r, const json *want, const error_value *got, outcome *o) {
    char got_s[MSG];
    describe(got, got_s, sizeof got_s);
    if (want == NULL || json_is_null(want)) {
        if (got->kind != GOGROUP_RESULT_OK) {
            return failf(o, "want no error, got %s", got_s);
        }
        return OK;
    }
    const char *w = json_str(want);
    if (w != NULL && is_kind(w)) {
        if (got->kind == GOGROUP_RESULT_OK || strcmp(gogroup_result_name(got->kind), w) != 0) {
            return failf(o, "want %s, got %s", w, got_s);
        }
        return OK;
    }
    if (w != NULL) {
        named_error *n = named(r, w);
        if (got->kind != GOGROUP_RESULT_CUSTOM || got->code != n->code || !got->has_message ||
            strcmp(got->message, n->message) != 0) {
            return failf(o, "want the error \"%s\" itself (code %lld), got %s", w,
                         (long long)n->code, got_s);
        }
        return OK;
    }
    if (want->type != JSON_OBJECT) {
        return failf(o, "bad error matcher");
    }
    if (got->kind == GOGROUP_RESULT_OK) {
        return failf(o, "want an error, got none");
    }
    const json *k = json_get(want, "kind");
    if (k != NULL && match_err(r, k, got, o) != OK) {
        return FAILED;
    }
    const json *is = json_get(want, "is");
    if (is != NULL && match_err(r, is, got, o) != OK) {
        return FAILED;
    }
    const char *msg = json_str(json_get(want, "message"));
    const char *sub = json_str(json_get(want, "contains"));
    if ((msg || sub) && !got->has_message) {
        note_feature(r, "result.message",
                     "this call returns a result code only: the C API gives no message to check");
        return OK;
    }
    if (msg && strcmp(msg, got->message) != 0) {
        return failf(o, "want message \"%s\", got \"%s\"", msg, got->message);
    }
    if (sub && strstr(got->message, sub) == NULL) {
        return failf(o, "want a message containing \"%s\", got \"%s\"", sub, got->message);
    }
    return OK;
}

static int outcome_of(run *r, const json *st, const error_value *got, outcome *o) {
    return match_err(r, json_get(st, "expect"), got, o);
}

static int expect_bool(const json *st, bool got, const char *what, outcome *o) {
    const json *e = json_get(st, "expect");
    bool want = e == NULL || e->type != JSON_BOOL || e->boolean;
    if (got != want) {
        return failf(o, "want %s to return %s, got %s", what, want ? "true" : "false",
                     got ? "true" : "false");
    }
    return OK;
}

/* The cause of a token, as an error value (kind OK while it is live). */
static error_value cause_of(const gogroup_cancel_token *t) {
    error_value e;
    memset(&e, 0, sizeof e);
    gogroup_result kind = GOGROUP_RESULT_OK;
    if (gogroup_cancel_token_cause(t, &kind, &e.code, e.message, sizeof e.message, NULL) !=
        GOGROUP_RESULT_OK) {
        kind = GOGROUP_RESULT_INVALID_HANDLE;
    }
    e.kind = kind;
    e.has_message = true;
    return e;
}

/* A result of a call that gives up with a token's cause: the code and message come from it. */
static error_value with_cause(gogroup_result kind, const gogroup_cancel_token *t) {
    if (kind == GOGROUP_RESULT_OK || t == NULL) {
        return result_only(kind);
    }
    error_value e = cause_of(t);
    if (e.kind != kind) {
        return result_only(kind);
    }
    return e;
}

/* ---- tasks and callbacks --------------------------------------------------------------- */

static int steps(run *r, const json *list, outcome *o);
static int step(run *r, const json *st, outcome *o);

static int actions(run *r, const json *list, outcome *o) {
    if (list == NULL) {
        return OK;
    }
    if (list->type != JSON_ARRAY) {
        return failf(o, "actions must be a list");
    }
    for (size_t i = 0; i < list->n; i++) {
        const json *a = list->items[i];
        if (a->type != JSON_OBJECT || a->n != 1) {
            return failf(o, "bad action");
        }
        const char *k = a->keys[0];
        const json *v = a->items[0];
        const char *s = json_str(v) ? json_str(v) : "";
        if (strcmp(k, "signal") == 0) {
            signal_event(r, s);
        } else if (strcmp(k, "await") == 0) {
            if (await_event(r, s, o) != OK) {
                return FAILED;
            }
        } else if (strcmp(k, "await_cancel") == 0) {
            gogroup_cancel_token *t = lookup(r, &r->tokens, s);
            if (t == NULL) {
                return failf(o, "no token \"%s\"", s);
            }
            int64_t deadline = now_ms() + r->bound_ms;
            /* Slices, so that the end of the scenario can interrupt the wait. */
            while (gogroup_cancel_token_wait_timeout(t, 50) != GOGROUP_RESULT_OK) {
                lock(r);
                bool aborted = r->aborted;
                unlock(r);
                if (aborted) {
                    return failf(o, "scenario ended while waiting for token %s", s);
                }
                if (now_ms() >= deadline) {
                    return failf(o,
                                 "token %s not cancelled within %lld ms (a hang here means a "
                                 "lost wake-up)",
                                 s, (long long)r->bound_ms);
                }
            }
        } else if (strcmp(k, "record") == 0) {
            lock(r);
            if (r->log.n == r->log.cap) {
                r->log.cap = r->log.cap ? r->log.cap * 2 : 16;
                entry *items = xcalloc(r->log.cap, sizeof *items);
                if (r->log.n > 0) {
                    memcpy(items, r->log.items, r->log.n * sizeof *items);
                }
                r->log.items = items;
            }
            r->log.items[r->log.n++].name = xstrdup(s);
            unlock(r);
        } else if (strcmp(k, "count") == 0) {
            lock(r);
            table_put(&r->counters, s)->value++;
            unlock(r);
        } else if (strcmp(k, "enter") == 0 || strcmp(k, "leave") == 0) {
            lock(r);
            entry *e = table_put(&r->gauges, s);
            if (e->ptr == NULL) {
                e->ptr = xcalloc(1, sizeof(gauge));
            }
            gauge *g = e->ptr;
            if (k[0] == 'e') {
                g->current++;
                if (g->current > g->max) {
                    g->max = g->current;
                }
            } else {
                g->current--;
            }
            unlock(r);
        } else if (strcmp(k, "step") == 0) {
            int rc = step(r, v, o);
            if (rc != OK) {
                return rc;
            }
        } else {
            return failf(o, "unknown action %s", k);
        }
    }
    return OK;
}

typedef struct {
    run *r;
    const json *spec;
    call *c; /* spawned tasks only */
} task;

static task *new_task(run *r, const json *spec) {
    task *t = xcalloc(1, sizeof *t);
    t->r = r;
    t->spec = spec;
    return t;
}

static void free_task(void *arg) {
    free(arg);
}

/* A task of a WaitGroup (or spawned): its returns are ignored. */
static void wg_task(void *arg) {
    task *t = arg;
    outcome o = {0};
    actions(t->r, json_get(t->spec, "do"), &o);
    note_outcome(t->r, &o, "");
}

static int eg_task(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    (void)token;
    task *t = arg;
    run *r = t->r;
    outcome o = {0};
    actions(r, json_get(t->spec, "do"), &o);
    note_outcome(r, &o, "");
    const json *ret = json_get(t->spec, "returns");
    if (ret == NULL || json_is_null(ret)) {
        return 0;
    }
    if (json_str(ret) != NULL) {
        named_error *n = named(r, json_str(ret));
        snprintf(message, cap, "%s", n->message);
        return (int)n->code;
    }
    const char *of = json_str(json_get(ret, "cause_of"));
    gogroup_cancel_token *tok = of ? lookup(r, &r->tokens, of) : NULL;
    if (tok == NULL) {
        outcome bad = {0};
        failf(&bad, "bad returns (no token \"%s\")", of ? of : "?");
        note_outcome(r, &bad, "");
        return 0;
    }
    error_value c = cause_of(tok);
    if (c.kind == GOGROUP_RESULT_OK) {
        return 0;
    }
    if (c.kind != GOGROUP_RESULT_CUSTOM) {
        outcome bad = {0};
        failf(&bad, "a C task can return only an application error, not the %s cause of %s",
              gogroup_result_name(c.kind), of);
        note_outcome(r, &bad, "");
        return 0;
    }
    snprintf(message, cap, "%s", c.message);
    return (int)c.code;
}

static void *spawned_main(void *arg) {
    task *t = arg;
    run *r = t->r;
    wg_task(t);
    lock(r);
    t->c->done = true;
    pthread_cond_broadcast(&r->cv);
    unlock(r);
    free(t);
    return NULL;
}

typedef struct {
    run *r;
    const json *st;
} callback;

static void on_cancel_cb(void *arg, gogroup_result cause, int64_t code, const char *message) {
    callback *cb = arg;
    outcome o = {0};
    error_value got = result_only(cause);
    got.code = code;
    got.has_message = true;
    snprintf(got.message, sizeof got.message, "%s", message ? message : "");
    const json *want = json_get(cb->st, "expect_cause");
    if (want != NULL && match_err(cb->r, want, &got, &o) != OK) {
        note_outcome(cb->r, &o, "on_cancel cause: ");
    }
    outcome a = {0};
    actions(cb->r, json_get(cb->st, "do"), &a);
    note_outcome(cb->r, &a, "on_cancel: ");
}

/* ---- async steps ----------------------------------------------------------------------- */

typedef struct {
    run *r;
    const json *st;
    call *c;
} async_step;

static int exec_step(run *r, const json *st, outcome *o);

static void *async_main(void *arg) {
    async_step *a = arg;
    outcome o = {0};
    exec_step(a->r, a->st, &o);
    lock(a->r);
    a->c->result = o;
    a->c->done = true;
    pthread_cond_broadcast(&a->r->cv);
    unlock(a->r);
    free(a);
    return NULL;
}

static int start_thread(void *(*fn)(void *), void *arg, outcome *o) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        return failf(o, "pthread_create: %s", strerror(rc));
    }
    return OK;
}

static int step(run *r, const json *st, outcome *o) {
    const char *name = json_str(json_get(st, "async"));
    if (name == NULL) {
        return exec_step(r, st, o);
    }
    async_step *a = xcalloc(1, sizeof *a);
    a->r = r;
    a->st = st;
    a->c = xcalloc(1, sizeof(call));
    store(r, &r->calls, name, a->c);
    return start_thread(async_main, a, o);
}

/* Waits up to `ms` for a call; true if it finished. */
static bool wait_call(run *r, call *c, int64_t ms) {
    int64_t deadline = now_ms() + ms;
    lock(r);
    while (!c->done && now_ms() < deadline) {
        wait_until(r, deadline);
    }
    bool done = c->done;
    unlock(r);
    return done;
}

static int steps(run *r, const json *list, outcome *o) {
    if (list == NULL || list->type != JSON_ARRAY) {
        return failf(o, "steps must be a list");
    }
    for (size_t i = 0; i < list->n; i++) {
        int rc = step(r, list->items[i], o);
        if (rc != OK) {
            prefix(o, "step %zu (%s): ", i + 1, sfield(list->items[i], "op"));
            return rc;
        }
    }
    return OK;
}

/* ---- the ops --------------------------------------------------------------------------- */

static bool task_panics(const json *st) {
    return json_get(json_get(st, "task"), "panics") != NULL;
}

static int hang(run *r, outcome *o) {
    return failf(o, "wait did not return within %lld ms (a hang here means a lost wake-up)",
                 (long long)r->bound_ms);
}

static int add_token(run *r, const json *st, gogroup_result rc, gogroup_cancel_token *t,
                     outcome *o) {
    if (rc != GOGROUP_RESULT_OK) {
        return failf(o, "creating token %s: %s", sfield(st, "id"), gogroup_result_name(rc));
    }
    store(r, &r->tokens, sfield(st, "id"), t);
    return OK;
}

static void wake(void *arg, gogroup_result cause, int64_t code, const char *message) {
    (void)cause;
    (void)code;
    (void)message;
    run *r = arg;
    lock(r);
    pthread_cond_broadcast(&r->cv);
    unlock(r);
}

typedef struct {
    run *r;
    gogroup_err_group *g;
    bool done;
    error_value result;
} group_waiter;

static void *group_waiter_main(void *arg) {
    group_waiter *w = arg;
    error_value e = result_only(GOGROUP_RESULT_OK);
    e.kind = gogroup_err_group_wait(w->g, &e.code, e.message, sizeof e.message, NULL);
    e.has_message = true;
    gogroup_err_group_free(w->g);
    lock(w->r);
    w->result = e;
    w->done = true;
    pthread_cond_broadcast(&w->r->cv);
    unlock(w->r);
    return NULL;
}

/* ErrGroup wait with a token (Go's idiom: a waiting thread and the first of it and the
 * token). The waiting thread outlives an early return and is never joined. */
static int group_wait_token(run *r, const gogroup_err_group *g, const gogroup_cancel_token *t,
                            int64_t limit_ms, bool *timed_out, error_value *got, outcome *o) {
    group_waiter *w = xcalloc(1, sizeof *w);
    w->r = r;
    if (gogroup_err_group_clone(g, &w->g) != GOGROUP_RESULT_OK) {
        return failf(o, "gogroup_err_group_clone failed");
    }
    if (start_thread(group_waiter_main, w, o) != OK) {
        return FAILED;
    }
    gogroup_registration *reg = NULL;
    gogroup_result rc = gogroup_cancel_token_on_cancel_inline(t, wake, r, NULL, &reg);
    if (rc != GOGROUP_RESULT_OK) {
        return failf(o, "on_cancel_inline: %s", gogroup_result_name(rc));
    }
    int64_t deadline = now_ms() + limit_ms;
    lock(r);
    while (!w->done && !gogroup_cancel_token_is_cancelled(t) && now_ms() < deadline) {
        wait_until(r, deadline);
    }
    bool done = w->done;
    error_value result = w->result;
    unlock(r);
    gogroup_registration_stop(reg, NULL);
    gogroup_registration_free(reg);
    *timed_out = false;
    if (done) {
        *got = result;
    } else if (gogroup_cancel_token_is_cancelled(t)) {
        *got = cause_of(t);
    } else {
        *timed_out = true;
        *got = result_only(GOGROUP_RESULT_TIMEOUT);
    }
    return OK;
}

typedef struct {
    run *r;
    const gogroup_wait_group *wg;
    const gogroup_cancel_token *t;
    bool done;
    gogroup_result rc;
} token_waiter;

static void *token_waiter_main(void *arg) {
    token_waiter *w = arg;
    gogroup_result rc = gogroup_wait_group_wait_token(w->wg, w->t);
    lock(w->r);
    w->rc = rc;
    w->done = true;
    pthread_cond_broadcast(&w->r->cv);
    unlock(w->r);
    return NULL;
}

/* gogroup_wait_group_wait_token has no timed form: it runs on a thread of its own so that the
 * bound still applies (a hang is reported, and the end of the scenario cancels the token). */
static gogroup_result wait_token_bounded(run *r, const gogroup_wait_group *wg,
                                         const gogroup_cancel_token *t, bool *done, outcome *o) {
    token_waiter *w = xcalloc(1, sizeof *w);
    w->r = r;
    w->wg = wg;
    w->t = t;
    if (start_thread(token_waiter_main, w, o) != OK) {
        return GOGROUP_RESULT_OK;
    }
    int64_t deadline = now_ms() + r->bound_ms;
    lock(r);
    while (!w->done && now_ms() < deadline) {
        wait_until(r, deadline);
    }
    *done = w->done;
    gogroup_result rc = w->rc;
    unlock(r);
    if (*done) {
        free(w); /* else leaked: its thread still uses it */
    }
    return rc;
}

static int check_token(run *r, const json *st, outcome *o) {
    gogroup_cancel_token *t;
    GET(t, tokens, "token", st, "token");
    const json *c = json_get(st, "cancelled");
    if (c != NULL && c->type == JSON_BOOL && gogroup_cancel_token_is_cancelled(t) != c->boolean) {
        return failf(o, "want cancelled=%s, got %s", c->boolean ? "true" : "false",
                     c->boolean ? "false" : "true");
    }
    const json *want_err = json_get(st, "err");
    if (want_err != NULL) {
        error_value e = api_result(gogroup_cancel_token_err(t));
        if (match_err(r, want_err, &e, o) != OK) {
            prefix(o, "err: ");
            return FAILED;
        }
    }
    const json *want_cause = json_get(st, "cause");
    if (want_cause != NULL) {
        error_value e = cause_of(t);
        if (match_err(r, want_cause, &e, o) != OK) {
            prefix(o, "cause: ");
            return FAILED;
        }
    }
    uint64_t deadline = 0;
    if (gogroup_cancel_token_deadline(t, &deadline) != GOGROUP_RESULT_OK) {
        return failf(o, "gogroup_cancel_token_deadline failed");
    }
    if (json_is_null(json_get(st, "deadline")) && deadline != GOGROUP_NO_DEADLINE) {
        return failf(o, "want no deadline, got %llu", (unsigned long long)deadline);
    }
    const char *of = json_str(json_get(st, "deadline_of"));
    if (of != NULL) {
        gogroup_cancel_token *other = lookup(r, &r->tokens, of);
        uint64_t want = 0;
        if (other == NULL || gogroup_cancel_token_deadline(other, &want) != GOGROUP_RESULT_OK) {
            return failf(o, "no token \"%s\"", of);
        }
        if (deadline == GOGROUP_NO_DEADLINE || deadline != want) {
            return failf(o, "want the deadline of %s (%llu), got %llu", of,
                         (unsigned long long)want, (unsigned long long)deadline);
        }
    }
    const json *dependents = json_get(st, "dependents");
    if (dependents != NULL) {
        size_t n = 0;
        gogroup_result drc = gogroup_cancel_token_dependents(t, &n);
        if (drc != GOGROUP_RESULT_OK) {
            return failf(o, "dependents: %s", gogroup_result_name(drc));
        }
        if ((int64_t)n != json_num(dependents, -1)) {
            return failf(o, "want %lld dependents, got %zu", (long long)json_num(dependents, -1),
                         n);
        }
    }
    return OK;
}

static int check_log(run *r, const json *st, outcome *o) {
    lock(r);
    size_t n = r->log.n;
    const char **log = xcalloc(n, sizeof *log);
    for (size_t i = 0; i < n; i++) {
        log[i] = r->log.items[i].name;
    }
    unlock(r);
    char got[MSG] = "[";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(got);
        snprintf(got + used, sizeof got - used, "%s\"%s\"", i ? ", " : "", log[i]);
    }
    strncat(got, "]", sizeof got - strlen(got) - 1);
    int rc = OK;
    const json *want = json_get(st, "expect");
    if (want != NULL && want->type == JSON_ARRAY) {
        bool same = want->n == n;
        for (size_t i = 0; same && i < n; i++) {
            same = json_str(want->items[i]) && strcmp(json_str(want->items[i]), log[i]) == 0;
        }
        if (!same) {
            char w[MSG];
            json_write(want, w, sizeof w);
            rc = failf(o, "want log %s, got %s", w, got);
        }
    }
    const json *order = json_get(st, "order");
    for (size_t i = 0; rc == OK && order != NULL && i < order->n; i++) {
        const json *pair = order->items[i];
        const char *a = pair->n == 2 ? json_str(pair->items[0]) : NULL;
        const char *b = pair->n == 2 ? json_str(pair->items[1]) : NULL;
        long pa = -1, pb = -1;
        for (size_t j = 0; a && b && j < n; j++) {
            if (pa < 0 && strcmp(log[j], a) == 0) {
                pa = (long)j;
            }
            if (pb < 0 && strcmp(log[j], b) == 0) {
                pb = (long)j;
            }
        }
        if (pa < 0 || pb < 0 || pa > pb) {
            rc = failf(o, "want \"%s\" before \"%s\" in the log, got %s", a ? a : "?", b ? b : "?",
                       got);
        }
    }
    const json *absent = json_get(st, "absent");
    for (size_t i = 0; rc == OK && absent != NULL && i < absent->n; i++) {
        const char *a = json_str(absent->items[i]);
        for (size_t j = 0; a && j < n; j++) {
            if (strcmp(log[j], a) == 0) {
                rc = failf(o, "want no %s in the log, got %s", a, got);
                break;
            }
        }
    }
    free(log);
    return rc;
}

static int exec_step(run *r, const json *st, outcome *o) {
    const char *op = sfield(st, "op");
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *t = NULL;
    gogroup_err_group *g = NULL;
    gogroup_result rc;

    /* ---- WaitGroup */
    if (strcmp(op, "wg.new") == 0) {
        if (gogroup_wait_group_new(&wg) != GOGROUP_RESULT_OK) {
            return failf(o, "gogroup_wait_group_new failed");
        }
        store(r, &r->wgs, sfield(st, "id"), wg);
    } else if (strcmp(op, "wg.add") == 0 || strcmp(op, "wg.done") == 0) {
        GET(wg, wgs, "wait group", st, "wg");
        rc = op[3] == 'a' ? gogroup_wait_group_add(wg, json_num(json_get(st, "delta"), 0))
                          : gogroup_wait_group_done(wg);
        error_value e = api_result(rc);
        return outcome_of(r, st, &e, o);
    } else if (strcmp(op, "wg.count") == 0) {
        GET(wg, wgs, "wait group", st, "wg");
        size_t n = 0;
        gogroup_wait_group_count(wg, &n);
        if ((int64_t)n != json_num(json_get(st, "expect"), -1)) {
            return failf(o, "want counter %lld, got %zu",
                         (long long)json_num(json_get(st, "expect"), -1), n);
        }
    } else if (strcmp(op, "wg.go") == 0) {
        GET(wg, wgs, "wait group", st, "wg");
        if (task_panics(st)) {
            return unsupported(o, "task.panics", "a C task cannot panic");
        }
        rc = gogroup_wait_group_go(wg, wg_task, new_task(r, json_get(st, "task")), free_task);
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "gogroup_wait_group_go: %s", gogroup_result_name(rc));
        }
    } else if (strcmp(op, "wg.wait") == 0) {
        GET(wg, wgs, "wait group", st, "wg");
        const json *ms = json_get(st, "timeout_ms");
        error_value e;
        if (json_get(st, "token") != NULL) {
            GET(t, tokens, "token", st, "token");
            bool done = false;
            rc = wait_token_bounded(r, wg, t, &done, o);
            if (o->status != OK) {
                return FAILED;
            }
            if (!done) {
                return hang(r, o);
            }
            e = with_cause(rc, t);
        } else if (ms != NULL) {
            e = api_result(gogroup_wait_group_wait_timeout(wg, (uint64_t)json_num(ms, 0)));
        } else {
            e = api_result(gogroup_wait_group_wait_timeout(wg, (uint64_t)r->bound_ms));
            if (e.kind == GOGROUP_RESULT_TIMEOUT) {
                return hang(r, o);
            }
        }
        return outcome_of(r, st, &e, o);

        /* ---- CancelToken */
    } else if (strcmp(op, "token.new") == 0) {
        rc = gogroup_cancel_token_new(&t);
        return add_token(r, st, rc, t, o);
    } else if (strcmp(op, "token.child") == 0) {
        gogroup_cancel_token *p;
        GET(p, tokens, "token", st, "parent");
        rc = gogroup_cancel_token_child(p, &t);
        return add_token(r, st, rc, t, o);
    } else if (strcmp(op, "token.with_timeout") == 0 || strcmp(op, "token.with_deadline") == 0) {
        gogroup_cancel_token *p;
        GET(p, tokens, "token", st, "parent");
        const char *cause = json_str(json_get(st, "cause"));
        named_error *why = cause != NULL ? named(r, cause) : NULL;
        if (strcmp(op, "token.with_timeout") == 0) {
            uint64_t ms = (uint64_t)json_num(json_get(st, "timeout_ms"), 0);
            rc = why != NULL
                     ? gogroup_cancel_token_with_timeout_cause(p, ms, why->code, why->message, &t)
                     : gogroup_cancel_token_with_timeout(p, ms, &t);
        } else {
            const char *d = sfield(st, "deadline");
            uint64_t now = gogroup_now_ns(), at;
            if (strcmp(d, "past") == 0) {
                at = now > 1000000000u ? now - 1000000000u : 0;
            } else if (strcmp(d, "now") == 0) {
                at = now;
            } else if (strcmp(d, "far") == 0) {
                at = now + 3600u * 1000000000u;
            } else {
                return failf(o, "deadline must be past, now or far, not %s", d);
            }
            rc = why != NULL
                     ? gogroup_cancel_token_with_deadline_cause(p, at, why->code, why->message, &t)
                     : gogroup_cancel_token_with_deadline(p, at, &t);
        }
        return add_token(r, st, rc, t, o);
    } else if (strcmp(op, "token.any") == 0) {
        const json *of = json_get(st, "of");
        size_t n = of && of->type == JSON_ARRAY ? of->n : 0;
        const gogroup_cancel_token **inputs = xcalloc(n, sizeof *inputs);
        for (size_t i = 0; i < n; i++) {
            inputs[i] = lookup(r, &r->tokens, json_str(of->items[i]));
            if (inputs[i] == NULL) {
                free(inputs);
                return failf(o, "no token in \"of\"");
            }
        }
        rc = gogroup_cancel_token_any(n ? inputs : NULL, n, &t);
        free(inputs);
        return add_token(r, st, rc, t, o);
    } else if (strcmp(op, "token.cancel") == 0) {
        GET(t, tokens, "token", st, "token");
        bool before = gogroup_cancel_token_is_cancelled(t);
        const char *cause = json_str(json_get(st, "cause"));
        if (cause != NULL) {
            named_error *n = named(r, cause);
            rc = gogroup_cancel_token_cancel_with(t, n->code, n->message);
        } else {
            rc = gogroup_cancel_token_cancel(t);
        }
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "cancel: %s", gogroup_result_name(rc));
        }
        if (json_get(st, "expect") != NULL) {
            return expect_bool(st, !before, "cancel", o);
        }
    } else if (strcmp(op, "token.check") == 0) {
        return check_token(r, st, o);
    } else if (strcmp(op, "token.wait") == 0) {
        GET(t, tokens, "token", st, "token");
        const json *ms = json_get(st, "timeout_ms");
        if (ms != NULL) {
            rc = gogroup_cancel_token_wait_timeout(t, (uint64_t)json_num(ms, 0));
            return expect_bool(st, rc == GOGROUP_RESULT_OK, "wait", o);
        }
        if (gogroup_cancel_token_wait_timeout(t, (uint64_t)r->bound_ms) != GOGROUP_RESULT_OK) {
            return failf(o, "token not cancelled within %lld ms (a hang here means a lost wake-up)",
                         (long long)r->bound_ms);
        }
    } else if (strcmp(op, "token.on_cancel") == 0) {
        GET(t, tokens, "token", st, "token");
        callback *cb = xcalloc(1, sizeof *cb);
        cb->r = r;
        cb->st = st;
        gogroup_registration *reg = NULL;
        rc = gogroup_cancel_token_on_cancel(t, on_cancel_cb, cb, free_task, &reg);
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "on_cancel: %s", gogroup_result_name(rc));
        }
        store(r, &r->regs, sfield(st, "id"), reg);
    } else if (strcmp(op, "reg.stop") == 0) {
        gogroup_registration *reg;
        GET(reg, regs, "registration", st, "reg");
        bool stopped = false;
        if (gogroup_registration_stop(reg, &stopped) != GOGROUP_RESULT_OK) {
            return failf(o, "gogroup_registration_stop failed");
        }
        return expect_bool(st, stopped, "stop", o);

        /* ---- ErrGroup */
    } else if (strcmp(op, "eg.new") == 0) {
        gogroup_cancel_token *p = NULL;
        if (json_get(st, "token") != NULL) {
            GET(p, tokens, "token", st, "token");
        }
        const char *collect = json_str(json_get(st, "collect"));
        if (collect != NULL && strcmp(collect, "first") != 0 && strcmp(collect, "all") != 0) {
            return failf(o, "collect must be first or all, not %s", collect);
        }
        rc = gogroup_err_group_new_with(
            p, json_num(json_get(st, "limit"), -1),
            collect && strcmp(collect, "all") == 0 ? GOGROUP_COLLECT_ALL : GOGROUP_COLLECT_FIRST,
            &g);
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "gogroup_err_group_new_with: %s", gogroup_result_name(rc));
        }
        const char *token_id = json_str(json_get(st, "token_id"));
        if (token_id != NULL) {
            rc = gogroup_err_group_token(g, &t);
            if (rc != GOGROUP_RESULT_OK) {
                return failf(o, "gogroup_err_group_token: %s", gogroup_result_name(rc));
            }
            store(r, &r->tokens, token_id, t);
        }
        store(r, &r->groups, sfield(st, "id"), g);
    } else if (strcmp(op, "eg.go") == 0 || strcmp(op, "eg.try_go") == 0) {
        GET(g, groups, "group", st, "group");
        if (task_panics(st)) {
            return unsupported(o, "task.panics", "a C task cannot panic");
        }
        task *arg = new_task(r, json_get(st, "task"));
        if (strcmp(op, "eg.go") == 0) {
            rc = gogroup_err_group_go(g, eg_task, arg, free_task);
            gogroup_cancel_token *gt = NULL;
            if (rc != GOGROUP_RESULT_OK) {
                gogroup_err_group_token(g, &gt);
            }
            error_value e = with_cause(rc, gt);
            gogroup_cancel_token_free(gt);
            return outcome_of(r, st, &e, o);
        }
        bool started = false;
        rc = gogroup_err_group_try_go(g, eg_task, arg, free_task, &started);
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "try_go: %s", gogroup_result_name(rc));
        }
        return expect_bool(st, started, "try_go", o);
    } else if (strcmp(op, "eg.set_limit") == 0) {
        GET(g, groups, "group", st, "group");
        error_value e = api_result(gogroup_err_group_set_limit(g, json_num(json_get(st, "n"), -1)));
        return outcome_of(r, st, &e, o);
    } else if (strcmp(op, "eg.wait") == 0) {
        GET(g, groups, "group", st, "group");
        const json *ms = json_get(st, "timeout_ms");
        int64_t limit = ms ? json_num(ms, 0) : r->bound_ms;
        error_value e = result_only(GOGROUP_RESULT_OK);
        bool timed_out = false;
        if (json_get(st, "token") != NULL) {
            GET(t, tokens, "token", st, "token");
            if (group_wait_token(r, g, t, limit, &timed_out, &e, o) != OK) {
                return FAILED;
            }
        } else {
            e.kind = gogroup_err_group_wait_timeout(g, (uint64_t)limit, &e.code, e.message,
                                                    sizeof e.message, NULL);
            e.has_message = e.kind != GOGROUP_RESULT_TIMEOUT;
            timed_out = e.kind == GOGROUP_RESULT_TIMEOUT;
        }
        if (timed_out && ms == NULL) {
            return hang(r, o);
        }
        return outcome_of(r, st, &e, o);
    } else if (strcmp(op, "eg.check") == 0) {
        GET(g, groups, "group", st, "group");
        const json *want_limit = json_get(st, "limit");
        if (want_limit != NULL) {
            int64_t limit = 0;
            gogroup_err_group_limit(g, &limit);
            int64_t want = json_is_null(want_limit) ? -1 : json_num(want_limit, -2);
            if (limit != want) {
                return failf(o, "want limit %lld, got %lld", (long long)want, (long long)limit);
            }
        }
        const json *want_active = json_get(st, "active");
        if (want_active != NULL) {
            size_t active = 0;
            gogroup_err_group_active(g, &active);
            if ((int64_t)active != json_num(want_active, -1)) {
                return failf(o, "want %lld active, got %zu", (long long)json_num(want_active, -1),
                             active);
            }
        }
    } else if (strcmp(op, "eg.errors") == 0) {
        GET(g, groups, "group", st, "group");
        const json *want = json_get(st, "expect");
        size_t n = 0, wn = want && want->type == JSON_ARRAY ? want->n : 0;
        gogroup_err_group_error_count(g, &n);
        if (n != wn) {
            return failf(o, "want %zu errors, got %zu", wn, n);
        }
        for (size_t i = 0; i < n; i++) {
            error_value e = result_only(GOGROUP_RESULT_OK);
            e.has_message = true;
            gogroup_err_group_error_at(g, i, &e.kind, &e.code, e.message, sizeof e.message, NULL);
            if (match_err(r, want->items[i], &e, o) != OK) {
                prefix(o, "error %zu: ", i);
                return FAILED;
            }
        }
    } else if (strcmp(op, "eg.shutdown") == 0) {
        GET(g, groups, "group", st, "group");
        const char *cause = json_str(json_get(st, "cause"));
        named_error *n = cause ? named(r, cause) : NULL;
        size_t left = 0;
        rc = gogroup_err_group_shutdown(g, n ? n->code : 0, n ? n->message : NULL,
                                        (uint64_t)json_num(json_get(st, "grace_ms"), 0), &left);
        if (rc != GOGROUP_RESULT_OK) {
            return failf(o, "shutdown: %s", gogroup_result_name(rc));
        }
        if ((int64_t)left != json_num(json_get(st, "expect"), -1)) {
            return failf(o, "want %lld tasks still running, got %zu",
                         (long long)json_num(json_get(st, "expect"), -1), left);
        }

        /* ---- events, calls, observations */
    } else if (strcmp(op, "signal") == 0) {
        signal_event(r, sfield(st, "event"));
    } else if (strcmp(op, "await") == 0) {
        return await_event(r, sfield(st, "event"), o);
    } else if (strcmp(op, "record") == 0) {
        json action = {0}, label = {0};
        json *items[1] = {&label};
        char *keys[1] = {"record"};
        label.type = JSON_STRING;
        label.string = (char *)sfield(st, "label");
        action.type = JSON_OBJECT;
        action.n = 1;
        action.items = items;
        action.keys = keys;
        json list = {0};
        json *list_items[1] = {&action};
        list.type = JSON_ARRAY;
        list.n = 1;
        list.items = list_items;
        return actions(r, &list, o);
    } else if (strcmp(op, "event.check") == 0) {
        lock(r);
        entry *e = table_find(&r->events, sfield(st, "event"));
        bool set = e != NULL && e->value;
        unlock(r);
        const json *w = json_get(st, "set");
        bool want = w == NULL || w->type != JSON_BOOL || w->boolean;
        if (set != want) {
            return failf(o, "want event %s set=%d, got %d", sfield(st, "event"), want, set);
        }
    } else if (strcmp(op, "spawn") == 0) {
        task *arg = new_task(r, json_get(st, "task"));
        arg->c = xcalloc(1, sizeof(call));
        lock(r);
        char name[32];
        snprintf(name, sizeof name, "#%zu", r->spawned.n);
        table_put(&r->spawned, name)->ptr = arg->c;
        const char *id = json_str(json_get(st, "id"));
        if (id != NULL) {
            table_put(&r->calls, id)->ptr = arg->c;
        }
        unlock(r);
        return start_thread(spawned_main, arg, o);
    } else if (strcmp(op, "join") == 0) {
        call *c;
        GET(c, calls, "call", st, "call");
        if (!wait_call(r, c, r->bound_ms)) {
            return failf(o,
                         "call %s did not return within %lld ms (a hang here means a lost "
                         "wake-up)",
                         sfield(st, "call"), (long long)r->bound_ms);
        }
        if (c->result.status != OK) {
            *o = c->result;
            return o->status;
        }
    } else if (strcmp(op, "join_spawned") == 0) {
        lock(r);
        size_t n = r->spawned.n;
        unlock(r);
        for (size_t i = 0; i < n; i++) {
            lock(r);
            call *c = r->spawned.items[i].ptr;
            unlock(r);
            if (!wait_call(r, c, r->bound_ms)) {
                return failf(o, "a spawned task did not return within %lld ms",
                             (long long)r->bound_ms);
            }
        }
    } else if (strcmp(op, "blocked") == 0) {
        call *c;
        GET(c, calls, "call", st, "call");
        if (wait_call(r, c, json_num(json_get(st, "grace_ms"), 0))) {
            return failf(o, "call %s returned (%s) but must still be blocked", sfield(st, "call"),
                         c->result.status == OK ? "ok" : c->result.msg);
        }
    } else if (strcmp(op, "log.check") == 0) {
        return check_log(r, st, o);
    } else if (strcmp(op, "counter.check") == 0) {
        const char *name = sfield(st, "counter");
        lock(r);
        entry *e = table_put(&r->counters, name);
        int64_t got = e->value;
        const json *reset = json_get(st, "reset");
        if (reset != NULL && reset->type == JSON_BOOL && reset->boolean) {
            e->value = 0;
        }
        unlock(r);
        if (got != json_num(json_get(st, "expect"), -1)) {
            return failf(o, "want counter \"%s\" = %lld, got %lld", name,
                         (long long)json_num(json_get(st, "expect"), -1), (long long)got);
        }
    } else if (strcmp(op, "gauge.check") == 0) {
        const char *name = sfield(st, "gauge");
        lock(r);
        entry *e = table_find(&r->gauges, name);
        gauge gv = {0, 0};
        if (e != NULL && e->ptr != NULL) {
            gv = *(gauge *)e->ptr;
        }
        unlock(r);
        const json *w;
        if ((w = json_get(st, "current")) != NULL && gv.current != json_num(w, 0)) {
            return failf(o, "want gauge \"%s\" at %lld, got %lld", name, (long long)json_num(w, 0),
                         (long long)gv.current);
        }
        if ((w = json_get(st, "max")) != NULL && gv.max != json_num(w, 0)) {
            return failf(o, "want gauge \"%s\" max %lld, got %lld", name, (long long)json_num(w, 0),
                         (long long)gv.max);
        }
        if ((w = json_get(st, "max_at_most")) != NULL && gv.max > json_num(w, 0)) {
            return failf(o, "want gauge \"%s\" max <= %lld, got %lld", name,
                         (long long)json_num(w, 0), (long long)gv.max);
        }
    } else if (strcmp(op, "repeat") == 0) {
        const char *var = json_str(json_get(st, "var"));
        const json *body = json_get(st, "steps");
        if (body == NULL) {
            return failf(o, "repeat without steps");
        }
        int64_t times = json_num(json_get(st, "times"), 0);
        for (int64_t i = 0; i < times; i++) {
            const json *list = body;
            if (var != NULL) {
                char value[32];
                snprintf(value, sizeof value, "%lld", (long long)i);
                list = json_substitute(body, var, value);
            }
            int src = steps(r, list, o);
            if (src != OK) {
                prefix(o, "iteration %lld: ", (long long)i);
                return src;
            }
        }
    } else {
        return failf(o, "unknown op \"%s\"", op);
    }
    return OK;
}

/* ---- scenarios ------------------------------------------------------------------------- */

static run *new_run(const json *messages, int64_t bound_ms) {
    run *r = xcalloc(1, sizeof *r);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&r->mu, NULL);
    r->messages = messages;
    r->bound_ms = bound_ms;
    return r;
}

/* Releases whatever a failed scenario left blocked. The run itself is never freed: pool
 * tasks and callbacks of an abandoned scenario may still use it. */
static void finish(run *r) {
    lock(r);
    r->aborted = true;
    pthread_cond_broadcast(&r->cv);
    size_t n = r->tokens.n;
    unlock(r);
    for (size_t i = 0; i < n; i++) {
        lock(r);
        gogroup_cancel_token *t = r->tokens.items[i].ptr;
        unlock(r);
        gogroup_cancel_token_cancel(t);
    }
}

static char *read_file(const char *path, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t size = 0, chunk = 1 << 16;
    char *text = xcalloc(chunk + 1, 1);
    size_t got;
    while ((got = fread(text + size, 1, chunk, f)) > 0) {
        size += got;
        if (size > (8u << 20)) {
            fclose(f);
            free(text);
            snprintf(err, cap, "%s: larger than 8 MiB", path);
            return NULL;
        }
        char *bigger = xcalloc(size + chunk + 1, 1);
        memcpy(bigger, text, size);
        free(text);
        text = bigger;
    }
    fclose(f);
    text[size] = '\0';
    return text;
}

static void stem(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot != NULL) {
        *dot = '\0';
    }
}

static void print_line(const char *name, const char *status, const char *detail,
                       const char *features, int64_t ms) {
    static char buf[8 * MSG];
    json s = {0};
    s.type = JSON_STRING;
    char name_s[512], detail_s[4 * MSG];
    s.string = (char *)name;
    json_write(&s, name_s, sizeof name_s);
    s.string = (char *)detail;
    json_write(&s, detail_s, sizeof detail_s);
    char features_s[512] = "";
    if (features[0] != '\0') {
        char one[300];
        snprintf(features_s, sizeof features_s, ",\"features\":[");
        const char *p = features;
        bool first = true;
        while (*p) {
            size_t len = strcspn(p, ",");
            snprintf(one, sizeof one, "%s\"%.*s\"", first ? "" : ",", (int)len, p);
            strncat(features_s, one, sizeof features_s - strlen(features_s) - 1);
            first = false;
            p += len + (p[len] == ',');
        }
        strncat(features_s, "]", sizeof features_s - strlen(features_s) - 1);
    }
    snprintf(buf, sizeof buf, "{\"scenario\":%s,\"status\":\"%s\",\"detail\":%s%s,\"ms\":%lld}\n",
             name_s, status, detail_s, features_s, (long long)ms);
    fputs(buf, stdout);
    fflush(stdout);
}

static void run_file(const char *path, int64_t bound_ms) {
    int64_t start = now_ms();
    char name[256], err[MSG] = "";
    stem(path, name, sizeof name);
    char *text = read_file(path, err, sizeof err);
    json *sc = text ? json_parse(text, err, sizeof err) : NULL;
    free(text);
    if (sc == NULL) {
        print_line(name, "fail", err, "", now_ms() - start);
        return;
    }
    if (json_str(json_get(sc, "name")) != NULL) {
        snprintf(name, sizeof name, "%s", json_str(json_get(sc, "name")));
    }
    run *r = new_run(json_get(sc, "errors"), bound_ms);
    outcome o = {0};
    steps(r, json_get(sc, "steps"), &o);
    char failures[4 * MSG], features[256], detail[MSG];
    /* A scenario that stopped early (failed, or met what C cannot express) reports what tasks
     * had failed by then, not the failures its end causes in tasks it leaves blocked. */
    lock(r);
    snprintf(failures, sizeof failures, "%s", r->failures);
    unlock(r);
    finish(r);
    lock(r);
    if (o.status == OK) {
        snprintf(failures, sizeof failures, "%s", r->failures);
    }
    snprintf(features, sizeof features, "%s", r->features);
    snprintf(detail, sizeof detail, "%s", r->unsupported_detail);
    unlock(r);
    if (o.status == FAILED) {
        print_line(name, "fail", o.msg, "", now_ms() - start);
    } else if (failures[0] != '\0') {
        char msg[5 * MSG];
        snprintf(msg, sizeof msg, "in a task or callback: %s", failures);
        print_line(name, "fail", msg, "", now_ms() - start);
    } else if (o.status == UNSUPPORTED) {
        char msg[2 * MSG];
        snprintf(msg, sizeof msg, "%s: %s", o.feature, o.msg);
        if (strstr(features, o.feature) == NULL) {
            size_t used = strlen(features);
            snprintf(features + used, sizeof features - used, "%s%s", used ? "," : "", o.feature);
        }
        print_line(name, "unsupported", msg, features, now_ms() - start);
    } else if (features[0] != '\0') {
        print_line(name, "unsupported", detail, features, now_ms() - start);
    } else {
        print_line(name, "pass", "", "", now_ms() - start);
    }
}

int main(int argc, char **argv) {
    int64_t bound_ms = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bound-ms") == 0) {
            char *end = NULL;
            if (i + 1 >= argc || (bound_ms = strtoll(argv[i + 1], &end, 10)) <= 0 || *end) {
                fputs("--bound-ms needs a number of milliseconds\n", stderr);
                return 2;
            }
            i++;
            continue;
        }
        run_file(argv[i], bound_ms);
    }
    return 0;
}
