/* Unit tests for futures and promises (runtime/future.c, promise.c, wait.c): results and
 * statuses, detached submits, reference counting, argument and result
 * destructors, polling and timed waits, EINTR, cancellation, done-callbacks,
 * promises, nested submit + wait inside tasks (recursive fib), and the
 * internal watcher stack behind wait sets (registration and pruning).
 *
 * Criterion asserts only on the test's own thread: tasks, callbacks and
 * helper threads record what they saw in atomics, checked afterwards. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"
#include "weft_watchers.h"

TestSuite(future, .timeout = 30);

#define MS 1000000ll
#define DEADLINE_NS (10000 * MS) /* how long any "eventually" may take */
#define SLACK_NS (1000 * MS)     /* a timed wait may overshoot this much */

/* ---- helpers ------------------------------------------------------------- */

static int await_at_least(atomic_int *v, int want)
{
    return wt_await_at_least(v, want, DEADLINE_NS, 200);
}

struct rec {
    atomic_int ran;
    atomic_int dtor;
    atomic_int result_dtor;
    atomic_int cancel_seen;
    int status; /* the task returns this */
};

static int rec_task(weft_ctx *ctx, void *arg, void **result)
{
    struct rec *r = arg;
    atomic_fetch_add(&r->ran, 1);
    *result = r;
    return r->status;
}

static void rec_dtor(void *arg)
{
    atomic_fetch_add(&((struct rec *)arg)->dtor, 1);
}

static void rec_result_dtor(void *arg)
{
    atomic_fetch_add(&((struct rec *)arg)->result_dtor, 1);
}

/* Holds its worker until the gate opens (nanosleep polling: no helping). */
struct gate {
    atomic_int started;
    atomic_int open;
    atomic_int saw_cancel_request;
};

static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    struct gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    int64_t end = wt_now_ns() + 20000 * MS;
    while (!atomic_load(&g->open) && wt_now_ns() < end) {
        if (weft_ctx_cancel_requested(ctx)) {
            atomic_store(&g->saw_cancel_request, 1);
            return 5;
        }
        wt_sleep_us(100);
    }
    return 0;
}

/* A 1-worker pool whose only worker is held by a gate task: later submits
 * stay PENDING until the gate opens. */
struct held {
    weft_pool *pool;
    struct gate gate;
    weft_future *gf;
};

static void hold(struct held *h)
{
    memset(&h->gate, 0, sizeof(h->gate));
    h->pool = wtc_pool_new(1);
    cr_assert(eq(int, weft_submit(h->pool, gate_task, &h->gate, NULL, &h->gf), WEFT_OK));
    cr_assert(eq(int, await_at_least(&h->gate.started, 1), 1));
}

static void release_hold(struct held *h)
{
    atomic_store(&h->gate.open, 1);
    cr_assert(eq(int, weft_future_wait(h->gf, DEADLINE_NS), WEFT_OK));
    weft_future_release(h->gf);
    cr_assert(eq(int, weft_pool_destroy(h->pool), WEFT_OK));
}

/* ---- results -------------------------------------------------------------- */

static int add_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)((uintptr_t)arg + 1000);
    return 0;
}

Test(future, submit_returns_the_task_result)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 100 };
    weft_future *fs[N];
    for (uintptr_t i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, add_task, (void *)i, NULL, &fs[i]), WEFT_OK));
    for (uintptr_t i = 0; i < N; i++) {
        void *v = NULL;
        cr_assert(eq(int, weft_future_result(fs[i], DEADLINE_NS, &v), WEFT_OK));
        cr_assert(eq(ptr, v, (void *)(i + 1000)));
        cr_assert(eq(int, weft_future_state(fs[i]), WEFT_FINISHED));
        cr_assert(weft_future_done(fs[i]));
        cr_assert(eq(int, weft_future_running(fs[i]), 0));
        cr_assert(eq(int, weft_future_cancelled(fs[i]), 0));
        cr_assert(weft_future_error(fs[i]) == NULL);
        /* Done: polling and NULL value are fine, result is stable. */
        cr_assert(eq(int, weft_future_result(fs[i], 0, NULL), WEFT_OK));
        cr_assert(eq(int, weft_future_wait(fs[i], 0), WEFT_OK));
        weft_future_release(fs[i]);
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

static void err_dtor(void *p)
{
    atomic_fetch_add((atomic_int *)p, 1);
}

static int failing_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)1; /* ignored for a failure */
    weft_ctx_set_error(ctx, arg, err_dtor);
    return 42;
}

static int etimedout_task(weft_ctx *ctx, void *arg, void **result)
{
    return WEFT_ETIMEDOUT;
}

Test(future, failing_task_reports_its_status_and_error_object)
{
    weft_pool *p = wtc_pool_new(1);
    atomic_int err_freed = 0;
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, failing_task, &err_freed, NULL, &f), WEFT_OK));
    void *v = (void *)&err_freed;
    wtc_assert_task_failed(weft_future_result(f, DEADLINE_NS, &v), 42);
    cr_assert(eq(ptr, v, (void *)&err_freed)); /* not written on failure */
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(eq(ptr, weft_future_error(f), (void *)&err_freed));
    cr_assert(eq(int, atomic_load(&err_freed), 0));
    weft_future_release(f);
    cr_assert(eq(int, await_at_least(&err_freed, 1), 1)); /* freed with the future */

    /* A task returning a library code (WEFT_ETIMEDOUT) is a task failure,
     * never the wait's own timeout. */
    cr_assert(eq(int, weft_submit(p, etimedout_task, NULL, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    wtc_assert_task_failed(weft_future_result(f, 0, NULL), WEFT_ETIMEDOUT);
    cr_assert(eq(int, weft_future_task_status(f), WEFT_ETIMEDOUT));
    cr_assert(weft_future_done(f));
    weft_future_release(f);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&err_freed), 1));
}

static int minus_one_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    return -1; /* WEFT_EPERM's value */
}

