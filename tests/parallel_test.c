/* Unit tests for the data-parallel loops (runtime/parallel.c):
 * weft_parallel_for covers every index exactly once for many (begin, end,
 * grain) triples, from an external thread, from inside a task, nested, and
 * from a worker of another pool; the first failing chunk's status comes back
 * and later chunks are skipped; weft_parallel_map with unequal strides;
 * weft_parallel_reduce with sum, max and two associative but
 * non-commutative combines (index-range concatenation, 2x2 matrix product)
 * against serial results; argument errors; ESHUTDOWN after shutdown.
 *
 * Bodies never call cr_assert (they run on worker threads): they count what
 * they see in atomics and the test thread asserts afterwards. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(parallel, .timeout = 60);

/* ---- helpers ----------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* ---- coverage ledger --------------------------------------------------------- */

/* hits[i - base] counts calls that covered index i; anomalies counts chunks
 * that were empty, out of [begin, end), larger than the grain, or ran off a
 * worker. */
struct ledger {
    size_t base, len;          /* hits covers [base, base + len) */
    size_t begin, end, grain;  /* the loop under test */
    _Atomic unsigned *hits;
    _Atomic uint64_t chunks;
    _Atomic uint64_t anomalies;
};

static void ledger_init(struct ledger *lg, size_t begin, size_t end, size_t grain)
{
    lg->base = begin >= 8 ? begin - 8 : 0; /* a margin that must stay untouched */
    lg->len = end + 8 - lg->base;
    lg->begin = begin;
    lg->end = end;
    lg->grain = grain;
    lg->hits = calloc(lg->len, sizeof(*lg->hits));
    cr_assert_not_null(lg->hits);
    atomic_init(&lg->chunks, 0);
    atomic_init(&lg->anomalies, 0);
}

static void ledger_check(struct ledger *lg, const char *where)
{
    for (size_t k = 0; k < lg->len; k++) {
        size_t i = lg->base + k;
        unsigned want = (i >= lg->begin && i < lg->end) ? 1 : 0;
        unsigned got = atomic_load(&lg->hits[k]);
        cr_assert_eq(got, want, "%s: [%zu, %zu) grain %zu: index %zu covered %u times", where,
                     lg->begin, lg->end, lg->grain, i, got);
    }
    cr_assert_eq(atomic_load(&lg->anomalies), 0, "%s: [%zu, %zu) grain %zu: bad chunks", where,
                 lg->begin, lg->end, lg->grain);
}

static void ledger_free(struct ledger *lg)
{
    free(lg->hits);
}

static int cover_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    struct ledger *lg = ud;
    /* relaxed: counters read by the test thread after the loop returned,
     * which orders them (sync and completion edges). */
    atomic_fetch_add_explicit(&lg->chunks, 1, memory_order_relaxed);
    bool bad = lo >= hi || lo < lg->begin || hi > lg->end ||
               (lg->grain != 0 && hi - lo > lg->grain) || ctx == NULL ||
               weft_worker_index() < 0 || (int)weft_ctx_worker(ctx) != weft_worker_index();
    if (bad) {
        atomic_fetch_add_explicit(&lg->anomalies, 1, memory_order_relaxed);
        return 0;
    }
    for (size_t i = lo; i < hi; i++)
        atomic_fetch_add_explicit(&lg->hits[i - lg->base], 1, memory_order_relaxed);
    return 0;
}

struct range_case {
    size_t begin, end, grain;
};

