/* concurrent.futures conformance for the module functions: weft_wait (each
 * return condition, timeouts, done[] flags, already-done and duplicate
 * futures, empty and bad arguments) and the weft_as_completed iterator
 * (already-done first, then completion order, duplicates once, the timeout
 * measured from begin, EOF, references), both also from inside a task on a
 * 1-worker pool (they must help, not deadlock).
 *
 * Waits remove their links from the futures still pending when they return
 * (counted with weft_watchers.h), so repeated timed waits keep no memory.
 *
 * Completion order is controlled with promises completed by the test thread
 * or by a helper thread. Sleeps only delay a completion so that the waiter
 * is really blocked; no assertion depends on winning a race. Timeouts are
 * checked both ways: never early, and not more than 2 s late. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "futex.h"
#include "weft.h"
#include "weft_criterion.h"
#include "weft_watchers.h"

TestSuite(cf_wait, .timeout = 30);

#define MS 1000000ll
#define LATE_NS (2000 * MS) /* how late a timed-out wait may return */

/* ---- helpers ------------------------------------------------------------- */

/* True if done[i] matches pattern[i] ('1' = done) for every position. */
static bool flags_are(const bool *done, const char *pattern)
{
    for (size_t i = 0; pattern[i] != '\0'; i++)
        if (done[i] != (pattern[i] == '1'))
            return false;
    return true;
}

static void promises(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(eq(int, weft_promise_create(&fs[i]), WEFT_OK));
}

static void release_all(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_future_release(fs[i]);
}

static void assert_timed_out_in(int64_t t0, int64_t timeout_ns)
{
    int64_t took = wt_now_ns() - t0;
    cr_assert(ge(i64, took, timeout_ns), "returned %lld ns early", (long long)(timeout_ns - took));
    cr_assert(lt(i64, took, timeout_ns + LATE_NS), "returned %lld ns late",
              (long long)(took - timeout_ns));
}

enum action { SET_RESULT, SET_ERROR, CANCEL };

static int value_v;

static void complete(weft_future *f, enum action a)
{
    if (a == SET_RESULT)
        cr_assert(eq(int, weft_promise_set_result(f, &value_v, NULL), WEFT_OK));
    else if (a == SET_ERROR)
        cr_assert(eq(int, weft_promise_set_error(f, 13, NULL, NULL), WEFT_OK));
    else
        cr_assert(eq(int, weft_future_cancel(f), 1));
}

/* A helper thread that completes futures in order, after a delay each. */
#define MAX_STEPS 8
struct later {
    weft_future *f[MAX_STEPS];
    enum action a[MAX_STEPS];
    int n;
    int64_t delay_ns;
    pthread_t t;
};

static void *later_main(void *arg)
{
    struct later *l = arg;
    for (int i = 0; i < l->n; i++) {
        wt_sleep_ns(l->delay_ns);
        if (l->a[i] == SET_RESULT)
            (void)weft_promise_set_result(l->f[i], &value_v, NULL);
        else if (l->a[i] == SET_ERROR)
            (void)weft_promise_set_error(l->f[i], 13, NULL, NULL);
        else
            (void)weft_future_cancel(l->f[i]);
    }
    return NULL;
}

static void later_start(struct later *l, int64_t delay_ns)
{
    l->delay_ns = delay_ns;
    cr_assert(eq(int, pthread_create(&l->t, NULL, later_main, l), 0));
}

static void later_add(struct later *l, weft_future *f, enum action a)
{
    l->f[l->n] = f;
    l->a[l->n] = a;
    l->n++;
}

/* ---- weft_wait: arguments ------------------------------------------------ */

Test(cf_wait, empty_array_is_ok_for_every_condition)
{
    cr_assert(eq(int, weft_wait(NULL, 0, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK));
    cr_assert(eq(int, weft_wait(NULL, 0, WEFT_FOREVER, WEFT_FIRST_COMPLETED, NULL), WEFT_OK));
    cr_assert(eq(int, weft_wait(NULL, 0, 0, WEFT_FIRST_EXCEPTION, NULL), WEFT_OK));
}

Test(cf_wait, bad_arguments_are_einval)
{
    weft_future *fs[2];
    promises(fs, 1);
    fs[1] = NULL;
    bool done[2] = {true, true};
    cr_assert(eq(int, weft_wait(NULL, 1, 0, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_wait(fs, 2, 0, WEFT_ALL_COMPLETED, done), WEFT_EINVAL));
    cr_assert(eq(int, weft_wait(fs, 1, 0, (weft_return_when)3, done), WEFT_EINVAL));
    cr_assert(eq(int, weft_wait(fs, 1, 0, (weft_return_when)-1, done), WEFT_EINVAL));
    cr_assert(done[0] && done[1]); /* untouched */

    weft_as_completed *it = NULL;
    cr_assert(eq(int, weft_as_completed_begin(NULL, fs, 1, 0), WEFT_EINVAL));
    cr_assert(eq(int, weft_as_completed_begin(&it, NULL, 1, 0), WEFT_EINVAL));
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 2, 0), WEFT_EINVAL));
    cr_assert(eq(ptr, it, NULL));
    weft_future *f;
    cr_assert(eq(int, weft_as_completed_next(NULL, &f, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 1, 0), WEFT_OK));
    cr_assert(eq(int, weft_as_completed_next(it, NULL, NULL), WEFT_EINVAL));
    weft_as_completed_end(it);
    weft_as_completed_end(NULL);
    release_all(fs, 1);
}

