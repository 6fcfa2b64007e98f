/* Waits that keep weft.h's promises: a program that completes with one
 * thread per task completes on weft (helping waits run only what the
 * awaited work depends on, and a blocked worker's place is taken by a
 * spare), timed waits return near their deadline however the waiter could
 * help, deep chains of nested waits do not overflow a worker's stack, and
 * tasks submitted from outside start in submission order. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "weft_criterion.h"
#include "weft_tasks.h"

#define MS 1000000ll

TestSuite(progress, .timeout = 120);

/* ---- P submits C and D and waits on D; C waits for what P does after ---- */

struct pcd {
    weft_future *gate;   /* a promise P completes after its wait */
    atomic_int c_ran;
    int64_t d_wait_ns;   /* P's timed wait, 0: untimed */
    int wait_rc;
};

/* C: waits for the promise that P completes only after its own wait. */
static int task_c(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct pcd *s = arg;
    int rc = weft_future_wait(s->gate, 10000 * MS);
    atomic_store(&s->c_ran, 1);
    return rc;
}

static int task_d(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    *result = (void *)(uintptr_t)42;
    return 0;
}

/* P: submit C, then D, wait on D, then complete the gate C waits for. */
static int task_p(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct pcd *s = arg;
    weft_pool *pool = weft_ctx_pool(ctx);
    weft_future *c = NULL, *d = NULL;
    if (weft_submit(pool, task_c, s, NULL, &c) != WEFT_OK ||
        weft_submit(pool, task_d, s, NULL, &d) != WEFT_OK)
        return -1;
    s->wait_rc = weft_future_wait(d, s->d_wait_ns ? s->d_wait_ns : WEFT_FOREVER);
    weft_promise_set_result(s->gate, NULL, NULL);
    int rc = weft_future_wait(c, 10000 * MS);
    weft_future_release(c);
    weft_future_release(d);
    return rc;
}

static void run_pcd(unsigned workers, int64_t d_wait_ns)
{
    weft_pool *p = wtc_pool_new(workers);
    for (int round = 0; round < 20; round++) {
        struct pcd s = {.d_wait_ns = d_wait_ns};
        cr_assert_eq(weft_promise_create(&s.gate), WEFT_OK);
        int64_t t0 = wt_now_ns();
        cr_assert_eq(wtc_run_task(p, task_p, &s, NULL), 0, "round %d", round);
        cr_assert_eq(s.wait_rc, WEFT_OK);
        cr_assert_eq(atomic_load(&s.c_ran), 1);
        cr_assert_lt(wt_now_ns() - t0, 5000 * MS, "round %d took too long", round);
        weft_future_release(s.gate);
    }
    wtc_pool_drop(p);
}

Test(progress, a_wait_never_runs_a_sibling_that_waits_for_the_waiter)
{
    run_pcd(1, 0);
    run_pcd(2, 0);
}

Test(progress, a_timed_wait_never_runs_a_sibling_that_waits_for_the_waiter)
{
    run_pcd(1, 5000 * MS);
    run_pcd(2, 5000 * MS);
}

/* ---- the same with fork/join: P spawns D, submits C, syncs D ---- */

static int task_p_sync(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct pcd *s = arg;
    weft_group g;
    void *d = NULL;
    weft_group_init(&g, ctx);
    if (weft_spawn(&g, task_d, s, &d) != WEFT_OK)
        return -1;
    weft_future *c = NULL;
    if (weft_submit(weft_ctx_pool(ctx), task_c, s, NULL, &c) != WEFT_OK)
        return -1;
    s->wait_rc = weft_sync(&g);
    weft_promise_set_result(s->gate, NULL, NULL);
    int rc = weft_future_wait(c, 10000 * MS);
    weft_future_release(c);
    return rc;
}