static const struct range_case cases[] = {
    {0, 1, 0},       {0, 1, 1},       {0, 1, 100},    {0, 2, 1},        {0, 3, 2},
    {0, 7, 100},     {0, 100, 0},     {0, 100, 1},    {0, 100, 7},      {0, 100, 100},
    {0, 101, 10},    {0, 1000, 0},    {0, 1000, 1},   {0, 1023, 64},    {0, 1025, 64},
    {5, 6, 0},       {5, 6, 3},       {17, 18, 1},    {3, 10, 0},       {3, 10, 1},
    {3, 10, 2},      {3, 10, 1000},   {1000, 1999, 0}, {1000, 1999, 13}, {12345, 23456, 1},
    {12345, 23456, 0}, {0, 65537, 0}, {0, 65537, 1},  {0, 65537, 4096}, {99, 100000, 333},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void cover_case(weft_pool *p, const struct range_case *c, const char *where)
{
    struct ledger lg;
    ledger_init(&lg, c->begin, c->end, c->grain);
    cr_assert_eq(weft_parallel_for(p, cover_body, &lg, c->begin, c->end, c->grain), WEFT_OK,
                 "%s: [%zu, %zu) grain %zu", where, c->begin, c->end, c->grain);
    ledger_check(&lg, where);
    if (c->grain == 1)
        cr_assert_eq(atomic_load(&lg.chunks), c->end - c->begin, "grain 1: one chunk per index");
    ledger_free(&lg);
}

/* ---- parallel_for coverage ------------------------------------------------- */

Test(parallel, for_covers_every_index_once_from_an_external_thread)
{
    for (unsigned workers = 1; workers <= 3; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (size_t i = 0; i < NCASES; i++)
            cover_case(p, &cases[i], "external");
        wtc_pool_drop(p);
    }
}

/* ---- the external caller in a parked worker's place (runtime/borrow.c) ---- */

struct where {
    pthread_t caller;
    atomic_int on_caller, elsewhere, bad_index;
    bool submit;         /* the first chunk submits a future, not awaited in the loop */
    bool await_other;    /* chunks on the caller wait (5 s at most) for one elsewhere */
    weft_future *queued;
    struct ledger lg;
};

static int where_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    struct where *wh = ud;
    bool here = pthread_equal(pthread_self(), wh->caller);
    atomic_fetch_add(here ? &wh->on_caller : &wh->elsewhere, 1);
    if (weft_worker_index() != (int)weft_ctx_worker(ctx))
        atomic_fetch_add(&wh->bad_index, 1);
    if (wh->submit && lo == wh->lg.begin)
        (void)weft_submit(weft_ctx_pool(ctx), wt_value_task, (void *)(uintptr_t)42, NULL,
                          &wh->queued);
    if (here && wh->await_other)
        (void)wt_await_at_least(&wh->elsewhere, 1, 5 * 1000000000ll, 50);
    wt_spin_ns(20000);
    return cover_body(ctx, lo, hi, &wh->lg);
}

Test(parallel, for_from_an_external_thread_runs_on_the_caller_in_a_parked_workers_place)
{
    weft_pool *p = wtc_pool_new(1);
    wtc_await_all_parked(p);
    struct where wh = {.caller = pthread_self()};
    ledger_init(&wh.lg, 0, 1000, 10);
    cr_assert_eq(weft_parallel_for(p, where_body, &wh, 0, 1000, 10), WEFT_OK);
    ledger_check(&wh.lg, "borrowed");
    cr_assert_eq((uint64_t)atomic_load(&wh.on_caller), atomic_load(&wh.lg.chunks),
                 "every chunk ran on the calling thread");
    ledger_free(&wh.lg);
    cr_assert_eq(atomic_load(&wh.elsewhere), 0);
    cr_assert_eq(atomic_load(&wh.bad_index), 0, "the caller ran as worker 0");
    cr_assert_eq(weft_worker_index(), -1, "and is no worker after the call");
    /* The worker was given back parked: new work still wakes it. */
    void *v = NULL;
    cr_assert_eq(wtc_run_task(p, wt_value_task, (void *)(uintptr_t)7, &v), WEFT_OK);
    cr_assert_eq((uintptr_t)v, 7u);
    wtc_pool_drop(p);
}

Test(parallel, work_a_borrowing_caller_leaves_on_its_worker_is_run_after_the_call)
{
    for (int round = 0; round < 5; round++) {
        weft_pool *p = wtc_pool_new(1);
        wtc_await_all_parked(p);
        struct where wh = {.caller = pthread_self(), .submit = true};
        ledger_init(&wh.lg, 0, 10, 100);
        cr_assert_eq(weft_parallel_for(p, where_body, &wh, 0, 10, 100), WEFT_OK);
        ledger_free(&wh.lg);
        cr_assert_eq(atomic_load(&wh.on_caller), 1);
        /* The future went on the borrowed worker's deque while its thread
         * slept; giving the worker back must wake someone for it. */
        cr_assert_not_null(wh.queued);
        void *v = NULL;
        cr_assert_eq(weft_future_result(wh.queued, 5 * 1000000000ll, &v), WEFT_OK,
                     "round %d: the queued future never ran", round);
        cr_assert_eq((uintptr_t)v, 42u);
        weft_future_release(wh.queued);
        wtc_pool_drop(p);
    }
}

