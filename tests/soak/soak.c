/* weft soak test: a long run of tasks through every public path, each
 * checked by an exact oracle, with resident memory that must stay flat.
 *
 * Shape
 *   - Rounds. A round gives every phase a share of its task quota (the
 *     total budget / 50, at least 10000); a phase runs batches until its
 *     share is used up, at least one batch. Rounds repeat until the budget
 *     (--tasks, default 10^8) is reached or the time limit (--seconds).
 *   - Phases (table `phases` below): external submit with futures, done-
 *     callbacks and every task outcome; detached submit with arg_dtor; bulk
 *     (batches of submits in a tight loop, through a pluggable submitter);
 *     submit from inside tasks (nested waits, as_completed on a worker);
 *     weft_map; parallel_for, parallel_map, parallel_reduce (from the main
 *     thread and from inside a task); fork/join (spawn/sync trees,
 *     spawn + sync_take, weft_join); weft_wait with every condition and
 *     with timeouts; as_completed (to EOF, timed out, ended early); cancel
 *     and request_cancel (pending, running and finished tasks); shutdown
 *     with WEFT_SHUTDOWN_CANCEL on a short-lived pool; promises.
 *   - A batch reuses preallocated records (items, marks, futures), so the
 *     test's own memory is fixed after start-up.
 *
 * Oracles
 *   - Exactly once: every task, map item, loop index and fork/join node has
 *     a counter that must read 1 (0 for a cancelled task) after its batch;
 *     every arg_dtor, result dtor, error dtor and done-callback likewise
 *     (counters that the runtime updates after the future turns done are
 *     awaited, bounded, then compared exactly).
 *   - Values: each task's result, status and error object; map and
 *     parallel_map outputs; reductions against a serial sum and in index
 *     order; fork/join subtree sizes and failure propagation; the wait
 *     functions' return codes against their condition on done[].
 *   - Callback failures: weft_callback_failures() grows by exactly the
 *     number of callbacks that returned nonzero.
 *   - Flat RSS: /proc/self/statm after every round; after the warm-up (the
 *     first tenth of the rounds, at least one, or of the time limit if that
 *     comes first) no sample may exceed the warm-up sample by more than
 *     10% + 16 MiB. Advisory under AddressSanitizer (its allocator
 *     quarantine grows for a long time); --rss strict|off overrides.
 *   - No hang: every blocking wait has a timeout (60 s) and a timeout of a
 *     wait that must succeed ends the run; calls without a timeout
 *     (parallel_*, weft_sync, pool destroy) are covered by a watchdog
 *     (alarm, re-armed every round, --watchdog seconds).
 *
 * Task count (printed at start): a submitted task (including cancelled
 * ones) is one task, a spawned fork/join child is one (also when taken back
 * with weft_sync_take), a weft_join is one (its pushed half; the other runs
 * as a direct call), a weft_map chunk is one (ceil(n/chunk)), a
 * parallel_for / parallel_reduce leaf chunk is one (counted as it runs), a
 * parallel_map chunk is one (ceil(n/grain): a lower bound, leaves hold at
 * most grain items). A weft_map or parallel_map call with a failing item
 * counts only the chunks known to have run. Promises are counted apart.
 *
 * Usage: weft_soak [--tasks N] [--seconds S] [--workers W] [--seed X]
 *                  [--watchdog S] [--rss auto|strict|off]
 * Output: progress lines, a per-phase table, and "N passed, N failed",
 * where a unit is one phase in one round, one enforced RSS sample, or one
 * of the final totals. Exit status 0 only if nothing failed. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif

#define WAIT_NS ((int64_t)60 * 1000000000)   /* every wait that must succeed */
#define SETTLE_NS ((int64_t)30 * 1000000000) /* counters updated after done */
#define MAX_ITEMS 16384
#define FJ_MAX_ROOTS 8
#define FJ_MAX_NODES 65536
#define MAX_FS (MAX_ITEMS + 8)
#define ROUNDS 50
#define MIN_ROUND_QUOTA 10000
#define MAX_FAIL_MESSAGES 30

/* ---- configuration, time, randomness --------------------------------------- */

static struct {
    uint64_t tasks;
    double seconds;
    unsigned workers;
    uint64_t seed;
    unsigned watchdog_s;
    int rss; /* 0 auto, 1 strict, 2 off */
} cfg = {.tasks = 100000000, .seed = 1, .watchdog_s = 0};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int64_t t_start, t_stop; /* t_stop 0: no time limit */

static bool time_up(void)
{
    return t_stop != 0 && now_ns() >= t_stop;
}

static uint64_t rng;

/* xorshift64*, main thread only. */
static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32) % (n ? n : 1);
}

static uint64_t mix(uint64_t x, uint64_t salt)
{
    x ^= salt;
    x *= 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 29);
}

static size_t clampz(uint64_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : (size_t)v;
}

/* ---- checks and failures ---------------------------------------------------- */

static weft_pool *pool;
static unsigned nworkers;
static volatile sig_atomic_t cur_phase = -1;
static const char *phase_name(int i);

static _Atomic uint64_t n_checks, n_failed;

#if defined(__GNUC__)
#define SOAK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SOAK_PRINTF(a, b)
#endif

static void check_failed(int line, const char *fmt, ...) SOAK_PRINTF(2, 3);

static void check_failed(int line, const char *fmt, ...)
{
    if (atomic_fetch_add(&n_failed, 1) < MAX_FAIL_MESSAGES) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "soak: FAIL [%s] line %d: ", phase_name(cur_phase), line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        atomic_fetch_add_explicit(&n_checks, 1, memory_order_relaxed);     \
        if (!(cond))                                                       \
            check_failed(__LINE__, __VA_ARGS__);                           \
    } while (0)

/* The run cannot go on: an API call that must succeed failed, or a wait
 * that must succeed timed out. Nothing is torn down (that could hang). */
static _Noreturn void fatal_at(int line, const char *fmt, ...) SOAK_PRINTF(2, 3);