/* ---- weft_wait: conditions ----------------------------------------------- */

Test(cf_wait, first_completed_returns_on_the_first_completion)
{
    weft_future *fs[3];
    promises(fs, 3);
    struct later l = {0};
    later_add(&l, fs[1], SET_RESULT);
    later_start(&l, 50 * MS);
    bool done[3] = {true, true, true};
    cr_assert(eq(int, weft_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "010"));
    pthread_join(l.t, NULL);
    release_all(fs, 3);
}

Test(cf_wait, first_completed_counts_a_cancel)
{
    weft_future *fs[2];
    promises(fs, 2);
    struct later l = {0};
    later_add(&l, fs[0], CANCEL);
    later_start(&l, 50 * MS);
    bool done[2];
    cr_assert(eq(int, weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "10"));
    pthread_join(l.t, NULL);
    release_all(fs, 2);
}

Test(cf_wait, first_completed_with_one_already_done_does_not_block)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[2], SET_ERROR);
    bool done[3];
    cr_assert(eq(int, weft_wait(fs, 3, 0, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "001"));
    cr_assert(eq(int, weft_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    release_all(fs, 3);
}

Test(cf_wait, first_exception_returns_on_a_failure)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[0], SET_RESULT); /* a success does not end FIRST_EXCEPTION */
    struct later l = {0};
    later_add(&l, fs[2], SET_ERROR);
    later_start(&l, 50 * MS);
    bool done[3];
    cr_assert(eq(int, weft_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), WEFT_OK));
    cr_assert(flags_are(done, "101"));
    pthread_join(l.t, NULL);
    release_all(fs, 3);
}

Test(cf_wait, first_exception_ignores_cancels_and_successes)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[0], CANCEL);
    complete(fs[1], SET_RESULT);
    bool done[3];
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_wait(fs, 3, 200 * MS, WEFT_FIRST_EXCEPTION, done), WEFT_ETIMEDOUT));
    assert_timed_out_in(t0, 200 * MS);
    cr_assert(flags_are(done, "110"));
    /* Without a failure, FIRST_EXCEPTION is ALL_COMPLETED. */
    struct later l = {0};
    later_add(&l, fs[2], CANCEL);
    later_start(&l, 50 * MS);
    cr_assert(eq(int, weft_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), WEFT_OK));
    cr_assert(done[0] && done[1] && done[2]);
    pthread_join(l.t, NULL);
    release_all(fs, 3);
}

Test(cf_wait, all_completed_waits_for_every_outcome)
{
    weft_future *fs[4];
    promises(fs, 4);
    struct later l = {0};
    later_add(&l, fs[3], SET_RESULT);
    later_add(&l, fs[0], CANCEL);
    later_add(&l, fs[2], SET_ERROR);
    later_add(&l, fs[1], SET_RESULT);
    later_start(&l, 20 * MS);
    bool done[4] = {0};
    cr_assert(eq(int, weft_wait(fs, 4, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK));
    for (int i = 0; i < 4; i++) {
        cr_assert(done[i]);
        cr_assert(weft_future_done(fs[i]));
    }
    pthread_join(l.t, NULL);
    release_all(fs, 4);
}

Test(cf_wait, timeouts_are_neither_early_nor_hugely_late)
{
    weft_future *fs[2];
    promises(fs, 2);
    complete(fs[1], SET_RESULT);
    const weft_return_when whens[] = {WEFT_ALL_COMPLETED, WEFT_FIRST_EXCEPTION};
    for (int w = 0; w < 2; w++) {
        bool done[2];
        int64_t t0 = wt_now_ns();
        cr_assert(eq(int, weft_wait(fs, 2, 300 * MS, whens[w], done), WEFT_ETIMEDOUT));
        assert_timed_out_in(t0, 300 * MS);
        cr_assert(flags_are(done, "01"));
    }
    bool done1;
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_wait(fs, 1, 300 * MS, WEFT_FIRST_COMPLETED, &done1), WEFT_ETIMEDOUT));
    assert_timed_out_in(t0, 300 * MS);
    cr_assert(eq(int, done1, false));
    /* Timeout 0 polls. */
    t0 = wt_now_ns();
    cr_assert(eq(int, weft_wait(fs, 2, 0, WEFT_ALL_COMPLETED, NULL), WEFT_ETIMEDOUT));
    cr_assert(lt(i64, wt_now_ns() - t0, LATE_NS));
    release_all(fs, 2);
}

Test(cf_wait, already_done_futures_return_at_once)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[0], SET_RESULT);
    complete(fs[1], SET_ERROR);
    complete(fs[2], CANCEL);
    bool done[3] = {0};
    for (int w = WEFT_FIRST_COMPLETED; w <= WEFT_ALL_COMPLETED; w++) {
        cr_assert(eq(int, weft_wait(fs, 3, 0, (weft_return_when)w, done), WEFT_OK));
        cr_assert(done[0] && done[1] && done[2]);
    }
    release_all(fs, 3);
}

