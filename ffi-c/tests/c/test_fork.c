/* fork(): a child forked from a busy parent can use gogroup. Core rebuilds its pool and timer
 * in the child on first use; what ran or waited in the parent's pool stays in the parent. */
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void count_task(void *arg) {
    atomic_fetch_add((atomic_int *)arg, 1);
}

struct busy_task {
    gogroup_wait_group *started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool released;
};

/* Says it started, then blocks where gogroup cannot see it (the pool's monitor must notice
 * and grow) until released. Allocates nothing after saying it started. */
static void start_then_block(void *arg) {
    struct busy_task *t = arg;
    (void)gogroup_wait_group_done(t->started);
    pthread_mutex_lock(&t->mu);
    while (!t->released)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

static void release_busy(struct busy_task *t) {
    pthread_mutex_lock(&t->mu);
    t->released = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* True once every thread of this process but the main one has set its gogroup name: no
 * thread is being started. (GCC 12's AddressSanitizer keeps a thread registry that a fork
 * child inherits locked if the parent was starting a thread at that moment, so under ASan
 * every later thread start in the child hangs. glibc alone has no such problem, and the Rust
 * test core/tests/fork.rs forks while threads start.) */
static bool no_thread_is_starting(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return true;
    bool settled = true;
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        char path[300], comm[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f))
                comm[0] = 0;
            fclose(f);
        }
        if (strncmp(comm, "gogroup-", 8) != 0)
            settled = false;
    }
    closedir(dir);
    return settled;
}

/* Polls the kernel's view (no event says "this thread has started"); the bound only turns a
 * hang into a failure. */
static bool wait_until_no_thread_is_starting(void) {
    for (unsigned i = 0; i < HANG_MS && !no_thread_is_starting(); i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return no_thread_is_starting();
}

/* A cancellation callback (run on the pool) that counts itself done in a wait group. */
static void on_cancel_done(void *arg, gogroup_result cause, int64_t code, const char *msg) {
    (void)cause;
    (void)code;
    (void)msg;
    (void)gogroup_wait_group_done((const gogroup_wait_group *)arg);
}

/* Everything a child checks; returns 0 or the number of the failed check. */
static int use_everything(void) {
    int failed = 0;
    atomic_int ran = 0;
    gogroup_wait_group *wg = NULL;
    gogroup_cancel_token *root = NULL, *deadline = NULL, *token = NULL;
    if (gogroup_wait_group_new(&wg) != GOGROUP_RESULT_OK)
        return 1;
    for (int i = 0; i < 8; i++) {
        if (gogroup_wait_group_go(wg, count_task, &ran, NULL) != GOGROUP_RESULT_OK)
            failed = 2;
    }
    /* A bounded wait never runs a task itself: the pool of this process must. */
    if (!failed && gogroup_wait_group_wait_timeout(wg, HANG_MS) != GOGROUP_RESULT_OK)
        failed = 3;
    if (!failed && atomic_load(&ran) != 8)
        failed = 4;
    if (!failed && gogroup_cancel_token_new(&root) != GOGROUP_RESULT_OK)
        failed = 5;
    if (!failed && gogroup_cancel_token_with_timeout(root, 5, &deadline) != GOGROUP_RESULT_OK)
        failed = 6;
    if (!failed && gogroup_cancel_token_wait_timeout(deadline, HANG_MS) != GOGROUP_RESULT_OK)
        failed = 7; /* the deadline never fired */
    if (!failed && gogroup_cancel_token_new(&token) != GOGROUP_RESULT_OK)
        failed = 8;
    /* The callback runs on the pool; it counts itself done in `wg`. */
    if (!failed && gogroup_wait_group_add(wg, 1) != GOGROUP_RESULT_OK)
        failed = 9;
    if (!failed &&
        gogroup_cancel_token_on_cancel(token, on_cancel_done, wg, NULL, NULL) != GOGROUP_RESULT_OK)
        failed = 10;
    if (!failed && gogroup_cancel_token_cancel(token) != GOGROUP_RESULT_OK)
        failed = 11;
    if (!failed && gogroup_wait_group_wait_timeout(wg, HANG_MS) != GOGROUP_RESULT_OK)
        failed = 12;
    gogroup_cancel_token_free(token);
    gogroup_cancel_token_free(deadline);
    gogroup_cancel_token_free(root);
    gogroup_wait_group_free(wg);
    return failed;
}

/* Runs use_everything() in a fork child (and, for depth > 1, in a child of that child);
 * returns the number of the check that failed, 0 if none, -1 if the child died. The child
 * reports through a pipe, not its exit status: under valgrind a fork child's exit status is
 * valgrind's, which counts the memory of the parent's threads (gone in the child, by POSIX)
 * as lost. */
static int in_child(int depth) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        int code = use_everything();
        wait_until_no_thread_is_starting();
        if (code == 0 && depth > 1) {
            int grandchild = in_child(depth - 1);
            code = grandchild == 0 ? 0 : 50 + (grandchild & 0x7f);
        }
        unsigned char byte = (unsigned char)code;
        ssize_t written = write(fds[1], &byte, 1);
        _exit(written == 1 ? 0 : 1);
    }
    close(fds[1]);
    unsigned char byte = 0xff;
    ssize_t got = read(fds[0], &byte, 1);
    close(fds[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || got != 1)
        return -1;
    return byte;
}

static int a_child_of_a_busy_parent_can_use_gogroup(void) {
    int ok = 0;
    gogroup_cancel_token *hold = NULL, *pending = NULL;
    gogroup_wait_group *busy = NULL;
    struct busy_task task = {NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    CHECK_OK(gogroup_cancel_token_new(&hold));
    CHECK_OK(gogroup_cancel_token_with_timeout(hold, 3600u * 1000u, &pending));
    CHECK_OK(gogroup_wait_group_new(&busy));
    /* Busy parent: workers blocked in tasks, a deadline pending, the monitor and the timer
     * alive. It forks once every task runs and no thread is starting. */
    CHECK_OK(gogroup_wait_group_new(&task.started));
    CHECK_OK(gogroup_wait_group_add(task.started, 16));
    for (int i = 0; i < 16; i++) {
        CHECK_OK(gogroup_wait_group_go(busy, start_then_block, &task, NULL));
    }
    CHECK_OK(gogroup_wait_group_wait_timeout(task.started, HANG_MS));
    CHECK(wait_until_no_thread_is_starting());
    int code = in_child(2); /* a child, and a child of that child */
    if (code != 0)
        fprintf(stderr, "  child failed check %d\n", code);
    CHECK(code == 0);
    /* The parent is untouched. */
    CHECK(!gogroup_cancel_token_is_cancelled(pending));
    release_busy(&task);
    CHECK_OK(gogroup_wait_group_wait_timeout(busy, HANG_MS));
    CHECK(use_everything() == 0);
    ok = 1;
cleanup:
    release_busy(&task);
    if (busy)
        (void)gogroup_wait_group_wait_timeout(busy, HANG_MS);
    gogroup_wait_group_free(busy);
    gogroup_wait_group_free(task.started);
    gogroup_cancel_token_free(pending);
    gogroup_cancel_token_free(hold);
    return ok;
}

int main(void) {
    static const struct test_case tests[] = {
        TEST(a_child_of_a_busy_parent_can_use_gogroup),
    };
    return run_tests(__FILE__, tests, sizeof tests / sizeof tests[0]);
}
