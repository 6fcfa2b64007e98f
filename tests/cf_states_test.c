/* concurrent.futures conformance: every query and action in every future
 * state (futures-semantics.md 2.1, 2.2 and 4), promises, cooperative
 * cancellation, a failing worker initializer, and shutdown with and without
 * WAIT and CANCEL (cancelled futures are done for weft_wait and as_completed:
 * the gh-87893 fix).
 *
 * Deterministic states. A future is held in PENDING by a 1-worker pool whose
 * only worker is blocked in a gate task (polling an atomic, so it does not
 * help), and in RUNNING by being such a gate task itself. No outcome depends
 * on a sleep; polling loops only wait for something that must happen, each
 * with a deadline. Criterion asserts only on the test thread: tasks and
 * callbacks record into atomics that the test checks afterwards. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "weft.h"
#include "weft_criterion.h"

TestSuite(cf_states, .timeout = 30);

#define DEADLINE_NS (10ll * 1000000000) /* how long any "eventually" may take */

/* ---- helpers ------------------------------------------------------------- */

/* Poll until *v >= want or the deadline passes. Returns the last value. */
static int await_at_least(atomic_int *v, int want)
{
    return wt_await_at_least(v, want, DEADLINE_NS, 100);
}

/* The failure counter is bumped after the callback returns, on the
 * completing worker: wait (bounded) until it reaches want. */
static uint64_t await_failures(uint64_t want)
{
    int64_t end = wt_now_ns() + DEADLINE_NS;
    uint64_t x;
    while ((x = weft_callback_failures()) < want && wt_now_ns() < end)
        wt_sleep_us(100);
    return x;
}

/* A gate: tasks entering it count themselves and poll until it opens. */
struct gate {
    atomic_int entered;
    atomic_int open;
    atomic_int cancel_seen; /* weft_ctx_cancel_requested after the gate opened */
};

static void gate_pass(struct gate *g)
{
    atomic_fetch_add(&g->entered, 1);
    wt_await_set(&g->open, 2 * DEADLINE_NS, 100);
}

static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    struct gate *g = arg;
    gate_pass(g);
    atomic_store(&g->cancel_seen, weft_ctx_cancel_requested(ctx));
    *result = g;
    return 0;
}

/* A pool of one worker, blocked in a gate task: futures submitted now stay
 * PENDING until the gate opens. */
static weft_pool *blocked_pool(struct gate *g, weft_future **blocker)
{
    weft_pool *p = wtc_pool_new(1);
    cr_assert(eq(int, weft_submit(p, gate_task, g, NULL, blocker), WEFT_OK));
    cr_assert(eq(int, await_at_least(&g->entered, 1), 1));
    return p;
}

/* A task that records that it ran and returns a fixed value. */
struct rec {
    atomic_int ran;
    atomic_int dtor;
};

static int value_of_task; /* its address is the value tasks return */

static int rec_task(weft_ctx *ctx, void *arg, void **result)
{
    struct rec *r = arg;
    atomic_fetch_add(&r->ran, 1);
    *result = &value_of_task;
    return 0;
}

static void rec_dtor(void *arg)
{
    atomic_fetch_add(&((struct rec *)arg)->dtor, 1);
}

/* A callback log: order of calls, counts, and the calling thread. */
#define LOG_MAX 8
struct cblog {
    atomic_int n;
    atomic_int done; /* entries filled in: counted after the stores */
    int order[LOG_MAX];
    pthread_t thread[LOG_MAX];
    int worker[LOG_MAX];
};

struct cb {
    struct cblog *log;
    int id;
    int ret; /* what the callback returns (nonzero = failed callback) */
};

static int log_cb(weft_future *f, void *ud)
{
    struct cb *c = ud;
    int i = atomic_fetch_add(&c->log->n, 1);
    if (i < LOG_MAX) {
        c->log->order[i] = c->id;
        c->log->thread[i] = pthread_self();
        c->log->worker[i] = weft_worker_index();
    }
    atomic_fetch_add(&c->log->done, 1); /* publishes the entry */
    (void)f;
    return c->ret;
}

static int error_object; /* its address is the error a failing task attaches */
static atomic_int error_dtor_calls;

