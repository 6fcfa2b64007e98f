/* Unit tests for bulk submission (runtime/bulk.c): weft_submit_bulk and
 * weft_submit_range results, detached blocks, every future operation on a
 * block's futures (cancel before start, request_cancel, timed results,
 * callbacks, wait sets, as_completed, errors and result destructors),
 * shutdown with cancel while a block is queued, bad input, and random
 * cancels, timeouts and callbacks from several threads with an exact
 * oracle: every task runs once or is reported cancelled, every callback
 * fires once, every argument destructor runs once.
 *
 * Criterion asserts only on the test's own thread: tasks, callbacks and
 * helper threads record what they saw in atomics, checked afterwards. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "weft.h"
#include "weft_criterion.h"

TestSuite(bulk, .timeout = 60);

#define MS 1000000ll
#define DEADLINE_NS (10000 * MS)

/* ---- tasks ------------------------------------------------------------------ */

/* Counts per argument index, and a gate the tasks can be held at. */
#define MAX_N 200000
static atomic_int runs[MAX_N];
static atomic_int dtors[MAX_N];
static atomic_int gate;

static void reset_counts(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        atomic_store(&runs[i], 0);
        atomic_store(&dtors[i], 0);
    }
    atomic_store(&gate, 0);
}

/* Result: 2 * index + 1 (never NULL), counting the run. */
static int count_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    uintptr_t i = (uintptr_t)arg;
    atomic_fetch_add(&runs[i], 1);
    *result = (void *)(2 * i + 1);
    return 0;
}

static void count_dtor(void *arg)
{
    atomic_fetch_add(&dtors[(uintptr_t)arg], 1);
}

/* Holds its worker until the gate opens (polling: it must not help). */
static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    wt_await_set(&gate, DEADLINE_NS, 100);
    return 0;
}

static weft_future *hold_worker(weft_pool *p)
{
    weft_future *g = NULL;
    cr_assert_eq(weft_submit(p, gate_task, NULL, NULL, &g), WEFT_OK);
    /* It holds the worker once it runs. */
    int64_t until = wt_now_ns() + DEADLINE_NS;
    while (!weft_future_running(g) && wt_now_ns() < until)
        wt_sleep_us(100);
    cr_assert(weft_future_running(g), "the gate task started");
    return g;
}

static void **index_args(size_t n)
{
    void **args = malloc(n * sizeof(*args));
    cr_assert_not_null(args);
    for (size_t i = 0; i < n; i++)
        args[i] = (void *)(uintptr_t)i;
    return args;
}

/* ---- results ------------------------------------------------------------------ */

static void check_results(weft_pool *p, size_t n)
{
    reset_counts(n);
    void **args = index_args(n);
    weft_future **fs = calloc(n ? n : 1, sizeof(*fs));
    cr_assert_eq(weft_submit_bulk(p, count_task, args, n, count_dtor, fs), WEFT_OK);
    free(args); /* read during the call only */
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        cr_assert_eq(weft_future_result(fs[i], WEFT_FOREVER, &v), WEFT_OK, "future %zu", i);
        cr_assert_eq((uintptr_t)v, 2 * i + 1, "future %zu's value", i);
    }
    weft_futures_release(fs, n);
    free(fs);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&runs[i]), 1, "task %zu ran once", i);
        cr_assert_eq(atomic_load(&dtors[i]), 1, "argument %zu destroyed once", i);
    }
}

Test(bulk, every_future_of_a_block_gets_its_own_result_on_one_and_two_workers)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        check_results(p, 0);
        check_results(p, 1);
        check_results(p, 2);
        check_results(p, 1000);
        check_results(p, 100000);
        wtc_pool_drop(p);
    }
}

Test(bulk, a_range_passes_each_index_and_futures_are_released_one_by_one)
{
    weft_pool *p = wtc_pool_new(2);
    size_t begin = 1000, end = 11000, n = end - begin;
    reset_counts(end);
    weft_future **fs = calloc(n, sizeof(*fs));
    cr_assert_eq(weft_submit_range(p, count_task, begin, end, fs), WEFT_OK);
    for (size_t i = n; i-- > 0;) { /* newest first: the block outlives its first futures */
        void *v = NULL;
        cr_assert_eq(weft_future_result(fs[i], WEFT_FOREVER, &v), WEFT_OK);
        cr_assert_eq((uintptr_t)v, 2 * (begin + i) + 1);
        weft_future_release(fs[i]);
    }
    for (size_t i = 0; i < end; i++)
        cr_assert_eq(atomic_load(&runs[i]), i >= begin ? 1 : 0, "index %zu", i);
    free(fs);
    wtc_pool_drop(p);
}