Test(future, task_status_is_the_tasks_own_and_zero_unless_it_failed)
{
    weft_pool *p = wtc_pool_new(1);
    struct gate g = {0};
    weft_future *running, *queued, *failed, *ok;
    cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &running), WEFT_OK));
    cr_assert(eq(int, await_at_least(&g.started, 1), 1));
    cr_assert(eq(int, weft_submit(p, minus_one_task, NULL, NULL, &queued), WEFT_OK));
    cr_assert(eq(int, weft_future_task_status(queued), 0), "pending");
    cr_assert(eq(int, weft_future_cancel(queued), 1));
    cr_assert(eq(int, weft_future_task_status(queued), 0), "cancelled");
    cr_assert(eq(int, weft_future_result(queued, 0, NULL), WEFT_ECANCELED));
    cr_assert(eq(int, weft_future_task_status(running), 0), "running");
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_future_result(running, DEADLINE_NS, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_task_status(running), 0), "succeeded");
    /* The call says WEFT_ETASK, never WEFT_EPERM; the status says -1. */
    cr_assert(eq(int, weft_submit(p, minus_one_task, NULL, NULL, &failed), WEFT_OK));
    wtc_assert_task_failed(weft_future_result(failed, DEADLINE_NS, NULL), -1);
    cr_assert(eq(int, weft_future_task_status(failed), -1));
    cr_assert(eq(int, weft_submit(p, wt_value_task, NULL, NULL, &ok), WEFT_OK));
    cr_assert(eq(int, weft_future_result(ok, DEADLINE_NS, NULL), WEFT_OK));
    cr_assert(eq(int, weft_task_status(), -1), "a success leaves weft_task_status() alone");
    cr_assert(eq(int, weft_future_task_status(NULL), 0));
    weft_future_release(running);
    weft_future_release(queued);
    weft_future_release(failed);
    weft_future_release(ok);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

static int count_task(weft_ctx *ctx, void *arg, void **result)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

Test(future, detached_submits_run)
{
    weft_pool *p = wtc_pool_new(2);
    atomic_int n = 0;
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, count_task, &n, NULL, NULL), WEFT_OK));
    cr_assert(eq(int, await_at_least(&n, N), N));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&n), N));
}

/* ---- references and destructors ------------------------------------------- */

Test(future, ref_and_release_keep_the_future_until_the_last_reference)
{
    weft_pool *p = wtc_pool_new(1);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_OK));
    cr_assert(eq(ptr, (void *)weft_future_ref(f), (void *)f));
    cr_assert(eq(ptr, (void *)weft_future_ref(f), (void *)f));
    cr_assert(weft_future_ref(NULL) == NULL);
    weft_future_release(NULL);
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    weft_future_release(f);
    weft_future_release(f);
    /* One reference left: still valid (ASan would catch a use after free). */
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)&r));
    weft_future_release(f);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 1));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
}

Test(future, releasing_before_completion_never_cancels)
{
    struct held h;
    hold(&h);
    enum { N = 20 };
    struct rec rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++) {
        weft_future *f;
        cr_assert(eq(int, weft_submit(h.pool, rec_task, &rs[i], rec_dtor, &f), WEFT_OK));
        cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
        weft_future_release(f);
    }
    atomic_store(&h.gate.open, 1);
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, await_at_least(&rs[i].dtor, 1), 1));
        cr_assert(eq(int, atomic_load(&rs[i].ran), 1));
    }
    release_hold(&h);
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, atomic_load(&rs[i].dtor), 1));
}

Test(future, arg_dtor_runs_exactly_once_when_run_and_when_cancelled)
{
    struct held h;
    hold(&h);
    struct rec run = {0}, cancelled = {0}, detached = {0};
    weft_future *fr, *fc;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &run, rec_dtor, &fr), WEFT_OK));
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &cancelled, rec_dtor, &fc), WEFT_OK));
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &detached, rec_dtor, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(fc), 1));
    /* The cancelled task is still queued: its argument is freed when the
     * worker disposes of it (or, at the latest, at shutdown). */
    atomic_store(&h.gate.open, 1);
    cr_assert(eq(int, weft_future_wait(fr, DEADLINE_NS), WEFT_OK));
    release_hold(&h);
    cr_assert(eq(int, atomic_load(&run.ran), 1));
    cr_assert(eq(int, atomic_load(&run.dtor), 1));
    cr_assert(eq(int, atomic_load(&cancelled.ran), 0));
    cr_assert(eq(int, atomic_load(&cancelled.dtor), 1));
    cr_assert(eq(int, atomic_load(&detached.ran), 1));
    cr_assert(eq(int, atomic_load(&detached.dtor), 1));
    weft_future_release(fr);
    weft_future_release(fc);
}

static int result_dtor_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = arg;
    return weft_ctx_set_result_dtor(ctx, rec_result_dtor);
}

Test(future, result_dtor_runs_when_the_last_reference_is_released)
{
    weft_pool *p = wtc_pool_new(2);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, result_dtor_task, &r, NULL, &f), WEFT_OK));
    weft_future_ref(f);
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, DEADLINE_NS, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)&r));
    wt_sleep_us(20000); /* the runtime drops its own reference meanwhile */
    cr_assert(eq(int, atomic_load(&r.result_dtor), 0));
    weft_future_release(f);
    wt_sleep_us(5000);
    cr_assert(eq(int, atomic_load(&r.result_dtor), 0));
    weft_future_release(f);
    cr_assert(eq(int, await_at_least(&r.result_dtor, 1), 1));

    /* Released before completion: the runtime's release frees it. */
    struct rec r2 = {0};
    cr_assert(eq(int, weft_submit(p, result_dtor_task, &r2, NULL, NULL), WEFT_OK));
    cr_assert(eq(int, await_at_least(&r2.result_dtor, 1), 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.result_dtor), 1));
    cr_assert(eq(int, atomic_load(&r2.result_dtor), 1));
}

/* ---- polling and timed waits ------------------------------------------------ */

Test(future, zero_timeout_polls)
{
    struct held h;
    hold(&h);
    weft_future *f;
    struct rec r = {0};
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, NULL, &f), WEFT_OK));
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_future_wait(f, 0), WEFT_ETIMEDOUT));
    void *v = (void *)&h;
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_ETIMEDOUT));
    cr_assert(eq(ptr, v, (void *)&h)); /* not written */
    cr_assert(eq(int, weft_future_wait(h.gf, 0), WEFT_ETIMEDOUT));
    cr_assert(wt_now_ns() - t0 < 200 * MS, "polls took %" PRId64 " ns", wt_now_ns() - t0);
    cr_assert(weft_future_running(h.gf));
    cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
    atomic_store(&h.gate.open, 1);
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, 0), WEFT_OK));
    weft_future_release(f);
    release_hold(&h);
}