static void error_dtor(void *e)
{
    if (e == &error_object)
        atomic_fetch_add(&error_dtor_calls, 1);
}

static int failing_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (weft_ctx_set_error(ctx, &error_object, error_dtor) != WEFT_OK)
        return -1000;
    return 42;
}

/* ---- pending ------------------------------------------------------------- */

Test(cf_states, pending_queries_then_cancel_runs_callbacks_once)
{
    struct gate g = {0};
    weft_future *blocker, *f;
    weft_pool *p = blocked_pool(&g, &blocker);
    struct rec r = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_OK));

    cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
    cr_assert(not(weft_future_done(f)));
    cr_assert(not(weft_future_running(f)));
    cr_assert(not(weft_future_cancelled(f)));
    void *v = &g;
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_ETIMEDOUT));
    cr_assert(eq(ptr, v, &g)); /* out-parameter untouched on failure */
    cr_assert(eq(int, weft_future_wait(f, 0), WEFT_ETIMEDOUT));
    cr_assert(eq(ptr, weft_future_error(f), NULL));

    struct cblog log = {0};
    struct cb c1 = {&log, 1, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 0));

    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    cr_assert(weft_future_done(f));
    cr_assert(weft_future_cancelled(f));
    cr_assert(not(weft_future_running(f)));
    /* The callback ran in the cancelling thread, before cancel returned. */
    cr_assert(eq(int, atomic_load(&log.n), 1));
    cr_assert(pthread_equal(log.thread[0], pthread_self()));
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_ECANCELED));
    cr_assert(eq(int, weft_future_result(f, WEFT_FOREVER, NULL), WEFT_ECANCELED));
    cr_assert(eq(ptr, weft_future_error(f), NULL));

    /* Cancelling again succeeds and runs nothing again. */
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, atomic_load(&log.n), 1));

    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_future_result(blocker, WEFT_FOREVER, NULL), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 0)); /* the task never ran */
    cr_assert(eq(int, atomic_load(&r.dtor), 1)); /* its argument was freed once */
    cr_assert(eq(int, atomic_load(&log.n), 1));
    weft_future_release(f);
    weft_future_release(blocker);
}

Test(cf_states, request_cancel_on_pending_cancels_outright)
{
    struct gate g = {0};
    weft_future *blocker, *f;
    weft_pool *p = blocked_pool(&g, &blocker);
    struct rec r = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &r, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_request_cancel(f), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    weft_future_release(f);
    weft_future_release(blocker);
}

/* ---- running ------------------------------------------------------------- */

Test(cf_states, running_queries_cancel_fails_then_finishes)
{
    weft_pool *p = wtc_pool_new(1);
    struct gate g = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &f), WEFT_OK));
    cr_assert(eq(int, await_at_least(&g.entered, 1), 1));

    cr_assert(eq(int, weft_future_state(f), WEFT_RUNNING));
    cr_assert(weft_future_running(f));
    cr_assert(not(weft_future_done(f)));
    cr_assert(not(weft_future_cancelled(f)));
    cr_assert(eq(int, weft_future_cancel(f), 0));
    cr_assert(eq(int, weft_future_state(f), WEFT_RUNNING));
    cr_assert(eq(int, weft_future_result(f, 0, NULL), WEFT_ETIMEDOUT));
    cr_assert(eq(ptr, weft_future_error(f), NULL));

    struct cblog log = {0};
    struct cb c1 = {&log, 1, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 0));

    atomic_store(&g.open, 1);
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, WEFT_FOREVER, &v), WEFT_OK));
    cr_assert(eq(ptr, v, &g));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(not(weft_future_cancelled(f)));
    /* The callback runs on the completing worker, just after the state. */
    cr_assert(eq(int, await_at_least(&log.done, 1), 1));
    cr_assert(eq(int, log.worker[0], 0));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 1));
    weft_future_release(f);
}

/* ---- finished with a result ---------------------------------------------- */