static _Noreturn void fatal_at(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: FATAL [%s] line %d: ", phase_name(cur_phase), line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "soak: 0 passed, 1 failed (aborted)\n");
    fflush(NULL);
    _exit(1);
}
#define FATAL(...) fatal_at(__LINE__, __VA_ARGS__)
#define MUST(call)                                                             \
    do {                                                                       \
        int must_rc_ = (call);                                                 \
        if (must_rc_ != WEFT_OK)                                               \
            FATAL("%s: %s", #call, weft_strerror(must_rc_));                   \
    } while (0)

/* A wait that must end in time: a timeout means a lost wake-up or task. */
static void hang_check(int rc, const char *what)
{
    if (rc == WEFT_ETIMEDOUT)
        FATAL("%s: still not done after %d s (lost task or wake-up?)", what,
              (int)(WAIT_NS / 1000000000));
}

static void watchdog(int sig)
{
    (void)sig;
    static const char a[] = "soak: FATAL watchdog: no round finished in time; phase ";
    const char *p = phase_name(cur_phase);
    size_t n = 0;
    while (p[n])
        n++;
    ssize_t r = write(2, a, sizeof a - 1);
    r = write(2, p, n);
    r = write(2, "\nsoak: 0 passed, 1 failed (aborted)\n", 37);
    (void)r;
    _exit(3);
}

/* Wait, bounded, until *p reaches want; the caller then compares exactly. */
static uint32_t settle(_Atomic uint32_t *p, uint32_t want)
{
    /* acquire: pairs with the release increments of the dtors and
     * callbacks, which touch their record last. */
    uint32_t v = atomic_load_explicit(p, memory_order_acquire);
    if (v >= want)
        return v;
    int64_t end = now_ns() + SETTLE_NS;
    while ((v = atomic_load_explicit(p, memory_order_acquire)) < want && now_ns() < end)
        sleep_ns(2000);
    return v;
}

static void check_callback_failures(uint64_t before, uint64_t expect)
{
    int64_t end = now_ns() + SETTLE_NS;
    while (weft_callback_failures() - before < expect && now_ns() < end)
        sleep_ns(2000);
    uint64_t got = weft_callback_failures() - before;
    CHECK(got == expect, "weft_callback_failures grew by %" PRIu64 ", expected %" PRIu64, got,
          expect);
}

/* ---- items: one task's record ------------------------------------------------ */

enum kind { K_VALUE, K_VALUE_DTOR, K_FAIL_ERR, K_FAIL, K_NKINDS };

struct item;
struct cbrec {
    struct item *it;
    uint32_t k;
    bool ordered;
};

struct item {
    _Atomic uint32_t ran, adtor, rdtor, edtor, xdtor, cb, cb_bad;
    uint32_t id, kind;
    uint32_t ncb;        /* callbacks that must run */
    uint32_t expect_ran; /* 0 for a task that must be cancelled */
    uint32_t expect_x;   /* rejected promise values to destroy */
    uint32_t pmode;      /* promises: 0 result, 1 error, 2 cancelled */
    struct cbrec cbr[4];
};

static struct item *items;
static weft_future **futs;
static void **argv_buf;
static bool *done_buf;

static struct item *item_init(size_t i, uint32_t kind)
{
    struct item *it = &items[i];
    atomic_store_explicit(&it->ran, 0, memory_order_relaxed);
    atomic_store_explicit(&it->adtor, 0, memory_order_relaxed);
    atomic_store_explicit(&it->rdtor, 0, memory_order_relaxed);
    atomic_store_explicit(&it->edtor, 0, memory_order_relaxed);
    atomic_store_explicit(&it->xdtor, 0, memory_order_relaxed);
    atomic_store_explicit(&it->cb, 0, memory_order_relaxed);
    atomic_store_explicit(&it->cb_bad, 0, memory_order_relaxed);
    it->id = (uint32_t)i;
    it->kind = kind;
    it->ncb = 0;
    it->expect_ran = 1;
    it->expect_x = 0;
    it->pmode = 0;
    return it;
}

static int fail_status(const struct item *it)
{
    return 1000 + (int)(it->id % 7);
}

static void item_adtor(void *p)
{
    struct item *it = p;
    atomic_fetch_add_explicit(&it->adtor, 1, memory_order_release);
}

static void item_rdtor(void *p)
{
    struct item *it = p;
    atomic_fetch_add_explicit(&it->rdtor, 1, memory_order_release);
}

static void item_edtor(void *p)
{
    struct item *it = p;
    atomic_fetch_add_explicit(&it->edtor, 1, memory_order_release);
}

static void item_xdtor(void *p)
{
    struct item *it = p;
    atomic_fetch_add_explicit(&it->xdtor, 1, memory_order_release);
}

static int item_task(weft_ctx *ctx, void *arg, void **result)
{
    struct item *it = arg;
    atomic_fetch_add_explicit(&it->ran, 1, memory_order_relaxed);
    switch (it->kind) {
    case K_VALUE:
        *result = it;
        return 0;
    case K_VALUE_DTOR:
        *result = it;
        CHECK(weft_ctx_set_result_dtor(ctx, item_rdtor) == WEFT_OK, "set_result_dtor");
        return 0;
    case K_FAIL_ERR:
        CHECK(weft_ctx_set_error(ctx, it, item_edtor) == WEFT_OK, "set_error");
        return fail_status(it);
    default:
        return fail_status(it);
    }
}

/* The outcome a finished (or cancelled) item's future must report. */
static bool outcome_ok(const struct item *it, weft_future *f, int rc, const void *v)
{
    if (it->expect_ran == 0)
        return rc == WEFT_ECANCELED && weft_future_cancelled(f);
    switch (it->kind) {
    case K_VALUE:
    case K_VALUE_DTOR:
        return rc == WEFT_OK && v == it;
    case K_FAIL_ERR:
        return rc == fail_status(it) && weft_future_error(f) == it;
    default:
        return rc == fail_status(it) && weft_future_error(f) == NULL;
    }
}

/* The count goes last (release): once the batch sees it, the record may be
 * reused, and the callback must not read it any more. */
static int cb_run(weft_future *f, struct cbrec *r)
{
    struct item *it = r->it;
    bool bad = f == NULL || !weft_future_done(f) ||
               (r->ordered && atomic_load_explicit(&it->cb, memory_order_relaxed) != r->k);
    if (bad)
        atomic_fetch_add_explicit(&it->cb_bad, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&it->cb, 1, memory_order_release);
    return 0;
}

static int cb_ok(weft_future *f, void *ud)
{
    return cb_run(f, ud);
}

static int cb_fail(weft_future *f, void *ud)
{
    cb_run(f, ud);
    return 1;
}

/* Register 0..3 callbacks on f (the last one failing one time in eight).
 * Returns the number of failing callbacks registered. */
static uint64_t add_callbacks(weft_future *f, struct item *it, uint32_t n, bool ordered)
{
    uint64_t failing = 0;
    bool fail_last = n > 0 && rnd(8) == 0;
    for (uint32_t k = 0; k < n; k++) {
        if (it->ncb >= sizeof it->cbr / sizeof it->cbr[0])
            FATAL("too many callbacks on one item");
        struct cbrec *r = &it->cbr[it->ncb];
        r->it = it;
        r->k = it->ncb; /* its place in the order of registration */
        r->ordered = ordered;
        bool fails = fail_last && k == n - 1;
        failing += fails;
        it->ncb++;
        MUST(weft_future_add_done_callback(f, fails ? cb_fail : cb_ok, r));
    }
    return failing;
}

/* After a batch whose futures are all released: every counter exact. */
static void verify_items(size_t lo, size_t hi, const char *what)
{
    size_t bad = 0, first = SIZE_MAX;
    for (size_t i = lo; i < hi; i++) {
        struct item *it = &items[i];
        uint32_t er = it->expect_ran;
        uint32_t ad = settle(&it->adtor, 1);
        uint32_t rd = settle(&it->rdtor, it->kind == K_VALUE_DTOR && er);
        uint32_t ed = settle(&it->edtor, it->kind == K_FAIL_ERR && er);
        uint32_t xd = settle(&it->xdtor, it->expect_x);
        uint32_t cb = settle(&it->cb, it->ncb);
        uint32_t ran = atomic_load(&it->ran);
        if (ran != er || ad != 1 || rd != (it->kind == K_VALUE_DTOR && er) ||
            ed != (it->kind == K_FAIL_ERR && er) || xd != it->expect_x || cb != it->ncb ||
            atomic_load(&it->cb_bad) != 0) {
            if (bad++ == 0)
                first = i;
        }
    }
    struct item *it = &items[bad ? first : lo];
    CHECK(bad == 0,
              "%s: %zu of %zu items wrong; first #%zu kind %u: ran %u/%u adtor %u/1 rdtor %u "
              "edtor %u xdtor %u/%u callbacks %u/%u (bad order %u)",
              what, bad, hi - lo, first, it->kind, atomic_load(&it->ran), it->expect_ran,
              atomic_load(&it->adtor), atomic_load(&it->rdtor), atomic_load(&it->edtor),
              atomic_load(&it->xdtor), it->expect_x, atomic_load(&it->cb), it->ncb,
              atomic_load(&it->cb_bad));
}

/* A call's return with WEFT_ETASK replaced by the failed work's own status
 * (weft_task_status(), read on the calling thread right after the call). */
static int own(int rc)
{
    return rc == WEFT_ETASK ? weft_task_status() : rc;
}

/* Wait for f's outcome (a task's failure as its own status); a timeout
 * ends the run. */
static int result_of(weft_future *f, void **v, const char *what)
{
    int rc = own(weft_future_result(f, WAIT_NS, v));
    if (rc == WEFT_ETIMEDOUT && !weft_future_done(f))
        hang_check(rc, what);
    return rc;
}

/* ---- latch: completion of detached tasks, through a promise -------------- */

static struct {
    _Atomic long n;
    weft_future *p;
} latch;

static void latch_open(void)
{
    atomic_store(&latch.n, 1);
    MUST(weft_promise_create(&latch.p));
}

static void latch_add(long k)
{
    atomic_fetch_add_explicit(&latch.n, k, memory_order_relaxed);
}

static void latch_arrive(void)
{
    if (atomic_fetch_sub_explicit(&latch.n, 1, memory_order_acq_rel) == 1) {
        /* The waiter releases the promise as soon as it is done: complete
         * it under a reference of our own. */
        weft_future *p = weft_future_ref(latch.p);
        CHECK(weft_promise_set_result(p, NULL, NULL) == WEFT_OK, "latch promise");
        weft_future_release(p);
    }
}

static void latch_wait(const char *what)
{
    latch_arrive();
    hang_check(weft_future_wait(latch.p, WAIT_NS), what);
    weft_future_release(latch.p);
    latch.p = NULL;
}

static void item_adtor_latch(void *p)
{
    item_adtor(p);
    latch_arrive();
}

/* ---- promise completer tasks ------------------------------------------------ */

struct completer {
    weft_future *p; /* a reference of the completer's own */
    struct item *it;
    int status; /* 0: set_result(it), else set_error(status) */
};

static int completer_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct completer *c = arg;
    int rc = weft_promise_set_running(c->p);
    CHECK(rc == WEFT_OK, "completer: set_running: %s", weft_strerror(rc));
    rc = c->status == 0 ? weft_promise_set_result(c->p, c->it, NULL)
                        : weft_promise_set_error(c->p, c->status, NULL, NULL);
    CHECK(rc == WEFT_OK, "completer: complete: %s", weft_strerror(rc));
    weft_future_release(c->p);
    return 0;
}

/* ---- phases ------------------------------------------------------------------ */

struct phase;
typedef void (*batch_fn)(struct phase *ph, uint64_t want);

struct phase {
    const char *name;
    unsigned share; /* per mille of a round's quota */
    batch_fn batch;
    const void *arg;
    const char *counting;
    uint64_t tasks, batches, runs, failed_runs;
    int64_t ns;
    uint64_t stat[2];
    const char *stat_name[2];
};

/* -- submit: external, futures, callbacks, every outcome -- */

static void ph_submit(struct phase *ph, uint64_t want)
{
    size_t n = clampz(want, 16, 512);
    uint64_t cbf0 = weft_callback_failures(), cbf = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = item_init(i, rnd(K_NKINDS));
        MUST(weft_submit(pool, item_task, it, item_adtor, &futs[i]));
        cbf += add_callbacks(futs[i], it, rnd(3), false);
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        weft_future *f = futs[i];
        void *v = NULL;
        int rc;
        if (i % 3 == 0) {
            rc = result_of(f, &v, "submit: weft_future_result");
        } else if (i % 3 == 1) {
            hang_check(weft_future_wait(f, WAIT_NS), "submit: weft_future_wait");
            rc = own(weft_future_result(f, 0, &v));
        } else {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += WAIT_NS / 1000000000;
            hang_check(weft_future_wait_until(f, &dl), "submit: weft_future_wait_until");
            rc = own(weft_future_result(f, 0, &v));
        }
        bad += !outcome_ok(&items[i], f, rc, v) || weft_future_state(f) != WEFT_FINISHED;
    }
    CHECK(bad == 0, "submit: %zu of %zu outcomes wrong", bad, n);
    for (size_t i = 0; i < n; i++)
        weft_future_release(futs[i]);
    verify_items(0, n, "submit");
    check_callback_failures(cbf0, cbf);
    ph->tasks += n;
}

/* -- detached: no future, arg_dtor is the only sign of completion -- */

static void ph_detached(struct phase *ph, uint64_t want)
{
    size_t n = clampz(want, 16, 1024);
    latch_open();
    for (size_t i = 0; i < n; i++) {
        struct item *it = item_init(i, rnd(K_NKINDS));
        latch_add(1);
        MUST(weft_submit(pool, item_task, it, item_adtor_latch, NULL));
    }
    latch_wait("detached: latch");
    verify_items(0, n, "detached");
    ph->tasks += n;
}

/* -- bulk: many submits in a tight loop -- */

/* Submit fn(args[i]) for i in [0, n) with arg_dtor; out[i] receives the
 * futures (out NULL: detached). Returns how many were accepted; the
 * arguments of the others have had their dtor run. A bulk submission API
 * is one more function of this type and one more "bulk" row in phases[]. */
typedef size_t (*submit_many_fn)(weft_pool *p, weft_fn fn, void *const *args, weft_dtor dtor,
                                 size_t n, weft_future **out);

static size_t submit_loop(weft_pool *p, weft_fn fn, void *const *args, weft_dtor dtor, size_t n,
                          weft_future **out)
{
    for (size_t i = 0; i < n; i++) {
        if (weft_submit(p, fn, args[i], dtor, out ? &out[i] : NULL) != WEFT_OK) {
            for (size_t j = i + 1; j < n; j++)
                if (dtor)
                    dtor(args[j]);
            return i;
        }
    }
    return n;
}

struct bulk_cfg {
    submit_many_fn submit;
};

static const struct bulk_cfg bulk_loop = {submit_loop};

