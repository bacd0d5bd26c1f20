/* A small N-API addon (plain C, node_api.h from Node itself; no node-gyp, no npm package) that
 * lets node_to_c.mjs drive libcworkers.so with C handles of gogroup objects made in JS
 * (`token.cHandle()`, `wg.cHandle()`: owned `gogroup_cancel_token *` / `gogroup_wait_group *`,
 * their addresses as BigInts). It only converts values: the threads, the waits and the
 * cancellation are cworkers' and gogroup's.
 *
 *   start(token, started | null, finished, n, mode, quota, pollLimitMs) -> pool (an external)
 *   join(pool) -> [{ units, causeKind, causeCode, cause, observedNs, doneResult }]
 *   freeToken(handle), freeWaitGroup(handle)    release a handle (gogroup_*_free)
 *   resultName(code) -> 'CANCELED' | …           gogroup_result_name
 *   nowNs() -> bigint                            gogroup_now_ns (CLOCK_MONOTONIC)
 *
 * join() blocks the calling thread until the pool's threads return: call it once the
 * `finished` wait group resolved (they have then all but returned). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "cworkers.h"

#define CALL(env, call)                                                                            \
    do {                                                                                           \
        if ((call) != napi_ok) {                                                                   \
            napi_throw_error((env), NULL, "cworkers addon: " #call " failed");                     \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

/* The external's data: the pool until join() takes it. */
struct pool_ref {
    cworkers *pool;
};

static void pool_finalize(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    /* A pool never joined is leaked on purpose: joining here could block the GC forever. */
    free(data);
}

/* A handle argument: a BigInt address, or null/undefined for NULL. */
static int handle_arg(napi_env env, napi_value v, void **out) {
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok) {
        return 0;
    }
    if (t == napi_null || t == napi_undefined) {
        *out = NULL;
        return 1;
    }
    uint64_t addr = 0;
    bool lossless = false;
    if (t != napi_bigint || napi_get_value_bigint_uint64(env, v, &addr, &lossless) != napi_ok ||
        !lossless) {
        napi_throw_type_error(env, NULL, "a gogroup C handle (a BigInt) was expected");
        return 0;
    }
    *out = (void *)(uintptr_t)addr;
    return 1;
}

static napi_value start(napi_env env, napi_callback_info info) {
    size_t argc = 7;
    napi_value argv[7];
    CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc != 7) {
        napi_throw_type_error(env, NULL, "start() takes 7 arguments");
        return NULL;
    }
    void *token, *started, *finished;
    if (!handle_arg(env, argv[0], &token) || !handle_arg(env, argv[1], &started) ||
        !handle_arg(env, argv[2], &finished)) {
        return NULL;
    }
    uint32_t n;
    int32_t mode;
    int64_t quota, poll_limit_ms;
    CALL(env, napi_get_value_uint32(env, argv[3], &n));
    CALL(env, napi_get_value_int32(env, argv[4], &mode));
    CALL(env, napi_get_value_int64(env, argv[5], &quota));
    CALL(env, napi_get_value_int64(env, argv[6], &poll_limit_ms));
    struct pool_ref *ref = calloc(1, sizeof *ref);
    if (ref == NULL) {
        napi_throw_error(env, NULL, "out of memory");
        return NULL;
    }
    int32_t rc = cworkers_start(token, started, finished, n, mode, (uint64_t)quota,
                                (uint64_t)poll_limit_ms, &ref->pool);
    if (rc != GOGROUP_RESULT_OK) {
        cworkers_join(ref->pool, NULL, 0); /* the threads that did start, if any */
        free(ref);
        char message[96];
        snprintf(message, sizeof message, "cworkers_start: %s", gogroup_result_name((uint32_t)rc));
        napi_throw_error(env, gogroup_result_name((uint32_t)rc), message);
        return NULL;
    }
    napi_value external;
    if (napi_create_external(env, ref, pool_finalize, NULL, &external) != napi_ok) {
        napi_throw_error(env, NULL, "napi_create_external failed");
        return NULL; /* the pool stays running: the caller's wait groups show it */
    }
    return external;
}

