/* Stress test for removing wait-set links (runtime/waitset.c weft__ws_leave,
 * listeners.c weft__lstack_prune): timed waits that return early prune their
 * links while other waits block on the same futures and the futures
 * complete.
 *
 * Shape: rounds. Each round makes "live" futures, which complete during the
 * round: promises that a completer thread completes in random order
 * (result, error or cancel, after random pauses) and tasks on a 2-worker
 * pool (tiny random work); and "orphans", promises that stay pending for
 * the whole round. During the round
 *   - POLLERS threads loop on random subsets until told to stop: weft_wait
 *     with tiny timeouts and every condition, as_completed with a tiny
 *     timeout ended early, and weft_wait(FIRST_COMPLETED) without timeout
 *     on a subset holding a live future; some timed polls run inside a
 *     task, so workers prune too (while helping). Every early return prunes, so
 *     pruners race with each other, with blocked waiters and with the
 *     completer closing the stacks (the pruner then fires the links it
 *     holds);
 *   - the test thread blocks without timeout until every live future is
 *     done: weft_wait(ALL_COMPLETED) or as_completed to EOF;
 *   - the test thread and the completer add done-callbacks (a separate
 *     stack that pruning must leave alone).
 *
 * Oracles
 *   - No lost wake-up: every wait without timeout returns (a watchdog fails
 *     a hang). A prune that dropped a live link would hang it.
 *   - Exactly once: as_completed yields each live future once, then EOF;
 *     every callback runs exactly once.
 *   - Consistency: done[i] implies fs[i] is done; a timed-out wait's return
 *     code agrees with its condition on done[].
 *   - Nothing left behind: after the pollers stop, one more timed wait by
 *     the test thread removes every link, its own and any a racing prune
 *     kept, so each orphan has exactly 0 watchers (weft_watchers.h). Every
 *     other round skips that wait, so links a racing prune kept are
 *     discarded when the orphans are freed. ASan's leak and use-after-free
 *     checks cover the waiter objects.
 *
 * Usage: prune_stress [rounds]; env WEFT_STRESS_ITERS (rounds),
 * WEFT_STRESS_SEED, WEFT_STRESS_SECONDS (time budget, default 8). Ends with
 * "N passed, M failed". */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft.h"
#include "weft_test.h"
#include "weft_watchers.h"

#define POLLERS 2
#define MAX_LIVE 12
#define MAX_ORPHANS 3
#define MAX_ALL (MAX_LIVE + MAX_ORPHANS)
#define WATCHDOG_SLACK_S 30

static struct wt_checks checks;
static atomic_long st_polls, st_blocking, st_timeouts, st_on_worker, st_stragglers;

static void fail(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    if (wt_check_failed(&checks, 10, buf, sizeof(buf), fmt, ap))
        fprintf(stderr, "FAIL: prune_stress: %s\n", buf);
    va_end(ap);
}

#define CHECK(cond, ...) WT_CHECK(&checks, fail, cond, __VA_ARGS__)