Test(parallel, a_borrowing_caller_shares_its_loop_with_the_other_workers)
{
    weft_pool *p = wtc_pool_new(2);
    for (int round = 0; round < 3; round++) {
        wtc_await_all_parked(p);
        struct where wh = {.caller = pthread_self(), .await_other = true};
        ledger_init(&wh.lg, 0, 64, 1);
        cr_assert_eq(weft_parallel_for(p, where_body, &wh, 0, 64, 1), WEFT_OK);
        ledger_check(&wh.lg, "shared");
        ledger_free(&wh.lg);
        cr_assert_gt(atomic_load(&wh.on_caller), 0, "round %d: the caller took part", round);
        cr_assert_gt(atomic_load(&wh.elsewhere), 0, "round %d: a worker took part", round);
        cr_assert_eq(atomic_load(&wh.bad_index), 0);
    }
    wtc_pool_drop(p);
}

Test(parallel, for_on_an_empty_range_runs_nothing)
{
    weft_pool *p = wtc_pool_new(2);
    struct ledger lg;
    ledger_init(&lg, 10, 10, 0);
    cr_assert_eq(weft_parallel_for(p, cover_body, &lg, 10, 10, 0), WEFT_OK);
    cr_assert_eq(weft_parallel_for(p, cover_body, &lg, 0, 0, 5), WEFT_OK);
    cr_assert_eq(atomic_load(&lg.chunks), 0);
    ledger_check(&lg, "empty");
    ledger_free(&lg);
    wtc_pool_drop(p);
}

/* From inside a task: every case is run by one submitted task; its status is
 * the first mismatch it found (the ledger itself is checked outside). */
struct in_task {
    const struct range_case *c;
    struct ledger *lg;
};

static int for_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct in_task *it = arg;
    return weft_parallel_for(weft_ctx_pool(ctx), cover_body, it->lg, it->c->begin, it->c->end,
                             it->c->grain);
}

Test(parallel, for_covers_every_index_once_from_inside_a_task)
{
    for (unsigned workers = 1; workers <= 3; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (size_t i = 0; i < NCASES; i++) {
            struct ledger lg;
            ledger_init(&lg, cases[i].begin, cases[i].end, cases[i].grain);
            struct in_task it = {.c = &cases[i], .lg = &lg};
            cr_assert_eq(wtc_run_task(p, for_in_task, &it, NULL), WEFT_OK);
            ledger_check(&lg, "in task");
            ledger_free(&lg);
        }
        wtc_pool_drop(p);
    }
}

/* A task on pool q runs parallel_for on pool p: the caller is a worker, but
 * not one of p's, so it takes the external path while helping on q. */
struct cross {
    weft_pool *target;
    const struct range_case *c;
    struct ledger *lg;
};

static int for_on_other_pool(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct cross *x = arg;
    return weft_parallel_for(x->target, cover_body, x->lg, x->c->begin, x->c->end, x->c->grain);
}

Test(parallel, for_from_a_worker_of_another_pool)
{
    weft_pool *p = wtc_pool_new(2);
    weft_pool *q = wtc_pool_new(1);
    for (size_t i = 0; i < NCASES; i++) {
        struct ledger lg;
        ledger_init(&lg, cases[i].begin, cases[i].end, cases[i].grain);
        struct cross x = {.target = p, .c = &cases[i], .lg = &lg};
        cr_assert_eq(wtc_run_task(q, for_on_other_pool, &x, NULL), WEFT_OK);
        ledger_check(&lg, "other pool");
        ledger_free(&lg);
    }
    wtc_pool_drop(q);
    wtc_pool_drop(p);
}

/* Nested: an outer loop over rows whose body runs an inner loop over the
 * row's columns; every cell must be hit once. */
struct grid {
    size_t rows, cols, row_grain, col_grain;
    _Atomic unsigned *cells;
    _Atomic uint64_t anomalies;
};

struct row {
    struct grid *g;
    size_t r;
};

