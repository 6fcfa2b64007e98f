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

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

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
        cr_assert(eq(int, rc, (i + 1) % 5 == 0 ? 99 : 0));
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
        cr_assert(eq(int, rc, (index + 1) % 5 == 0 ? 99 : 0));
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