static void ph_bulk(struct phase *ph, uint64_t want)
{
    const struct bulk_cfg *bc = ph->arg;
    size_t n = clampz(want, 64, 4096);
    bool detached = ph->batches % 2 == 1;
    for (size_t i = 0; i < n; i++)
        argv_buf[i] = item_init(i, rnd(K_NKINDS));
    size_t acc;
    if (detached) {
        latch_open();
        latch_add((long)n);
        acc = bc->submit(pool, item_task, argv_buf, item_adtor_latch, n, NULL);
        latch_wait("bulk: latch");
    } else {
        acc = bc->submit(pool, item_task, argv_buf, item_adtor, n, futs);
    }
    CHECK(acc == n, "bulk: %zu of %zu accepted", acc, n);
    for (size_t i = acc; i < n; i++)
        items[i].expect_ran = 0;
    if (!detached && acc > 0) {
        int rc = weft_wait(futs, acc, WAIT_NS, WEFT_ALL_COMPLETED, done_buf);
        hang_check(rc, "bulk: weft_wait ALL_COMPLETED");
        CHECK(rc == WEFT_OK, "bulk: weft_wait: %s", weft_strerror(rc));
        size_t bad = 0;
        for (size_t i = 0; i < acc; i++) {
            void *v = NULL;
            rc = own(weft_future_result(futs[i], 0, &v));
            bad += !done_buf[i] || !outcome_ok(&items[i], futs[i], rc, v);
            weft_future_release(futs[i]);
        }
        CHECK(bad == 0, "bulk: %zu of %zu outcomes wrong", bad, acc);
    }
    verify_items(0, n, "bulk");
    ph->tasks += acc;
}

/* -- nested: tasks that submit tasks and wait for them on a worker -- */

struct parent {
    size_t kid0;          /* first item */
    weft_future **fs;     /* nf futures */
    size_t nf, nd;        /* with futures, detached */
    unsigned mode;        /* 0 wait ALL, 1 one by one, 2 as_completed */
    bool seen[MAX_ITEMS / 8];
};

static struct parent parents[FJ_MAX_ROOTS];

static int parent_task(weft_ctx *ctx, void *arg, void **result)
{
    struct parent *p = arg;
    weft_pool *pl = weft_ctx_pool(ctx);
    CHECK(weft_worker_index() >= 0 && pl == pool, "nested: parent not on a worker of the pool");
    for (size_t i = 0; i < p->nf; i++)
        MUST(weft_submit(pl, item_task, &items[p->kid0 + i], item_adtor, &p->fs[i]));
    for (size_t i = 0; i < p->nd; i++) {
        latch_add(1);
        MUST(weft_submit(pl, item_task, &items[p->kid0 + p->nf + i], item_adtor_latch, NULL));
    }
    size_t bad = 0, yielded = 0;
    void *v;
    int rc;
    switch (p->mode) {
    case 0:
        rc = weft_wait(p->fs, p->nf, WAIT_NS, WEFT_ALL_COMPLETED, NULL);
        hang_check(rc, "nested: weft_wait on a worker");
        CHECK(rc == WEFT_OK, "nested: weft_wait: %s", weft_strerror(rc));
        for (size_t i = 0; i < p->nf; i++) {
            v = NULL;
            rc = own(weft_future_result(p->fs[i], 0, &v));
            bad += !outcome_ok(&items[p->kid0 + i], p->fs[i], rc, v);
        }
        break;
    case 1:
        for (size_t i = 0; i < p->nf; i++) {
            v = NULL;
            rc = result_of(p->fs[i], &v, "nested: weft_future_result on a worker");
            bad += !outcome_ok(&items[p->kid0 + i], p->fs[i], rc, v);
        }
        break;
    default: {
        weft_as_completed *it;
        MUST(weft_as_completed_begin(&it, p->fs, p->nf, WAIT_NS));
        memset(p->seen, 0, p->nf);
        weft_future *f;
        size_t idx;
        while ((rc = weft_as_completed_next(it, &f, &idx)) == WEFT_OK) {
            if (idx >= p->nf || p->fs[idx] != f || p->seen[idx] || !weft_future_done(f)) {
                bad++;
                continue;
            }
            p->seen[idx] = true;
            yielded++;
            v = NULL;
            rc = own(weft_future_result(f, 0, &v));
            bad += !outcome_ok(&items[p->kid0 + idx], f, rc, v);
        }
        hang_check(rc, "nested: as_completed on a worker");
        CHECK(rc == WEFT_EOF, "nested: as_completed ended with %s", weft_strerror(rc));
        CHECK(yielded == p->nf, "nested: as_completed yielded %zu of %zu", yielded, p->nf);
        weft_as_completed_end(it);
        break;
    }
    }
    CHECK(bad == 0, "nested (mode %u): %zu of %zu outcomes wrong", p->mode, bad, p->nf);
    for (size_t i = 0; i < p->nf; i++)
        weft_future_release(p->fs[i]);
    *result = (void *)(uintptr_t)(p->nf + p->nd);
    return 0;
}

static void ph_nested(struct phase *ph, uint64_t want)
{
    size_t np = clampz(2 * nworkers, 2, FJ_MAX_ROOTS);
    size_t per = clampz(want / np, 12, 768);
    size_t nf = per * 2 / 3, nd = per - nf;
    weft_future *pf[FJ_MAX_ROOTS];
    for (size_t i = 0; i < np * per; i++)
        item_init(i, rnd(K_NKINDS));
    latch_open();
    for (size_t i = 0; i < np; i++) {
        struct parent *p = &parents[i];
        p->kid0 = i * per;
        p->fs = futs + i * nf;
        p->nf = nf;
        p->nd = nd;
        p->mode = (unsigned)((ph->batches + i) % 3);
        MUST(weft_submit(pool, parent_task, p, NULL, &pf[i]));
    }
    for (size_t i = 0; i < np; i++) {
        void *v = NULL;
        int rc = result_of(pf[i], &v, "nested: parent");
        CHECK(rc == WEFT_OK && (uintptr_t)v == per, "nested: parent returned %s, %zu",
              weft_strerror(rc), (size_t)(uintptr_t)v);
        weft_future_release(pf[i]);
    }
    latch_wait("nested: latch");
    verify_items(0, np * per, "nested");
    ph->tasks += np + np * per;
}

/* -- map: weft_map -- */

static uint32_t *seq_in;      /* seq_in[i] == i */
static uint64_t *vals_out;
static _Atomic uint8_t *marks; /* per index, MAX_ITEMS */

struct elem_ud {
    uint64_t salt;
    size_t fail_at; /* SIZE_MAX: none */
    int fail_status;
};

static int elem_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    const struct elem_ud *e = ud;
    uint32_t i = *(const uint32_t *)in;
    atomic_fetch_add_explicit(&marks[i], 1, memory_order_relaxed);
    *(uint64_t *)out = mix(i, e->salt);
    return i == e->fail_at ? e->fail_status : 0;
}

static void marks_reset(size_t n)
{
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&marks[i], 0, memory_order_relaxed);
}

/* Items [0, n) of an element-wise call: exactly once, or (fail_at set)
 * exactly once up to fail_at and at most once after it. */
static void verify_elems(size_t n, const struct elem_ud *e, bool all_before_fail,
                         const char *what)
{
    size_t bad = 0, first = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned m = atomic_load_explicit(&marks[i], memory_order_relaxed);
        bool must = e->fail_at == SIZE_MAX || i == e->fail_at ||
                    (all_before_fail && i < e->fail_at);
        bool ok = must ? m == 1 : m <= 1;
        if (ok && m == 1 && vals_out[i] != mix(i, e->salt))
            ok = false;
        if (!ok && bad++ == 0)
            first = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu items wrong (first #%zu ran %u times)", what, bad, n, first,
          first == SIZE_MAX ? 0u : (unsigned)atomic_load(&marks[first]));
}

struct map_call {
    size_t n;
    weft_map_options o;
    struct elem_ud e;
    size_t failed_index;
    int rc;
};

static void map_call_run(weft_pool *pl, struct map_call *m)
{
    m->rc = own(weft_map(pl, elem_fn, &m->e, seq_in, sizeof *seq_in, vals_out, sizeof *vals_out,
                         m->n, &m->o, &m->failed_index));
}

static int map_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    map_call_run(weft_ctx_pool(ctx), arg);
    return 0;
}

static void ph_map(struct phase *ph, uint64_t want)
{
    static const size_t chunks[] = {1, 2, 4, 16, 64};
    static const size_t in_flight[] = {0, 4, 32};
    struct map_call m;
    size_t chunk = chunks[rnd(5)];
    m.n = clampz(want * chunk, 64, MAX_ITEMS);
    weft_map_options_init(&m.o);
    m.o.chunk = chunk;
    m.o.max_in_flight = in_flight[rnd(3)];
    m.o.timeout_ns = WAIT_NS;
    m.e.salt = rng;
    m.e.fail_at = ph->batches % 8 == 7 ? rnd((uint32_t)m.n) : SIZE_MAX;
    m.e.fail_status = 77;
    m.failed_index = SIZE_MAX;
    marks_reset(m.n);
    bool inside = ph->batches % 3 == 1;
    if (inside) {
        weft_future *f;
        MUST(weft_submit(pool, map_in_task, &m, NULL, &f));
        hang_check(result_of(f, NULL, "map: task running weft_map"), "map");
        weft_future_release(f);
        ph->tasks++;
    } else {
        map_call_run(pool, &m);
    }
    hang_check(m.rc, "map: weft_map");
    if (m.e.fail_at == SIZE_MAX) {
        CHECK(m.rc == WEFT_OK, "map: %s", weft_strerror(m.rc));
        ph->tasks += (m.n + chunk - 1) / chunk;
    } else {
        CHECK(m.rc == 77 && m.failed_index == m.e.fail_at,
              "map: failing item %zu: rc %d, failed_index %zu", m.e.fail_at, m.rc,
              m.failed_index);
        ph->tasks += m.e.fail_at / chunk + 1;
        ph->stat[0]++;
    }
    verify_elems(m.n, &m.e, true, inside ? "map (in a task)" : "map");
}

/* -- parallel_for -- */

struct pf_ud {
    size_t base, grain, fail_at;
    _Atomic uint64_t leaves;
    _Atomic uint32_t bad;
    int rc;
    size_t n;
};

static int pf_body(weft_ctx *ctx, size_t b, size_t e, void *ud)
{
    (void)ctx;
    struct pf_ud *u = ud;
    atomic_fetch_add_explicit(&u->leaves, 1, memory_order_relaxed);
    if (b >= e || b < u->base || e > u->base + u->n || (u->grain && e - b > u->grain))
        atomic_fetch_add_explicit(&u->bad, 1, memory_order_relaxed);
    int rc = 0;
    for (size_t i = b; i < e; i++) {
        atomic_fetch_add_explicit(&marks[i - u->base], 1, memory_order_relaxed);
        if (i == u->fail_at)
            rc = 55;
    }
    return rc;
}