static void check_elapsed(int64_t t0, int64_t want)
{
    int64_t el = wt_now_ns() - t0;
    cr_assert(el >= want, "returned after %" PRId64 " ns, before %" PRId64, el, want);
    cr_assert(el < want + SLACK_NS, "returned after %" PRId64 " ns, want %" PRId64, el, want);
}

Test(future, timed_waits_time_out_no_earlier_than_requested)
{
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    const int64_t timeouts[] = {1 * MS, 10 * MS, 50 * MS, 120 * MS};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        int64_t t0 = wt_now_ns();
        cr_assert(eq(int, weft_future_wait(pr, timeouts[i]), WEFT_ETIMEDOUT));
        check_elapsed(t0, timeouts[i]);
        void *v = (void *)pr;
        t0 = wt_now_ns();
        cr_assert(eq(int, weft_future_result(pr, timeouts[i], &v), WEFT_ETIMEDOUT));
        check_elapsed(t0, timeouts[i]);
        cr_assert(eq(ptr, v, (void *)pr));
    }
    /* A timeout never cancels: the future is still pending and usable. */
    cr_assert(eq(int, weft_future_state(pr), WEFT_PENDING));
    cr_assert(eq(int, weft_promise_set_result(pr, (void *)7, NULL), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(pr, 50 * MS, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)7));
    weft_future_release(pr);
}

Test(future, wait_until_takes_an_absolute_monotonic_deadline)
{
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t0 = wt_now_ns();
    dl.tv_nsec += 60 * MS;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    cr_assert(eq(int, weft_future_wait_until(pr, &dl), WEFT_ETIMEDOUT));
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    cr_assert(after.tv_sec > dl.tv_sec || (after.tv_sec == dl.tv_sec && after.tv_nsec >= dl.tv_nsec));
    check_elapsed(t0, 60 * MS - 1 * MS); /* dl was taken just before t0 */
    /* A deadline in the past times out at once. */
    struct timespec past = {0, 0};
    t0 = wt_now_ns();
    cr_assert(eq(int, weft_future_wait_until(pr, &past), WEFT_ETIMEDOUT));
    cr_assert(wt_now_ns() - t0 < 200 * MS);
    /* Malformed deadlines and NULL. */
    struct timespec bad = {dl.tv_sec, 1000000000};
    cr_assert(eq(int, weft_future_wait_until(pr, &bad), WEFT_EINVAL));
    bad.tv_nsec = -1;
    cr_assert(eq(int, weft_future_wait_until(pr, &bad), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_wait_until(pr, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_wait_until(NULL, &dl), WEFT_EINVAL));
    /* Done: a past deadline still reports OK. */
    cr_assert(eq(int, weft_promise_set_result(pr, NULL, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_wait_until(pr, &past), WEFT_OK));
    weft_future_release(pr);
}

struct delayed {
    weft_future *f;
    long delay_us;
};

static void *set_later(void *arg)
{
    struct delayed *d = arg;
    wt_sleep_us(d->delay_us);
    weft_promise_set_result(d->f, (void *)99, NULL);
    return NULL;
}

Test(future, negative_timeout_waits_until_done)
{
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    struct delayed d = {pr, 100000};
    pthread_t th;
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, pthread_create(&th, NULL, set_later, &d), 0));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(pr, WEFT_FOREVER, &v), WEFT_OK));
    cr_assert(wt_now_ns() - t0 >= 100 * MS);
    cr_assert(eq(ptr, v, (void *)99));
    pthread_join(th, NULL);
    weft_future_release(pr);
}

/* A timed wait inside a task (the helping path) also respects its timeout. */
struct inner_wait {
    weft_future *pr;
    atomic_int rc;
    atomic_llong elapsed;
};

static int inner_wait_task(weft_ctx *ctx, void *arg, void **result)
{
    struct inner_wait *w = arg;
    int64_t t0 = wt_now_ns();
    atomic_store(&w->rc, weft_future_wait(w->pr, 40 * MS));
    atomic_store(&w->elapsed, wt_now_ns() - t0);
    return 0;
}

Test(future, timed_wait_on_a_worker_times_out_too)
{
    weft_pool *p = wtc_pool_new(2);
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    struct inner_wait w = {.pr = pr, .rc = 1};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, inner_wait_task, &w, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    cr_assert(eq(int, atomic_load(&w.rc), WEFT_ETIMEDOUT));
    int64_t el = atomic_load(&w.elapsed);
    cr_assert(el >= 40 * MS && el < 40 * MS + SLACK_NS, "elapsed %" PRId64 " ns", el);
    weft_future_release(f);
    weft_future_release(pr);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* The deadline of a helping wait must also hold while there is work to help
 * with: the worker has to stop helping once the deadline passed. Here 2 s of
 * 1 ms tasks are queued behind a task that waits 50 ms on a promise that is
 * never set, on the only worker. */
static int sleep_1ms_task(weft_ctx *ctx, void *arg, void **result)
{
    wt_sleep_us(1000);
    return 0;
}

Test(future, timed_wait_on_a_busy_worker_still_times_out_in_time)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    struct held_waiter {
        struct gate g;
    } hw = {0};
    weft_future *gf;
    cr_assert(eq(int, weft_submit(p, gate_task, &hw.g, NULL, &gf), WEFT_OK));
    cr_assert(eq(int, await_at_least(&hw.g.started, 1), 1));
    struct inner_wait w = {.pr = pr, .rc = 1};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, inner_wait_task, &w, NULL, &f), WEFT_OK));
    enum { N = 2000 };
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, sleep_1ms_task, NULL, NULL, NULL), WEFT_OK));
    atomic_store(&hw.g.open, 1);
    cr_assert(eq(int, weft_future_wait(f, 20000 * MS), WEFT_OK));
    weft_future_release(f);
    weft_future_release(gf);
    weft_future_release(pr);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    int64_t el = atomic_load(&w.elapsed);
    cr_assert(eq(int, atomic_load(&w.rc), WEFT_ETIMEDOUT));
    cr_assert(el >= 40 * MS, "elapsed %" PRId64 " ns", el);
    cr_assert(el < 40 * MS + SLACK_NS,
              "a 40 ms wait on a worker returned after %.3f s: the helping loop "
              "(wait.c) only checks the deadline when it finds nothing to run",
              (double)el / 1e9);
}