Test(cf_wait, duplicates_are_allowed_and_flagged_per_position)
{
    weft_future *p[2];
    promises(p, 2);
    weft_future *fs[5] = {p[0], p[1], p[0], p[0], p[1]};
    complete(p[0], SET_RESULT);
    bool done[5];
    cr_assert(eq(int, weft_wait(fs, 5, 0, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "10110"));
    cr_assert(eq(int, weft_wait(fs, 5, 50 * MS, WEFT_ALL_COMPLETED, done), WEFT_ETIMEDOUT));
    struct later l = {0};
    later_add(&l, p[1], SET_RESULT);
    later_start(&l, 50 * MS);
    cr_assert(eq(int, weft_wait(fs, 5, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK));
    for (int i = 0; i < 5; i++)
        cr_assert(done[i]);
    pthread_join(l.t, NULL);
    release_all(p, 2);
}

Test(cf_wait, duplicates_of_pending_futures_block_correctly)
{
    weft_future *p[3];
    promises(p, 3);
    weft_future *fs[6] = {p[2], p[0], p[2], p[1], p[0], p[2]};
    struct later l = {0};
    later_add(&l, p[0], SET_RESULT);
    later_add(&l, p[2], CANCEL);
    later_add(&l, p[1], SET_ERROR);
    later_start(&l, 30 * MS);
    bool done[6];
    cr_assert(eq(int, weft_wait(fs, 6, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK));
    for (int i = 0; i < 6; i++)
        cr_assert(done[i]);
    pthread_join(l.t, NULL);
    release_all(p, 3);
}

static int small_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = arg;
    return ((uintptr_t)arg % 5 == 0) ? 99 : 0;
}

Test(cf_wait, tasks_on_a_pool)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 64 };
    weft_future *fs[N];
    for (uintptr_t i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, small_task, (void *)(i + 1), NULL, &fs[i]), WEFT_OK));
    bool done[N];
    cr_assert(eq(int, weft_wait(fs, N, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK));
    for (uintptr_t i = 0; i < N; i++) {
        cr_assert(done[i]);
        void *v = NULL;
        int rc = weft_future_result(fs[i], 0, &v);
        if ((i + 1) % 5 == 0)
            wtc_assert_task_failed(rc, 99);
        else
            cr_assert(eq(int, rc, WEFT_OK));
    }
    cr_assert(eq(int, weft_wait(fs, N, 0, WEFT_FIRST_EXCEPTION, NULL), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    release_all(fs, N);
}

/* ---- from inside a task: helping ------------------------------------------- */

struct nested {
    int wait_rc;
    int n_done;
    int n_yielded;
    int iter_rc;
};

enum { INNER = 16 };

static int submit_inner(weft_ctx *ctx, weft_future **fs)
{
    int ok = 0;
    for (uintptr_t i = 0; i < INNER; i++)
        ok += weft_submit(weft_ctx_pool(ctx), small_task, (void *)(i + 1), NULL, &fs[i]) == 0;
    return ok;
}

static int waiting_task(weft_ctx *ctx, void *arg, void **result)
{
    struct nested *s = arg;
    weft_future *fs[INNER];
    (void)result;
    if (submit_inner(ctx, fs) != INNER)
        return 1;
    bool done[INNER];
    s->wait_rc = weft_wait(fs, INNER, 10000 * MS, WEFT_ALL_COMPLETED, done);
    for (int i = 0; i < INNER; i++)
        s->n_done += done[i];
    release_all(fs, INNER);
    return 0;
}

static int iterating_task(weft_ctx *ctx, void *arg, void **result)
{
    struct nested *s = arg;
    weft_future *fs[INNER];
    (void)result;
    if (submit_inner(ctx, fs) != INNER)
        return 1;
    weft_as_completed *it;
    if (weft_as_completed_begin(&it, fs, INNER, 10000 * MS) != WEFT_OK)
        return 2;
    release_all(fs, INNER); /* the iterator holds its own references */
    weft_future *f;
    int rc;
    while ((rc = weft_as_completed_next(it, &f, NULL)) == WEFT_OK)
        s->n_yielded += weft_future_done(f);
    s->iter_rc = rc;
    weft_as_completed_end(it);
    return 0;
}

Test(cf_wait, wait_inside_a_task_helps_on_one_worker)
{
    weft_pool *p = wtc_pool_new(1);
    struct nested s = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, waiting_task, &s, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, s.wait_rc, WEFT_OK));
    cr_assert(eq(int, s.n_done, INNER));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

Test(cf_wait, as_completed_inside_a_task_helps_on_one_worker)
{
    weft_pool *p = wtc_pool_new(1);
    struct nested s = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, iterating_task, &s, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, s.iter_rc, WEFT_EOF));
    cr_assert(eq(int, s.n_yielded, INNER));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

/* A worker waiting with a timeout on something nobody completes: it must
 * time out (sleeping in slices), not spin forever or return early. */
static int timed_wait_task(weft_ctx *ctx, void *arg, void **result)
{
    weft_future *pending = arg;
    (void)ctx;
    (void)result;
    int64_t t0 = wt_now_ns();
    int rc = weft_wait(&pending, 1, 200 * MS, WEFT_ALL_COMPLETED, NULL);
    int64_t took = wt_now_ns() - t0;
    if (rc != WEFT_ETIMEDOUT)
        return 1;
    if (took < 200 * MS)
        return 2;
    return took < 200 * MS + LATE_NS ? 0 : 3;
}