static int inner_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    struct row *rw = ud;
    struct grid *g = rw->g;
    if (lo >= hi || hi > g->cols || (g->col_grain && hi - lo > g->col_grain))
        atomic_fetch_add_explicit(&g->anomalies, 1, memory_order_relaxed);
    for (size_t c = lo; c < hi && c < g->cols; c++)
        /* relaxed: read after the outer loop returned. */
        atomic_fetch_add_explicit(&g->cells[rw->r * g->cols + c], 1, memory_order_relaxed);
    return 0;
}

static int outer_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    struct grid *g = ud;
    for (size_t r = lo; r < hi; r++) {
        struct row rw = {.g = g, .r = r};
        int rc = weft_parallel_for(weft_ctx_pool(ctx), inner_body, &rw, 0, g->cols,
                                   g->col_grain);
        if (rc != WEFT_OK)
            return rc;
    }
    return 0;
}

static void grid_case(weft_pool *p, size_t rows, size_t cols, size_t rg, size_t cg)
{
    struct grid g = {.rows = rows, .cols = cols, .row_grain = rg, .col_grain = cg};
    g.cells = calloc(rows * cols, sizeof(*g.cells));
    cr_assert_not_null(g.cells);
    atomic_init(&g.anomalies, 0);
    cr_assert_eq(weft_parallel_for(p, outer_body, &g, 0, rows, rg), WEFT_OK);
    for (size_t i = 0; i < rows * cols; i++)
        cr_assert_eq(atomic_load(&g.cells[i]), 1, "%zux%zu grains %zu/%zu: cell %zu", rows, cols,
                     rg, cg, i);
    cr_assert_eq(atomic_load(&g.anomalies), 0);
    free(g.cells);
}

Test(parallel, nested_for_within_for_covers_every_cell_once)
{
    for (unsigned workers = 1; workers <= 3; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        grid_case(p, 1, 1, 0, 0);
        grid_case(p, 37, 53, 1, 1);
        grid_case(p, 64, 300, 0, 0);
        grid_case(p, 100, 100, 3, 17);
        grid_case(p, 513, 7, 1, 2);
        wtc_pool_drop(p);
    }
}

/* ---- failure ------------------------------------------------------------------- */

struct failing {
    size_t fail_lo, fail_hi; /* chunks overlapping [fail_lo, fail_hi) fail */
    int status;
    unsigned spin;
    bool gate;               /* other chunks wait until a failing chunk ran */
    _Atomic int fired;       /* a failing chunk is about to return */
    _Atomic uint64_t chunks; /* chunks that ran */
    _Atomic uint64_t items;  /* indices they covered */
};

#define GATE_LIMIT_NS 5000000000ll /* a gate never waits longer (no hang) */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int failing_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    struct failing *f = ud;
    /* relaxed: counters read after the loop returned. */
    atomic_fetch_add_explicit(&f->chunks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->items, hi - lo, memory_order_relaxed);
    wt_spin_work(lo, f->spin);
    if (lo < f->fail_hi && f->fail_lo < hi) {
        /* relaxed: only a gate for the other chunks; no data rides on it. */
        atomic_store_explicit(&f->fired, 1, memory_order_relaxed);
        return f->status;
    }
    if (f->gate) {
        /* Chunks that started before the failure wait for it, so the loop
         * cannot finish everything while the failing chunk is descheduled. */
        int64_t until = now_ns() + GATE_LIMIT_NS;
        while (!atomic_load_explicit(&f->fired, memory_order_relaxed) && now_ns() < until)
            sched_yield();
    }
    return 0;
}