static int pf_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct pf_ud *u = arg;
    u->rc = own(
        weft_parallel_for(weft_ctx_pool(ctx), pf_body, u, u->base, u->base + u->n, u->grain));
    return 0;
}

static void ph_parallel_for(struct phase *ph, uint64_t want)
{
    static const size_t grains[] = {1, 4, 16, 64, 0};
    struct pf_ud u;
    u.grain = grains[rnd(5)];
    u.n = u.grain ? clampz(want * u.grain, 64, MAX_ITEMS) : 64 + rnd(MAX_ITEMS - 63);
    u.base = rnd(1u << 20);
    u.fail_at = ph->batches % 8 == 7 ? u.base + rnd((uint32_t)u.n) : SIZE_MAX;
    atomic_init(&u.leaves, 0);
    atomic_init(&u.bad, 0);
    marks_reset(u.n);
    if (ph->batches % 3 == 1) {
        weft_future *f;
        MUST(weft_submit(pool, pf_in_task, &u, NULL, &f));
        hang_check(result_of(f, NULL, "parallel_for: task"), "parallel_for");
        weft_future_release(f);
        ph->tasks++;
    } else {
        u.rc = own(weft_parallel_for(pool, pf_body, &u, u.base, u.base + u.n, u.grain));
    }
    CHECK(atomic_load(&u.bad) == 0, "parallel_for: %u bad chunks (grain %zu)",
          atomic_load(&u.bad), u.grain);
    size_t bad = 0;
    for (size_t i = 0; i < u.n; i++) {
        unsigned m = atomic_load_explicit(&marks[i], memory_order_relaxed);
        if (u.fail_at == SIZE_MAX || i == u.fail_at - u.base ? m != 1 : m > 1)
            bad++;
    }
    if (u.fail_at == SIZE_MAX) {
        CHECK(u.rc == WEFT_OK, "parallel_for: %s", weft_strerror(u.rc));
    } else {
        CHECK(u.rc == 55, "parallel_for: failing chunk: rc %d", u.rc);
        ph->stat[0]++;
    }
    CHECK(bad == 0, "parallel_for: %zu of %zu indices wrong", bad, u.n);
    ph->tasks += atomic_load(&u.leaves);
}

/* -- parallel_map -- */

struct pm_call {
    size_t n, grain;
    struct elem_ud e;
    int rc;
};

static int pm_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct pm_call *c = arg;
    c->rc = own(weft_parallel_map(weft_ctx_pool(ctx), elem_fn, &c->e, seq_in, sizeof *seq_in,
                                  vals_out, sizeof *vals_out, c->n, c->grain));
    return 0;
}

static void ph_parallel_map(struct phase *ph, uint64_t want)
{
    static const size_t grains[] = {1, 4, 16, 64};
    struct pm_call c;
    c.grain = grains[rnd(4)];
    c.n = clampz(want * c.grain, 64, MAX_ITEMS);
    c.e.salt = rng;
    c.e.fail_at = ph->batches % 8 == 7 ? rnd((uint32_t)c.n) : SIZE_MAX;
    c.e.fail_status = 56;
    marks_reset(c.n);
    if (ph->batches % 3 == 1) {
        weft_future *f;
        MUST(weft_submit(pool, pm_in_task, &c, NULL, &f));
        hang_check(result_of(f, NULL, "parallel_map: task"), "parallel_map");
        weft_future_release(f);
        ph->tasks++;
    } else {
        c.rc = own(weft_parallel_map(pool, elem_fn, &c.e, seq_in, sizeof *seq_in, vals_out,
                                     sizeof *vals_out, c.n, c.grain));
    }
    if (c.e.fail_at == SIZE_MAX) {
        CHECK(c.rc == WEFT_OK, "parallel_map: %s", weft_strerror(c.rc));
        ph->tasks += (c.n + c.grain - 1) / c.grain;
    } else {
        CHECK(c.rc == 56, "parallel_map: failing item: rc %d", c.rc);
        ph->tasks += 1;
        ph->stat[0]++;
    }
    verify_elems(c.n, &c.e, false, "parallel_map");
}

/* -- parallel_reduce: exact sum, combined in index order -- */

#define EMPTY UINT64_MAX

struct racc {
    uint64_t sum, leaves, first, last, items, bad;
};

struct pr_ud {
    uint64_t salt;
    size_t grain, fail_at;
    _Atomic uint64_t folds;
};

static int pr_fold(weft_ctx *ctx, size_t b, size_t e, void *acc, void *ud)
{
    (void)ctx;
    struct racc *a = acc;
    struct pr_ud *u = ud;
    atomic_fetch_add_explicit(&u->folds, 1, memory_order_relaxed);
    if (b >= e || (u->grain && e - b > u->grain))
        a->bad++;
    if (a->first == EMPTY)
        a->first = b;
    else if (a->last != b)
        a->bad++;
    a->last = e;
    a->leaves++;
    a->items += e - b;
    int rc = 0;
    for (size_t i = b; i < e; i++) {
        a->sum += mix(i, u->salt);
        if (i == u->fail_at)
            rc = 57;
    }
    return rc;
}

static void pr_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    struct racc *a = into;
    const struct racc *b = from;
    if (b->first == EMPTY) {
        a->bad += b->bad;
        return;
    }
    if (a->first == EMPTY) {
        uint64_t bad = a->bad;
        *a = *b;
        a->bad += bad;
        return;
    }
    if (a->last != b->first)
        a->bad++;
    a->last = b->last;
    a->sum += b->sum;
    a->leaves += b->leaves;
    a->items += b->items;
    a->bad += b->bad;
}

struct pr_call {
    size_t begin, n;
    struct racc acc;
    struct pr_ud u;
    int rc;
};

static void pr_run(weft_pool *pl, struct pr_call *c)
{
    c->rc = own(weft_parallel_reduce(pl, pr_fold, pr_combine, &c->u, c->begin,
                                     c->begin + c->n, c->u.grain, &c->acc, sizeof c->acc));
}

static int pr_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    pr_run(weft_ctx_pool(ctx), arg);
    return 0;
}

static void ph_parallel_reduce(struct phase *ph, uint64_t want)
{
    static const size_t grains[] = {1, 8, 64, 0};
    struct pr_call c;
    c.u.grain = grains[rnd(4)];
    c.n = c.u.grain ? clampz(want * c.u.grain, 64, 1u << 16) : 64 + rnd(1u << 16);
    c.begin = rnd(1u << 20);
    c.u.salt = rng;
    c.u.fail_at = ph->batches % 8 == 7 ? c.begin + rnd((uint32_t)c.n) : SIZE_MAX;
    atomic_init(&c.u.folds, 0);
    c.acc = (struct racc){.first = EMPTY, .last = EMPTY};
    uint64_t expect = 0;
    for (size_t i = c.begin; i < c.begin + c.n; i++)
        expect += mix(i, c.u.salt);
    if (ph->batches % 3 == 1) {
        weft_future *f;
        MUST(weft_submit(pool, pr_in_task, &c, NULL, &f));
        hang_check(result_of(f, NULL, "parallel_reduce: task"), "parallel_reduce");
        weft_future_release(f);
        ph->tasks++;
    } else {
        pr_run(pool, &c);
    }
    uint64_t folds = atomic_load(&c.u.folds);
    if (c.u.fail_at == SIZE_MAX) {
        CHECK(c.rc == WEFT_OK && c.acc.bad == 0 && c.acc.first == c.begin &&
                  c.acc.last == c.begin + c.n && c.acc.items == c.n && c.acc.sum == expect &&
                  c.acc.leaves == folds,
              "parallel_reduce [%zu, +%zu) grain %zu: rc %d bad %" PRIu64 " range [%" PRIu64
              ", %" PRIu64 ") items %" PRIu64 " sum %s leaves %" PRIu64 "/%" PRIu64,
              c.begin, c.n, c.u.grain, c.rc, c.acc.bad, c.acc.first, c.acc.last, c.acc.items,
              c.acc.sum == expect ? "ok" : "WRONG", c.acc.leaves, folds);
    } else {
        CHECK(c.rc == 57, "parallel_reduce: failing chunk: rc %d", c.rc);
        ph->stat[0]++;
    }
    ph->tasks += folds;
}

/* -- fork/join: spawn/sync trees, spawn + sync_take, weft_join -- */

struct fjroot {
    _Atomic uint8_t *marks;
    unsigned variant, depth;
    uint32_t fail_id; /* UINT32_MAX: none */
    uint64_t nodes;
    uintptr_t count;
    _Atomic uint64_t taken;
    _Atomic uint32_t bad;
};

struct node {
    struct fjroot *r;
    uint32_t id, depth;
    uintptr_t count;
};

static struct fjroot fjroots[FJ_MAX_ROOTS];
static _Atomic uint8_t *fjmarks; /* FJ_MAX_ROOTS * FJ_MAX_NODES */

static int node_visit(struct node *n)
{
    atomic_fetch_add_explicit(&n->r->marks[n->id], 1, memory_order_relaxed);
    return n->id == n->r->fail_id ? 9 : 0;
}

/* Binary tree, both children spawned, then weft_sync. */
static int fj_bin(weft_ctx *ctx, void *arg, void **result)
{
    struct node *n = arg;
    int st = node_visit(n);
    uintptr_t count = 1;
    if (n->depth > 0) {
        struct node l = {n->r, 2 * n->id + 1, n->depth - 1, 0};
        struct node r = {n->r, 2 * n->id + 2, n->depth - 1, 0};
        weft_group g;
        void *cl = NULL, *cr = NULL;
        weft_group_init(&g, ctx);
        if (weft_spawn(&g, fj_bin, &l, &cl) != WEFT_OK ||
            weft_spawn(&g, fj_bin, &r, &cr) != WEFT_OK)
            FATAL("fork/join: weft_spawn failed on a worker");
        int s = weft_sync(&g);
        count += (uintptr_t)cl + (uintptr_t)cr;
        if (st == 0)
            st = s;
    }
    *result = (void *)count;
    return st;
}

/* 8-ary tree: eight children spawned, then synced one by one with
 * weft_sync_take, newest first: the private ones taken back and run as
 * direct calls, the others synced. */