Test(cf_states, finished_with_result)
{
    weft_pool *p = wtc_pool_new(2);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, NULL, &f), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, WEFT_FOREVER, &v), WEFT_OK));
    cr_assert(eq(ptr, v, &value_of_task));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(weft_future_done(f));
    cr_assert(not(weft_future_running(f)));
    cr_assert(not(weft_future_cancelled(f)));
    cr_assert(eq(int, weft_future_cancel(f), 0));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(eq(ptr, weft_future_error(f), NULL));
    v = NULL;
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, &value_of_task));
    cr_assert(eq(int, weft_future_wait(f, 0), WEFT_OK));

    /* A callback added to a done future runs at once, in the caller. */
    struct cblog log = {0};
    struct cb c1 = {&log, 7, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 1));
    cr_assert(eq(int, log.order[0], 7));
    cr_assert(pthread_equal(log.thread[0], pthread_self()));
    cr_assert(eq(int, log.worker[0], -1));

    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 1));
    weft_future_release(f);
}

/* ---- finished with an error ---------------------------------------------- */

Test(cf_states, finished_with_error_object_and_status)
{
    weft_pool *p = wtc_pool_new(2);
    int before = atomic_load(&error_dtor_calls);
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, failing_task, NULL, NULL, &f), WEFT_OK));
    void *v = &v;
    wtc_assert_task_failed(weft_future_result(f, WEFT_FOREVER, &v), 42);
    cr_assert(eq(ptr, v, &v)); /* no value on failure */
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(weft_future_done(f));
    cr_assert(not(weft_future_cancelled(f)));
    cr_assert(not(weft_future_running(f)));
    cr_assert(eq(int, weft_future_cancel(f), 0));
    cr_assert(eq(ptr, weft_future_error(f), &error_object));
    wtc_assert_task_failed(weft_future_result(f, 0, NULL), 42);

    /* FIRST_EXCEPTION sees it. */
    bool done = false;
    cr_assert(eq(int, weft_wait(&f, 1, 0, WEFT_FIRST_EXCEPTION, &done), WEFT_OK));
    cr_assert(done);

    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&error_dtor_calls), before));
    weft_future_release(f); /* the future owns the error object */
    cr_assert(eq(int, atomic_load(&error_dtor_calls), before + 1));
}

static int status_only_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    *result = &value_of_task; /* ignored: the task failed */
    return 5;
}

Test(cf_states, failure_without_error_object_has_null_error)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, status_only_task, NULL, NULL, &f), WEFT_OK));
    void *v = NULL;
    wtc_assert_task_failed(weft_future_result(f, WEFT_FOREVER, &v), 5);
    cr_assert(eq(ptr, v, NULL));
    cr_assert(eq(ptr, weft_future_error(f), NULL));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

/* ---- callbacks ------------------------------------------------------------- */

Test(cf_states, callbacks_fifo_exactly_once_and_failures_counted)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    struct cblog log = {0};
    struct cb c1 = {&log, 1, 0}, c2 = {&log, 2, 1}, c3 = {&log, 3, 0}, c4 = {&log, 4, -7};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c2), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c3), WEFT_OK));
    uint64_t failures = weft_callback_failures();

    cr_assert(eq(int, weft_promise_set_result(f, &value_of_task, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 3));
    cr_assert(eq(int, log.order[0], 1));
    cr_assert(eq(int, log.order[1], 2)); /* failed, and c3 still ran */
    cr_assert(eq(int, log.order[2], 3));
    cr_assert(eq(u64, weft_callback_failures(), failures + 1));

    /* Completing again runs nothing; a failing immediate callback counts. */
    cr_assert(eq(int, weft_promise_set_result(f, NULL, NULL), WEFT_EALREADY));
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c4), WEFT_OK));
    cr_assert(eq(int, atomic_load(&log.n), 4));
    cr_assert(eq(int, log.order[3], 4));
    cr_assert(eq(u64, weft_callback_failures(), failures + 2));
    weft_future_release(f);
}