Test(parallel, first_failing_chunk_status_is_returned_and_the_rest_skipped)
{
    const size_t n = 20000;
    for (unsigned workers = 1; workers <= 3; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        /* The first chunk fails: on one worker chunks run left to right, so
         * nothing else runs; on more, chunks started before the failure wait
         * for it, and later ones are skipped. */
        struct failing f = {.fail_lo = 0, .fail_hi = 1, .status = -EIO, .spin = 2000,
                            .gate = true};
        wtc_assert_task_failed(weft_parallel_for(p, failing_body, &f, 0, n, 1), -EIO);
        uint64_t ran = atomic_load(&f.chunks);
        if (workers == 1)
            cr_assert_eq(ran, 1, "one worker: only the failing chunk runs, %lu did",
                         (unsigned long)ran);
        else
            cr_assert_lt(ran, n / 4, "%u workers: %lu of %zu chunks ran after an early failure",
                         workers, (unsigned long)ran, n);
        /* A positive user status and a failure in the middle. */
        struct failing g = {.fail_lo = 777, .fail_hi = 778, .status = 42};
        wtc_assert_task_failed(weft_parallel_for(p, failing_body, &g, 0, n, 1), 42);
        if (workers == 1)
            cr_assert_eq(atomic_load(&g.chunks), 778, "one worker: chunks after it are skipped");
        /* Every chunk fails: one of them is reported. */
        struct failing h = {.fail_lo = 0, .fail_hi = n, .status = 7};
        wtc_assert_task_failed(weft_parallel_for(p, failing_body, &h, 0, n, 16), 7);
        /* The last chunk fails: on one worker everything else ran first. */
        struct failing l = {.fail_lo = n - 1, .fail_hi = n, .status = -ENOSPC};
        wtc_assert_task_failed(weft_parallel_for(p, failing_body, &l, 0, n, 10), -ENOSPC);
        if (workers == 1)
            cr_assert_eq(atomic_load(&l.items), n);
        /* The pool is still usable. */
        cover_case(p, &cases[NCASES - 1], "after failures");
        wtc_pool_drop(p);
    }
}

static int failing_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    return weft_parallel_for(weft_ctx_pool(ctx), failing_body, arg, 0, 5000, 3);
}

Test(parallel, failure_inside_a_task_is_returned_to_the_task)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        struct failing f = {.fail_lo = 2500, .fail_hi = 2501, .status = -EBADMSG};
        wtc_assert_task_failed(wtc_run_task(p, failing_in_task, &f, NULL), -EBADMSG);
        wtc_pool_drop(p);
    }
}

/* ---- parallel_map -------------------------------------------------------------- */

struct rec { /* 24 bytes with padding: in stride != out stride */
    uint32_t a;
    char tag[7];
    uint16_t b;
    uint64_t unused;
};

struct wide_out { /* out stride 32 with a guard word that must stay intact */
    uint64_t v;
    uint64_t guard[3];
};

static uint64_t map_one(const struct rec *r, uint64_t salt)
{
    return mix64(((uint64_t)r->a << 16 | r->b) ^ salt) + (unsigned char)r->tag[3];
}

static int map_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    const struct rec *r = in;
    uint64_t v = map_one(r, *(const uint64_t *)ud);
    memcpy(out, &v, sizeof(v)); /* out is 8-byte aligned in both layouts */
    return 0;
}

static void fill_recs(struct rec *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&in[i], 0, sizeof(in[i]));
        in[i].a = (uint32_t)mix64(i);
        in[i].b = (uint16_t)(i * 7);
        in[i].tag[3] = (char)(i & 0x7f);
        in[i].unused = ~(uint64_t)0;
    }
}

Test(parallel, map_with_strides_matches_serial)
{
    static const size_t ns[] = {0, 1, 2, 3, 100, 1001, 65536};
    static const size_t grains[] = {0, 1, 5, 64, 100000};
    uint64_t salt = 0x1234;
    for (unsigned workers = 1; workers <= 3; workers += 2) {
        weft_pool *p = wtc_pool_new(workers);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            size_t n = ns[i];
            struct rec *in = calloc(n + 1, sizeof(*in));
            uint64_t *flat = calloc(n + 1, sizeof(*flat));
            struct wide_out *wide = calloc(n + 1, sizeof(*wide));
            cr_assert(in && flat && wide);
            fill_recs(in, n);
            for (size_t j = 0; j < sizeof(grains) / sizeof(grains[0]); j++) {
                for (size_t k = 0; k <= n; k++) {
                    flat[k] = 0xdeadbeef;
                    wide[k] = (struct wide_out){0xdeadbeef, {1, 2, 3}};
                }
                cr_assert_eq(weft_parallel_map(p, map_fn, &salt, in, sizeof(*in), flat,
                                               sizeof(*flat), n, grains[j]),
                             WEFT_OK);
                cr_assert_eq(weft_parallel_map(p, map_fn, &salt, in, sizeof(*in), wide,
                                               sizeof(*wide), n, grains[j]),
                             WEFT_OK);
                for (size_t k = 0; k < n; k++) {
                    uint64_t want = map_one(&in[k], salt);
                    cr_assert_eq(flat[k], want, "n=%zu grain=%zu index %zu", n, grains[j], k);
                    cr_assert_eq(wide[k].v, want, "n=%zu grain=%zu index %zu", n, grains[j], k);
                    cr_assert(wide[k].guard[0] == 1 && wide[k].guard[1] == 2 &&
                              wide[k].guard[2] == 3, "guard words untouched");
                }
                cr_assert_eq(flat[n], 0xdeadbeef, "nothing written past the end");
                cr_assert_eq(wide[n].v, 0xdeadbeef, "nothing written past the end");
            }
            free(in);
            free(flat);
            free(wide);
        }
        wtc_pool_drop(p);
    }
}