Test(progress, a_sync_never_runs_a_submitted_task_that_waits_for_the_syncer)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int round = 0; round < 20; round++) {
            struct pcd s = {0};
            cr_assert_eq(weft_promise_create(&s.gate), WEFT_OK);
            cr_assert_eq(wtc_run_task(p, task_p_sync, &s, NULL), 0);
            cr_assert_eq(s.wait_rc, WEFT_OK);
            cr_assert_eq(atomic_load(&s.c_ran), 1);
            weft_future_release(s.gate);
        }
        wtc_pool_drop(p);
    }
}

/* ---- a wait on a promise only another task completes ---- */

struct relay {
    weft_future *promise;
};

static int completer(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct relay *r = arg;
    return weft_promise_set_result(r->promise, (void *)(uintptr_t)7, NULL);
}

/* Submits the completer, then waits on the promise: the completer is
 * queued behind the waiter on a pool of one worker, so only a spare can
 * run it. */
static int waiter(weft_ctx *ctx, void *arg, void **result)
{
    struct relay *r = arg;
    weft_future *c = NULL;
    if (weft_submit(weft_ctx_pool(ctx), completer, r, NULL, &c) != WEFT_OK)
        return -1;
    int rc = weft_future_result(r->promise, WEFT_FOREVER, result);
    weft_future_wait(c, WEFT_FOREVER);
    weft_future_release(c);
    return rc;
}

Test(progress, a_worker_blocked_on_a_promise_is_replaced_by_a_spare)
{
    weft_pool *p = wtc_pool_new(1);
    for (int round = 0; round < 50; round++) {
        struct relay r;
        cr_assert_eq(weft_promise_create(&r.promise), WEFT_OK);
        void *v = NULL;
        cr_assert_eq(wtc_run_task(p, waiter, &r, &v), 0);
        cr_assert_eq((uintptr_t)v, 7);
        weft_future_release(r.promise);
    }
    wtc_pool_drop(p);
}

/* ---- timed waits return near their deadline ---- */

struct slow {
    atomic_int release;
};

static int slow_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct slow *s = arg;
    int64_t end = wt_now_ns() + 3000 * MS;
    while (!atomic_load(&s->release) && wt_now_ns() < end)
        wt_sleep_us(200);
    return 0;
}

struct timed {
    struct slow *slow;
    int64_t took_ns;
    int rc;
    int mode; /* 0: one future, 1: weft_wait ALL, 2: FIRST_COMPLETED, 3: as_completed */
};

/* Submits a slow task and waits on it with a 30 ms timeout: the slow task
 * sits on this worker's own deque, where a helping wait would once have
 * run it inline and returned seconds late. */
static int timed_waiter(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct timed *t = arg;
    weft_future *f = NULL;
    if (weft_submit(weft_ctx_pool(ctx), slow_task, t->slow, NULL, &f) != WEFT_OK)
        return -1;
    int64_t t0 = wt_now_ns();
    if (t->mode == 0) {
        t->rc = weft_future_wait(f, 30 * MS);
    } else if (t->mode == 1 || t->mode == 2) {
        t->rc = weft_wait(&f, 1, 30 * MS, t->mode == 1 ? WEFT_ALL_COMPLETED : WEFT_FIRST_COMPLETED,
                          NULL);
    } else {
        weft_as_completed *it = NULL;
        t->rc = weft_as_completed_begin(&it, &f, 1, 30 * MS);
        if (t->rc == WEFT_OK) {
            weft_future *got = NULL;
            t->rc = weft_as_completed_next(it, &got, NULL);
            weft_as_completed_end(it);
        }
    }
    t->took_ns = wt_now_ns() - t0;
    atomic_store(&t->slow->release, 1);
    weft_future_wait(f, WEFT_FOREVER);
    weft_future_release(f);
    return 0;
}

Test(progress, timed_waits_on_a_worker_return_near_their_deadline)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int mode = 0; mode < 4; mode++) {
            struct slow s = {0};
            struct timed t = {.slow = &s, .mode = mode};
            cr_assert_eq(wtc_run_task(p, timed_waiter, &t, NULL), 0);
            cr_assert_eq(t.rc, WEFT_ETIMEDOUT, "workers %u mode %d: %d", workers, mode, t.rc);
            cr_assert_geq(t.took_ns, 30 * MS);
            cr_assert_lt(t.took_ns, 1000 * MS, "workers %u mode %d: %lld ns", workers, mode,
                         (long long)t.took_ns);
        }
        wtc_pool_drop(p);
    }
}

