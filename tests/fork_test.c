/* Unit tests for fork() (runtime/fork.c and the checks that use it): in the
 * child, a pool created before the fork answers WEFT_EBROKEN instead of
 * hanging, its finished futures keep their outcome, and a pool created in
 * the child (or in a grandchild) runs, grows its deques and is destroyed.
 *
 * Each child runs a check function that returns 0 or the line that failed,
 * writes it to a pipe and leaves with _exit. An alarm in the child turns a
 * hang into a death by SIGALRM, which the parent reports as a failure. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(fork, .timeout = 60);

#define CHILD_ALARM_S 20
/* Fork only once the parent's threads are quiet: a child inherits every
 * lock held at the fork, and ASan's allocator (gcc 12) takes none around
 * fork(), so a parent thread still allocating then left the child's
 * first allocation hanging in about 1 run of 5 under ASan
 * (google/sanitizers#1814; glibc's malloc has fork handlers); with the
 * pause, 0 of 20. Both tests pause: forking right after a task returns
 * hangs the same way, in about 2 runs of 100 under load (gdb: the child's
 * workers blocked on an ASan size-class mutex); with the pause, 0 of 150. */
#define QUIET_US 50000
#define SPAWNED 2000 /* > 256, the deque's first capacity: it grows 3 times */

/* Fork and run check(arg) in the child under an alarm. Returns what check
 * returned (0 or a line), or -1 if the child died; *st: its wait status.
 * No Criterion asserts: it also runs in a child (for a grandchild). */
static int run_forked(int (*check)(void *), void *arg, int *st)
{
    int fds[2];
    *st = 0;
    if (pipe(fds) != 0)
        return __LINE__;
    pid_t pid = fork();
    if (pid < 0)
        return __LINE__;
    if (pid == 0) {
        close(fds[0]);
        alarm(CHILD_ALARM_S);
        int rc = check(arg);
        (void)!write(fds[1], &rc, sizeof(rc));
        _exit(0);
    }
    close(fds[1]);
    int rc = -1;
    ssize_t got = read(fds[0], &rc, sizeof(rc));
    close(fds[0]);
    if (waitpid(pid, st, 0) != pid || got != (ssize_t)sizeof(rc))
        return -1;
    return rc;
}

/* Run check(arg) in a child and assert that it returned 0. */
static void in_child(int (*check)(void *), void *arg)
{
    int st;
    int rc = run_forked(check, arg, &st);
    cr_assert(rc != -1, "child died (wait status %d%s)", st,
              WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? ": it hung" : "");
    cr_assert(eq(int, rc, 0), "child check failed at fork_test.c line %d", rc);
}

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return __LINE__;                                                               \
    } while (0)

/* ---- a pool from before the fork ---------------------------------------------- */

/* Runs until the gate (a promise) is done. It polls in plain sleeps, not
 * in a weft wait: a worker blocked in a weft wait has a spare take its
 * place, which would run the task queued behind the two gate tasks. */
static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    while (!weft_future_done(arg))
        wt_sleep_us(1000);
    return 0;
}

static int body_noop(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    (void)lo;
    (void)hi;
    (void)ud;
    return 0;
}

struct inherited {
    weft_pool *pool;
    weft_future *done;    /* finished before the fork, value 42 */
    weft_future *running; /* two of them, blocked on the gate */
    weft_future *running2;
    weft_future *queued; /* behind them, not started */
};

/* Completes the promise after a short delay (a thread of the child). */
static void *set_later(void *promise)
{
    wt_sleep_ns(50 * 1000 * 1000);
    weft_promise_set_result(promise, (void *)7, NULL);
    return NULL;
}