/* ---- EINTR ------------------------------------------------------------------- */

static atomic_int signals_caught;

static void on_usr1(int sig)
{
    atomic_fetch_add(&signals_caught, 1);
}

struct pester {
    pthread_t target;
    atomic_int stop;
    atomic_int sent;
};

static void *pester_main(void *arg)
{
    struct pester *ps = arg;
    while (!atomic_load(&ps->stop)) {
        pthread_kill(ps->target, SIGUSR1);
        atomic_fetch_add(&ps->sent, 1);
        wt_sleep_us(2000);
    }
    return NULL;
}

static void install_usr1(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls fail with EINTR */
    cr_assert(eq(int, sigaction(SIGUSR1, &sa, NULL), 0));
}

Test(future, signals_do_not_end_a_wait_early)
{
    install_usr1();
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    struct pester ps = {.target = pthread_self()};
    pthread_t th;
    cr_assert(eq(int, pthread_create(&th, NULL, pester_main, &ps), 0));
    int64_t t0 = wt_now_ns();
    int rc = weft_future_wait(pr, 200 * MS);
    int64_t el = wt_now_ns() - t0;
    t0 = wt_now_ns();
    int rc2 = weft_future_result(pr, 100 * MS, NULL);
    int64_t el2 = wt_now_ns() - t0;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 100 * MS;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    t0 = wt_now_ns();
    int rc3 = weft_future_wait_until(pr, &dl);
    int64_t el3 = wt_now_ns() - t0;
    /* A forever wait ends only when the promise is set (100 ms later). */
    struct delayed d = {pr, 100000};
    pthread_t setter;
    cr_assert(eq(int, pthread_create(&setter, NULL, set_later, &d), 0));
    t0 = wt_now_ns();
    int rc4 = weft_future_wait(pr, WEFT_FOREVER);
    int64_t el4 = wt_now_ns() - t0;
    bool done4 = weft_future_done(pr);
    atomic_store(&ps.stop, 1);
    pthread_join(th, NULL);
    pthread_join(setter, NULL);
    cr_assert(atomic_load(&signals_caught) > 10, "only %d signals arrived",
              atomic_load(&signals_caught));
    cr_assert(eq(int, rc, WEFT_ETIMEDOUT));
    cr_assert(el >= 200 * MS, "wait ended after %" PRId64 " ns", el);
    cr_assert(eq(int, rc2, WEFT_ETIMEDOUT));
    cr_assert(el2 >= 100 * MS, "result ended after %" PRId64 " ns", el2);
    cr_assert(eq(int, rc3, WEFT_ETIMEDOUT));
    cr_assert(el3 >= 99 * MS, "wait_until ended after %" PRId64 " ns", el3);
    cr_assert(eq(int, rc4, WEFT_OK));
    cr_assert(done4);
    cr_assert(el4 >= 90 * MS, "forever wait ended after %" PRId64 " ns", el4);
    weft_future_release(pr);
}

Test(future, signals_do_not_end_a_wait_on_a_task_early)
{
    install_usr1();
    struct held h;
    hold(&h);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, NULL, &f), WEFT_OK));
    struct pester ps = {.target = pthread_self()};
    pthread_t th;
    cr_assert(eq(int, pthread_create(&th, NULL, pester_main, &ps), 0));
    int64_t t0 = wt_now_ns();
    int rc = weft_future_wait(f, 200 * MS);
    int64_t el = wt_now_ns() - t0;
    atomic_store(&ps.stop, 1);
    pthread_join(th, NULL);
    cr_assert(eq(int, rc, WEFT_ETIMEDOUT));
    cr_assert(el >= 200 * MS, "wait ended after %" PRId64 " ns", el);
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    atomic_store(&h.gate.open, 1);
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    weft_future_release(f);
    release_hold(&h);
}

/* ---- cancellation ------------------------------------------------------------ */

Test(future, cancel_succeeds_only_before_the_task_starts)
{
    struct held h;
    hold(&h);
    struct rec r = {0}, fin = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, rec_dtor, &f), WEFT_OK));
    /* Running: 0, and the task keeps running. */
    cr_assert(eq(int, weft_future_state(h.gf), WEFT_RUNNING));
    cr_assert(eq(int, weft_future_cancel(h.gf), 0));
    cr_assert(eq(int, weft_future_state(h.gf), WEFT_RUNNING));
    cr_assert(eq(int, weft_future_cancelled(h.gf), 0));
    /* Pending: 1, and again 1. */
    cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    cr_assert(weft_future_cancelled(f));
    cr_assert(weft_future_done(f));
    cr_assert(eq(int, weft_future_running(f), 0));
    cr_assert(eq(int, weft_future_wait(f, 0), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 0, NULL), WEFT_ECANCELED));
    cr_assert(eq(int, weft_future_result(f, WEFT_FOREVER, NULL), WEFT_ECANCELED));
    cr_assert(weft_future_error(f) == NULL);
    atomic_store(&h.gate.open, 1);
    /* Finished: 0. */
    weft_future *ff;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &fin, NULL, &ff), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(ff, DEADLINE_NS), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(ff), 0));
    cr_assert(eq(int, weft_future_state(ff), WEFT_FINISHED));
    cr_assert(eq(int, weft_future_cancel(h.gf), 0)); /* finished by now */
    cr_assert(eq(int, weft_future_wait(h.gf, DEADLINE_NS), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(h.gf), 0));
    release_hold(&h);
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    cr_assert(eq(int, weft_future_cancel(NULL), WEFT_EINVAL));
    weft_future_release(f);
    weft_future_release(ff);
}

Test(future, request_cancel_cancels_pending_and_flags_running)
{
    struct held h;
    hold(&h);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, rec_dtor, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_request_cancel(f), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    /* Running: the task sees the request and returns status 5. */
    cr_assert(eq(int, weft_future_request_cancel(h.gf), WEFT_OK));
    wtc_assert_task_failed(weft_future_result(h.gf, DEADLINE_NS, NULL), 5);
    cr_assert(eq(int, atomic_load(&h.gate.saw_cancel_request), 1));
    cr_assert(eq(int, weft_future_state(h.gf), WEFT_FINISHED));
    cr_assert(eq(int, weft_future_request_cancel(NULL), WEFT_EINVAL));
    release_hold(&h);
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    weft_future_release(f);
}