static int square_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t x;
    memcpy(&x, in, sizeof(x));
    x = x * x;
    memcpy(out, &x, sizeof(x));
    return 0;
}

Test(parallel, map_with_in_stride_zero_broadcasts_one_input)
{
    weft_pool *p = wtc_pool_new(2);
    uint64_t seven = 7, out[333];
    cr_assert_eq(weft_parallel_map(p, square_fn, NULL, &seven, 0, out, sizeof(out[0]), 333, 4),
                 WEFT_OK);
    for (size_t i = 0; i < 333; i++)
        cr_assert_eq(out[i], 49);
    /* n = 0 accepts NULL arrays. */
    cr_assert_eq(weft_parallel_map(p, square_fn, NULL, NULL, 8, NULL, 8, 0, 0), WEFT_OK);
    wtc_pool_drop(p);
}

static int map_fail_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t x;
    memcpy(&x, in, sizeof(x));
    if (x == 500)
        return -ERANGE;
    memcpy(out, &x, sizeof(x));
    return 0;
}

Test(parallel, map_returns_the_failing_element_status)
{
    weft_pool *p = wtc_pool_new(2);
    uint64_t in[1000], out[1000];
    for (size_t i = 0; i < 1000; i++)
        in[i] = i;
    wtc_assert_task_failed(weft_parallel_map(p, map_fail_fn, NULL, in, sizeof(in[0]), out,
                                             sizeof(out[0]), 1000, 0),
                           -ERANGE);
    wtc_pool_drop(p);
}

/* ---- parallel_reduce ------------------------------------------------------------- */

static uint64_t val(size_t i)
{
    return mix64(i) >> 20;
}

static int sum_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t s = 0;
    for (size_t i = lo; i < hi; i++)
        s += val(i);
    *(uint64_t *)acc += s;
    return 0;
}

static void sum_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    *(uint64_t *)into += *(const uint64_t *)from;
}

static int max_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t *m = acc;
    for (size_t i = lo; i < hi; i++)
        if (mix64(i ^ 0xabc) > *m)
            *m = mix64(i ^ 0xabc);
    return 0;
}

static void max_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    uint64_t *a = into;
    const uint64_t *b = from;
    if (*b > *a)
        *a = *b;
}

/* 2x2 matrices modulo a prime: M(i) = [[i+1, 1], [1, 0]] * [[1, i], [0, 1]]
 * do not commute; the product over [lo, hi) in index order. */
#define MOD 1000000007ull
struct mat {
    uint64_t m[2][2];
};

static void mat_mul(struct mat *a, const struct mat *b)
{
    struct mat r;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            r.m[i][j] = (a->m[i][0] * b->m[0][j] + a->m[i][1] * b->m[1][j]) % MOD;
    *a = r;
}

static struct mat mat_of(size_t i)
{
    struct mat x = {{{(i + 1) % MOD, 1}, {1, 0}}};
    struct mat y = {{{1, i % MOD}, {0, 1}}};
    mat_mul(&x, &y);
    return x;
}

static int mat_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    for (size_t i = lo; i < hi; i++) {
        struct mat x = mat_of(i);
        mat_mul(acc, &x);
    }
    return 0;
}

static void mat_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    mat_mul(into, from);
}

static const struct range_case red_cases[] = {
    {0, 1, 0},    {0, 1, 1},      {0, 2, 1},       {0, 3, 1},      {0, 10, 3},
    {0, 100, 0},  {0, 100, 1},    {0, 100, 1000},  {7, 8, 0},      {7, 1000, 1},
    {7, 1000, 0}, {7, 1000, 33},  {0, 4096, 1},    {0, 4097, 64},  {100, 50001, 0},
    {100, 50001, 1}, {100, 50001, 777}, {1, 200000, 0}, {1, 200000, 5000},
};
#define NRED (sizeof(red_cases) / sizeof(red_cases[0]))