static void bump(atomic_long *c)
{
    /* relaxed: statistics, printed after every thread joined. */
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- the round, shared by every thread -------------------------------------------- */

static weft_pool *pool;

static struct {
    size_t nlive, n;            /* all[0..nlive) live, all[nlive..n) orphans */
    bool task[MAX_LIVE];        /* live future k is a task (else a promise) */
    weft_future *all[MAX_ALL];
    atomic_int cb_added[MAX_LIVE];
    atomic_int cb_ran[MAX_LIVE];
    uint64_t seed;              /* for the completer's order and pauses */
} R;

static atomic_bool stop_polling, quit;
static pthread_barrier_t round_start, round_end; /* POLLERS + completer + test thread */

static int count_cb(weft_future *f, void *ud)
{
    (void)f;
    atomic_fetch_add((atomic_int *)ud, 1);
    return 0;
}

static void add_callback(size_t k)
{
    atomic_fetch_add(&R.cb_added[k], 1);
    CHECK(weft_future_add_done_callback(R.all[k], count_cb, &R.cb_ran[k]) == WEFT_OK,
          "add_done_callback failed");
}

/* ---- pollers ------------------------------------------------------------------------- */

static size_t pick_subset(weft_future **fs, uint64_t *rng, bool with_live)
{
    size_t m = 2 + wt_rnd(rng, (unsigned)R.n - 1);
    for (size_t i = 0; i < m; i++)
        fs[i] = R.all[wt_rnd(rng, (unsigned)R.n)];
    if (with_live)
        fs[wt_rnd(rng, (unsigned)m)] = R.all[wt_rnd(rng, (unsigned)R.nlive)];
    return m;
}

static bool holds(weft_future **fs, const bool *done, size_t m, weft_return_when when)
{
    size_t ndone = 0;
    bool failed = false;
    for (size_t i = 0; i < m; i++) {
        ndone += done[i];
        failed = failed || (done[i] && weft_future_state(fs[i]) == WEFT_FINISHED &&
                            weft_future_result(fs[i], 0, NULL) != WEFT_OK);
    }
    if (when == WEFT_FIRST_COMPLETED)
        return ndone > 0;
    return (when == WEFT_FIRST_EXCEPTION && failed) || ndone == m;
}

static void poll_wait(uint64_t *rng, bool blocking)
{
    weft_future *fs[MAX_ALL];
    bool done[MAX_ALL];
    size_t m = pick_subset(fs, rng, blocking);
    weft_return_when when = blocking ? WEFT_FIRST_COMPLETED : (weft_return_when)wt_rnd(rng, 3);
    int64_t timeout = blocking ? WEFT_FOREVER : (int64_t)wt_rnd(rng, 50000);
    int rc = weft_wait(fs, m, timeout, when, done);
    CHECK(rc == WEFT_OK || (rc == WEFT_ETIMEDOUT && !blocking), "weft_wait returned %d", rc);
    for (size_t i = 0; i < m; i++)
        CHECK(!done[i] || weft_future_done(fs[i]), "done[%zu] set on a pending future", i);
    CHECK(holds(fs, done, m, when) == (rc == WEFT_OK), "weft_wait's %d disagrees with done[]", rc);
    bump(rc == WEFT_ETIMEDOUT ? &st_timeouts : blocking ? &st_blocking : &st_polls);
}

static void poll_iterate(uint64_t *rng)
{
    weft_future *fs[MAX_ALL];
    size_t m = pick_subset(fs, rng, false);
    weft_as_completed *it;
    if (weft_as_completed_begin(&it, fs, m, (int64_t)wt_rnd(rng, 50000)) != WEFT_OK) {
        fail("as_completed_begin failed");
        return;
    }
    weft_future *f;
    size_t index;
    int left = (int)wt_rnd(rng, 3);
    while (left-- > 0 && weft_as_completed_next(it, &f, &index) == WEFT_OK)
        CHECK(weft_future_done(f) && fs[index] == f, "as_completed yielded a wrong future");
    weft_as_completed_end(it);
    bump(&st_polls);
}

static int poll_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    poll_wait(arg, false);
    return 0;
}

/* A timed poll on a worker: its prune runs there. */
static void poll_on_worker(uint64_t *rng)
{
    uint64_t task_rng = wt_xorshift64(rng) | 1;
    weft_future *f;
    if (weft_submit(pool, poll_task, &task_rng, NULL, &f) != WEFT_OK) {
        fail("submit of a poll failed");
        return;
    }
    CHECK(weft_future_wait(f, WEFT_FOREVER) == WEFT_OK, "poll task wait failed");
    weft_future_release(f);
    bump(&st_on_worker);
}

static void *poller_main(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    for (;;) {
        pthread_barrier_wait(&round_start);
        if (atomic_load(&quit))
            return NULL;
        while (!atomic_load(&stop_polling)) {
            unsigned op = wt_rnd(&rng, 10);
            if (op == 0)
                poll_wait(&rng, true);
            else if (op == 1)
                poll_on_worker(&rng);
            else if (op < 4)
                poll_iterate(&rng);
            else
                poll_wait(&rng, false);
        }
        pthread_barrier_wait(&round_end);
    }
}