/* ---- callbacks ------------------------------------------------------------------ */

struct cb_log {
    atomic_int n;
    atomic_int done; /* entries filled in: counted after the stores */
    int order[16];
    pthread_t thread[16];
    int state[16];
    int result_rc[16];
};

struct cb_arg {
    struct cb_log *log;
    int id;
    int ret;
};

static int log_cb(weft_future *f, void *ud)
{
    struct cb_arg *a = ud;
    int k = atomic_fetch_add(&a->log->n, 1);
    if (k < 16) {
        a->log->order[k] = a->id;
        a->log->thread[k] = pthread_self();
        a->log->state[k] = weft_future_state(f);
        /* The outcome is published before callbacks run: no blocking. */
        a->log->result_rc[k] = weft_future_result(f, 0, NULL);
    }
    atomic_fetch_add(&a->log->done, 1); /* publishes the entry */
    return a->ret;
}

Test(future, callbacks_run_once_in_order_on_the_completing_thread)
{
    struct held h;
    hold(&h);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, NULL, &f), WEFT_OK));
    struct cb_log log = {0};
    struct cb_arg a[5];
    uint64_t failures = weft_callback_failures();
    for (int i = 0; i < 5; i++) {
        a[i] = (struct cb_arg){&log, i, i == 1 ? -1 : 0}; /* callback 1 fails */
        cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &a[i]), WEFT_OK));
    }
    cr_assert(eq(int, atomic_load(&log.n), 0));
    atomic_store(&h.gate.open, 1);
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    /* Callbacks run after the state is published: poll for them. */
    cr_assert(eq(int, await_at_least(&log.done, 5), 5));
    for (int i = 0; i < 5; i++) {
        cr_assert(eq(int, log.order[i], i));
        cr_assert(eq(int, pthread_equal(log.thread[i], pthread_self()), 0));
        cr_assert(eq(int, log.state[i], WEFT_FINISHED));
        cr_assert(eq(int, log.result_rc[i], WEFT_OK));
    }
    cr_assert(eq(u64, weft_callback_failures() - failures, 1));
    /* Already done: runs at once, in the caller, before add returns. */
    struct cb_arg late = {&log, 9, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &late), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 6));
    cr_assert(eq(int, log.order[5], 9));
    cr_assert(pthread_equal(log.thread[5], pthread_self()));
    /* Failures of immediate callbacks are counted too. */
    struct cb_arg late_fail = {&log, 10, 3};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &late_fail), WEFT_OK));
    cr_assert(eq(u64, weft_callback_failures() - failures, 2));
    wt_sleep_us(20000);
    cr_assert(eq(int, atomic_load(&log.n), 7)); /* nothing ran twice */
    cr_assert(eq(int, weft_future_add_done_callback(NULL, log_cb, &late), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_add_done_callback(f, NULL, &late), WEFT_EINVAL));
    weft_future_release(f);
    release_hold(&h);
}

Test(future, cancel_runs_callbacks_in_the_cancelling_thread)
{
    struct held h;
    hold(&h);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(h.pool, rec_task, &r, rec_dtor, &f), WEFT_OK));
    struct cb_log log = {0};
    struct cb_arg a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct cb_arg){&log, i, 0};
        cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &a[i]), WEFT_OK));
    }
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, atomic_load(&log.n), 3)); /* ran before cancel returned */
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, log.order[i], i));
        cr_assert(pthread_equal(log.thread[i], pthread_self()));
        cr_assert(eq(int, log.state[i], WEFT_CANCELLED));
        cr_assert(eq(int, log.result_rc[i], WEFT_ECANCELED));
    }
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, atomic_load(&log.n), 3)); /* not again */
    weft_future_release(f);
    release_hold(&h);
    cr_assert(eq(int, atomic_load(&log.n), 3));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
}

/* A callback that releases the last handle: the future must survive the rest
 * of the completion (the runtime holds its own reference). */
static int release_cb(weft_future *f, void *ud)
{
    weft_future_release(f);
    atomic_fetch_add((atomic_int *)ud, 1);
    return 0;
}

Test(future, a_callback_may_release_the_last_handle)
{
    weft_pool *p = wtc_pool_new(2);
    atomic_int n = 0;
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        weft_future *f;
        cr_assert(eq(int, weft_submit(p, add_task, NULL, NULL, &f), WEFT_OK));
        cr_assert(eq(int, weft_future_add_done_callback(f, release_cb, &n), WEFT_OK));
    }
    cr_assert(eq(int, await_at_least(&n, N), N));
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(pr, release_cb, &n), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(pr, NULL, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&n), N + 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- watchers (the wait-set links' stack, future.h) ------------------------------ */

struct probe {
    struct weft__listener l;
    bool stale;
    int fired;     /* fire(l, f) with f != NULL */
    int discarded; /* fire(l, NULL) */
    weft_future *seen;
};

static void probe_fire(struct weft__listener *l, weft_future *f)
{
    struct probe *p = weft_container_of(l, struct probe, l);
    if (f != NULL) {
        p->fired++;
        p->seen = f;
    } else {
        p->discarded++;
    }
}

static bool probe_stale(const struct weft__listener *l)
{
    return weft_container_of(l, const struct probe, l)->stale;
}

/* A new promise watched by n probes (the even ones stale), pruned once. */
static weft_future *pruned_promise(struct probe *ps, int n)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    for (int i = 0; i < n; i++) {
        ps[i] = (struct probe){.l.fire = probe_fire, .stale = i % 2 == 0};
        cr_assert(weft__future_watch(f, &ps[i].l));
    }
    cr_assert(eq(sz, wt_watchers(f), (size_t)n));
    weft__future_prune(f, probe_stale);
    cr_assert(eq(sz, wt_watchers(f), (size_t)n / 2));
    return f;
}

Test(future, prune_discards_stale_watchers_once_and_keeps_the_rest)
{
    enum { N = 5 };
    struct probe ps[N];
    weft_future *f = pruned_promise(ps, N);
    weft__future_prune(f, probe_stale); /* nothing stale left */
    cr_assert(eq(sz, wt_watchers(f), (size_t)N / 2));
    cr_assert(eq(int, weft_promise_set_result(f, NULL, NULL), WEFT_OK));
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, ps[i].fired, ps[i].stale ? 0 : 1), "probe %d", i);
        cr_assert(eq(int, ps[i].discarded, ps[i].stale ? 1 : 0), "probe %d", i);
        cr_assert(ps[i].stale || ps[i].seen == f);
    }
    weft__future_prune(f, probe_stale); /* closed: a no-op */
    struct probe late = {.l.fire = probe_fire};
    cr_assert(not(weft__future_watch(f, &late.l)));
    weft_future_release(f);
}