static void reduce_case(weft_pool *p, const struct range_case *c)
{
    size_t b = c->begin, e = c->end, g = c->grain;

    uint64_t sum = 0, want_sum = 0;
    for (size_t i = b; i < e; i++)
        want_sum += val(i);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, b, e, g, &sum,
                                      sizeof(sum)),
                 WEFT_OK);
    cr_assert_eq(sum, want_sum, "sum [%zu, %zu) grain %zu", b, e, g);

    uint64_t max = 0, want_max = 0;
    for (size_t i = b; i < e; i++)
        if (mix64(i ^ 0xabc) > want_max)
            want_max = mix64(i ^ 0xabc);
    cr_assert_eq(weft_parallel_reduce(p, max_fold, max_combine, NULL, b, e, g, &max,
                                      sizeof(max)),
                 WEFT_OK);
    cr_assert_eq(max, want_max, "max [%zu, %zu) grain %zu", b, e, g);

    struct wt_seq s = {0};
    cr_assert_eq(weft_parallel_reduce(p, wt_seq_fold, wt_seq_combine, NULL, b, e, g, &s,
                                      sizeof(s)),
                 WEFT_OK);
    cr_assert(s.ok && s.first == b && s.last == e - 1 && s.count == e - b,
              "concatenation [%zu, %zu) grain %zu: got first %lu last %lu count %lu ok %lu", b,
              e, g, (unsigned long)s.first, (unsigned long)s.last, (unsigned long)s.count,
              (unsigned long)s.ok);

    struct mat m = {{{1, 0}, {0, 1}}}, want = m;
    mat_fold(NULL, b, e, &want, NULL);
    cr_assert_eq(weft_parallel_reduce(p, mat_fold, mat_combine, NULL, b, e, g, &m, sizeof(m)),
                 WEFT_OK);
    cr_assert(memcmp(&m, &want, sizeof(m)) == 0, "matrix product [%zu, %zu) grain %zu", b, e, g);
}

Test(parallel, reduce_matches_serial_for_sum_max_and_ordered_combines)
{
    for (unsigned workers = 1; workers <= 3; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (size_t i = 0; i < NRED; i++)
            reduce_case(p, &red_cases[i]);
        wtc_pool_drop(p);
    }
}

static int reduce_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct wt_seq *s = arg;
    return weft_parallel_reduce(weft_ctx_pool(ctx), wt_seq_fold, wt_seq_combine, NULL, 3, 30003,
                                7, s, sizeof(*s));
}

Test(parallel, reduce_from_inside_a_task_keeps_index_order)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int round = 0; round < 20; round++) {
            struct wt_seq s = {0};
            cr_assert_eq(wtc_run_task(p, reduce_in_task, &s, NULL), WEFT_OK);
            cr_assert(s.ok && s.first == 3 && s.last == 30002 && s.count == 30000);
        }
        wtc_pool_drop(p);
    }
}

/* An accumulator of exactly WEFT_REDUCE_MAX bytes: a histogram. */
#define NBUCKETS (WEFT_REDUCE_MAX / sizeof(uint64_t))

static int hist_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t *h = acc;
    for (size_t i = lo; i < hi; i++)
        h[mix64(i) % NBUCKETS]++;
    return 0;
}

static void hist_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    uint64_t *a = into;
    const uint64_t *b = from;
    for (size_t k = 0; k < NBUCKETS; k++)
        a[k] += b[k];
}

Test(parallel, reduce_with_the_largest_accumulator)
{
    weft_pool *p = wtc_pool_new(2);
    uint64_t h[NBUCKETS] = {0}, want[NBUCKETS] = {0};
    cr_assert_eq(sizeof(h), WEFT_REDUCE_MAX);
    hist_fold(NULL, 0, 100000, want, NULL);
    cr_assert_eq(weft_parallel_reduce(p, hist_fold, hist_combine, NULL, 0, 100000, 0, h,
                                      sizeof(h)),
                 WEFT_OK);
    cr_assert(memcmp(h, want, sizeof(h)) == 0);
    wtc_pool_drop(p);
}

