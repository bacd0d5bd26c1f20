/* The example gogroup was born from, in C: show a product page by fetching its price and its
 * availability in parallel, and give up on both as soon as either fails.
 *
 * In Go this is errgroup.WithContext plus two g.Go calls whose HTTP requests carry the group's
 * context. Here each "fetch" is a task of a gogroup_err_group that waits with poll() — as a
 * real fetch would wait on its socket — on the group token's file descriptor, for at most the
 * service's latency: poll returns early when the group is cancelled, exactly as a request
 * using the context would be aborted.
 *
 * Run 1: both services answer; wait returns OK.
 * Run 2: the availability service fails fast; the group's token is cancelled with that error as
 * its cause, the slow price fetch notices at once and stops, and wait returns the first error.
 *
 * Exits with 0 when everything behaved as described, 1 otherwise. `make demo-c` builds it
 * through pkg-config against the installed library:
 *     cc price_availability.c $(pkg-config --cflags --libs gogroup) */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <gogroup.h>

/* What one simulated fetch does and did. */
struct fetch {
    const char *service;
    int latency_ms;
    long answer;
    int fail_code; /* 0: answer; else fail with this code and message */
    const char *fail_message;
    /* filled by the task, under `mu` */
    pthread_mutex_t *mu;
    double ran_ms;
    long value;
    char outcome[128];
};

static double ms_since(uint64_t start_ns) {
    return (double)(gogroup_now_ns() - start_ns) / 1e6;
}

/* A gogroup_task_fn: "fetches" for latency_ms unless the group's token is cancelled first. */
static int fetch_task(void *arg, const gogroup_cancel_token *token, char *message, size_t cap) {
    struct fetch *f = arg;
    uint64_t start = gogroup_now_ns();
    int fd = -1;
    int rc = 0;
    if (gogroup_cancel_token_fd(token, &fd) != GOGROUP_RESULT_OK) {
        snprintf(message, cap, "%s: no cancellation fd", f->service);
        return -1;
    }
    struct pollfd cancelled = {fd, POLLIN, 0};
    int n;
    do {
        n = poll(&cancelled, 1, f->latency_ms);
    } while (n < 0 && errno == EINTR);

    pthread_mutex_lock(f->mu);
    f->ran_ms = ms_since(start);
    if (n == 1) {
        /* Cancelled while "in flight": report why, as Go's context.Cause(ctx) would. */
        char cause[96];
        gogroup_cancel_token_cause(token, NULL, NULL, cause, sizeof cause, NULL);
        snprintf(f->outcome, sizeof f->outcome, "cancelled (%s)", cause);
        snprintf(message, cap, "%s cancelled: %s", f->service, cause);
        rc = -1;
    } else if (f->fail_code != 0) {
        snprintf(f->outcome, sizeof f->outcome, "failed: %s", f->fail_message);
        snprintf(message, cap, "%s", f->fail_message);
        rc = f->fail_code;
    } else {
        f->value = f->answer;
        snprintf(f->outcome, sizeof f->outcome, "ok: %ld", f->answer);
    }
    pthread_mutex_unlock(f->mu);
    return rc;
}

/* Runs both fetches in a group derived from `request`; returns the group's wait result. */
static gogroup_result fetch_both(const gogroup_cancel_token *request, struct fetch *price,
                                 struct fetch *availability, int64_t *code, char *message,
                                 size_t cap, double *took_ms) {
    gogroup_err_group *group = NULL;
    gogroup_result rc = gogroup_err_group_with_token(request, &group);
    uint64_t start = gogroup_now_ns();
    /* Availability first: gogroup 0.1.0's pool can queue a task behind a blocking one that the
     * same worker took in one batch (a core issue, reported); started in this order, the price
     * fetch is cancelled whichever way the two tasks are scheduled. */
    if (rc == GOGROUP_RESULT_OK) {
        rc = gogroup_err_group_go(group, fetch_task, availability, NULL);
    }
    if (rc == GOGROUP_RESULT_OK) {
        rc = gogroup_err_group_go(group, fetch_task, price, NULL);
    }
    if (rc == GOGROUP_RESULT_OK) {
        rc = gogroup_err_group_wait(group, code, message, cap, NULL);
    }
    *took_ms = ms_since(start);
    gogroup_err_group_free(group);
    return rc;
}

static void report(const struct fetch *f) {
    printf("  %-12s %s after %.1f ms\n", f->service, f->outcome, f->ran_ms);
}

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(void) {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    gogroup_cancel_token *request = NULL;
    int failures = 0;
    int64_t code = 0;
    char message[128] = "";
    double took = 0;
    if (gogroup_cancel_token_new(&request) != GOGROUP_RESULT_OK) {
        return 1;
    }
    printf("gogroup %s (header %s)\n", gogroup_version(), GOGROUP_VERSION);

    printf("run 1: both services answer\n");
    struct fetch price = {"price", 40, 1999, 0, NULL, &mu, 0, 0, ""};
    struct fetch availability = {"availability", 30, 7, 0, NULL, &mu, 0, 0, ""};
    gogroup_result rc =
        fetch_both(request, &price, &availability, &code, message, sizeof message, &took);
    report(&price);
    report(&availability);
    printf("  wait returned %s after %.1f ms (the fetches ran side by side)\n",
           gogroup_result_name(rc), took);
    EXPECT(rc == GOGROUP_RESULT_OK);
    EXPECT(price.value == 1999 && availability.value == 7);
    EXPECT(!gogroup_cancel_token_is_cancelled(request));

    printf("\nrun 2: the availability service fails fast\n");
    struct fetch slow_price = {"price", 3000, 1999, 0, NULL, &mu, 0, 0, ""};
    struct fetch outage = {
        "availability", 20, 0, 503, "availability service: 503 Service Unavailable", &mu, 0, 0, ""};
    rc = fetch_both(request, &slow_price, &outage, &code, message, sizeof message, &took);
    report(&slow_price);
    report(&outage);
    printf("  the price fetch was cancelled after %.1f ms instead of running its %d ms\n",
           slow_price.ran_ms, slow_price.latency_ms);
    printf("  wait returned the first error after %.1f ms: %s, code %" PRId64 ", \"%s\"\n", took,
           gogroup_result_name(rc), code, message);
    EXPECT(rc == GOGROUP_RESULT_CUSTOM);
    EXPECT(code == 503);
    EXPECT(strcmp(message, outage.fail_message) == 0);
    EXPECT(strstr(slow_price.outcome, "cancelled (availability service: 503") != NULL);
    EXPECT(slow_price.ran_ms < slow_price.latency_ms / 2.0);
    EXPECT(!gogroup_cancel_token_is_cancelled(request)); /* never the caller's token */

    gogroup_cancel_token_free(request);
    if (failures != 0) {
        fprintf(stderr, "price_availability: %d expectation(s) failed\n", failures);
        return 1;
    }
    printf("\nprice_availability: behaved as expected\n");
    return 0;
}