static int fj_wide(weft_ctx *ctx, void *arg, void **result)
{
    struct node *n = arg;
    int st = node_visit(n);
    uintptr_t count = 1;
    if (n->depth > 0) {
        struct node kids[8];
        void *slots[8] = {0};
        weft_group g;
        weft_group_init(&g, ctx);
        for (unsigned k = 0; k < 8; k++) {
            kids[k] = (struct node){n->r, 8 * n->id + 1 + k, n->depth - 1, 0};
            if (weft_spawn(&g, fj_wide, &kids[k], &slots[k]) != WEFT_OK)
                FATAL("fork/join: weft_spawn failed on a worker");
        }
        /* One weft_sync_take per child, newest first: a private one comes
         * back with its argument and runs here as a direct call; any other
         * is synced and hands back its result (also in its slot). */
        unsigned ntaken = 0;
        for (unsigned k = 8; k-- > 0;) {
            void *v = NULL;
            int s = weft_sync_take(&g, &v);
            if (s > 0) {
                if (s != 1 || v != &kids[k])
                    atomic_fetch_add(&n->r->bad, 1); /* not the most recent */
                ntaken++;
                void *res = NULL;
                s = fj_wide(ctx, &kids[k], &res);
                count += (uintptr_t)res;
            } else {
                if (s == WEFT_OK && v != slots[k])
                    atomic_fetch_add(&n->r->bad, 1); /* the result handed back */
                if (s != WEFT_OK && s != WEFT_ETASK)
                    atomic_fetch_add(&n->r->bad, 1); /* WEFT_EOF too early, ... */
                count += (uintptr_t)slots[k];
            }
            if (st == 0)
                st = s;
        }
        if (weft_sync_take(&g, NULL) != WEFT_EOF)
            atomic_fetch_add(&n->r->bad, 1); /* a child left over */
        if (ntaken)
            atomic_fetch_add_explicit(&n->r->taken, ntaken, memory_order_relaxed);
    }
    *result = (void *)count;
    return st;
}

/* Binary tree by weft_join. */
static int fj_join(weft_ctx *ctx, void *arg, void **result)
{
    struct node *n = arg;
    int st = node_visit(n);
    uintptr_t count = 1;
    if (n->depth > 0) {
        struct node l = {n->r, 2 * n->id + 1, n->depth - 1, 0};
        struct node r = {n->r, 2 * n->id + 2, n->depth - 1, 0};
        int s = weft_join(ctx, fj_join, &l, fj_join, &r);
        count += l.count + r.count;
        if (st == 0)
            st = s;
    }
    n->count = count;
    *result = (void *)count;
    return st;
}

static int fj_root_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct fjroot *r = arg;
    struct node n = {r, 0, r->depth, 0};
    void *res = NULL;
    static const weft_fn fns[] = {fj_bin, fj_wide, fj_join};
    int st = fns[r->variant](ctx, &n, &res);
    r->count = (uintptr_t)res;
    return st;
}

static uint64_t tree_nodes(unsigned variant, unsigned depth)
{
    uint64_t fan = variant == 1 ? 8 : 2, nodes = 0, level = 1;
    for (unsigned d = 0; d <= depth; d++, level *= fan)
        nodes += level;
    return nodes;
}

static void ph_forkjoin(struct phase *ph, uint64_t want)
{
    size_t nr = clampz(2 * nworkers, 2, FJ_MAX_ROOTS);
    uint64_t per = want / nr;
    weft_future *rf[FJ_MAX_ROOTS];
    size_t fail_root = ph->batches % 5 == 4 ? rnd((uint32_t)nr) : SIZE_MAX;
    for (size_t i = 0; i < nr; i++) {
        struct fjroot *r = &fjroots[i];
        r->variant = (unsigned)((ph->batches + i) % 3);
        unsigned maxd = r->variant == 1 ? 5 : 15;
        r->depth = 1;
        while (r->depth < maxd && tree_nodes(r->variant, r->depth + 1) <= per)
            r->depth++;
        r->nodes = tree_nodes(r->variant, r->depth);
        r->marks = fjmarks + i * FJ_MAX_NODES;
        r->fail_id = i == fail_root ? rnd((uint32_t)r->nodes) : UINT32_MAX;
        r->count = 0;
        atomic_store(&r->taken, 0);
        atomic_store(&r->bad, 0);
        MUST(weft_submit(pool, fj_root_task, r, NULL, &rf[i]));
    }
    for (size_t i = 0; i < nr; i++) {
        struct fjroot *r = &fjroots[i];
        int rc = result_of(rf[i], NULL, "fork/join root");
        weft_future_release(rf[i]);
        size_t bad = 0;
        for (uint64_t j = 0; j < r->nodes; j++) {
            bad += atomic_load_explicit(&r->marks[j], memory_order_relaxed) != 1;
            atomic_store_explicit(&r->marks[j], 0, memory_order_relaxed);
        }
        static const char *const vname[] = {"spawn/sync", "spawn/sync_take", "join"};
        CHECK(rc == (r->fail_id == UINT32_MAX ? 0 : 9) && r->count == r->nodes && bad == 0 &&
                  atomic_load(&r->bad) == 0,
              "fork/join %s depth %u: status %d (fail node %u), count %zu of %" PRIu64
              ", %zu nodes not run exactly once, %u sync_take errors (order, value, EOF)",
              vname[r->variant], r->depth, rc, r->fail_id, (size_t)r->count, r->nodes, bad,
              atomic_load(&r->bad));
        /* Spawned children (and taken ones): every node but the root; a
         * join tree: one pushed half per join (internal node). */
        ph->tasks += 1 + (r->variant == 2 ? (r->nodes - 1) / 2 : r->nodes - 1);
        ph->stat[0] += atomic_load(&r->taken);
    }
}

/* -- wait: weft_wait with every condition, timeouts, promises -- */

static bool future_failed(weft_future *f)
{
    if (!weft_future_done(f))
        return false;
    int rc = own(weft_future_result(f, 0, NULL));
    return rc != WEFT_OK && rc != WEFT_ECANCELED;
}

/* weft_wait's result agrees with its condition on done[]. */
static void check_wait(weft_future *const *fs, size_t n, weft_return_when when, int rc,
                       const bool *done, const char *what)
{
    bool any = false, all = true, anyfail = false, lie = false;
    for (size_t i = 0; i < n; i++) {
        if (done[i] && !weft_future_done(fs[i]))
            lie = true;
        any |= done[i];
        all &= done[i];
        anyfail |= done[i] && future_failed(fs[i]);
    }
    bool cond = when == WEFT_FIRST_COMPLETED ? any
                : when == WEFT_ALL_COMPLETED ? all
                                             : anyfail || all;
    CHECK(!lie && (rc == WEFT_OK || rc == WEFT_ETIMEDOUT) && (rc == WEFT_OK) == cond,
          "%s: weft_wait returned %s with the condition %s on done[]%s", what, weft_strerror(rc),
          cond ? "true" : "false", lie ? " (done[] names a pending future)" : "");
}

struct waiter {
    size_t kid0, n;
    weft_future *fs[64];
    bool done[64];
};

/* On a worker: FIRST_COMPLETED, then ALL_COMPLETED, on its own children. */
static int waiter_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct waiter *w = arg;
    for (size_t i = 0; i < w->n; i++)
        MUST(weft_submit(weft_ctx_pool(ctx), item_task, &items[w->kid0 + i], item_adtor,
                         &w->fs[i]));
    int rc = weft_wait(w->fs, w->n, WAIT_NS, WEFT_FIRST_COMPLETED, w->done);
    hang_check(rc, "wait: FIRST_COMPLETED on a worker");
    check_wait(w->fs, w->n, WEFT_FIRST_COMPLETED, rc, w->done, "wait on a worker");
    rc = weft_wait(w->fs, w->n, WAIT_NS, WEFT_ALL_COMPLETED, w->done);
    hang_check(rc, "wait: ALL_COMPLETED on a worker");
    check_wait(w->fs, w->n, WEFT_ALL_COMPLETED, rc, w->done, "wait on a worker");
    size_t bad = 0;
    for (size_t i = 0; i < w->n; i++) {
        void *v = NULL;
        rc = own(weft_future_result(w->fs[i], 0, &v));
        bad += !outcome_ok(&items[w->kid0 + i], w->fs[i], rc, v);
        weft_future_release(w->fs[i]);
    }
    CHECK(bad == 0, "wait on a worker: %zu outcomes wrong", bad);
    return 0;
}