static int inherited_waits(struct inherited *s)
{
    void *v = NULL;
    CHECK(weft_future_result(s->done, WEFT_FOREVER, &v) == WEFT_OK && v == (void *)42);
    CHECK(weft_future_result(s->running, WEFT_FOREVER, &v) == WEFT_EBROKEN);
    int64_t t0 = wt_now_ns();
    CHECK(weft_future_wait(s->queued, 5ll * 1000000000) == WEFT_EBROKEN);
    CHECK(wt_now_ns() - t0 < 2ll * 1000000000); /* at once, not at the deadline */
    CHECK(weft_future_wait(s->queued, 0) == WEFT_ETIMEDOUT); /* a poll is a poll */

    weft_future *pair[2] = {s->running, s->queued};
    bool done[2] = {true, true};
    CHECK(weft_wait(pair, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done) == WEFT_EBROKEN);
    CHECK(!done[0] && !done[1]);
    weft_future *one_done[2] = {s->running, s->done};
    CHECK(weft_wait(one_done, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done) == WEFT_OK);
    CHECK(!done[0] && done[1]);
    CHECK(weft_wait(&s->running, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL) == WEFT_EBROKEN);

    /* A future of the child can still complete: the wait goes on for it. */
    weft_future *promise = NULL;
    CHECK(weft_promise_create(&promise) == WEFT_OK);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, set_later, promise) == 0);
    weft_future *mixed[2] = {s->running, promise};
    CHECK(weft_wait(mixed, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done) == WEFT_OK);
    CHECK(!done[0] && done[1]);
    pthread_join(th, NULL);
    weft_future_release(promise);

    weft_future *three[3] = {s->running, s->done, s->queued};
    weft_as_completed *it = NULL;
    CHECK(weft_as_completed_begin(&it, three, 3, WEFT_FOREVER) == WEFT_OK);
    weft_future *f = NULL;
    size_t index = 9;
    CHECK(weft_as_completed_next(it, &f, &index) == WEFT_OK && f == s->done && index == 1);
    CHECK(weft_as_completed_next(it, &f, &index) == WEFT_EBROKEN);
    weft_as_completed_end(it);
    return 0;
}

static int inherited_calls(struct inherited *s)
{
    weft_future *f = NULL;
    CHECK(weft_submit(s->pool, wt_value_task, NULL, NULL, &f) == WEFT_EBROKEN && f == NULL);
    CHECK(weft_submit(s->pool, wt_value_task, NULL, NULL, NULL) == WEFT_EBROKEN);
    CHECK(weft_parallel_for(s->pool, body_noop, NULL, 0, 100, 0) == WEFT_EBROKEN);
    CHECK(weft_pool_shutdown(s->pool, WEFT_SHUTDOWN_WAIT) == WEFT_EBROKEN);
    CHECK(weft_pool_destroy(s->pool) == WEFT_EBROKEN);
    /* A queued future can still be cancelled, as anywhere. */
    CHECK(weft_future_cancel(s->queued) == 1);
    CHECK(weft_future_result(s->queued, WEFT_FOREVER, NULL) == WEFT_ECANCELED);
    CHECK(weft_future_cancel(s->running2) == 0);
    return 0;
}

static int inherited_child(void *arg)
{
    int line = inherited_waits(arg);
    return line != 0 ? line : inherited_calls(arg);
}