Test(cf_wait, timed_wait_on_a_worker_times_out)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *pending, *f;
    promises(&pending, 1);
    cr_assert(eq(int, weft_submit(p, timed_wait_task, pending, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
    weft_future_release(pending);
}

/* A helping worker checks its deadline between the tasks it runs: with a
 * long queue of 20 ms tasks, a 50 ms wait must not run the whole queue. */
static atomic_int quick;

static int nap_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    if (!atomic_load(&quick))
        wt_sleep_ns(20 * MS);
    return 0;
}

struct helper_deadline {
    int rc;
    int64_t took;
};

static int wait_with_queue_task(weft_ctx *ctx, void *arg, void **result)
{
    struct helper_deadline *h = arg;
    (void)result;
    for (int i = 0; i < 100; i++)
        if (weft_submit(weft_ctx_pool(ctx), nap_task, NULL, NULL, NULL) != WEFT_OK)
            return 1;
    weft_future *pending;
    if (weft_promise_create(&pending) != WEFT_OK)
        return 2;
    int64_t t0 = wt_now_ns();
    h->rc = weft_wait(&pending, 1, 50 * MS, WEFT_FIRST_COMPLETED, NULL);
    h->took = wt_now_ns() - t0;
    weft_future_release(pending);
    return 0;
}

Test(cf_wait, helping_wait_keeps_its_deadline)
{
    weft_pool *p = wtc_pool_new(1);
    struct helper_deadline h = {0};
    weft_future *f;
    atomic_store(&quick, 0);
    cr_assert(eq(int, weft_submit(p, wait_with_queue_task, &h, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    atomic_store(&quick, 1); /* let the rest of the queue drain fast */
    cr_assert(eq(int, h.rc, WEFT_ETIMEDOUT));
    cr_assert(ge(i64, h.took, 50 * MS));
    cr_assert(lt(i64, h.took, 1000 * MS)); /* the queue holds 2 s of work */
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

/* ---- as_completed ------------------------------------------------------------ */

static int next_index(weft_as_completed *it, weft_future **fs)
{
    weft_future *f = NULL;
    size_t index = 999;
    int rc = weft_as_completed_next(it, &f, &index);
    if (rc != WEFT_OK)
        return rc;
    cr_assert(eq(ptr, fs[index], f));
    cr_assert(weft_future_done(f));
    return (int)index;
}

Test(cf_wait, as_completed_yields_done_first_then_in_completion_order)
{
    weft_future *fs[5];
    promises(fs, 5);
    complete(fs[3], SET_RESULT);
    complete(fs[1], CANCEL);
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 5, WEFT_FOREVER), WEFT_OK));
    complete(fs[4], SET_ERROR);
    complete(fs[0], SET_RESULT);
    complete(fs[2], CANCEL);
    /* Already done at begin, in input order; then completion order. */
    cr_assert(eq(int, next_index(it, fs), 1));
    cr_assert(eq(int, next_index(it, fs), 3));
    cr_assert(eq(int, next_index(it, fs), 4));
    cr_assert(eq(int, next_index(it, fs), 0));
    cr_assert(eq(int, next_index(it, fs), 2));
    cr_assert(eq(int, next_index(it, fs), WEFT_EOF));
    cr_assert(eq(int, next_index(it, fs), WEFT_EOF));
    weft_as_completed_end(it);
    release_all(fs, 5);
}

Test(cf_wait, as_completed_blocks_until_another_thread_completes)
{
    weft_future *fs[3];
    promises(fs, 3);
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 3, WEFT_FOREVER), WEFT_OK));
    struct later l = {0};
    later_add(&l, fs[2], SET_RESULT);
    later_add(&l, fs[0], SET_ERROR);
    later_add(&l, fs[1], CANCEL);
    later_start(&l, 30 * MS);
    int order[3];
    for (int i = 0; i < 3; i++)
        order[i] = next_index(it, fs);
    cr_assert(eq(int, next_index(it, fs), WEFT_EOF));
    cr_assert(eq(int, order[0], 2));
    cr_assert(eq(int, order[1], 0));
    cr_assert(eq(int, order[2], 1));
    pthread_join(l.t, NULL);
    weft_as_completed_end(it);
    release_all(fs, 3);
}

Test(cf_wait, as_completed_yields_duplicates_once_at_their_first_index)
{
    weft_future *p[3];
    promises(p, 3);
    weft_future *fs[6] = {p[1], p[0], p[1], p[2], p[0], p[2]};
    complete(p[0], SET_RESULT);
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 6, WEFT_FOREVER), WEFT_OK));
    complete(p[2], SET_RESULT);
    complete(p[1], SET_RESULT);
    cr_assert(eq(int, next_index(it, fs), 1)); /* p0, first at 1 */
    cr_assert(eq(int, next_index(it, fs), 3)); /* p2, first at 3 */
    cr_assert(eq(int, next_index(it, fs), 0)); /* p1, first at 0 */
    cr_assert(eq(int, next_index(it, fs), WEFT_EOF));
    weft_as_completed_end(it);
    release_all(p, 3);
}

Test(cf_wait, as_completed_of_nothing_is_eof)
{
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, NULL, 0, 0), WEFT_OK));
    weft_future *f;
    cr_assert(eq(int, weft_as_completed_next(it, &f, NULL), WEFT_EOF));
    weft_as_completed_end(it);
}

/* Python starts the clock at the first next() (futures-semantics.md 6);
 * weft starts it at begin, as Python documents. */