Test(cf_states, failing_callback_does_not_kill_the_worker)
{
    weft_pool *p = wtc_pool_new(1);
    struct gate g = {0};
    weft_future *f, *f2;
    cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &f), WEFT_OK));
    struct cblog log = {0};
    struct cb bad = {&log, 1, 1};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &bad), WEFT_OK));
    uint64_t failures = weft_callback_failures();
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_future_wait(f, WEFT_FOREVER), WEFT_OK));
    cr_assert(eq(int, await_at_least(&log.done, 1), 1));
    cr_assert(eq(int, log.worker[0], 0)); /* it ran on the only worker */
    cr_assert(ge(u64, await_failures(failures + 1), failures + 1));
    /* The only worker is still there. */
    struct rec r = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &r, NULL, &f2), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f2, 5000000000ll, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
    weft_future_release(f2);
}

struct setter {
    weft_future *f;
    pthread_t self;
};

static void *set_from_thread(void *arg)
{
    struct setter *s = arg;
    s->self = pthread_self();
    (void)weft_promise_set_result(s->f, &value_of_task, NULL);
    return NULL;
}

Test(cf_states, callbacks_run_on_the_completing_thread)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    struct cblog log = {0};
    struct cb c1 = {&log, 1, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    struct setter s = {.f = f};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, set_from_thread, &s), 0));
    pthread_join(t, NULL);
    cr_assert(eq(int, atomic_load(&log.n), 1));
    cr_assert(pthread_equal(log.thread[0], s.self));
    cr_assert(not(pthread_equal(log.thread[0], pthread_self())));
    weft_future_release(f);
}

/* ---- promises -------------------------------------------------------------- */

static atomic_int value_dtor_calls;

static void value_dtor(void *v)
{
    (void)v;
    atomic_fetch_add(&value_dtor_calls, 1);
}

Test(cf_states, promise_set_twice_keeps_first_value)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
    cr_assert(eq(int, weft_future_result(f, 0, NULL), WEFT_ETIMEDOUT));
    int first = 1, second = 2;
    int before = atomic_load(&value_dtor_calls);
    cr_assert(eq(int, weft_promise_set_result(f, &first, value_dtor), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(f, &second, value_dtor), WEFT_EALREADY));
    /* The rejected value's destructor ran at once. */
    cr_assert(eq(int, atomic_load(&value_dtor_calls), before + 1));
    cr_assert(eq(int, weft_promise_set_error(f, 9, NULL, NULL), WEFT_EALREADY));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_EALREADY));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, &first));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(eq(int, weft_future_cancel(f), 0));
    weft_future_release(f);
    cr_assert(eq(int, atomic_load(&value_dtor_calls), before + 2));
}

Test(cf_states, promise_error_then_result_keeps_error)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_error(f, 0, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_state(f), WEFT_PENDING));
    cr_assert(eq(int, weft_promise_set_error(f, -77, &error_object, NULL), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(f, &value_of_task, NULL), WEFT_EALREADY));
    wtc_assert_task_failed(weft_future_result(f, 0, NULL), -77);
    cr_assert(eq(ptr, weft_future_error(f), &error_object));
    cr_assert(not(weft_future_cancelled(f)));
    weft_future_release(f);
}

Test(cf_states, promise_set_running_then_cancel_fails)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_RUNNING));
    cr_assert(weft_future_running(f));
    cr_assert(eq(int, weft_future_cancel(f), 0));
    cr_assert(eq(int, weft_future_state(f), WEFT_RUNNING));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_EALREADY));
    cr_assert(eq(int, weft_future_result(f, 0, NULL), WEFT_ETIMEDOUT));
    cr_assert(eq(int, weft_promise_set_result(f, &value_of_task, NULL), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(not(weft_future_running(f)));
    weft_future_release(f);
}

Test(cf_states, promise_cancelled_then_set_running_and_set_fail)
{
    weft_future *f;
    cr_assert(eq(int, weft_promise_create(&f), WEFT_OK));
    struct cblog log = {0};
    struct cb c1 = {&log, 1, 0};
    cr_assert(eq(int, weft_future_add_done_callback(f, log_cb, &c1), WEFT_OK));
    cr_assert(eq(int, weft_future_cancel(f), 1));
    cr_assert(eq(int, atomic_load(&log.n), 1));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_ECANCELED));
    int before = atomic_load(&value_dtor_calls);
    cr_assert(eq(int, weft_promise_set_result(f, &value_of_task, value_dtor), WEFT_EALREADY));
    cr_assert(eq(int, atomic_load(&value_dtor_calls), before + 1));
    cr_assert(eq(int, weft_promise_set_error(f, 3, NULL, NULL), WEFT_EALREADY));
    cr_assert(eq(int, weft_future_result(f, 0, NULL), WEFT_ECANCELED));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    cr_assert(eq(int, atomic_load(&log.n), 1));
    weft_future_release(f);
}