Test(bulk, a_detached_block_runs_every_task_once_before_shutdown_returns)
{
    weft_pool *p = wtc_pool_new(2);
    size_t n = 50000;
    reset_counts(n);
    void **args = index_args(n);
    cr_assert_eq(weft_submit_bulk(p, count_task, args, n, count_dtor, NULL), WEFT_OK);
    cr_assert_eq(weft_submit_range(p, count_task, 0, n, NULL), WEFT_OK);
    free(args);
    cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&runs[i]), 2, "index %zu ran once per block", i);
        cr_assert_eq(atomic_load(&dtors[i]), 1, "argument %zu destroyed once", i);
    }
    wtc_pool_drop(p);
}

/* ---- future operations on a block's futures ------------------------------------------ */

static atomic_int callbacks[MAX_N];

static int count_callback(weft_future *f, void *ud)
{
    (void)f;
    atomic_fetch_add(&callbacks[(uintptr_t)ud], 1);
    return 0;
}

Test(bulk, a_future_cancelled_before_it_started_never_runs_and_the_rest_do)
{
    weft_pool *p = wtc_pool_new(1);
    size_t n = 1000;
    reset_counts(n);
    for (size_t i = 0; i < n; i++)
        atomic_store(&callbacks[i], 0);
    weft_future *g = hold_worker(p);
    void **args = index_args(n);
    weft_future **fs = calloc(n, sizeof(*fs));
    cr_assert_eq(weft_submit_bulk(p, count_task, args, n, count_dtor, fs), WEFT_OK);
    free(args);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(weft_future_add_done_callback(fs[i], count_callback, (void *)i), WEFT_OK);
    for (size_t i = 1; i < n; i += 2)
        cr_assert_eq(weft_future_cancel(fs[i]), 1, "future %zu cancelled", i);
    /* A pending future's timed result times out; request_cancel cancels it. */
    cr_assert_eq(weft_future_result(fs[0], 5 * MS, NULL), WEFT_ETIMEDOUT);
    cr_assert_eq(weft_future_request_cancel(fs[2]), WEFT_OK);
    atomic_store(&gate, 1);
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        int rc = weft_future_result(fs[i], WEFT_FOREVER, &v);
        bool cancelled = i % 2 == 1 || i == 2;
        cr_assert_eq(rc, cancelled ? WEFT_ECANCELED : WEFT_OK, "future %zu: rc %d", i, rc);
        cr_assert_eq(atomic_load(&runs[i]), cancelled ? 0 : 1, "task %zu", i);
        cr_assert_eq(weft_future_cancelled(fs[i]), cancelled);
    }
    weft_futures_release(fs, n);
    free(fs);
    cr_assert_eq(weft_future_wait(g, WEFT_FOREVER), WEFT_OK);
    weft_future_release(g);
    wtc_pool_drop(p);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&callbacks[i]), 1, "callback %zu fired once", i);
        cr_assert_eq(atomic_load(&dtors[i]), 1, "argument %zu destroyed once", i);
    }
}

Test(bulk, wait_sets_and_as_completed_take_a_blocks_futures)
{
    weft_pool *p = wtc_pool_new(2);
    size_t n = 5000;
    reset_counts(n);
    weft_future **fs = calloc(n, sizeof(*fs));
    cr_assert_eq(weft_submit_range(p, count_task, 0, n, fs), WEFT_OK);
    cr_assert_eq(weft_wait(fs, n, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    weft_as_completed *it = NULL;
    cr_assert_eq(weft_as_completed_begin(&it, fs, n, WEFT_FOREVER), WEFT_OK);
    size_t seen = 0, idx;
    weft_future *f;
    while (weft_as_completed_next(it, &f, &idx) == WEFT_OK) {
        void *v = NULL;
        cr_assert_eq(weft_future_result(f, 0, &v), WEFT_OK);
        cr_assert_eq((uintptr_t)v, 2 * idx + 1);
        seen++;
    }
    weft_as_completed_end(it);
    cr_assert_eq(seen, n);
    weft_futures_release(fs, n);
    free(fs);
    wtc_pool_drop(p);
}

static atomic_int freed_errors, freed_values;

static void free_error(void *e)
{
    atomic_fetch_add(&freed_errors, 1);
    free(e);
}

static void free_value(void *v)
{
    atomic_fetch_add(&freed_values, 1);
    free(v);
}

/* Odd indexes fail with an error object, even ones return a value that
 * needs a destructor. */
static int boxed_task(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t i = (uintptr_t)arg;
    if (i % 2) {
        int *e = malloc(sizeof(*e));
        *e = (int)i;
        if (weft_ctx_set_error(ctx, e, free_error) != WEFT_OK)
            return 99;
        return 7;
    }
    int *v = malloc(sizeof(*v));
    *v = (int)i;
    *result = v;
    return weft_ctx_set_result_dtor(ctx, free_value) == WEFT_OK ? 0 : 98;
}

Test(bulk, errors_and_result_destructors_of_a_blocks_futures_are_kept_and_freed_once)
{
    weft_pool *p = wtc_pool_new(2);
    size_t n = 1000;
    atomic_store(&freed_errors, 0);
    atomic_store(&freed_values, 0);
    weft_future **fs = calloc(n, sizeof(*fs));
    cr_assert_eq(weft_submit_range(p, boxed_task, 0, n, fs), WEFT_OK);
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        int rc = weft_future_result(fs[i], WEFT_FOREVER, &v);
        if (i % 2) {
            wtc_assert_task_failed(rc, 7);
            cr_assert_eq(*(int *)weft_future_error(fs[i]), (int)i);
        } else {
            cr_assert_eq(rc, WEFT_OK);
            cr_assert_eq(*(int *)v, (int)i);
            cr_assert_null(weft_future_error(fs[i]));
        }
    }
    weft_futures_release(fs, n);
    /* Detached: the destructors run all the same. */
    cr_assert_eq(weft_submit_range(p, boxed_task, 0, n, NULL), WEFT_OK);
    cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK);
    wtc_pool_drop(p);
    cr_assert_eq(atomic_load(&freed_errors), (int)n);
    cr_assert_eq(atomic_load(&freed_values), (int)n);
    free(fs);
}