/* ---- a million nested submit-and-wait ---- */

struct chain {
    long left;
    atomic_long ran;
};

static int link_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct chain *c = arg;
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed);
    if (__atomic_sub_fetch(&c->left, 1, __ATOMIC_RELAXED) <= 0)
        return 0;
    weft_future *f = NULL;
    int rc = weft_submit(weft_ctx_pool(ctx), link_task, c, NULL, &f);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_future_result(f, WEFT_FOREVER, NULL);
    weft_future_release(f);
    return rc;
}

static long chain_length(void)
{
#if defined(WT_ASAN)
    return 100000; /* ASan's larger frames need more spares per level */
#else
    return 1000000;
#endif
}

Test(progress, a_million_nested_waits_do_not_overflow_the_stack, .timeout = 300)
{
    weft_pool *p = wtc_pool_new(1);
    struct chain c = {.left = chain_length()};
    cr_assert_eq(wtc_run_task(p, link_task, &c, NULL), 0);
    cr_assert_eq(atomic_load(&c.ran), chain_length());
    wtc_pool_drop(p);
}

/* ---- spares park again ---- */

/* Threads of this process that are runnable ('R'), from /proc. */
static int runnable_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *close = strrchr(buf, ')');
        if (close != NULL && close[1] == ' ' && close[2] == 'R')
            n++;
    }
    closedir(d);
    return n;
}

Test(progress, spares_use_no_cpu_once_not_needed)
{
    weft_pool *p = wtc_pool_new(1);
    for (int round = 0; round < 5; round++) {
        struct relay r;
        cr_assert_eq(weft_promise_create(&r.promise), WEFT_OK);
        cr_assert_eq(wtc_run_task(p, waiter, &r, NULL), 0);
        weft_future_release(r.promise);
    }
    /* Only this thread runs once everything parked (allow 1 s to settle). */
    int64_t end = wt_now_ns() + 1000 * MS;
    int n;
    while ((n = runnable_threads()) > 1 && wt_now_ns() < end)
        wt_sleep_us(10000);
    cr_assert_eq(n, 1, "%d threads still runnable", n);
    wtc_pool_drop(p);
}

/* ---- external submissions start in FIFO order ---- */

struct order {
    atomic_int next;
    int seen[64];
    atomic_int gate;
};

struct order_item {
    struct order *o;
    int i;
};

static int record_start(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct order_item *it = arg;
    int k = atomic_fetch_add(&it->o->next, 1);
    it->o->seen[k] = it->i;
    return 0;
}

static int hold(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct order *o = arg;
    int64_t end = wt_now_ns() + 5000 * MS;
    while (!atomic_load(&o->gate) && wt_now_ns() < end)
        wt_sleep_us(100);
    return 0;
}

Test(progress, external_submissions_start_in_submission_order)
{
    weft_pool *p = wtc_pool_new(1);
    for (int round = 0; round < 10; round++) {
        struct order o = {0};
        struct order_item items[64];
        weft_future *h = NULL, *fs[64];
        cr_assert_eq(weft_submit(p, hold, &o, NULL, &h), WEFT_OK);
        for (int i = 0; i < 64; i++) {
            items[i] = (struct order_item){&o, i};
            cr_assert_eq(weft_submit(p, record_start, &items[i], NULL, &fs[i]), WEFT_OK);
        }
        atomic_store(&o.gate, 1);
        cr_assert_eq(weft_wait(fs, 64, 10000 * MS, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
        for (int i = 0; i < 64; i++) {
            cr_assert_eq(o.seen[i], i, "round %d: start %d was task %d", round, i, o.seen[i]);
            weft_future_release(fs[i]);
        }
        weft_future_wait(h, WEFT_FOREVER);
        weft_future_release(h);
    }
    wtc_pool_drop(p);
}