Test(future, watchers_kept_by_a_prune_are_discarded_when_the_future_is_freed)
{
    enum { N = 4 };
    struct probe ps[N];
    weft_future *f = pruned_promise(ps, N);
    weft_future_release(f); /* never completed */
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, ps[i].fired, 0), "probe %d", i);
        cr_assert(eq(int, ps[i].discarded, 1), "probe %d", i);
    }
}

/* Interleavings made deterministic: the predicate runs while the pruner owns
 * the detached chain, so an action taken from it lands in that window. */
enum hook_action { HOOK_NONE, HOOK_WATCH, HOOK_COMPLETE, HOOK_PRUNE };
struct hook {
    weft_future *f;
    struct probe *extra;
    enum hook_action action; /* done once, at the first call */
};
static struct hook hook;

static bool hooked_stale(const struct weft__listener *l)
{
    enum hook_action a = hook.action;
    hook.action = HOOK_NONE;
    if (a == HOOK_WATCH)
        cr_assert(weft__future_watch(hook.f, &hook.extra->l));
    else if (a == HOOK_COMPLETE)
        cr_assert(eq(int, weft_promise_set_result(hook.f, NULL, NULL), WEFT_OK));
    else if (a == HOOK_PRUNE)
        weft__future_prune(hook.f, probe_stale); /* finds the stack empty */
    return probe_stale(l);
}

Test(future, prune_keeps_a_watcher_registered_while_it_runs)
{
    struct probe ps[4], extra = {.l.fire = probe_fire};
    weft_future *f = pruned_promise(ps, 4); /* ps[1], ps[3] kept */
    ps[1].stale = true;
    hook = (struct hook){.f = f, .extra = &extra, .action = HOOK_WATCH};
    weft__future_prune(f, hooked_stale);
    cr_assert(eq(sz, wt_watchers(f), 2)); /* ps[3] on top of extra */
    cr_assert(eq(int, weft_promise_set_result(f, NULL, NULL), WEFT_OK));
    cr_assert(eq(int, extra.fired, 1));
    cr_assert(eq(int, ps[3].fired, 1));
    cr_assert(eq(int, ps[1].discarded, 1));
    cr_assert(eq(int, ps[1].fired, 0));
    weft_future_release(f);
}

Test(future, prune_fires_what_it_kept_when_the_future_completes_meanwhile)
{
    struct probe ps[4];
    weft_future *f = pruned_promise(ps, 4);
    ps[1].stale = true;
    hook = (struct hook){.f = f, .action = HOOK_COMPLETE};
    weft__future_prune(f, hooked_stale);
    cr_assert(eq(int, ps[1].discarded, 1));
    cr_assert(eq(int, ps[3].fired, 1));
    cr_assert(eq(int, ps[3].discarded, 0));
    cr_assert(eq(ptr, ps[3].seen, f));
    weft_future_release(f);
}

Test(future, a_second_pruner_never_sees_a_detached_chain)
{
    struct probe ps[4];
    weft_future *f = pruned_promise(ps, 4);
    hook = (struct hook){.f = f, .action = HOOK_PRUNE};
    weft__future_prune(f, hooked_stale);
    cr_assert(eq(sz, wt_watchers(f), 2));
    weft_future_release(f); /* never completed: both discarded */
    cr_assert(eq(int, ps[1].discarded + ps[3].discarded, 2));
}

/* ---- promises ------------------------------------------------------------------- */

static void count_dtor(void *p)
{
    atomic_fetch_add((atomic_int *)p, 1);
}

Test(future, promises_complete_once)
{
    weft_future *pr;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    cr_assert(eq(int, weft_future_state(pr), WEFT_PENDING));
    cr_assert(eq(int, weft_promise_set_running(pr), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_running(pr), WEFT_EALREADY));
    cr_assert(weft_future_running(pr));
    cr_assert(eq(int, weft_future_cancel(pr), 0)); /* running: not cancellable */
    atomic_int v1 = 0, v2 = 0;
    cr_assert(eq(int, weft_promise_set_result(pr, &v1, count_dtor), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(pr, &v2, count_dtor), WEFT_EALREADY));
    cr_assert(eq(int, atomic_load(&v2), 1)); /* a rejected value is freed at once */
    cr_assert(eq(int, weft_promise_set_error(pr, 3, &v2, count_dtor), WEFT_EALREADY));
    cr_assert(eq(int, atomic_load(&v2), 2));
    cr_assert(eq(int, weft_promise_set_running(pr), WEFT_EALREADY));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(pr, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)&v1));
    cr_assert(eq(int, atomic_load(&v1), 0));
    weft_future_release(pr);
    cr_assert(eq(int, atomic_load(&v1), 1)); /* freed with the future */

    /* Error outcome. */
    atomic_int e = 0;
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_error(pr, 0, &e, count_dtor), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&e), 1));
    cr_assert(eq(int, weft_future_state(pr), WEFT_PENDING));
    cr_assert(eq(int, weft_promise_set_error(pr, 77, &e, count_dtor), WEFT_OK));
    wtc_assert_task_failed(weft_future_result(pr, 0, NULL), 77);
    cr_assert(eq(ptr, weft_future_error(pr), (void *)&e));
    weft_future_release(pr);
    cr_assert(eq(int, atomic_load(&e), 2));

    /* Cancelled promise. */
    cr_assert(eq(int, weft_promise_create(&pr), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(pr), 1));
    cr_assert(eq(int, weft_promise_set_running(pr), WEFT_ECANCELED));
    atomic_int v3 = 0;
    cr_assert(eq(int, weft_promise_set_result(pr, &v3, count_dtor), WEFT_EALREADY));
    cr_assert(eq(int, atomic_load(&v3), 1));
    cr_assert(eq(int, weft_future_result(pr, 0, NULL), WEFT_ECANCELED));
    weft_future_release(pr);
}