Test(bulk, shutdown_with_cancel_cancels_a_queued_block_and_destroys_every_argument_once)
{
    weft_pool *p = wtc_pool_new(1);
    size_t n = 2000;
    reset_counts(n);
    weft_future *g = hold_worker(p);
    void **args = index_args(n);
    weft_future **fs = calloc(n, sizeof(*fs));
    cr_assert_eq(weft_submit_bulk(p, count_task, args, n, count_dtor, fs), WEFT_OK);
    free(args);
    cr_assert_eq(weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL), WEFT_OK);
    atomic_store(&gate, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(weft_future_result(fs[i], WEFT_FOREVER, NULL), WEFT_ECANCELED);
        cr_assert_eq(atomic_load(&runs[i]), 0);
    }
    weft_futures_release(fs, n);
    weft_future_release(g);
    wtc_pool_drop(p);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&dtors[i]), 1, "argument %zu destroyed once", i);
    free(fs);
}

Test(bulk, bad_input_gets_an_error_code_and_the_arguments_back)
{
    weft_pool *p = wtc_pool_new(1);
    size_t n = 10;
    reset_counts(n);
    void **args = index_args(n);
    weft_future *fs[10];
    cr_assert_eq(weft_submit_bulk(NULL, count_task, args, n, count_dtor, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_bulk(p, NULL, args, n, count_dtor, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_bulk(p, count_task, NULL, n, NULL, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_bulk(p, count_task, NULL, (size_t)UINT32_MAX + 1, NULL, fs),
                 WEFT_EINVAL);
    cr_assert_eq(weft_submit_range(p, count_task, 5, 4, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_range(p, NULL, 0, 4, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_range(p, count_task, 0, (size_t)UINT32_MAX + 1, fs), WEFT_EINVAL);
    cr_assert_eq(weft_submit_range(p, count_task, 3, 3, fs), WEFT_OK, "an empty range");
    weft_futures_release(NULL, 3);
    cr_assert_eq(weft_pool_shutdown(p, 0), WEFT_OK);
    cr_assert_eq(weft_submit_bulk(p, count_task, args, n, count_dtor, fs), WEFT_ESHUTDOWN);
    cr_assert_eq(weft_submit_range(p, count_task, 0, n, fs), WEFT_ESHUTDOWN);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&dtors[i]), 3, "argument %zu: once per failed call", i);
        cr_assert_eq(atomic_load(&runs[i]), 0);
    }
    free(args);
    wtc_pool_drop(p);
}

/* ---- a waiting task runs none of a block's other futures ----------------------------------- */

#define ORDER_N 64
static weft_future *order_gate;

/* Future 0 returns at once; the others wait for the gate, which the
 * submitting task opens only after its wait for future 0: had that wait
 * run one of them inline, it would never return. */
static int gated_member(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    if ((uintptr_t)arg == 0)
        return 0;
    return weft_future_wait(order_gate, WEFT_FOREVER) == WEFT_OK ? 0 : 1;
}

static int submit_and_wait_first(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_future *fs[ORDER_N];
    if (weft_promise_create(&order_gate) != WEFT_OK)
        return 2;
    if (weft_submit_range(weft_ctx_pool(ctx), gated_member, 0, ORDER_N, fs) != WEFT_OK)
        return 3;
    int rc = weft_future_wait(fs[0], WEFT_FOREVER);
    (void)weft_promise_set_result(order_gate, NULL, NULL);
    int all = weft_wait(fs, ORDER_N, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    for (int i = 0; i < ORDER_N && all == WEFT_OK; i++)
        if (weft_future_result(fs[i], 0, NULL) != WEFT_OK)
            all = 4;
    weft_futures_release(fs, ORDER_N);
    weft_future_release(order_gate);
    return rc == WEFT_OK && all == WEFT_OK ? 0 : 5;
}

Test(bulk, a_task_waiting_on_one_future_of_its_block_runs_none_of_the_others, .timeout = 60)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int round = 0; round < 200; round++)
            cr_assert_eq(wtc_run_task(p, submit_and_wait_first, NULL, NULL), WEFT_OK,
                         "%u workers, round %d", workers, round);
        wtc_pool_drop(p);
    }
}