static void ph_wait(struct phase *ph, uint64_t want)
{
    size_t nt = clampz(want, 4, 48);
    weft_future *ps[3], *fs[128];
    bool done[128], d3[3];
    bool anyfail = false;
    for (size_t i = 0; i < nt; i++) {
        struct item *it = item_init(i, rnd(K_NKINDS));
        anyfail |= it->kind == K_FAIL || it->kind == K_FAIL_ERR;
        MUST(weft_submit(pool, item_task, it, item_adtor, &futs[i]));
    }
    for (int j = 0; j < 3; j++)
        MUST(weft_promise_create(&ps[j]));
    size_t m = 0;
    for (size_t i = 0; i < nt; i++)
        fs[m++] = futs[i];
    for (int j = 0; j < 3; j++)
        fs[m++] = ps[j];
    for (unsigned d = rnd(5); d > 0; d--) {
        weft_future *dup = fs[rnd((uint32_t)m)];
        fs[m++] = dup;
    }
    int rc;

    /* Pending promises: ALL_COMPLETED times out. */
    rc = weft_wait(fs, m, rnd(2) ? 0 : 200000, WEFT_ALL_COMPLETED, done);
    CHECK(rc == WEFT_ETIMEDOUT, "wait: ALL_COMPLETED with pending promises: %s",
          weft_strerror(rc));
    check_wait(fs, m, WEFT_ALL_COMPLETED, rc, done, "wait ALL (timeout)");
    rc = weft_wait(ps, 3, 100000, WEFT_FIRST_COMPLETED, d3);
    CHECK(rc == WEFT_ETIMEDOUT && !d3[0] && !d3[1] && !d3[2],
          "wait: FIRST_COMPLETED on pending promises: %s", weft_strerror(rc));
    /* FIRST_EXCEPTION: a failing task ends it; without one it times out. */
    rc = weft_wait(fs, m, anyfail ? WAIT_NS : 100000, WEFT_FIRST_EXCEPTION, done);
    if (anyfail)
        hang_check(rc, "wait: FIRST_EXCEPTION");
    CHECK(rc == (anyfail ? WEFT_OK : WEFT_ETIMEDOUT),
          "wait: FIRST_EXCEPTION (failing task: %d): %s", anyfail, weft_strerror(rc));
    check_wait(fs, m, WEFT_FIRST_EXCEPTION, rc, done, "wait FIRST_EXCEPTION");
    /* A worker completes ps[0] while this thread blocks. */
    struct completer comp = {weft_future_ref(ps[0]), &items[0], 0};
    weft_future *cf;
    MUST(weft_submit(pool, completer_task, &comp, NULL, &cf));
    rc = weft_wait(ps, 3, WAIT_NS, WEFT_FIRST_COMPLETED, d3);
    hang_check(rc, "wait: FIRST_COMPLETED on a promise a task completes");
    CHECK(rc == WEFT_OK && d3[0] && !d3[1] && !d3[2], "wait: FIRST_COMPLETED: %s [%d%d%d]",
          weft_strerror(rc), d3[0], d3[1], d3[2]);
    /* A cancelled promise is done but no exception. */
    CHECK(weft_future_cancel(ps[1]) == 1, "wait: cancel a pending promise");
    rc = weft_wait(ps, 3, 100000, WEFT_FIRST_EXCEPTION, d3);
    CHECK(rc == WEFT_ETIMEDOUT && d3[0] && d3[1] && !d3[2],
          "wait: FIRST_EXCEPTION with a cancelled and a pending promise: %s",
          weft_strerror(rc));
    CHECK(weft_promise_set_error(ps[2], 5, NULL, NULL) == WEFT_OK, "wait: set_error");
    rc = weft_wait(ps, 3, WAIT_NS, WEFT_FIRST_EXCEPTION, d3);
    CHECK(rc == WEFT_OK && d3[2], "wait: FIRST_EXCEPTION after set_error: %s",
          weft_strerror(rc));
    rc = weft_wait(fs, m, WAIT_NS, WEFT_ALL_COMPLETED, done);
    hang_check(rc, "wait: ALL_COMPLETED");
    check_wait(fs, m, WEFT_ALL_COMPLETED, rc, done, "wait ALL");
    hang_check(result_of(cf, NULL, "wait: completer"), "wait");
    weft_future_release(cf);
    void *v = NULL;
    CHECK(weft_future_result(ps[0], 0, &v) == WEFT_OK && v == &items[0] &&
              weft_future_result(ps[1], 0, NULL) == WEFT_ECANCELED &&
              weft_future_result(ps[2], 0, NULL) == WEFT_ETASK && weft_task_status() == 5,
          "wait: promise outcomes");
    size_t bad = 0;
    for (size_t i = 0; i < nt; i++) {
        v = NULL;
        rc = own(weft_future_result(futs[i], 0, &v));
        bad += !outcome_ok(&items[i], futs[i], rc, v);
        weft_future_release(futs[i]);
    }
    CHECK(bad == 0, "wait: %zu outcomes wrong", bad);
    for (int j = 0; j < 3; j++)
        weft_future_release(ps[j]);
    size_t nitems = nt;
    ph->tasks += nt + 1;
    if (ph->batches % 2 == 0) {
        static struct waiter w;
        w.kid0 = nt;
        w.n = clampz(want, 2, 64);
        for (size_t i = 0; i < w.n; i++)
            item_init(nt + i, rnd(K_NKINDS));
        weft_future *wf;
        MUST(weft_submit(pool, waiter_task, &w, NULL, &wf));
        hang_check(result_of(wf, NULL, "wait: waiter task"), "wait");
        weft_future_release(wf);
        nitems += w.n;
        ph->tasks += 1 + w.n;
    }
    verify_items(0, nitems, "wait");
}

/* -- as_completed -- */

static void ph_as_completed(struct phase *ph, uint64_t want)
{
    size_t nt = clampz(want, 4, 64);
    weft_future *ps[2], *fs[160];
    size_t first[160];
    bool seen[160];
    unsigned mode = (unsigned)(ph->batches % 3);
    for (size_t i = 0; i < nt; i++)
        MUST(weft_submit(pool, item_task, item_init(i, rnd(K_NKINDS)), item_adtor, &futs[i]));
    for (int j = 0; j < 2; j++)
        MUST(weft_promise_create(&ps[j]));
    size_t m = 0;
    for (size_t i = 0; i < nt; i++)
        fs[m++] = futs[i];
    fs[m++] = ps[0];
    fs[m++] = ps[1];
    for (unsigned d = rnd(8); d > 0; d--) {
        weft_future *dup = fs[rnd((uint32_t)m)];
        fs[m++] = dup;
    }
    size_t distinct = 0;
    for (size_t i = 0; i < m; i++) {
        first[i] = i;
        for (size_t j = 0; j < i; j++)
            if (fs[j] == fs[i]) {
                first[i] = j;
                break;
            }
        distinct += first[i] == i;
        seen[i] = false;
    }
    struct completer comp[2];
    weft_future *cf[2] = {NULL, NULL};
    if (mode != 1) {
        for (int j = 0; j < 2; j++) {
            comp[j] = (struct completer){weft_future_ref(ps[j]), &items[0], j ? 3 : 0};
            MUST(weft_submit(pool, completer_task, &comp[j], NULL, &cf[j]));
        }
    } else {
        /* Everything but ps[1] done first: the timed iterator yields those,
         * then times out, then yields ps[1] once it completes. */
        int rc = weft_wait(futs, nt, WAIT_NS, WEFT_ALL_COMPLETED, NULL);
        hang_check(rc, "as_completed: wait for the tasks");
        CHECK(weft_promise_set_result(ps[0], &items[0], NULL) == WEFT_OK, "set_result");
    }
    weft_as_completed *it;
    MUST(weft_as_completed_begin(&it, fs, m, mode == 1 ? 1000000 : WAIT_NS));
    size_t yielded = 0, bad = 0, stop = mode == 2 ? distinct / 2 : SIZE_MAX;
    int rc = WEFT_OK;
    weft_future *f;
    size_t idx;
    while (yielded < stop && (rc = weft_as_completed_next(it, &f, &idx)) == WEFT_OK) {
        if (idx >= m || fs[idx] != f || first[idx] != idx || seen[idx] || !weft_future_done(f))
            bad++;
        else
            seen[idx] = true;
        yielded++;
    }
    if (mode == 0) {
        hang_check(rc, "as_completed: next");
        CHECK(rc == WEFT_EOF && yielded == distinct, "as_completed: %s after %zu of %zu",
              weft_strerror(rc), yielded, distinct);
    } else if (mode == 1) {
        CHECK(rc == WEFT_ETIMEDOUT && yielded == distinct - 1,
              "as_completed (timed): %s after %zu of %zu", weft_strerror(rc), yielded,
              distinct);
        CHECK(weft_promise_set_result(ps[1], &items[0], NULL) == WEFT_OK, "set_result");
        rc = weft_as_completed_next(it, &f, &idx);
        CHECK(rc == WEFT_OK && f == ps[1] && first[idx] == idx && !seen[idx],
              "as_completed: after a timeout: %s", weft_strerror(rc));
        rc = weft_as_completed_next(it, &f, &idx);
        CHECK(rc == WEFT_EOF, "as_completed: EOF after a timeout: %s", weft_strerror(rc));
    }
    CHECK(bad == 0, "as_completed: %zu wrong yields (index, duplicate, not done)", bad);
    weft_as_completed_end(it);
    rc = weft_wait(fs, m, WAIT_NS, WEFT_ALL_COMPLETED, NULL);
    hang_check(rc, "as_completed: final wait");
    for (int j = 0; j < 2; j++) {
        if (cf[j]) {
            hang_check(result_of(cf[j], NULL, "as_completed: completer"), "as_completed");
            weft_future_release(cf[j]);
            ph->tasks++;
        }
    }
    bad = 0;
    for (size_t i = 0; i < nt; i++) {
        void *v = NULL;
        rc = own(weft_future_result(futs[i], 0, &v));
        bad += !outcome_ok(&items[i], futs[i], rc, v);
        weft_future_release(futs[i]);
    }
    CHECK(bad == 0, "as_completed: %zu outcomes wrong", bad);
    weft_future_release(ps[0]);
    weft_future_release(ps[1]);
    verify_items(0, nt, "as_completed");
    ph->tasks += nt;
}

/* -- cancel: pending, running, finished -- */

struct gate {
    _Atomic int running, open, saw_cancel, timed_out;
};

/* Occupies a worker until opened (or its pool cancels it). */
static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct gate *g = arg;
    atomic_fetch_add(&g->running, 1);
    int64_t end = now_ns() + WAIT_NS;
    while (!atomic_load(&g->open)) {
        if (weft_ctx_cancel_requested(ctx)) {
            atomic_fetch_add(&g->saw_cancel, 1);
            return 0;
        }
        if (now_ns() > end) {
            atomic_fetch_add(&g->timed_out, 1);
            return 1;
        }
        sleep_ns(20000);
    }
    return 0;
}

static void gate_wait_running(struct gate *g, int n)
{
    int64_t end = now_ns() + WAIT_NS;
    while (atomic_load(&g->running) < n) {
        if (now_ns() > end)
            FATAL("gate: %d of %d gate tasks started", atomic_load(&g->running), n);
        sleep_ns(10000);
    }
}

struct coop {
    _Atomic int started;
};

/* Runs until asked to stop. */
static int coop_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct coop *c = arg;
    atomic_store(&c->started, 1);
    int64_t end = now_ns() + WAIT_NS;
    while (!weft_ctx_cancel_requested(ctx))
        if (now_ns() > end)
            return 1;
    return 42;
}