Test(cf_wait, as_completed_timeout_runs_from_begin)
{
    weft_future *fs[1];
    promises(fs, 1);
    weft_as_completed *it;
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 1, 1000 * MS), WEFT_OK));
    wt_sleep_ns(1200 * MS);
    int64_t t1 = wt_now_ns();
    weft_future *f;
    cr_assert(eq(int, weft_as_completed_next(it, &f, NULL), WEFT_ETIMEDOUT));
    /* Already past the deadline: no second full timeout from next(). */
    cr_assert(lt(i64, wt_now_ns() - t1, 600 * MS));
    cr_assert(ge(i64, wt_now_ns() - t0, 1000 * MS));
    weft_as_completed_end(it);

    /* Partly elapsed: next() waits only for the rest. */
    t0 = wt_now_ns();
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 1, 600 * MS), WEFT_OK));
    wt_sleep_ns(200 * MS);
    cr_assert(eq(int, weft_as_completed_next(it, &f, NULL), WEFT_ETIMEDOUT));
    assert_timed_out_in(t0, 600 * MS);
    weft_as_completed_end(it);
    release_all(fs, 1);
}

Test(cf_wait, as_completed_timeout_zero_yields_done_then_times_out)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[1], SET_RESULT);
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 3, 0), WEFT_OK));
    cr_assert(eq(int, next_index(it, fs), 1));
    cr_assert(eq(int, next_index(it, fs), WEFT_ETIMEDOUT));
    /* Still usable: completions after the timeout are yielded. */
    complete(fs[2], CANCEL);
    cr_assert(eq(int, next_index(it, fs), 2));
    cr_assert(eq(int, next_index(it, fs), WEFT_ETIMEDOUT));
    complete(fs[0], SET_RESULT);
    cr_assert(eq(int, next_index(it, fs), 0));
    cr_assert(eq(int, next_index(it, fs), WEFT_EOF));
    weft_as_completed_end(it);
    release_all(fs, 3);
}

Test(cf_wait, as_completed_holds_its_own_references)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 32 };
    weft_future *fs[N];
    for (uintptr_t i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, small_task, (void *)(i + 1), NULL, &fs[i]), WEFT_OK));
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, N, WEFT_FOREVER), WEFT_OK));
    release_all(fs, N); /* only the iterator keeps them now */
    bool seen[N] = {0};
    weft_future *f;
    size_t index;
    int n = 0;
    while (weft_as_completed_next(it, &f, &index) == WEFT_OK) {
        cr_assert(lt(sz, index, (size_t)N));
        cr_assert(eq(int, seen[index], false));
        seen[index] = true;
        void *v = NULL;
        int rc = weft_future_result(f, 0, &v);
        if ((index + 1) % 5 == 0)
            wtc_assert_task_failed(rc, 99);
        else
            cr_assert(eq(int, rc, WEFT_OK));
        n++;
    }
    cr_assert(eq(int, n, N));
    weft_as_completed_end(it);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(cf_wait, end_early_then_complete_or_drop_the_rest)
{
    weft_future *fs[3];
    promises(fs, 3);
    complete(fs[0], SET_RESULT);
    weft_as_completed *it;
    cr_assert(eq(int, weft_as_completed_begin(&it, fs, 3, WEFT_FOREVER), WEFT_OK));
    cr_assert(eq(int, next_index(it, fs), 0));
    weft_as_completed_end(it);
    /* The links left on fs[1] and fs[2] fire after the iterator ended: on
     * completion, and when a never-completed future is freed. */
    complete(fs[1], SET_RESULT);
    release_all(fs, 3);

    /* The same after weft_wait returned with futures still pending. */
    promises(fs, 2);
    cr_assert(eq(int, weft_wait(fs, 2, 10 * MS, WEFT_ALL_COMPLETED, NULL), WEFT_ETIMEDOUT));
    complete(fs[0], CANCEL);
    release_all(fs, 2);
}

static void assert_no_links(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(eq(sz, wt_watchers(fs[i]), 0), "future %zu keeps links", i);
}