Test(fork, a_pool_created_before_fork_answers_broken_in_the_child)
{
    struct inherited s;
    s.pool = wtc_pool_new(2);
    weft_future *gate = NULL;
    cr_assert(eq(int, weft_promise_create(&gate), WEFT_OK));
    cr_assert(eq(int, weft_submit(s.pool, wt_value_task, (void *)42, NULL, &s.done), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(s.done, WEFT_FOREVER), WEFT_OK));
    cr_assert(eq(int, weft_submit(s.pool, gate_task, gate, NULL, &s.running), WEFT_OK));
    cr_assert(eq(int, weft_submit(s.pool, gate_task, gate, NULL, &s.running2), WEFT_OK));
    int64_t until = wt_now_ns() + 10ll * 1000000000;
    while (!(weft_future_running(s.running) && weft_future_running(s.running2)) &&
           wt_now_ns() < until)
        sched_yield();
    cr_assert(weft_future_running(s.running) && weft_future_running(s.running2));
    cr_assert(eq(int, weft_submit(s.pool, wt_value_task, (void *)1, NULL, &s.queued), WEFT_OK));
    wt_sleep_us(QUIET_US);

    in_child(inherited_child, &s);

    /* The parent's pool is untouched: everything completes. */
    cr_assert(eq(int, weft_promise_set_result(gate, NULL, NULL), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(s.queued, WEFT_FOREVER, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)1));
    cr_assert(eq(int, weft_future_result(s.running, WEFT_FOREVER, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_result(s.running2, WEFT_FOREVER, NULL), WEFT_OK));
    weft_future *fs[4] = {s.done, s.running, s.running2, s.queued};
    for (int i = 0; i < 4; i++)
        weft_future_release(fs[i]);
    weft_future_release(gate);
    wtc_pool_drop(s.pool);
}

/* ---- pools created after the fork ------------------------------------------- */

/* Submits SPAWNED tasks from a worker (onto its own deque, which grows), then
 * waits for each and sums their values. */
static int spawn_many(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    weft_pool *p = weft_ctx_pool(ctx);
    static weft_future *fs[SPAWNED];
    for (uintptr_t i = 0; i < SPAWNED; i++)
        if (weft_submit(p, wt_value_task, (void *)i, NULL, &fs[i]) != WEFT_OK)
            return WEFT_ENOMEM;
    uintptr_t sum = 0;
    int rc = WEFT_OK;
    for (size_t i = 0; i < SPAWNED; i++) {
        void *v = NULL;
        int r = weft_future_result(fs[i], WEFT_FOREVER, &v);
        if (r != WEFT_OK)
            rc = r;
        sum += (uintptr_t)v;
        weft_future_release(fs[i]);
    }
    *result = (void *)sum;
    return rc;
}

/* A new pool here: nested waits, deque growth, destroy. */
static int fresh_pool_works(void)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 2;
    weft_pool *p = NULL;
    CHECK(weft_pool_create(&p, &o) == WEFT_OK);
    weft_future *f = NULL;
    void *v = NULL;
    CHECK(weft_submit(p, wt_fib_futures, (void *)(uintptr_t)16, NULL, &f) == WEFT_OK);
    CHECK(weft_future_result(f, WEFT_FOREVER, &v) == WEFT_OK && (uintptr_t)v == wt_fib(16));
    weft_future_release(f);
    CHECK(weft_submit(p, spawn_many, NULL, NULL, &f) == WEFT_OK);
    CHECK(weft_future_result(f, WEFT_FOREVER, &v) == WEFT_OK);
    CHECK((uintptr_t)v == (uintptr_t)SPAWNED * (SPAWNED - 1) / 2);
    weft_future_release(f);
    CHECK(weft_pool_destroy(p) == WEFT_OK);
    return 0;
}

static int grandchild(void *arg)
{
    (void)arg;
    return fresh_pool_works();
}

/* The grandchild's failing line comes back offset by 10000. */
static int fork_again(void)
{
    int st;
    int rc = run_forked(grandchild, NULL, &st);
    return rc == 0 ? 0 : rc == -1 ? __LINE__ : 10000 + rc;
}

static int fresh_child(void *arg)
{
    (void)arg;
    int line = fresh_pool_works();
    return line != 0 ? line : fork_again();
}

Test(fork, a_pool_created_in_the_child_runs_grows_and_is_destroyed)
{
    weft_pool *p = wtc_pool_new(2);
    void *v = NULL;
    /* The parent's pool has run and grown (freeing old buffers after grace
     * periods) before the fork. */
    cr_assert(eq(int, wtc_run_task(p, spawn_many, NULL, &v), WEFT_OK));
    wt_sleep_us(QUIET_US);
    in_child(fresh_child, NULL);
    cr_assert(eq(int, wtc_run_task(p, wt_fib_futures, (void *)(uintptr_t)12, &v), WEFT_OK));
    cr_assert(eq(u64, (uintptr_t)v, wt_fib(12)));
    wtc_pool_drop(p);
}