Test(cf_states, promise_calls_reject_task_futures_and_null)
{
    weft_pool *p = wtc_pool_new(1);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, WEFT_FOREVER), WEFT_OK));
    cr_assert(eq(int, weft_promise_set_result(f, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_promise_set_running(f), WEFT_EINVAL));
    cr_assert(eq(int, weft_promise_set_result(NULL, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_promise_create(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_state(NULL), WEFT_EINVAL));
    cr_assert(not(weft_future_done(NULL)));
    cr_assert(eq(int, weft_future_cancel(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_request_cancel(NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_future_add_done_callback(f, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

/* ---- cooperative cancellation ---------------------------------------------- */

static int cooperative_task(weft_ctx *ctx, void *arg, void **result)
{
    struct gate *g = arg;
    (void)result;
    atomic_fetch_add(&g->entered, 1);
    int64_t end = wt_now_ns() + 2 * DEADLINE_NS;
    while (!weft_ctx_cancel_requested(ctx) && wt_now_ns() < end)
        wt_sleep_us(100);
    atomic_store(&g->cancel_seen, weft_ctx_cancel_requested(ctx));
    return WEFT_ECANCELED;
}

Test(cf_states, request_cancel_reaches_a_running_task)
{
    weft_pool *p = wtc_pool_new(1);
    struct gate g = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, cooperative_task, &g, NULL, &f), WEFT_OK));
    cr_assert(eq(int, await_at_least(&g.entered, 1), 1));
    cr_assert(eq(int, weft_future_cancel(f), 0)); /* plain cancel: running */
    cr_assert(eq(int, weft_future_request_cancel(f), WEFT_OK));
    wtc_assert_task_failed(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_ECANCELED);
    cr_assert(eq(int, atomic_load(&g.cancel_seen), 1));
    /* The task chose its outcome: finished with a failure, not cancelled. */
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(not(weft_future_cancelled(f)));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

/* ---- broken pool (failing initializer) ------------------------------------- */

static int hook_fails_after_gate(unsigned worker, void *ud)
{
    (void)worker;
    gate_pass(ud);
    return 1;
}

Test(cf_states, failing_initializer_breaks_the_pool)
{
    struct gate hook = {0};
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 1;
    o.on_worker_start = hook_fails_after_gate;
    o.hook_ud = &hook;
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    cr_assert(eq(int, await_at_least(&hook.entered, 1), 1));

    /* Accepted while the initializer is still running... */
    struct rec r = {0};
    weft_future *queued;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &queued), WEFT_OK));
    atomic_store(&hook.open, 1);
    /* ...and failed with WEFT_EBROKEN once it failed. */
    cr_assert(eq(int, weft_future_result(queued, WEFT_FOREVER, NULL), WEFT_EBROKEN));
    cr_assert(eq(int, weft_future_task_status(queued), 0), "the library's failure, not the task's");
    cr_assert(eq(int, weft_future_state(queued), WEFT_FINISHED));
    cr_assert(not(weft_future_cancelled(queued)));
    bool done = false;
    cr_assert(eq(int, weft_wait(&queued, 1, 0, WEFT_FIRST_EXCEPTION, &done), WEFT_OK));
    cr_assert(done);

    weft_future *later = NULL;
    struct rec r2 = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &r2, rec_dtor, &later), WEFT_EBROKEN));
    cr_assert(eq(ptr, later, NULL));
    cr_assert(eq(int, atomic_load(&r2.dtor), 1)); /* arg_dtor ran on failure */
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    weft_future_release(queued);
}

/* ---- shutdown -------------------------------------------------------------- */

#define NQ 4

static void submit_queued(weft_pool *p, struct rec *r, weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(eq(int, weft_submit(p, rec_task, &r[i], NULL, &fs[i]), WEFT_OK));
}

static void release_all(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_future_release(fs[i]);
}