Test(cf_wait, timed_waits_on_pending_futures_leave_no_links)
{
    weft_future *fs[4];
    promises(fs, 4);
    bool done[4];
    for (int round = 0; round < 2000; round++) {
        weft_return_when when = (weft_return_when)(round % 3);
        cr_assert(eq(int, weft_wait(fs, 3, 1000, when, done), WEFT_ETIMEDOUT));
        cr_assert(flags_are(done, "000"));
        assert_no_links(fs, 3);
    }
    /* A wait that succeeds while others stay pending removes those too. */
    complete(fs[3], SET_RESULT);
    cr_assert(eq(int, weft_wait(fs, 4, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "0001"));
    assert_no_links(fs, 3);
    /* Waiting still works afterwards. */
    struct later l = {0};
    later_add(&l, fs[0], SET_RESULT);
    later_add(&l, fs[1], SET_ERROR);
    later_add(&l, fs[2], CANCEL);
    later_start(&l, 5 * MS);
    cr_assert(eq(int, weft_wait(fs, 4, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK));
    cr_assert(flags_are(done, "1111"));
    pthread_join(l.t, NULL);
    release_all(fs, 4);
}

Test(cf_wait, ending_an_iterator_removes_only_its_own_links)
{
    weft_future *fs[2];
    promises(fs, 2);
    weft_as_completed *keep, *it;
    cr_assert(eq(int, weft_as_completed_begin(&keep, fs, 2, WEFT_FOREVER), WEFT_OK));
    for (int round = 0; round < 100; round++) {
        cr_assert(eq(int, weft_as_completed_begin(&it, fs, 2, 1000), WEFT_OK));
        weft_future *f;
        cr_assert(eq(int, weft_as_completed_next(it, &f, NULL), WEFT_ETIMEDOUT));
        weft_as_completed_end(it);
        cr_assert(eq(int, weft_wait(fs, 2, 1000, WEFT_FIRST_COMPLETED, NULL), WEFT_ETIMEDOUT));
        cr_assert(eq(sz, wt_watchers(fs[0]), 1)); /* keep's */
        cr_assert(eq(sz, wt_watchers(fs[1]), 1));
    }
    /* keep's links were left alone and still report completions. */
    complete(fs[1], SET_RESULT);
    cr_assert(eq(int, next_index(keep, fs), 1));
    weft_as_completed_end(keep);
    assert_no_links(fs, 2);
    release_all(fs, 2);
}

/* ---- deadlines: past, invalid, huge -------------------------------------------- */

/* A deadline at or before now makes a wait a poll: WEFT_OK if the future is
 * done, else WEFT_ETIMEDOUT, at once and without sleeping, negative tv_sec
 * included (the futex rejects those with EINVAL, which a wait must never take
 * for a wake-up and retry: that spun a CPU until the future completed). Each
 * call below is timed by wall clock and by the calling thread's CPU clock. */
#define POLL_WALL_NS (50 * MS)
#define POLL_CPU_NS (5 * MS)
#define N_PAST 6

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Filled by whichever thread runs the checks (the test's or a worker), and
 * asserted on by the test's thread: the first failure, and how many. */
struct deadline_report {
    char first[320];
    int failures;
};

static void note(struct deadline_report *r, const char *fmt, ...)
{
    if (r->failures++ != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->first, sizeof(r->first), fmt, ap);
    va_end(ap);
}

static void assert_no_failures(const struct deadline_report *r)
{
    cr_assert(eq(int, r->failures, 0), "%d failed checks; the first: %s", r->failures, r->first);
}

/* call must return want within POLL_WALL_NS, using less than POLL_CPU_NS of
 * this thread's CPU time. */
#define POLL_CHECK(r, want, call)                                                         \
    do {                                                                                  \
        int64_t w0_ = wt_now_ns(), c0_ = thread_cpu_ns();                                 \
        int rc_ = (call);                                                                 \
        int64_t w_ = wt_now_ns() - w0_, c_ = thread_cpu_ns() - c0_;                       \
        if (rc_ != (want) || w_ >= POLL_WALL_NS || c_ >= POLL_CPU_NS)                     \
            note((r), "line %d: %s: rc %d (want %d), %lld us wall, %lld us CPU", __LINE__, \
                 #call, rc_, (want), (long long)(w_ / 1000), (long long)(c_ / 1000));     \
    } while (0)

#define TIME_T_MAX ((time_t)(sizeof(time_t) == 8 ? INT64_MAX : INT32_MAX))
#define TIME_T_MIN ((time_t)(sizeof(time_t) == 8 ? INT64_MIN : INT32_MIN))

static void past_deadlines(struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    d[0] = (struct timespec){.tv_sec = -1, .tv_nsec = 0};
    d[1] = (struct timespec){.tv_sec = -1000000, .tv_nsec = 999999999};
    d[2] = (struct timespec){.tv_sec = TIME_T_MIN, .tv_nsec = 0};
    d[3] = (struct timespec){.tv_sec = 0, .tv_nsec = 0};
    d[4] = now; /* already past when the wait looks at it */
    d[5] = now;  /* now - 1 ms */
    if (d[5].tv_nsec >= 1000000) {
        d[5].tv_nsec -= 1000000;
    } else {
        d[5].tv_sec--;
        d[5].tv_nsec += 1000000000 - 1000000;
    }
}

/* Every form of wait, with a deadline already past (or a timeout that has
 * run out: 0, and 1 ns), on a future that is pending and on one that is
 * done; then invalid tv_nsec values. */
static void deadline_checks(weft_future *pending, weft_future *done, struct deadline_report *r)
{
    struct timespec past[N_PAST];
    past_deadlines(past);
    for (int i = 0; i < N_PAST; i++) {
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_future_wait_until(pending, &past[i]));
        POLL_CHECK(r, WEFT_OK, weft_future_wait_until(done, &past[i]));
    }

    weft_future *both[2] = {pending, done};
    static const int64_t spent[] = {0, 1};
    for (size_t i = 0; i < sizeof(spent) / sizeof(spent[0]); i++) {
        int64_t t = spent[i];
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_future_wait(pending, t));
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_future_result(pending, t, NULL));
        POLL_CHECK(r, WEFT_OK, weft_future_wait(done, t));
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_wait(&pending, 1, t, WEFT_ALL_COMPLETED, NULL));
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_wait(both, 2, t, WEFT_ALL_COMPLETED, NULL));
        POLL_CHECK(r, WEFT_OK, weft_wait(both, 2, t, WEFT_FIRST_COMPLETED, NULL));
        weft_as_completed *it = NULL;
        if (weft_as_completed_begin(&it, both, 2, t) != WEFT_OK) {
            note(r, "weft_as_completed_begin failed");
            continue;
        }
        weft_future *f = NULL;
        POLL_CHECK(r, WEFT_OK, weft_as_completed_next(it, &f, NULL));
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_as_completed_next(it, &f, NULL));
        POLL_CHECK(r, WEFT_ETIMEDOUT, weft_as_completed_next(it, &f, NULL));
        weft_as_completed_end(it);
    }

    static const long bad_nsec[] = {-1, 1000000000, LONG_MIN, LONG_MAX};
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const time_t secs[] = {-1, 0, now.tv_sec + 1, TIME_T_MAX};
    for (size_t i = 0; i < sizeof(bad_nsec) / sizeof(bad_nsec[0]); i++) {
        for (size_t j = 0; j < sizeof(secs) / sizeof(secs[0]); j++) {
            struct timespec d = {.tv_sec = secs[j], .tv_nsec = bad_nsec[i]};
            POLL_CHECK(r, WEFT_EINVAL, weft_future_wait_until(pending, &d));
            POLL_CHECK(r, WEFT_EINVAL, weft_future_wait_until(done, &d));
        }
    }
    POLL_CHECK(r, WEFT_EINVAL, weft_future_wait_until(NULL, &past[0]));
    POLL_CHECK(r, WEFT_EINVAL, weft_future_wait_until(pending, NULL));
}