/* ---- the completer -------------------------------------------------------------------- */

static void *completer_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&round_start);
        if (atomic_load(&quit))
            return NULL;
        uint64_t rng = R.seed;
        size_t order[MAX_LIVE];
        for (size_t k = 0; k < R.nlive; k++)
            order[k] = k;
        for (size_t k = R.nlive - 1; k > 0; k--) {
            size_t j = wt_rnd(&rng, (unsigned)k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < R.nlive; i++) {
            size_t k = order[i];
            if (R.task[k])
                continue;
            wt_spin_ns(wt_rnd(&rng, 4) == 0 ? wt_rnd(&rng, 200000) : wt_rnd(&rng, 5000));
            if (wt_rnd(&rng, 2) == 0)
                add_callback(k);
            unsigned a = wt_rnd(&rng, 3);
            int rc = a == 0   ? weft_promise_set_result(R.all[k], NULL, NULL)
                     : a == 1 ? weft_promise_set_error(R.all[k], 7, NULL, NULL)
                              : (weft_future_cancel(R.all[k]) == 1 ? WEFT_OK : WEFT_EALREADY);
            CHECK(rc == WEFT_OK, "completing live future %zu returned %d", k, rc);
        }
        pthread_barrier_wait(&round_end);
    }
}

/* ---- the test thread -------------------------------------------------------------------- */

static int spin_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    wt_spin_ns((int64_t)(uintptr_t)arg);
    return 0;
}

static void make_round(uint64_t *rng)
{
    R.nlive = 1 + wt_rnd(rng, MAX_LIVE);
    R.n = R.nlive + 1 + wt_rnd(rng, MAX_ORPHANS);
    for (size_t k = 0; k < R.n; k++) {
        bool task = k < R.nlive && wt_rnd(rng, 4) == 0;
        if (k < R.nlive)
            R.task[k] = task;
        int rc = task
                     ? weft_submit(pool, spin_task, (void *)(uintptr_t)wt_rnd(rng, 20000), NULL,
                                   &R.all[k])
                     : weft_promise_create(&R.all[k]);
        if (rc != WEFT_OK) {
            fail("creating future %zu failed", k);
            exit(1);
        }
    }
    for (size_t k = 0; k < R.nlive; k++) {
        atomic_store(&R.cb_added[k], 0);
        atomic_store(&R.cb_ran[k], 0);
        add_callback(k);
    }
    R.seed = wt_xorshift64(rng);
    atomic_store(&stop_polling, false);
}

/* Block until every live future is done. */
static void await_live(uint64_t *rng)
{
    if (wt_rnd(rng, 2) == 0) {
        CHECK(weft_wait(R.all, R.nlive, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL) == WEFT_OK,
              "blocking weft_wait failed");
        return;
    }
    weft_as_completed *it;
    if (weft_as_completed_begin(&it, R.all, R.nlive, WEFT_FOREVER) != WEFT_OK) {
        fail("as_completed_begin failed");
        return;
    }
    int seen[MAX_LIVE] = {0};
    weft_future *f;
    size_t index, n = 0;
    int rc;
    while ((rc = weft_as_completed_next(it, &f, &index)) == WEFT_OK) {
        CHECK(index < R.nlive && weft_future_done(f), "as_completed yielded a wrong future");
        if (index < R.nlive)
            seen[index]++;
        n++;
    }
    CHECK(rc == WEFT_EOF && n == R.nlive, "as_completed ended with %d after %zu", rc, n);
    for (size_t k = 0; k < R.nlive; k++)
        CHECK(seen[k] == 1, "live future %zu yielded %d times", k, seen[k]);
    weft_as_completed_end(it);
}

static void check_no_links(void)
{
    /* Quiescent: this wait prunes every gone waiter's link on the orphans. */
    CHECK(weft_wait(R.all, R.n, 1000, WEFT_ALL_COMPLETED, NULL) == WEFT_ETIMEDOUT,
          "quiescent wait did not time out");
    for (size_t k = 0; k < R.n; k++)
        CHECK(wt_watchers(R.all[k]) == 0, "future %zu keeps %zu links", k, wt_watchers(R.all[k]));
}

