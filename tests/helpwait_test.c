/* A thread that is no worker and waits on a pool's future helps: an
 * untimed wait on a task that has not started runs it in a parked worker's
 * place (wait.h, borrow.h). Checked here: every task runs exactly once and
 * the caller ran some; the caller runs nothing while every worker is busy;
 * a timed wait runs nothing and returns within its slack; nested waits in
 * tasks the caller runs still finish; wait sets and as_completed without a
 * deadline help too; destroy and shutdown racing with helping waiters are
 * clean (ASan sees any use of a freed pool). */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(helpwait, .timeout = 60);

#define MS 1000000ll

/* The thread that runs the test body: a task that finds itself on it ran
 * in the caller's borrowed place. */
static pthread_t caller;

struct counted {
    _Atomic uint32_t *runs;   /* runs[i]: times task i ran */
    atomic_int on_caller;     /* tasks that ran on the caller */
    atomic_int started;       /* tasks that started (blockers) */
    atomic_int release;       /* blockers may return */
};

struct item {
    struct counted *c;
    uint32_t i;
};

static int count_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    struct item *it = arg;
    atomic_fetch_add(&it->c->runs[it->i], 1);
    if (pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&it->c->on_caller, 1);
    *result = (void *)(uintptr_t)it->i;
    return 0;
}

/* Keep the worker busy (no waiting, no helping) for arg nanoseconds. */
static int spin_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    wt_spin_ns((int64_t)(intptr_t)arg);
    return 0;
}

/* Submit n counting tasks with futures in fs and items in its. */
static void submit_counted(weft_pool *p, struct counted *c, struct item *its, weft_future **fs,
                           uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        its[i] = (struct item){.c = c, .i = i};
        cr_assert_eq(weft_submit(p, count_task, &its[i], NULL, &fs[i]), WEFT_OK);
    }
}

/* The records of counting tasks, on the heap. */
struct batch {
    struct counted c;
    struct item *its;
    weft_future **fs;
};

/* Records for n counting tasks in b, submitted to p from the caller. */
static void batch_new(struct batch *b, weft_pool *p, uint32_t n)
{
    caller = pthread_self();
    *b = (struct batch){.c = {.runs = calloc(n, sizeof(uint32_t))},
                        .its = calloc(n, sizeof(struct item)),
                        .fs = calloc(n, sizeof(weft_future *))};
    cr_assert(b->c.runs != NULL && b->its != NULL && b->fs != NULL);
    submit_counted(p, &b->c, b->its, b->fs, n);
}

static void batch_free(struct batch *b)
{
    free(b->c.runs);
    free(b->its);
    free(b->fs);
}

static void assert_each_ran_once(const struct counted *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&c->runs[i]), 1u, "task %u ran %u times", i,
                     atomic_load(&c->runs[i]));
}

Test(helpwait, submit_then_collect_runs_every_task_once)
{
    enum { N = 100000 };
    weft_pool *p = wtc_pool_new(2);
    struct batch b;
    batch_new(&b, p, N);
    for (uint32_t i = 0; i < N; i++) {
        void *v = NULL;
        cr_assert_eq(weft_future_result(b.fs[i], WEFT_FOREVER, &v), WEFT_OK);
        cr_assert_eq((uintptr_t)v, i);
        weft_future_release(b.fs[i]);
    }
    assert_each_ran_once(&b.c, N);
    wtc_pool_drop(p);
    batch_free(&b);
}

/* Into a parked pool of three: a task that keeps its worker for 2 ms, then
 * the awaited one. The first submit wakes one worker, which takes the first
 * task (the queue is FIFO); at least one other stays parked, so the
 * caller's wait, after its short poll, takes that place and runs the
 * awaited task unless a woken worker reached it first. Timing decides each
 * round, so the test asks for one round of many. */
Test(helpwait, a_waiting_caller_runs_the_awaited_task_in_a_parked_workers_place)
{
    enum { ROUNDS = 200 };
    weft_pool *p = wtc_pool_new(3);
    struct batch b;
    batch_new(&b, p, 1);
    struct counted *c = &b.c;
    for (uint32_t r = 0; r < ROUNDS && atomic_load(&c->on_caller) == 0; r++) {
        wtc_await_all_parked(p);
        weft_future *busy = NULL;
        cr_assert_eq(weft_submit(p, spin_task, (void *)(2 * MS), NULL, &busy), WEFT_OK);
        weft_future_release(b.fs[0]);
        atomic_store(&c->runs[0], 0);
        submit_counted(p, c, b.its, b.fs, 1);
        cr_assert_eq(weft_future_wait(b.fs[0], WEFT_FOREVER), WEFT_OK);
        cr_assert_eq(weft_future_wait(busy, WEFT_FOREVER), WEFT_OK);
        weft_future_release(busy);
        cr_assert_eq(atomic_load(&c->runs[0]), 1u);
    }
    weft_future_release(b.fs[0]);
    cr_assert_gt(atomic_load(&c->on_caller), 0, "the waiting caller never ran a task");
    wtc_pool_drop(p);
    batch_free(&b);
}