/* Completes the never-completed promise after 3 s unless stopped, so that a
 * wait that wrongly spins or sleeps on a past deadline ends in a failed
 * check rather than in the suite's timeout. */
struct rescue {
    weft_future *f;
    atomic_int stop;
    pthread_t t;
};

static void *rescue_main(void *arg)
{
    struct rescue *r = arg;
    for (int i = 0; i < 300 && !atomic_load(&r->stop); i++)
        wt_sleep_ns(10 * MS);
    if (!atomic_load(&r->stop))
        (void)weft_promise_set_result(r->f, NULL, NULL);
    return NULL;
}

static void rescue_start(struct rescue *r, weft_future *f)
{
    r->f = f;
    atomic_store(&r->stop, 0);
    cr_assert(eq(int, pthread_create(&r->t, NULL, rescue_main, r), 0));
}

static void rescue_stop(struct rescue *r)
{
    atomic_store(&r->stop, 1);
    cr_assert(eq(int, pthread_join(r->t, NULL), 0));
}

Test(cf_wait, past_deadlines_poll_from_an_external_thread, .timeout = 30)
{
    weft_future *fs[2];
    promises(fs, 2);
    complete(fs[1], SET_RESULT);
    struct rescue rs;
    rescue_start(&rs, fs[0]);
    struct deadline_report r = {0};
    deadline_checks(fs[0], fs[1], &r);
    rescue_stop(&rs);
    assert_no_failures(&r);
    release_all(fs, 2);
}

struct deadline_task_arg {
    weft_future *pending, *done;
    struct deadline_report r;
};

static int deadline_task(weft_ctx *ctx, void *arg, void **result)
{
    struct deadline_task_arg *a = arg;
    (void)ctx;
    (void)result;
    deadline_checks(a->pending, a->done, &a->r);
    return 0;
}

Test(cf_wait, past_deadlines_poll_on_a_worker, .timeout = 30)
{
    weft_pool *p = wtc_pool_new(1);
    weft_future *fs[2];
    promises(fs, 2);
    complete(fs[1], SET_RESULT);
    struct rescue rs;
    rescue_start(&rs, fs[0]);
    struct deadline_task_arg a = {.pending = fs[0], .done = fs[1]};
    cr_assert(eq(int, wtc_run_task(p, deadline_task, &a, NULL), WEFT_OK));
    rescue_stop(&rs);
    assert_no_failures(&a.r);
    wtc_pool_drop(p);
    release_all(fs, 2);
}

/* Relative timeouts whose deadline does not fit a timespec (or only just
 * does) wait like WEFT_FOREVER, never as a deadline in the past: each form
 * waits for a promise that another thread completes 20 ms later. */
#define COMPLETE_AFTER_NS (20 * MS)

static void *complete_later_main(void *arg)
{
    wt_sleep_ns(COMPLETE_AFTER_NS);
    (void)weft_promise_set_result(arg, &value_v, NULL);
    return NULL;
}

enum huge_form { H_WAIT, H_RESULT, H_UNTIL, H_WAIT_ONE, H_WAIT_SET, H_AS_COMPLETED, H_FORMS };

static int huge_wait(enum huge_form form, weft_future *f, weft_future *other, int64_t t)
{
    weft_future *set[2] = {other, f};
    switch (form) {
    case H_WAIT:
        return weft_future_wait(f, t);
    case H_RESULT: {
        void *v = NULL;
        int rc = weft_future_result(f, t, &v);
        return rc == WEFT_OK && v != &value_v ? -1000 : rc;
    }
    case H_UNTIL: {
        struct timespec d = {.tv_sec = TIME_T_MAX - (time_t)(t % 2), .tv_nsec = 999999999};
        return weft_future_wait_until(f, &d);
    }
    case H_WAIT_ONE:
        return weft_wait(&f, 1, t, WEFT_ALL_COMPLETED, NULL);
    case H_WAIT_SET:
        return weft_wait(set, 2, t, WEFT_ALL_COMPLETED, NULL);
    case H_AS_COMPLETED: {
        weft_as_completed *it = NULL;
        int rc = weft_as_completed_begin(&it, set, 2, t);
        if (rc != WEFT_OK)
            return rc;
        weft_future *got = NULL;
        for (int i = 0; i < 2 && rc == WEFT_OK; i++)
            rc = weft_as_completed_next(it, &got, NULL);
        weft_as_completed_end(it);
        return rc;
    }
    default:
        return -2000;
    }
}