Test(cf_states, shutdown_without_wait_returns_and_queued_work_still_runs)
{
    struct gate g = {0};
    weft_future *blocker, *fs[NQ];
    struct rec r[NQ] = {0};
    weft_pool *p = blocked_pool(&g, &blocker);
    submit_queued(p, r, fs, NQ);
    /* Returns although the only worker is blocked (no WAIT). */
    cr_assert(eq(int, weft_pool_shutdown(p, 0), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, 0), WEFT_OK)); /* idempotent */
    struct rec late = {0};
    weft_future *lf = NULL;
    cr_assert(eq(int, weft_submit(p, rec_task, &late, rec_dtor, &lf), WEFT_ESHUTDOWN));
    cr_assert(eq(int, atomic_load(&late.dtor), 1));
    for (int i = 0; i < NQ; i++)
        cr_assert(eq(int, weft_future_state(fs[i]), WEFT_PENDING));
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_wait(fs, NQ, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK));
    for (int i = 0; i < NQ; i++) {
        cr_assert(eq(int, weft_future_result(fs[i], 0, NULL), WEFT_OK));
        cr_assert(eq(int, atomic_load(&r[i].ran), 1));
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    release_all(fs, NQ);
    weft_future_release(blocker);
}

struct shut {
    weft_pool *p;
    unsigned flags;
    atomic_int returned;
    int rc;
};

static void *shutdown_thread(void *arg)
{
    struct shut *s = arg;
    s->rc = weft_pool_shutdown(s->p, s->flags);
    atomic_store(&s->returned, 1);
    return NULL;
}

Test(cf_states, shutdown_wait_blocks_until_queued_work_ran)
{
    struct gate g = {0};
    weft_future *blocker, *fs[NQ];
    struct rec r[NQ] = {0};
    weft_pool *p = blocked_pool(&g, &blocker);
    submit_queued(p, r, fs, NQ);
    struct shut s = {.p = p, .flags = WEFT_SHUTDOWN_WAIT};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, shutdown_thread, &s), 0));
    /* It cannot return while the worker is blocked; the pause only gives a
     * broken implementation the chance to show itself. */
    wt_sleep_us(50000);
    cr_assert(eq(int, atomic_load(&s.returned), 0));
    atomic_store(&g.open, 1);
    pthread_join(t, NULL);
    cr_assert(eq(int, s.rc, WEFT_OK));
    for (int i = 0; i < NQ; i++) {
        cr_assert(weft_future_done(fs[i]));
        cr_assert(eq(int, weft_future_result(fs[i], 0, NULL), WEFT_OK));
        cr_assert(eq(int, atomic_load(&r[i].ran), 1));
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    release_all(fs, NQ);
    weft_future_release(blocker);
}

/* gh-87893: Python's cancel_futures leaves these futures un-notified, so
 * wait() and as_completed() never see them. Here they are done. */
static void assert_cancelled_and_visible(weft_future **fs, size_t n, struct cblog *log)
{
    bool done[NQ] = {0};
    cr_assert(eq(int, weft_wait(fs, n, 2000000000ll, WEFT_ALL_COMPLETED, done), WEFT_OK));
    for (size_t i = 0; i < n; i++) {
        cr_assert(done[i]);
        cr_assert(weft_future_cancelled(fs[i]));
        cr_assert(eq(int, weft_future_result(fs[i], 0, NULL), WEFT_ECANCELED));
    }
    /* Cancels are not exceptions: FIRST_EXCEPTION returns because all are done. */
    cr_assert(eq(int, weft_wait(fs, n, 0, WEFT_FIRST_EXCEPTION, NULL), WEFT_OK));
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, n, 0), WEFT_OK));
    weft_future *f;
    size_t seen = 0;
    while (weft_as_completed_next(it, &f, NULL) == WEFT_OK)
        seen++;
    cr_assert(eq(sz, seen, n));
    cr_assert(eq(int, weft_as_completed_next(it, &f, NULL), WEFT_EOF));
    weft_as_completed_end(it);
    cr_assert(eq(int, await_at_least(&log->done, (int)n), (int)n));
}