/* Spins (bounded) until the test lets it return. */
static int blocker(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct counted *c = arg;
    atomic_fetch_add(&c->started, 1);
    int64_t until = wt_now_ns() + 10000 * MS;
    while (!atomic_load(&c->release) && wt_now_ns() < until)
        wt_sleep_us(200);
    return 0;
}

static void *release_after_50ms(void *arg)
{
    struct counted *c = arg;
    wt_sleep_ns(50 * MS);
    atomic_store(&c->release, 1);
    return NULL;
}

Test(helpwait, the_caller_runs_nothing_while_every_worker_is_busy)
{
    enum { N = 64 };
    caller = pthread_self();
    weft_pool *p = wtc_pool_new(2);
    struct counted c = {.runs = calloc(N, sizeof(uint32_t))};
    struct item its[N];
    weft_future *fs[N], *b[2];
    for (int k = 0; k < 2; k++)
        cr_assert_eq(weft_submit(p, blocker, &c, NULL, &b[k]), WEFT_OK);
    cr_assert_eq(wt_await_at_least(&c.started, 2, 5000 * MS, 100), 2);
    submit_counted(p, &c, its, fs, N);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_after_50ms, &c), 0);
    /* No worker is parked: the wait blocks, and the workers run the tasks
     * once their blockers return. */
    cr_assert_eq(weft_future_wait(fs[N - 1], WEFT_FOREVER), WEFT_OK);
    pthread_join(t, NULL);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(weft_future_wait(fs[i], WEFT_FOREVER), WEFT_OK);
        weft_future_release(fs[i]);
    }
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(weft_future_wait(b[k], WEFT_FOREVER), WEFT_OK);
        weft_future_release(b[k]);
    }
    assert_each_ran_once(&c, N);
    cr_assert_eq(atomic_load(&c.on_caller), 0);
    wtc_pool_drop(p);
    free(c.runs);
}

static int long_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct counted *c = arg;
    if (pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&c->on_caller, 1);
    wt_spin_ns(200 * MS);
    return 0;
}

struct timed {
    weft_future **fs;
    size_t n;
    int64_t took_ns[3];
    int rc[3];
    atomic_int go; /* the tasks are queued and caller names this thread */
};

/* Timed waits of 5 ms on a thread that is no worker: a future, a wait set
 * (FIRST_COMPLETED) and as_completed, each on queued 200 ms tasks. */
static void *timed_waits(void *arg)
{
    struct timed *t = arg;
    wt_await_set(&t->go, 5000 * MS, 100);
    int64_t t0 = wt_now_ns();
    t->rc[0] = weft_future_wait(t->fs[t->n - 1], 5 * MS);
    int64_t t1 = wt_now_ns();
    t->rc[1] = weft_wait(t->fs + 2, t->n - 2, 5 * MS, WEFT_FIRST_COMPLETED, NULL);
    int64_t t2 = wt_now_ns();
    weft_as_completed *it = NULL;
    weft_future *f = NULL;
    t->rc[2] = weft_as_completed_begin(&it, t->fs + 2, t->n - 2, 5 * MS);
    if (t->rc[2] == WEFT_OK)
        t->rc[2] = weft_as_completed_next(it, &f, NULL);
    weft_as_completed_end(it);
    int64_t t3 = wt_now_ns();
    t->took_ns[0] = t1 - t0;
    t->took_ns[1] = t2 - t1;
    t->took_ns[2] = t3 - t2;
    return NULL;
}

Test(helpwait, a_timed_wait_runs_nothing_and_returns_within_its_slack)
{
    enum { N = 6 };
    weft_pool *p = wtc_pool_new(2);
    struct counted c = {0};
    weft_future *fs[N];
    struct timed t = {.fs = fs, .n = N};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, timed_waits, &t), 0);
    caller = th; /* before the submits, which publish it to the tasks */
    for (int i = 0; i < N; i++)
        cr_assert_eq(weft_submit(p, long_task, &c, NULL, &fs[i]), WEFT_OK);
    atomic_store(&t.go, 1);
    pthread_join(th, NULL);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(t.rc[k], WEFT_ETIMEDOUT, "wait %d: %d", k, t.rc[k]);
        cr_assert_lt(t.took_ns[k], 100 * MS, "wait %d took %lld ns", k, (long long)t.took_ns[k]);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(weft_future_wait(fs[i], WEFT_FOREVER), WEFT_OK);
        weft_future_release(fs[i]);
    }
    cr_assert_eq(atomic_load(&c.on_caller), 0);
    wtc_pool_drop(p);
}