static void ph_cancel(struct phase *ph, uint64_t want)
{
    size_t n = clampz(want, 16, 512);
    struct gate g = {0};
    weft_future *gf[64];
    unsigned ng = nworkers < 64 ? nworkers : 64;
    for (unsigned i = 0; i < ng; i++)
        MUST(weft_submit(pool, gate_task, &g, NULL, &gf[i]));
    gate_wait_running(&g, (int)ng);
    uint64_t cbf0 = weft_callback_failures(), cbf = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = item_init(i, rnd(K_NKINDS));
        MUST(weft_submit(pool, item_task, it, item_adtor, &futs[i]));
        cbf += add_callbacks(futs[i], it, rnd(3), false);
    }
    size_t bad = 0, cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        weft_future *f = futs[i];
        if (i % 4 == 0) {
            int c1 = weft_future_cancel(f);
            /* The callbacks ran in this thread, before cancel returned. */
            uint32_t cb = atomic_load(&it->cb);
            int c2 = weft_future_cancel(f);
            int rc = own(weft_future_result(f, 0, NULL));
            if (c1 != 1 || c2 != 1 || cb != it->ncb || !weft_future_cancelled(f) ||
                weft_future_state(f) != WEFT_CANCELLED || rc != WEFT_ECANCELED)
                bad++;
            /* Added to a done future: runs at once, here. */
            cbf += add_callbacks(f, it, 1, false);
            if (atomic_load(&it->cb) != it->ncb)
                bad++;
            it->expect_ran = 0;
            cancelled++;
        } else if (i % 4 == 1) {
            if (weft_future_request_cancel(f) != WEFT_OK || !weft_future_cancelled(f))
                bad++;
            it->expect_ran = 0;
            cancelled++;
        }
    }
    CHECK(bad == 0, "cancel: %zu of %zu pending cancellations wrong", bad, n);
    atomic_store(&g.open, 1);
    for (unsigned i = 0; i < ng; i++) {
        int rc = result_of(gf[i], NULL, "cancel: gate");
        CHECK(rc == WEFT_OK, "cancel: gate task: %s", weft_strerror(rc));
        weft_future_release(gf[i]);
    }
    int rc = weft_wait(futs, n, WAIT_NS, WEFT_ALL_COMPLETED, done_buf);
    hang_check(rc, "cancel: weft_wait");
    CHECK(rc == WEFT_OK, "cancel: weft_wait: %s", weft_strerror(rc));
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        rc = own(weft_future_result(futs[i], 0, &v));
        bad += !outcome_ok(&items[i], futs[i], rc, v);
    }
    CHECK(bad == 0, "cancel: %zu of %zu outcomes wrong", bad, n);
    /* Finished: cancel reports 0 and changes nothing. */
    for (size_t i = 2; i < n; i += 4) {
        CHECK(weft_future_cancel(futs[i]) == 0 && weft_future_state(futs[i]) == WEFT_FINISHED &&
                  weft_future_request_cancel(futs[i]) == WEFT_OK &&
                  weft_future_state(futs[i]) == WEFT_FINISHED,
              "cancel: a finished future");
    }
    for (size_t i = 0; i < n; i++)
        weft_future_release(futs[i]);
    /* Running: cancel reports 0, request_cancel reaches the task. */
    struct coop c = {0};
    weft_future *f;
    MUST(weft_submit(pool, coop_task, &c, NULL, &f));
    int64_t end = now_ns() + WAIT_NS;
    while (!atomic_load(&c.started)) {
        if (now_ns() > end)
            FATAL("cancel: the cooperative task never started");
        sleep_ns(2000);
    }
    CHECK(weft_future_running(f) && weft_future_cancel(f) == 0, "cancel: a running task");
    CHECK(weft_future_request_cancel(f) == WEFT_OK, "cancel: request_cancel");
    rc = result_of(f, NULL, "cancel: cooperative task");
    CHECK(rc == 42, "cancel: the running task did not see request_cancel (%d)", rc);
    weft_future_release(f);
    verify_items(0, n, "cancel");
    check_callback_failures(cbf0, cbf);
    ph->tasks += ng + n + 1;
    ph->stat[0] += cancelled;
}

/* -- shutdown: WEFT_SHUTDOWN_CANCEL on a pool of one worker -- */

static void ph_shutdown(struct phase *ph, uint64_t want)
{
    size_t n = clampz(want, 8, 256);
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 1;
    o.name_prefix = "soak-sd-";
    weft_pool *p2;
    MUST(weft_pool_create(&p2, &o));
    struct gate g = {0};
    weft_future *gf;
    MUST(weft_submit(p2, gate_task, &g, NULL, &gf));
    gate_wait_running(&g, 1);
    uint64_t cbf0 = weft_callback_failures(), cbf = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = item_init(i, rnd(K_NKINDS));
        it->expect_ran = 0;
        MUST(weft_submit(p2, item_task, it, item_adtor, &futs[i]));
        cbf += add_callbacks(futs[i], it, rnd(3), false);
    }
    MUST(weft_pool_shutdown(p2, WEFT_SHUTDOWN_CANCEL));
    /* Refused after shutdown; the argument is destroyed at once. */
    struct item *late = item_init(n, K_VALUE);
    late->expect_ran = 0;
    weft_future *lf = NULL;
    int rc = weft_submit(p2, item_task, late, item_adtor, &lf);
    CHECK(rc == WEFT_ESHUTDOWN && lf == NULL && atomic_load(&late->adtor) == 1,
          "shutdown: submit after shutdown: %s", weft_strerror(rc));
    rc = weft_wait(futs, n, WAIT_NS, WEFT_ALL_COMPLETED, NULL);
    hang_check(rc, "shutdown: cancelled futures");
    CHECK(rc == WEFT_OK, "shutdown: weft_wait: %s", weft_strerror(rc));
    rc = result_of(gf, NULL, "shutdown: gate");
    CHECK(rc == WEFT_OK && atomic_load(&g.saw_cancel) == 1,
          "shutdown: the running task did not see the cancel request (%d)", rc);
    weft_future_release(gf);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        rc = own(weft_future_result(futs[i], 0, NULL));
        bad += !outcome_ok(&items[i], futs[i], rc, NULL);
    }
    CHECK(bad == 0, "shutdown: %zu of %zu tasks not cancelled", bad, n);
    MUST(weft_pool_destroy(p2));
    for (size_t i = 0; i < n; i++)
        weft_future_release(futs[i]);
    verify_items(0, n + 1, "shutdown");
    check_callback_failures(cbf0, cbf);
    ph->tasks += n + 1;
    ph->stat[0] += n;
}

/* -- promises: completion by tasks, double completion, ordered callbacks -- */

struct pcomp {
    size_t lo, hi;
};

static int pcomp_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct pcomp *c = arg;
    size_t bad = 0;
    for (size_t i = c->lo; i < c->hi; i++) {
        struct item *it = &items[i];
        weft_future *p = futs[i];
        int rc;
        switch (it->pmode) {
        case 0:
            bad += weft_promise_set_running(p) != WEFT_OK;
            if (i % 2)
                bad += weft_promise_set_running(p) != WEFT_EALREADY;
            bad += weft_promise_set_result(p, it, item_rdtor) != WEFT_OK;
            break;
        case 1:
            if (i % 2)
                bad += weft_promise_set_running(p) != WEFT_OK;
            bad += weft_promise_set_error(p, fail_status(it), it, item_edtor) != WEFT_OK;
            break;
        default:
            bad += weft_promise_set_running(p) != WEFT_ECANCELED;
            break;
        }
        /* A second outcome is refused and its value destroyed at once. */
        rc = weft_promise_set_result(p, it, item_xdtor);
        bad += rc != WEFT_EALREADY;
        weft_future_release(p); /* this task's reference */
    }
    CHECK(bad == 0, "promises: %zu wrong promise calls", bad);
    return 0;
}

static void ph_promises(struct phase *ph, uint64_t want)
{
    size_t nc = clampz(want, 1, 8);
    size_t n = 16 + rnd(240);
    struct pcomp pc[8];
    weft_future *cf[8];
    uint64_t cbf0 = weft_callback_failures(), cbf = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = item_init(i, K_VALUE);
        it->pmode = rnd(3);
        it->kind = it->pmode == 0 ? K_VALUE_DTOR : it->pmode == 1 ? K_FAIL_ERR : K_VALUE;
        it->expect_ran = it->pmode != 2;
        it->expect_x = 1;
        MUST(weft_promise_create(&futs[i]));
        cbf += add_callbacks(futs[i], it, 1 + rnd(3), true);
        if (it->pmode == 2) {
            bad += weft_future_cancel(futs[i]) != 1 || atomic_load(&it->cb) != it->ncb;
            bad += weft_promise_set_running(futs[i]) != WEFT_ECANCELED;
        }
        /* The tasks do not run items: ran stands for "completed normally". */
        atomic_store(&it->ran, it->expect_ran);
        weft_future_ref(futs[i]); /* for the completer */
    }
    for (size_t j = 0; j < nc; j++) {
        pc[j].lo = n * j / nc;
        pc[j].hi = n * (j + 1) / nc;
        MUST(weft_submit(pool, pcomp_task, &pc[j], NULL, &cf[j]));
    }
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        void *v = NULL;
        int rc = result_of(futs[i], &v, "promises: result");
        bad += !outcome_ok(it, futs[i], rc, v);
        /* Once the earlier callbacks ran, a new one runs here, at once. */
        settle(&it->cb, it->ncb);
        cbf += add_callbacks(futs[i], it, 1, true);
        bad += atomic_load(&it->cb) != it->ncb;
    }
    CHECK(bad == 0, "promises: %zu wrong outcomes or callbacks", bad);
    for (size_t j = 0; j < nc; j++) {
        hang_check(result_of(cf[j], NULL, "promises: completer"), "promises");
        weft_future_release(cf[j]);
    }
    for (size_t i = 0; i < n; i++) {
        weft_future_release(futs[i]);
        atomic_store(&items[i].adtor, 1); /* promises have no argument */
    }
    verify_items(0, n, "promises");
    check_callback_failures(cbf0, cbf);
    ph->tasks += nc;
    ph->stat[0] += n;
}

/* The phases of a round, in order. share: per mille of the round's quota. */
static struct phase phases[] = {
    {.name = "submit", .share = 150, .batch = ph_submit,
     .counting = "submitted tasks (futures, callbacks)"},
    {.name = "detached", .share = 100, .batch = ph_detached,
     .counting = "detached submitted tasks"},
    {.name = "bulk", .share = 150, .batch = ph_bulk, .arg = &bulk_loop,
     .counting = "submitted tasks (batches in a tight loop)"},
    {.name = "nested", .share = 100, .batch = ph_nested,
     .counting = "parents + tasks they submitted"},
    {.name = "map", .share = 100, .batch = ph_map, .counting = "weft_map chunks",
     .stat_name = {"failing"}},
    {.name = "parallel_for", .share = 60, .batch = ph_parallel_for,
     .counting = "leaf chunks (counted as they run)", .stat_name = {"failing"}},
    {.name = "parallel_map", .share = 50, .batch = ph_parallel_map,
     .counting = "ceil(n/grain) chunks (lower bound)", .stat_name = {"failing"}},
    {.name = "parallel_reduce", .share = 40, .batch = ph_parallel_reduce,
     .counting = "leaf folds (counted as they run)", .stat_name = {"failing"}},
    {.name = "forkjoin", .share = 200, .batch = ph_forkjoin,
     .counting = "roots + spawned children + join halves", .stat_name = {"taken back"}},
    {.name = "wait", .share = 20, .batch = ph_wait, .counting = "submitted tasks"},
    {.name = "as_completed", .share = 15, .batch = ph_as_completed,
     .counting = "submitted tasks"},
    {.name = "cancel", .share = 8, .batch = ph_cancel,
     .counting = "submitted tasks, cancelled included", .stat_name = {"cancelled"}},
    {.name = "shutdown", .share = 4, .batch = ph_shutdown,
     .counting = "submitted tasks, cancelled included", .stat_name = {"cancelled"}},
    {.name = "promises", .share = 3, .batch = ph_promises, .counting = "completer tasks",
     .stat_name = {"promises"}},
};
#define NPHASES (sizeof phases / sizeof phases[0])

static const char *phase_name(int i)
{
    return i >= 0 && (size_t)i < NPHASES ? phases[i].name : "setup";
}