Test(cf_states, shutdown_cancel_cancels_injected_futures_and_wait_sees_them)
{
    struct gate g = {0};
    weft_future *blocker, *fs[NQ];
    struct rec r[NQ] = {0};
    weft_pool *p = blocked_pool(&g, &blocker);
    submit_queued(p, r, fs, NQ);
    struct cblog log = {0};
    struct cb c = {&log, 1, 0};
    for (int i = 0; i < NQ; i++)
        cr_assert(eq(int, weft_future_add_done_callback(fs[i], log_cb, &c), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL), WEFT_OK));
    /* The worker is still blocked: cancellation did not need it. */
    cr_assert(eq(int, weft_future_state(blocker), WEFT_RUNNING));
    assert_cancelled_and_visible(fs, NQ, &log);
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_future_result(blocker, WEFT_FOREVER, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&g.cancel_seen), 1)); /* the running task was told */
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    for (int i = 0; i < NQ; i++)
        cr_assert(eq(int, atomic_load(&r[i].ran), 0));
    release_all(fs, NQ);
    weft_future_release(blocker);
}

/* Tasks submitted from a worker sit on its deque, not in the injection
 * queue: the worker cancels them when it reaches them. */
struct spawner {
    struct gate g;
    struct rec r[NQ];
    weft_future *fs[NQ];
    atomic_int submitted;
};

static int spawner_task(weft_ctx *ctx, void *arg, void **result)
{
    struct spawner *s = arg;
    (void)result;
    int ok = 0;
    for (int i = 0; i < NQ; i++)
        ok += weft_submit(weft_ctx_pool(ctx), rec_task, &s->r[i], NULL, &s->fs[i]) == WEFT_OK;
    atomic_store(&s->submitted, ok);
    gate_pass(&s->g);
    atomic_store(&s->g.cancel_seen, weft_ctx_cancel_requested(ctx));
    return 0;
}

Test(cf_states, shutdown_cancel_cancels_deque_futures_when_reached)
{
    weft_pool *p = wtc_pool_new(1);
    struct spawner s = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, spawner_task, &s, NULL, &f), WEFT_OK));
    cr_assert(eq(int, await_at_least(&s.g.entered, 1), 1));
    cr_assert(eq(int, atomic_load(&s.submitted), NQ));
    struct cblog log = {0};
    struct cb c = {&log, 1, 0};
    for (int i = 0; i < NQ; i++)
        cr_assert(eq(int, weft_future_add_done_callback(s.fs[i], log_cb, &c), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL), WEFT_OK));
    atomic_store(&s.g.open, 1);
    assert_cancelled_and_visible(s.fs, NQ, &log);
    cr_assert(eq(int, weft_future_result(f, WEFT_FOREVER, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&s.g.cancel_seen), 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    for (int i = 0; i < NQ; i++)
        cr_assert(eq(int, atomic_load(&s.r[i].ran), 0));
    release_all(s.fs, NQ);
    weft_future_release(f);
}

Test(cf_states, shutdown_wait_and_cancel_together)
{
    struct gate g = {0};
    weft_future *blocker, *fs[NQ];
    struct rec r[NQ] = {0};
    weft_pool *p = blocked_pool(&g, &blocker);
    submit_queued(p, r, fs, NQ);
    struct shut s = {.p = p, .flags = WEFT_SHUTDOWN_WAIT | WEFT_SHUTDOWN_CANCEL};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, shutdown_thread, &s), 0));
    /* Queued futures are cancelled even before the running task ends. */
    cr_assert(eq(int, weft_wait(fs, NQ, 5000000000ll, WEFT_ALL_COMPLETED, NULL), WEFT_OK));
    cr_assert(eq(int, atomic_load(&s.returned), 0)); /* the blocker still runs */
    atomic_store(&g.open, 1);
    pthread_join(t, NULL);
    cr_assert(eq(int, s.rc, WEFT_OK));
    cr_assert(eq(int, weft_future_result(blocker, 0, NULL), WEFT_OK));
    for (int i = 0; i < NQ; i++) {
        cr_assert(weft_future_cancelled(fs[i]));
        cr_assert(eq(int, atomic_load(&r[i].ran), 0));
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    release_all(fs, NQ);
    weft_future_release(blocker);
}
