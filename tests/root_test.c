/* weft_run (runtime/root.c): a root task run on the pool from any thread and
 * waited for. The way into fork/join from main: a spawn made from it must
 * reach the pool (weft_spawn from main fails), on the calling thread in a
 * parked worker's place or on a worker, from main, other threads, tasks of
 * the same pool and tasks of another pool; failures come back as
 * WEFT_ETASK with the task's own status beside them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(root, .timeout = 60);

Test(root, run_from_main_gives_fork_join_its_answer)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        weft_pool *p = wtc_pool_new(sizes[k]);
        for (uintptr_t n = 0; n <= 22; n += 11) {
            void *v = (void *)&v;
            cr_assert_eq(weft_run(p, wt_fib_spawn, (void *)n, &v), WEFT_OK);
            cr_assert_eq((uint64_t)(uintptr_t)v, wt_fib((unsigned)n), "fib(%lu) on %u workers",
                         (unsigned long)n, sizes[k]);
        }
        /* A NULL result pointer is allowed. */
        cr_assert_eq(weft_run(p, wt_fib_spawn, (void *)10, NULL), WEFT_OK);
        wtc_pool_drop(p);
    }
}

/* Where a root task ran: its thread and worker index. */
struct where {
    pthread_t thread;
    int worker;
    atomic_int ran;
};

static int where_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct where *w = arg;
    w->thread = pthread_self();
    w->worker = weft_worker_index();
    (void)ctx;
    atomic_fetch_add_explicit(&w->ran, 1, memory_order_relaxed);
    return 0;
}

Test(root, with_a_parked_worker_the_caller_runs_the_root_in_its_place)
{
    weft_pool *p = wtc_pool_new(2);
    wtc_await_all_parked(p);
    struct where w = {.worker = -2};
    cr_assert_eq(weft_run(p, where_task, &w, NULL), WEFT_OK);
    cr_assert(pthread_equal(w.thread, pthread_self()), "the calling thread ran it");
    cr_assert(w.worker >= 0 && w.worker < 2, "as a worker of the pool (index %d)", w.worker);
    cr_assert_eq(weft_worker_index(), -1, "and is no worker after the call");
    wtc_pool_drop(p);
}

/* Keeps a worker busy until released. */
struct gate {
    atomic_int entered, open;
};

static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct gate *g = arg;
    atomic_fetch_add(&g->entered, 1);
    while (!atomic_load(&g->open))
        wt_sleep_us(200);
    return 0;
}

struct runner {
    weft_pool *pool;
    struct where w;
    int rc;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    r->rc = weft_run(r->pool, where_task, &r->w, NULL);
    return NULL;
}

Test(root, with_every_worker_busy_a_worker_runs_the_root_and_the_caller_waits)
{
    weft_pool *p = wtc_pool_new(2);
    struct gate g = {0};
    weft_future *f[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(weft_submit(p, gate_task, &g, NULL, &f[i]), WEFT_OK);
    cr_assert_eq(wt_await_at_least(&g.entered, 2, 5000000000ll, 100), 2);
    struct runner r = {.pool = p, .w = {.worker = -2}, .rc = 1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, run_thread, &r), 0);
    wt_sleep_us(20000);
    cr_assert_eq(atomic_load(&r.w.ran), 0, "no worker was free to run it");
    atomic_store(&g.open, 1);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(r.rc, WEFT_OK);
    cr_assert_eq(atomic_load(&r.w.ran), 1);
    cr_assert(!pthread_equal(r.w.thread, t), "a worker ran it, not the caller");
    cr_assert(r.w.worker >= 0 && r.w.worker < 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(weft_future_result(f[i], WEFT_FOREVER, NULL), WEFT_OK);
        weft_future_release(f[i]);
    }
    wtc_pool_drop(p);
}

static int status_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = arg; /* not handed back: the task failed */
    return (int)(intptr_t)arg;
}

/* A root whose child fails and which returns its sync's WEFT_ETASK. */
static int failing_child_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    weft_group g;
    void *a = NULL, *b = NULL;
    weft_group_init(&g, ctx);
    weft_spawn(&g, status_task, arg, &a);
    weft_spawn(&g, status_task, NULL, &b);
    return weft_sync(&g);
}

Test(root, a_failing_root_is_etask_with_its_own_status)
{
    weft_pool *p = wtc_pool_new(2);
    /* -1 is EPERM's value: it must not come back as the library's code. */
    void *v = (void *)&v;
    int rc = weft_run(p, status_task, (void *)(intptr_t)-1, &v);
    wtc_assert_task_failed(rc, -1);
    cr_assert_neq(rc, WEFT_EPERM);
    cr_assert_eq(v, (void *)&v, "no result on failure");
    wtc_assert_task_failed(weft_run(p, status_task, (void *)(intptr_t)WEFT_ETIMEDOUT, NULL),
                           WEFT_ETIMEDOUT);
    /* The child's status travels through the root's `return weft_sync()`. */
    wtc_assert_task_failed(weft_run(p, failing_child_root, (void *)(intptr_t)77, NULL), 77);
    cr_assert_str_eq(weft_strerror(WEFT_ETASK),
                     "the task failed: weft_task_status() gives its status");
    wtc_pool_drop(p);
}