/* ---- several threads at once -------------------------------------------------------- */

#define STRESS_BLOCKS 8
#define STRESS_N 4000

struct stress {
    weft_future *fs[STRESS_BLOCKS][STRESS_N];
    atomic_int cancelled[STRESS_BLOCKS][STRESS_N]; /* cancel reported 1 */
    atomic_int ran[STRESS_BLOCKS][STRESS_N];
    atomic_int fired[STRESS_BLOCKS][STRESS_N];
    atomic_int ready;
};

static struct stress *st;

static int stress_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    uintptr_t k = (uintptr_t)arg;
    atomic_fetch_add(&st->ran[k / STRESS_N][k % STRESS_N], 1);
    *result = (void *)(k + 1);
    return 0;
}

static int stress_callback(weft_future *f, void *ud)
{
    (void)f;
    uintptr_t k = (uintptr_t)ud;
    atomic_fetch_add(&st->fired[k / STRESS_N][k % STRESS_N], 1);
    return 0;
}

/* Another thread: cancel, request cancel, poll with short timeouts and
 * add callbacks at random over every block. */
static void *meddler(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    while (atomic_load(&st->ready) == 0)
        wt_sleep_us(10);
    for (int step = 0; step < 20000; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned b = (unsigned)(x % STRESS_BLOCKS), i = (unsigned)((x >> 8) % STRESS_N);
        weft_future *f = st->fs[b][i];
        switch ((x >> 32) % 4) {
        case 0:
            if (weft_future_cancel(f) == 1)
                atomic_store(&st->cancelled[b][i], 1);
            break;
        case 1:
            weft_future_request_cancel(f);
            break;
        case 2:
            weft_future_result(f, 10000, NULL);
            break;
        default:
            if (weft_future_add_done_callback(f, stress_callback,
                                              (void *)(uintptr_t)(b * STRESS_N + i)) == WEFT_OK)
                atomic_fetch_sub(&st->fired[b][i], 1); /* one fire expected */
            break;
        }
    }
    return NULL;
}

Test(bulk, random_cancels_timeouts_and_callbacks_from_several_threads_keep_the_oracle)
{
    st = calloc(1, sizeof(*st));
    cr_assert_not_null(st);
    weft_pool *p = wtc_pool_new(2);
    pthread_t t[3];
    for (uintptr_t k = 0; k < 3; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, meddler, (void *)k), 0);
    for (unsigned b = 0; b < STRESS_BLOCKS; b++)
        cr_assert_eq(weft_submit_range(p, stress_task, (size_t)b * STRESS_N,
                                       (size_t)(b + 1) * STRESS_N, st->fs[b]),
                     WEFT_OK);
    atomic_store(&st->ready, 1);
    for (unsigned k = 0; k < 3; k++)
        pthread_join(t[k], NULL);
    for (unsigned b = 0; b < STRESS_BLOCKS; b++) {
        cr_assert_eq(weft_wait(st->fs[b], STRESS_N, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL),
                     WEFT_OK);
        for (unsigned i = 0; i < STRESS_N; i++) {
            weft_future *f = st->fs[b][i];
            int ran = atomic_load(&st->ran[b][i]);
            bool cancelled = weft_future_cancelled(f);
            cr_assert_eq(ran + (cancelled ? 1 : 0), 1, "block %u future %u: ran %d", b, i, ran);
            if (atomic_load(&st->cancelled[b][i]))
                cr_assert(cancelled);
            /* Each callback added was counted -1 and fired +1. */
            cr_assert_eq(atomic_load(&st->fired[b][i]), 0, "block %u future %u callbacks", b, i);
        }
        weft_futures_release(st->fs[b], STRESS_N);
    }
    wtc_pool_drop(p);
    free(st);
}