Test(helpwait, nested_submit_and_wait_in_tasks_the_caller_runs_finishes)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int r = 0; r < 20; r++) {
            wtc_await_all_parked(p);
            void *v = NULL;
            cr_assert_eq(wtc_run_task(p, wt_fib_futures, (void *)(uintptr_t)16, &v), WEFT_OK);
            cr_assert_eq((uintptr_t)v, wt_fib(16));
        }
        wtc_pool_drop(p);
    }
}

Test(helpwait, wait_sets_and_as_completed_without_deadline_run_every_task_once)
{
    enum { N = 20000 };
    weft_pool *p = wtc_pool_new(2);
    struct batch b;
    batch_new(&b, p, N);
    struct counted *c = &b.c;
    weft_future **fs = b.fs;
    cr_assert_eq(weft_wait(fs, N, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (uint32_t i = 0; i < N; i++)
        weft_future_release(fs[i]);
    assert_each_ran_once(c, N);
    memset(c->runs, 0, N * sizeof(uint32_t));
    submit_counted(p, c, b.its, fs, N);
    weft_as_completed *it = NULL;
    cr_assert_eq(weft_as_completed_begin(&it, fs, N, WEFT_FOREVER), WEFT_OK);
    size_t yielded = 0;
    weft_future *f = NULL;
    int rc;
    while ((rc = weft_as_completed_next(it, &f, NULL)) == WEFT_OK) {
        cr_assert(weft_future_done(f));
        yielded++;
    }
    cr_assert_eq(rc, WEFT_EOF);
    cr_assert_eq(yielded, (size_t)N);
    weft_as_completed_end(it);
    for (uint32_t i = 0; i < N; i++)
        weft_future_release(fs[i]);
    assert_each_ran_once(c, N);
    wtc_pool_drop(p);
    batch_free(&b);
}

struct racer {
    weft_future **fs;
    size_t n;
    int how; /* 0: results in order, 1: weft_wait ALL_COMPLETED, 2: as_completed */
    int rc;
};

static void *wait_all(void *arg)
{
    struct racer *r = arg;
    r->rc = WEFT_OK;
    if (r->how == 0) {
        for (size_t i = 0; i < r->n && r->rc == WEFT_OK; i++)
            r->rc = weft_future_result(r->fs[i], WEFT_FOREVER, NULL);
    } else if (r->how == 1) {
        r->rc = weft_wait(r->fs, r->n, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    } else {
        weft_as_completed *it = NULL;
        weft_future *f = NULL;
        r->rc = weft_as_completed_begin(&it, r->fs, r->n, WEFT_FOREVER);
        while (r->rc == WEFT_OK)
            r->rc = weft_as_completed_next(it, &f, NULL);
        if (r->rc == WEFT_EOF)
            r->rc = WEFT_OK;
        weft_as_completed_end(it);
    }
    return NULL;
}

/* Waiters on other threads help while the test thread destroys the pool
 * (or shuts it down and then destroys it): every wait ends WEFT_OK, and a
 * waiter never touches the pool after it was freed. */
Test(helpwait, destroy_and_shutdown_race_with_helping_waiters, .timeout = 120)
{
    enum { N = 64, WAITERS = 2 };
    for (int round = 0; round < 150; round++) {
        weft_pool *p = wtc_pool_new(1 + round % 2);
        weft_future *fs[WAITERS][N];
        struct racer r[WAITERS];
        pthread_t t[WAITERS];
        for (int k = 0; k < WAITERS; k++) {
            for (int i = 0; i < N; i++)
                cr_assert_eq(weft_submit(p, wt_value_task, (void *)(uintptr_t)i, NULL, &fs[k][i]),
                             WEFT_OK);
            r[k] = (struct racer){.fs = fs[k], .n = N, .how = (round + k) % 3};
            cr_assert_eq(pthread_create(&t[k], NULL, wait_all, &r[k]), 0);
        }
        if (round % 3 == 0)
            cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK);
        wtc_pool_drop(p);
        for (int k = 0; k < WAITERS; k++) {
            pthread_join(t[k], NULL);
            cr_assert_eq(r[k].rc, WEFT_OK, "waiter %d: %d", k, r[k].rc);
            for (int i = 0; i < N; i++)
                weft_future_release(fs[k][i]);
        }
    }
}