static int ctx_calls_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    int *rcs = arg;
    rcs[0] = weft_ctx_set_error(ctx, NULL, NULL);
    rcs[1] = weft_ctx_set_result_dtor(ctx, free);
    rcs[2] = weft_ctx_pool(ctx) != NULL;
    return 0;
}

Test(root, bad_arguments_and_a_shut_down_pool_are_refused)
{
    weft_pool *p = wtc_pool_new(1);
    struct where w = {0};
    cr_assert_eq(weft_run(NULL, where_task, &w, NULL), WEFT_EINVAL);
    cr_assert_eq(weft_run(p, NULL, &w, NULL), WEFT_EINVAL);
    int rcs[3] = {0};
    cr_assert_eq(weft_run(p, ctx_calls_task, rcs, NULL), WEFT_OK);
    cr_assert_eq(rcs[0], WEFT_EPERM, "a root task has no future to hold an error");
    cr_assert_eq(rcs[1], WEFT_EPERM);
    cr_assert_eq(rcs[2], 1);
    cr_assert_eq(weft_pool_shutdown(p, 0), WEFT_OK);
    cr_assert_eq(weft_run(p, where_task, &w, NULL), WEFT_ESHUTDOWN);
    cr_assert_eq(atomic_load(&w.ran), 0, "nothing ran after shutdown");
    wtc_pool_drop(p);
}

/* A task calling weft_run on its own pool, and on another pool. */
struct nested {
    weft_pool *target;
    struct where w;
    pthread_t self;
    int rc;
    void *fib;
};

static int nested_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct nested *n = arg;
    n->self = pthread_self();
    n->rc = weft_run(n->target, where_task, &n->w, NULL);
    if (n->rc == WEFT_OK)
        n->rc = weft_run(n->target, wt_fib_spawn, (void *)15, &n->fib);
    return 0;
}

Test(root, run_inside_a_task_of_the_same_pool_runs_on_that_worker)
{
    weft_pool *p = wtc_pool_new(2);
    struct nested n = {.target = p};
    cr_assert_eq(wtc_run_task(p, nested_task, &n, NULL), WEFT_OK);
    cr_assert_eq(n.rc, WEFT_OK);
    cr_assert(pthread_equal(n.w.thread, n.self), "a direct call on the task's worker");
    cr_assert_eq((uint64_t)(uintptr_t)n.fib, wt_fib(15));
    wtc_pool_drop(p);
}

Test(root, run_inside_a_task_of_another_pool_runs_on_the_target_pool)
{
    weft_pool *p = wtc_pool_new(1), *q = wtc_pool_new(2);
    struct nested n = {.target = q};
    cr_assert_eq(wtc_run_task(p, nested_task, &n, NULL), WEFT_OK);
    cr_assert_eq(n.rc, WEFT_OK);
    cr_assert(!pthread_equal(n.w.thread, n.self), "q's worker ran it");
    cr_assert_eq((uint64_t)(uintptr_t)n.fib, wt_fib(15));
    wtc_pool_drop(p);
    wtc_pool_drop(q);
}

/* Threads that each make many root calls at once: every call gets its
 * own answer, whether it borrowed a worker or queued. */
enum { CALLERS = 4, CALLS = 150 };

struct caller {
    weft_pool *pool;
    unsigned id;
    int bad;
};

static void *caller_thread(void *arg)
{
    struct caller *c = arg;
    for (unsigned i = 0; i < CALLS; i++) {
        uintptr_t n = (c->id * 7 + i) % 18;
        void *v = NULL;
        if (weft_run(c->pool, wt_fib_spawn, (void *)n, &v) != WEFT_OK ||
            (uint64_t)(uintptr_t)v != wt_fib((unsigned)n))
            c->bad++;
    }
    return NULL;
}

Test(root, concurrent_roots_from_many_threads_each_get_their_answer, .timeout = 120)
{
    weft_pool *p = wtc_pool_new(2);
    struct caller cs[CALLERS];
    pthread_t ts[CALLERS];
    for (unsigned i = 0; i < CALLERS; i++) {
        cs[i] = (struct caller){.pool = p, .id = i};
        cr_assert_eq(pthread_create(&ts[i], NULL, caller_thread, &cs[i]), 0);
    }
    for (unsigned i = 0; i < CALLERS; i++) {
        cr_assert_eq(pthread_join(ts[i], NULL), 0);
        cr_assert_eq(cs[i].bad, 0, "caller %u: %d wrong answers", i, cs[i].bad);
    }
    wtc_pool_drop(p);
}