static void check_round(bool quiescent_wait)
{
    for (size_t k = R.nlive; k < R.n; k++)
        atomic_fetch_add(&st_stragglers, (long)wt_watchers(R.all[k]));
    /* A waiter can see a live future done before its completer closed and
     * fired (freed) its watcher links; check_no_links may walk them only
     * once the stack reads closed. A callback that ran is no proof: one
     * added after the state turned done runs inline at once. */
    for (size_t k = 0; k < R.nlive; k++)
        CHECK(wt_await_watchers_closed(R.all[k], 10000000000),
              "live future %zu: watchers still open 10 s after it was done", k);
    if (quiescent_wait)
        check_no_links();
    /* A task's callbacks run on its worker after its waiters see it done. */
    for (size_t k = 0; k < R.nlive; k++)
        (void)wt_await_at_least(&R.cb_ran[k], atomic_load(&R.cb_added[k]), 10000000000, 10);
    for (size_t k = 0; k < R.nlive; k++)
        CHECK(atomic_load(&R.cb_ran[k]) == atomic_load(&R.cb_added[k]),
              "future %zu: %d callbacks ran of %d", k, atomic_load(&R.cb_ran[k]),
              atomic_load(&R.cb_added[k]));
    /* Without the quiescent wait, kept links are discarded by the free. */
    for (size_t k = 0; k < R.n; k++)
        weft_future_release(R.all[k]);
}

int main(int argc, char **argv)
{
    unsigned rounds = wt_stress_iters(argc, argv, 1000000u);
    long seconds = wt_stress_seconds(8);
    uint64_t seed = wt_stress_seed(), rng = seed;
    printf("prune_stress: seed=%" PRIu64 " rounds<=%u budget=%lds\n", seed, rounds, seconds);
    fflush(stdout);
    signal(SIGALRM, wt_on_watchdog);
    alarm((unsigned)(seconds + WATCHDOG_SLACK_S));

    if (wt_pool_new(&pool, 2) != WEFT_OK) {
        printf("prune_stress: pool_create failed\n0 passed, 1 failed\n");
        return 1;
    }
    pthread_barrier_init(&round_start, NULL, POLLERS + 2);
    pthread_barrier_init(&round_end, NULL, POLLERS + 2);
    pthread_t th[POLLERS + 1];
    for (uintptr_t i = 0; i < POLLERS; i++)
        pthread_create(&th[i], NULL, poller_main, (void *)(uintptr_t)(wt_xorshift64(&rng) | 1));
    pthread_create(&th[POLLERS], NULL, completer_main, NULL);

    int64_t end = wt_now_ns() + (int64_t)seconds * 1000000000;
    unsigned done_rounds = 0;
    while (done_rounds < rounds && wt_now_ns() < end && atomic_load(&checks.failed) == 0) {
        make_round(&rng);
        pthread_barrier_wait(&round_start);
        await_live(&rng);
        atomic_store(&stop_polling, true);
        pthread_barrier_wait(&round_end);
        check_round(done_rounds % 2 == 0);
        done_rounds++;
    }
    atomic_store(&quit, true);
    pthread_barrier_wait(&round_start);
    for (int i = 0; i < POLLERS + 1; i++)
        pthread_join(th[i], NULL);
    CHECK(weft_pool_destroy(pool) == WEFT_OK, "pool destroy failed");
    alarm(0);
    printf("prune_stress: %u rounds; %ld timed polls (%ld on a worker), %ld blocking waits, "
           "%ld timeouts, %ld links left by racing prunes (removed by the next prune or "
           "discarded by the free)\n",
           done_rounds, atomic_load(&st_polls), atomic_load(&st_on_worker),
           atomic_load(&st_blocking), atomic_load(&st_timeouts), atomic_load(&st_stragglers));
    return wt_checks_summary(&checks) == 0 ? 0 : 1;
}