static void huge_checks(struct deadline_report *r)
{
    static const int64_t huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX - 999999999};
    weft_future *done = NULL;
    if (weft_promise_create(&done) != WEFT_OK ||
        weft_promise_set_result(done, NULL, NULL) != WEFT_OK) {
        note(r, "promise setup failed");
        weft_future_release(done);
        return;
    }
    for (int form = 0; form < H_FORMS; form++) {
        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
            weft_future *f = NULL;
            pthread_t t;
            if (weft_promise_create(&f) != WEFT_OK ||
                pthread_create(&t, NULL, complete_later_main, f) != 0) {
                note(r, "setup failed");
                weft_future_release(f);
                break;
            }
            int64_t t0 = wt_now_ns();
            int rc = huge_wait((enum huge_form)form, f, done, huge[i]);
            int64_t took = wt_now_ns() - t0;
            pthread_join(t, NULL);
            if (rc != WEFT_OK || took > COMPLETE_AFTER_NS + LATE_NS)
                note(r, "form %d, timeout %lld: rc %d (want 0) after %lld ms", form,
                     (long long)huge[i], rc, (long long)(took / MS));
            weft_future_release(f);
        }
    }
    weft_future_release(done);
}

Test(cf_wait, huge_timeouts_wait_from_an_external_thread, .timeout = 30)
{
    struct deadline_report r = {0};
    huge_checks(&r);
    assert_no_failures(&r);
}

static int huge_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    huge_checks(arg);
    return 0;
}

Test(cf_wait, huge_timeouts_wait_on_a_worker, .timeout = 30)
{
    weft_pool *p = wtc_pool_new(1);
    struct deadline_report r = {0};
    cr_assert(eq(int, wtc_run_task(p, huge_task, &r, NULL), WEFT_OK));
    assert_no_failures(&r);
    wtc_pool_drop(p);
}

static int slow_square(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    wt_sleep_us(100);
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

Test(cf_wait, map_with_a_huge_timeout_runs_to_the_end, .timeout = 30)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 32 };
    int64_t in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    static const int64_t huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX - 999999999};
    for (size_t k = 0; k < sizeof(huge) / sizeof(huge[0]); k++) {
        weft_map_options o;
        weft_map_options_init(&o);
        o.chunk = 1;
        o.timeout_ns = huge[k];
        size_t fi = 999;
        for (int i = 0; i < N; i++)
            out[i] = -1;
        cr_assert(eq(int, weft_map(p, slow_square, NULL, in, sizeof(in[0]), out, sizeof(out[0]), N,
                                   &o, &fi),
                     WEFT_OK));
        cr_assert(eq(sz, fi, 999));
        for (int i = 0; i < N; i++)
            cr_assert(eq(i64, out[i], (int64_t)i * i));
    }
    wtc_pool_drop(p);
}

/* The helpers behind the rules above (runtime/futex.h). */
Test(cf_wait, the_futex_wrapper_times_out_on_a_deadline_the_kernel_rejects, .timeout = 10)
{
    _Atomic uint32_t word = 0;
    const struct timespec rejected[] = {{.tv_sec = -1, .tv_nsec = 0},
                                        {.tv_sec = TIME_T_MIN, .tv_nsec = 0},
                                        {.tv_sec = 1, .tv_nsec = 1000000000},
                                        {.tv_sec = 1, .tv_nsec = -1}};
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
        cr_assert(eq(int, weft__futex_wait(&word, 0, &rejected[i]), -ETIMEDOUT), "deadline %zu", i);
    const struct timespec past = {.tv_sec = 0, .tv_nsec = 0};
    cr_assert(eq(int, weft__futex_wait(&word, 0, &past), -ETIMEDOUT));
    cr_assert(eq(int, weft__futex_wait(&word, 1, &past), -EAGAIN));
}

Test(cf_wait, deadline_helpers_saturate_and_validate, .timeout = 10)
{
    struct timespec now, d;
    clock_gettime(CLOCK_MONOTONIC, &now);
    static const int64_t huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX - 999999999, INT64_MAX / 2};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        d = (struct timespec){.tv_sec = -7, .tv_nsec = -7};
        if (weft__deadline_in(&d, huge[i])) {
            /* Held: then it lies in the future, normalized, never wrapped. */
            cr_assert(gt(i64, (int64_t)d.tv_sec, (int64_t)now.tv_sec), "timeout %zu", i);
            cr_assert(ge(long, d.tv_nsec, 0L));
            cr_assert(lt(long, d.tv_nsec, 1000000000L));
            cr_assert(eq(int, weft__deadline_check(&d), 0));
        }
    }
    cr_assert(eq(int, weft__deadline_in(&d, -1), 0));
    cr_assert(eq(int, weft__deadline_in(&d, INT64_MIN), 0));

    struct timespec past[N_PAST];
    past_deadlines(past);
    for (int i = 0; i < N_PAST; i++)
        cr_assert(eq(int, weft__deadline_check(&past[i]), 1), "past deadline %d", i);
    const struct timespec later = {.tv_sec = now.tv_sec + 3600, .tv_nsec = now.tv_nsec};
    const struct timespec far = {.tv_sec = TIME_T_MAX, .tv_nsec = 999999999};
    cr_assert(eq(int, weft__deadline_check(&later), 0));
    cr_assert(eq(int, weft__deadline_check(&far), 0));
    const struct timespec bad[] = {{.tv_sec = 0, .tv_nsec = -1},
                                   {.tv_sec = now.tv_sec + 3600, .tv_nsec = 1000000000},
                                   {.tv_sec = -1, .tv_nsec = LONG_MIN}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(eq(int, weft__deadline_check(&bad[i]), -EINVAL), "bad deadline %zu", i);
    cr_assert(eq(int, weft__deadline_check(NULL), -EINVAL));
}