Test(parallel, reduce_on_an_empty_range_leaves_the_identity)
{
    weft_pool *p = wtc_pool_new(2);
    uint64_t sum = 12345;
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 9, 9, 0, &sum,
                                      sizeof(sum)),
                 WEFT_OK);
    cr_assert_eq(sum, 12345);
    wtc_pool_drop(p);
}

static int fail_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    (void)acc;
    return (lo <= 4321 && 4321 < hi) ? -EDOM : 0;
}

Test(parallel, reduce_returns_a_failing_fold_status)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        uint64_t acc = 0;
        wtc_assert_task_failed(weft_parallel_reduce(p, fail_fold, sum_combine, NULL, 0, 10000, 10,
                                                    &acc, sizeof(acc)),
                               -EDOM);
        wtc_pool_drop(p);
    }
}

/* ---- argument errors and shutdown -------------------------------------------- */

Test(parallel, bad_arguments_are_einval)
{
    weft_pool *p = wtc_pool_new(1);
    struct ledger lg;
    ledger_init(&lg, 0, 10, 0);
    uint64_t acc = 0;
    uint64_t in[4] = {0}, out[4];
    unsigned char big[WEFT_REDUCE_MAX + 1] = {0};

    cr_assert_eq(weft_parallel_for(NULL, cover_body, &lg, 0, 10, 0), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_for(p, NULL, &lg, 0, 10, 0), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_for(p, cover_body, &lg, 10, 0, 0), WEFT_EINVAL);

    cr_assert_eq(weft_parallel_map(NULL, square_fn, NULL, in, 8, out, 8, 4, 0), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_map(p, NULL, NULL, in, 8, out, 8, 4, 0), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_map(p, square_fn, NULL, NULL, 8, out, 8, 4, 0), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_map(p, square_fn, NULL, in, 8, NULL, 8, 4, 0), WEFT_EINVAL);

    cr_assert_eq(weft_parallel_reduce(NULL, sum_fold, sum_combine, NULL, 0, 10, 0, &acc, 8),
                 WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 0, 10, 0, NULL, 8),
                 WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, NULL, sum_combine, NULL, 0, 10, 0, &acc, 8),
                 WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, NULL, NULL, 0, 10, 0, &acc, 8), WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 10, 0, 0, &acc, 8),
                 WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 0, 10, 0, &acc, 0),
                 WEFT_EINVAL);
    cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 0, 10, 0, big,
                                      WEFT_REDUCE_MAX + 1),
                 WEFT_EINVAL);

    cr_assert_eq(atomic_load(&lg.chunks), 0, "nothing ran");
    cr_assert_eq(acc, 0, "the result is untouched");
    ledger_free(&lg);
    wtc_pool_drop(p);
}

Test(parallel, calls_after_shutdown_from_an_external_thread_are_eshutdown)
{
    for (unsigned flags = 0; flags <= WEFT_SHUTDOWN_WAIT; flags += WEFT_SHUTDOWN_WAIT) {
        weft_pool *p = wtc_pool_new(2);
        struct ledger lg;
        ledger_init(&lg, 0, 100, 0);
        cr_assert_eq(weft_parallel_for(p, cover_body, &lg, 0, 100, 0), WEFT_OK);
        cr_assert_eq(weft_pool_shutdown(p, flags), WEFT_OK);
        cr_assert_eq(weft_parallel_for(p, cover_body, &lg, 0, 100, 0), WEFT_ESHUTDOWN);
        uint64_t in[4] = {1, 2, 3, 4}, out[4] = {0};
        cr_assert_eq(weft_parallel_map(p, square_fn, NULL, in, 8, out, 8, 4, 1), WEFT_ESHUTDOWN);
        uint64_t acc = 5;
        cr_assert_eq(weft_parallel_reduce(p, sum_fold, sum_combine, NULL, 0, 100, 0, &acc,
                                          sizeof(acc)),
                     WEFT_ESHUTDOWN);
        cr_assert_eq(acc, 5, "the result is untouched");
        cr_assert_eq(out[0], 0, "nothing was mapped");
        ledger_check(&lg, "before shutdown"); /* exactly the first loop's hits */
        ledger_free(&lg);
        wtc_pool_drop(p);
    }
}