/* ---- memory --------------------------------------------------------------------- */

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static void *alloc_touched(size_t n)
{
    void *p = calloc(1, n);
    if (p == NULL)
        FATAL("out of memory (%zu bytes)", n);
    memset(p, 0, n);
    return p;
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: weft_soak [--tasks N] [--seconds S] [--workers W] [--seed X]\n"
            "                 [--watchdog S] [--rss auto|strict|off]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        char *endp;
        if (strcmp(a, "--tasks") == 0) {
            double d = strtod(v, &endp); /* accepts 1e8 */
            if (*endp || d < 1)
                usage();
            cfg.tasks = (uint64_t)d;
        } else if (strcmp(a, "--seconds") == 0) {
            cfg.seconds = strtod(v, &endp);
            if (*endp || cfg.seconds < 0)
                usage();
        } else if (strcmp(a, "--workers") == 0) {
            cfg.workers = (unsigned)strtoul(v, &endp, 10);
            if (*endp)
                usage();
        } else if (strcmp(a, "--seed") == 0) {
            cfg.seed = strtoull(v, &endp, 0);
            if (*endp)
                usage();
        } else if (strcmp(a, "--watchdog") == 0) {
            cfg.watchdog_s = (unsigned)strtoul(v, &endp, 10);
            if (*endp || cfg.watchdog_s == 0)
                usage();
        } else if (strcmp(a, "--rss") == 0) {
            if (strcmp(v, "auto") == 0)
                cfg.rss = 0;
            else if (strcmp(v, "strict") == 0)
                cfg.rss = 1;
            else if (strcmp(v, "off") == 0)
                cfg.rss = 2;
            else
                usage();
        } else {
            usage();
        }
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng = cfg.seed * 0x9E3779B97F4A7C15ULL + 1;
#ifdef SOAK_ASAN
    const bool asan = true;
#else
    const bool asan = false;
#endif
    bool rss_enforced = cfg.rss == 1 || (cfg.rss == 0 && !asan);
    if (cfg.watchdog_s == 0)
        cfg.watchdog_s = asan ? 900 : 300;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog;
    sigaction(SIGALRM, &sa, NULL);
    alarm(cfg.watchdog_s);

    items = alloc_touched(sizeof *items * (MAX_ITEMS + 1));
    futs = alloc_touched(sizeof *futs * MAX_FS);
    argv_buf = alloc_touched(sizeof *argv_buf * MAX_FS);
    done_buf = alloc_touched(sizeof *done_buf * MAX_FS);
    seq_in = alloc_touched(sizeof *seq_in * MAX_ITEMS);
    vals_out = alloc_touched(sizeof *vals_out * MAX_ITEMS);
    marks = alloc_touched(sizeof *marks * MAX_ITEMS);
    fjmarks = alloc_touched(sizeof *fjmarks * FJ_MAX_ROOTS * FJ_MAX_NODES);
    for (uint32_t i = 0; i < MAX_ITEMS; i++)
        seq_in[i] = i;

    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = cfg.workers;
    o.name_prefix = "soak-";
    MUST(weft_pool_create(&pool, &o));
    nworkers = weft_pool_size(pool);

    uint64_t quota = cfg.tasks / ROUNDS;
    if (quota < MIN_ROUND_QUOTA)
        quota = MIN_ROUND_QUOTA;
    uint64_t rounds_planned = (cfg.tasks + quota - 1) / quota;
    uint64_t warmup = rounds_planned / 10 ? rounds_planned / 10 : 1;

    printf("soak: %" PRIu64 " tasks, %u workers, seed %" PRIu64 ", %" PRIu64
           " rounds of %" PRIu64 " tasks%s\n",
           cfg.tasks, nworkers, cfg.seed, rounds_planned, quota,
           asan ? " (AddressSanitizer build)" : "");
    if (cfg.seconds > 0)
        printf("soak: time limit %.0f s\n", cfg.seconds);
    printf("soak: a task is one submitted task (cancelled ones included), spawned fork/join\n"
           "soak: child (taken-back ones included), weft_join pushed half, weft_map chunk,\n"
           "soak: parallel_for/parallel_reduce leaf (counted as it runs) or parallel_map\n"
           "soak: chunk (ceil(n/grain), a lower bound); a failing map counts the chunks\n"
           "soak: known to have run; promises are counted apart\n");
    printf("soak: RSS bound: warm-up sample (after round %" PRIu64
           "%s) + 10%% + 16 MiB, %s\n",
           warmup, cfg.seconds > 0 ? " or a tenth of the time limit" : "",
           rss_enforced ? "enforced" : "advisory (reported only)");

    t_start = now_ns();
    t_stop = cfg.seconds > 0 ? t_start + (int64_t)(cfg.seconds * 1e9) : 0;
    uint64_t total = 0, round = 0, passed = 0, failed = 0, base_round = 0;
    uint64_t rss_base = 0, rss_max_after = 0, rss_first = rss_bytes(), rss_last = 0;
    bool stopped_early = false;
    int64_t last_print = 0;

    while (total < cfg.tasks) {
        if (time_up()) {
            stopped_early = true;
            break;
        }
        alarm(cfg.watchdog_s);
        round++;
        uint64_t rq = cfg.tasks - total < quota ? cfg.tasks - total : quota;
        for (size_t p = 0; p < NPHASES; p++) {
            struct phase *ph = &phases[p];
            cur_phase = (int)p;
            uint64_t share = rq * ph->share / 1000;
            if (share == 0)
                share = 1;
            uint64_t t0 = ph->tasks, f0 = atomic_load(&n_failed);
            int64_t s = now_ns();
            do {
                ph->batch(ph, share - (ph->tasks - t0));
                ph->batches++;
            } while (ph->tasks - t0 < share && !time_up());
            ph->ns += now_ns() - s;
            ph->runs++;
            total += ph->tasks - t0;
            if (atomic_load(&n_failed) != f0) {
                ph->failed_runs++;
                failed++;
            } else {
                passed++;
            }
        }
        cur_phase = -1;
        uint64_t rss = rss_bytes();
        rss_last = rss;
        bool rss_bad = false, base_now = false;
        if (base_round == 0 &&
            (round >= warmup || (t_stop != 0 && now_ns() - t_start >= (t_stop - t_start) / 10))) {
            rss_base = rss;
            base_round = round;
            base_now = true;
        } else if (base_round != 0) {
            if (rss > rss_max_after)
                rss_max_after = rss;
            if (rss > rss_base + rss_base / 10 + ((uint64_t)16 << 20)) {
                rss_bad = true;
                if (rss_enforced) {
                    failed++;
                    fprintf(stderr,
                            "soak: FAIL RSS after round %" PRIu64 ": %.1f MiB, warm-up %.1f MiB\n",
                            round, mib(rss), mib(rss_base));
                }
            } else if (rss_enforced) {
                passed++;
            }
        }
        int64_t t = now_ns();
        if (t - last_print >= 1000000000 || total >= cfg.tasks || rss_bad || base_now) {
            last_print = t;
            double secs = (double)(t - t_start) / 1e9;
            printf("[%7.1fs] round %3" PRIu64 ": %11" PRIu64 " tasks (%5.1f%%), %5.2f Mtask/s, "
                   "RSS %.1f MiB%s%s, %" PRIu64 " checks, %" PRIu64 " failed\n",
                   secs, round, total, 100.0 * (double)total / (double)cfg.tasks,
                   (double)total / secs / 1e6, mib(rss),
                   base_now ? " (warm-up sample)" : "", rss_bad ? " OVER BOUND" : "",
                   atomic_load(&n_checks), atomic_load(&n_failed));
        }
    }
    if (stopped_early)
        printf("soak: time limit reached after %" PRIu64 " rounds\n", round);

    weft_worker_stats ws[256];
    int nw = weft_pool_stats(pool, ws, 256);
    uint64_t run = 0, steals = 0, parks = 0;
    for (int i = 0; i < nw && i < 256; i++) {
        run += ws[i].tasks_run;
        steals += ws[i].steals;
        parks += ws[i].parks;
    }
    MUST(weft_pool_destroy(pool));
    alarm(0);
    double secs = (double)(now_ns() - t_start) / 1e9;

    printf("\n%-16s %8s %12s %9s %8s  %s\n", "phase", "rounds", "tasks", "batches", "seconds",
           "counted as");
    uint64_t sum = 0;
    for (size_t p = 0; p < NPHASES; p++) {
        struct phase *ph = &phases[p];
        sum += ph->tasks;
        printf("%-16s %8" PRIu64 " %12" PRIu64 " %9" PRIu64 " %8.2f  %s", ph->name, ph->runs,
               ph->tasks, ph->batches, (double)ph->ns / 1e9, ph->counting);
        if (ph->stat_name[0])
            printf("; %s %" PRIu64, ph->stat_name[0], ph->stat[0]);
        if (ph->failed_runs)
            printf("; FAILED in %" PRIu64 " rounds", ph->failed_runs);
        printf("\n");
    }
    printf("%-16s %8" PRIu64 " %12" PRIu64 " %9s %8.2f  (%.2f Mtask/s)\n", "total", round, total,
           "", secs, (double)total / secs / 1e6);
    printf("soak: pool: %" PRIu64 " tasks run by workers (internal ones included; children "
           "run inline and loops run by the caller are not), %" PRIu64 " steals, %" PRIu64
           " parks\n",
           run, steals, parks);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("soak: RSS start %.1f MiB, warm-up %.1f MiB, max after warm-up %.1f MiB, end %.1f "
           "MiB, peak (maxrss) %.1f MiB; bound %.1f MiB (%s)\n",
           mib(rss_first), mib(rss_base), mib(rss_max_after), mib(rss_last),
           (double)ru.ru_maxrss / 1024.0,
           mib(rss_base + rss_base / 10 + ((uint64_t)16 << 20)),
           rss_base == 0 ? "no warm-up sample" : rss_enforced ? "enforced" : "advisory");

    /* Final totals. */
    bool sum_ok = sum == total, count_ok = stopped_early || total >= cfg.tasks;
    if (!sum_ok)
        fprintf(stderr, "soak: FAIL phase tasks add up to %" PRIu64 ", total %" PRIu64 "\n", sum,
                total);
    if (!count_ok)
        fprintf(stderr, "soak: FAIL ran %" PRIu64 " of %" PRIu64 " tasks\n", total, cfg.tasks);
    passed += sum_ok + count_ok;
    failed += !sum_ok + !count_ok;
    printf("soak: %" PRIu64 " checks, %" PRIu64 " failed\n", atomic_load(&n_checks),
           atomic_load(&n_failed));
    printf("soak: %" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return failed == 0 && atomic_load(&n_failed) == 0 ? 0 : 1;
}