Test(future, promise_calls_reject_task_futures_and_null)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, add_task, NULL, NULL, &f), WEFT_OK));
    atomic_int d = 0;
    cr_assert(eq(int, weft_promise_set_result(f, &d, count_dtor), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&d), 1));
    cr_assert(eq(int, weft_promise_set_error(f, 1, &d, count_dtor), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&d), 2));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    weft_future_release(f);
    cr_assert(eq(int, weft_promise_create(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_promise_set_result(NULL, &d, count_dtor), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&d), 3));
    cr_assert(eq(int, weft_promise_set_running(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(future, null_future_is_rejected)
{
    cr_assert(eq(int, weft_future_state(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_done(NULL), 0));
    cr_assert(eq(int, weft_future_running(NULL), 0));
    cr_assert(eq(int, weft_future_cancelled(NULL), 0));
    cr_assert(eq(int, weft_future_wait(NULL, 0), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_wait(NULL, WEFT_FOREVER), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_result(NULL, 0, NULL), WEFT_EINVAL));
    cr_assert(weft_future_error(NULL) == NULL);
    cr_assert(eq(int, weft_ctx_set_result_dtor(NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_ctx_set_error(NULL, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_ctx_cancel_requested(NULL), 0));
    cr_assert(weft_ctx_pool(NULL) == NULL);
}

/* ---- nested submit + wait: recursive fib ------------------------------------------ */

static void check_fib(unsigned workers, uintptr_t n)
{
    weft_pool *p = wtc_pool_new(workers);
    weft_future *f;
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_submit(p, wt_fib_futures, (void *)n, NULL, &f), WEFT_OK));
    void *v = NULL;
    int rc = weft_future_result(f, 25000 * MS, &v);
    cr_assert(eq(int, rc, WEFT_OK), "fib(%zu) on %u workers: %s", (size_t)n, workers,
              weft_strerror(rc));
    cr_assert(eq(u64, (uint64_t)(uintptr_t)v, wt_fib((unsigned)n)));
    cr_log_info("fib(%zu) on %u workers: %.1f ms", (size_t)n, workers,
                (double)(wt_now_ns() - t0) / 1e6);
    weft_future_release(f);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(future, nested_fib_20_on_one_worker)
{
    check_fib(1, 20);
}

Test(future, nested_fib_20_on_two_workers)
{
    check_fib(2, 20);
}

/* The ThreadPoolExecutor deadlock case: every task waits on children that
 * can only run on the one worker it occupies. Helping makes it complete. */
Test(future, nested_fib_25_on_one_worker_does_not_deadlock)
{
    check_fib(1, 25);
}

/* A task waits on a future submitted from outside after it, so queued
 * behind it on the only worker: the waiting worker must run it itself. */
struct later {
    _Atomic(weft_future *) other;
};

static int wait_other_task(weft_ctx *ctx, void *arg, void **result)
{
    struct later *l = arg;
    weft_future *other = atomic_load(&l->other);
    if (other == NULL)
        return 1;
    void *v = NULL;
    int rc = weft_future_result(other, DEADLINE_NS, &v);
    *result = v;
    return rc;
}

Test(future, a_task_waiting_on_a_future_queued_behind_it_helps_it_run)
{
    struct held h;
    hold(&h);
    struct later l = {NULL};
    weft_future *waiter, *other;
    cr_assert(eq(int, weft_submit(h.pool, wait_other_task, &l, NULL, &waiter), WEFT_OK));
    cr_assert(eq(int, weft_submit(h.pool, add_task, (void *)5, NULL, &other), WEFT_OK));
    atomic_store(&l.other, other);
    atomic_store(&h.gate.open, 1);
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(waiter, DEADLINE_NS, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)1005));
    weft_future_release(waiter);
    weft_future_release(other);
    release_hold(&h);
}

/* weft.h: "nested waits therefore never deadlock the pool". A chain of 80
 * nested submit + wait (each level waits on its own child, well within the
 * stack) ends in a wait on a sibling future queued on the same, only worker
 * below the chain. A helping wait never runs that sibling (an independent
 * task); the deepest wait is timed, so it runs no task either, and the
 * sibling runs only if a spare takes the blocked worker's place (or the
 * fallback runs it: weft.h's degraded mode). The deepest wait uses a 3 s
 * timeout, so the test fails instead of hanging. */
struct chain {
    int depth;
    _Atomic(weft_future *) sibling;
    atomic_int deep_rc;
};

struct chain_arg {
    struct chain *c;
    int level;
};

static int chain_task(weft_ctx *ctx, void *arg, void **result)
{
    struct chain_arg *a = arg;
    if (a->level == a->c->depth) {
        weft_future *x = atomic_load(&a->c->sibling);
        atomic_store(&a->c->deep_rc, x ? weft_future_wait(x, 3000 * MS) : 1);
        return 0;
    }
    struct chain_arg next = {a->c, a->level + 1};
    weft_future *f;
    int rc = weft_submit(weft_ctx_pool(ctx), chain_task, &next, NULL, &f);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_future_wait(f, WEFT_FOREVER);
    weft_future_release(f);
    return rc;
}

static int run_chain(int depth)
{
    struct held h;
    hold(&h); /* both submits below land in the injection queue, in order */
    struct chain c = {.depth = depth, .deep_rc = 99};
    struct chain_arg root = {&c, 0};
    weft_future *r, *x;
    cr_assert(eq(int, weft_submit(h.pool, chain_task, &root, NULL, &r), WEFT_OK));
    cr_assert(eq(int, weft_submit(h.pool, add_task, NULL, NULL, &x), WEFT_OK));
    atomic_store(&c.sibling, x);
    atomic_store(&h.gate.open, 1);
    cr_assert(eq(int, weft_future_wait(r, 20000 * MS), WEFT_OK));
    weft_future_release(r);
    weft_future_release(x);
    release_hold(&h);
    return atomic_load(&c.deep_rc);
}

Test(future, deeply_nested_wait_on_a_sibling_on_one_worker_completes)
{
    cr_assert(eq(int, run_chain(60), WEFT_OK));
    int rc = run_chain(80);
    cr_assert(eq(int, rc, WEFT_OK),
              "depth 80: the deepest wait gave %d (%s): the only worker must run the "
              "awaited task itself (wait.c runner)",
              rc, weft_strerror(rc));
}

/* ---- dependencies without a cycle never deadlock a helping wait ---- */

static weft_future *_Atomic dag_a, *_Atomic dag_b;

static int dag_task_a(weft_ctx *ctx, void *arg, void **result)
{
    int64_t end = wt_now_ns() + DEADLINE_NS;
    while (atomic_load(&dag_b) == NULL && wt_now_ns() < end)
        wt_sleep_us(100);
    return atomic_load(&dag_b) ? weft_future_wait(atomic_load(&dag_b), DEADLINE_NS) : -1;
}

static int dag_task_b(weft_ctx *ctx, void *arg, void **result)
{
    return 0;
}

static int dag_task_c(weft_ctx *ctx, void *arg, void **result)
{
    return weft_future_wait(atomic_load(&dag_a), DEADLINE_NS);
}

/* One worker, queue A, C, B; A waits for B and C waits for A. A greedy
 * helping wait in A would pick up C, which then waits for A buried under it
 * on the same stack: a deadlock without any cycle in the dependencies. */
Test(future, acyclic_waits_on_one_worker_never_deadlock)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *a, *b, *c;
    atomic_store(&dag_a, NULL);
    atomic_store(&dag_b, NULL);
    cr_assert(eq(int, weft_submit(p, dag_task_a, NULL, NULL, &a), WEFT_OK));
    atomic_store(&dag_a, a);
    wt_sleep_us(20000); /* A is running and polling for B */
    cr_assert(eq(int, weft_submit(p, dag_task_c, NULL, NULL, &c), WEFT_OK));
    cr_assert(eq(int, weft_submit(p, dag_task_b, NULL, NULL, &b), WEFT_OK));
    atomic_store(&dag_b, b);
    cr_assert(eq(int, weft_future_result(c, 3000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_result(a, DEADLINE_NS, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_result(b, DEADLINE_NS, NULL), WEFT_OK));
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- cancel keeps the future alive across its callbacks ---- */

static atomic_int uaf_gate;

static int uaf_blocker(weft_ctx *ctx, void *arg, void **result)
{
    int64_t end = wt_now_ns() + DEADLINE_NS;
    while (!atomic_load(&uaf_gate) && wt_now_ns() < end)
        wt_sleep_us(100);
    return 0;
}

static int uaf_release_cb(weft_future *f, void *ud)
{
    weft_future_release(f); /* the caller's only handle */
    atomic_store(&uaf_gate, 1); /* the worker may now pop and dispose f */
    wt_sleep_us(50000);
    return 0;
}

static int uaf_use_cb(weft_future *f, void *ud)
{
    atomic_int *seen = ud;
    atomic_store(seen, weft_future_state(f) == WEFT_CANCELLED ? 1 : 2);
    return 0;
}

/* A callback that releases the last handle during weft_future_cancel must
 * not free the future under the callbacks after it (ASan checks the reads). */
Test(future, cancel_keeps_the_future_alive_across_its_callbacks)
{
    weft_pool *p = wtc_pool_new(1);
    atomic_store(&uaf_gate, 0);
    atomic_int seen = 0;
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, uaf_blocker, NULL, NULL, NULL), WEFT_OK));
    struct rec r = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &r, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(f, uaf_release_cb, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(f, uaf_use_cb, &seen), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, atomic_load(&seen), 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
}

/* ---- double release (debug builds) ---------------------------------------------- */

/* Releasing a future once too often is undefined (weft.h). Debug builds of
 * the library (no NDEBUG, as the dev and asan presets) stop the process with
 * a message when a release, ref or wait finds the future already freed:
 * a freed future stays readable in a quarantine for a while (slab.h), so
 * the check is sound. Release builds do not check, so these tests are
 * disabled there. */
#ifdef NDEBUG
#define DOUBLE_RELEASE_CHECKED .disabled = true /* release: not checked */
#else
#define DOUBLE_RELEASE_CHECKED .signal = SIGABRT
#endif

Test(future, a_promise_released_twice_aborts_in_debug_builds, DOUBLE_RELEASE_CHECKED)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    weft_future_release(f);
    weft_future_release(f);
    cr_fatal("a double release went unnoticed");
}

/* The first release may drop the count to the runtime's reference or free
 * the future, depending on whether the worker is done with it: either the
 * second release or the worker's own one finds it freed. */
Test(future, a_task_future_released_twice_aborts_in_debug_builds, DOUBLE_RELEASE_CHECKED)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, wt_value_task, NULL, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, WEFT_FOREVER), WEFT_OK));
    weft_future_release(f);
    weft_future_release(f);
    weft_pool_destroy(p); /* joins the worker, which may be the one to stop */
    cr_fatal("a double release went unnoticed");
}