static napi_value set_number(napi_env env, napi_value obj, const char *key, double value) {
    napi_value v;
    if (napi_create_double(env, value, &v) != napi_ok ||
        napi_set_named_property(env, obj, key, v) != napi_ok) {
        return NULL;
    }
    return obj;
}

static napi_value join(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    struct pool_ref *ref = NULL;
    if (argc != 1 || napi_get_value_external(env, argv[0], (void **)&ref) != napi_ok ||
        ref == NULL || ref->pool == NULL) {
        napi_throw_type_error(env, NULL, "join() takes a pool that start() returned, once");
        return NULL;
    }
    uint32_t n = cworkers_count(ref->pool);
    cworkers_report *reports = calloc(n, sizeof *reports);
    if (reports == NULL) {
        napi_throw_error(env, NULL, "out of memory");
        return NULL;
    }
    cworkers_join(ref->pool, reports, n);
    ref->pool = NULL;
    napi_value array = NULL;
    int ok = napi_create_array_with_length(env, n, &array) == napi_ok;
    for (uint32_t i = 0; ok && i < n; i++) {
        const cworkers_report *r = &reports[i];
        napi_value obj, cause, observed;
        ok = napi_create_object(env, &obj) == napi_ok &&
             set_number(env, obj, "units", (double)r->units) != NULL &&
             set_number(env, obj, "causeKind", r->cause_kind) != NULL &&
             set_number(env, obj, "causeCode", (double)r->cause_code) != NULL &&
             set_number(env, obj, "doneResult", r->done_result) != NULL &&
             napi_create_string_utf8(env, r->cause, NAPI_AUTO_LENGTH, &cause) == napi_ok &&
             napi_set_named_property(env, obj, "cause", cause) == napi_ok &&
             napi_create_bigint_uint64(env, r->observed_ns, &observed) == napi_ok &&
             napi_set_named_property(env, obj, "observedNs", observed) == napi_ok &&
             napi_set_element(env, array, i, obj) == napi_ok;
    }
    free(reports);
    if (!ok) {
        napi_throw_error(env, NULL, "cworkers addon: could not build the reports");
        return NULL;
    }
    return array;
}

static napi_value free_token(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    void *handle = NULL;
    CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc != 1 || !handle_arg(env, argv[0], &handle)) {
        return NULL;
    }
    gogroup_cancel_token_free(handle);
    return NULL;
}

static napi_value free_wait_group(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    void *handle = NULL;
    CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc != 1 || !handle_arg(env, argv[0], &handle)) {
        return NULL;
    }
    gogroup_wait_group_free(handle);
    return NULL;
}

static napi_value result_name(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1], out;
    uint32_t code = 0;
    CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    CALL(env, napi_get_value_uint32(env, argv[0], &code));
    CALL(env, napi_create_string_utf8(env, gogroup_result_name(code), NAPI_AUTO_LENGTH, &out));
    return out;
}

static napi_value now_ns(napi_env env, napi_callback_info info) {
    (void)info;
    napi_value out;
    CALL(env, napi_create_bigint_uint64(env, gogroup_now_ns(), &out));
    return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
    const napi_property_descriptor functions[] = {
        {"start", NULL, start, NULL, NULL, NULL, napi_enumerable, NULL},
        {"join", NULL, join, NULL, NULL, NULL, napi_enumerable, NULL},
        {"freeToken", NULL, free_token, NULL, NULL, NULL, napi_enumerable, NULL},
        {"freeWaitGroup", NULL, free_wait_group, NULL, NULL, NULL, napi_enumerable, NULL},
        {"resultName", NULL, result_name, NULL, NULL, NULL, napi_enumerable, NULL},
        {"nowNs", NULL, now_ns, NULL, NULL, NULL, napi_enumerable, NULL},
    };
    CALL(env,
         napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
    return exports;
}