Test(future, a_ref_after_the_last_release_aborts_in_debug_builds, DOUBLE_RELEASE_CHECKED)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    weft_future_release(f);
    (void)weft_future_ref(f);
    cr_fatal("a ref of a freed future went unnoticed");
}

Test(future, a_wait_after_the_last_release_aborts_in_debug_builds, DOUBLE_RELEASE_CHECKED)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(f, NULL, NULL), WEFT_OK));
    weft_future_release(f);
    (void)weft_future_wait(f, 0);
    cr_fatal("a wait on a freed future went unnoticed");
}

static int release_twice_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    weft_future *f = arg;
    weft_future_release(f);
    weft_future_release(f);
    return 0;
}

Test(future, a_double_release_on_a_worker_aborts_in_debug_builds, DOUBLE_RELEASE_CHECKED)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    (void)wtc_run_task(p, release_twice_task, f, NULL);
    weft_pool_destroy(p);
    cr_fatal("a double release went unnoticed");
}

/* Correct use is never reported: many futures, refs taken and dropped,
 * the last references released by two threads. */
static void *release_half(void *arg)
{
    weft_future **fs = arg;
    for (int i = 0; i < 500; i++)
        weft_future_release(fs[2 * i]);
    return NULL;
}

Test(future, correct_releases_are_never_reported)
{
    static weft_future *fs[1000];
    for (int i = 0; i < 1000; i++) {
        cr_assert(eq(int, weft_promise_create(&fs[i]), WEFT_OK));
        weft_future_release(weft_future_ref(fs[i]));
    }
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, release_half, fs), 0));
    for (int i = 0; i < 500; i++)
        weft_future_release(fs[2 * i + 1]);
    cr_assert(eq(int, pthread_join(t, NULL), 0));
}
