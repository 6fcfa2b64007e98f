/* The scalability proxy's driver: one workload on a pool of a given size,
 * with a measured phase that both proxy builds observe.
 *
 *   proxy <workload> <workers> <n> [work [reps]]
 *
 * workload  what n counts, and what a "task" is
 *   submit  n tiny futures submitted from main, then each result taken
 *           and released in order: a task is a future
 *   fib     fib(n) by spawn / call / sync inside one submitted root task:
 *           a task is a spawn (F(n+1) - 1 of them)
 *   pfor    weft_parallel_for over n items from main, grain 1: a task is
 *           a leaf (one item)
 *   map     weft_map over n items from main, chunk 1, default window: a
 *           task is a chunk (one item)
 *
 * work: rounds of a splitmix64 step in each pfor item, fib leaf and map
 * item (default 0); the submitted futures stay tiny.
 *
 * The pool is created, the workload runs once at a tenth of its size as a
 * warm-up, the driver sleeps 20 ms so that every worker has parked (the
 * phase starts from the same idle state whatever the worker count), then
 * the measured phase runs it reps times (default 1) back to back at full
 * size; tasks counts all of them. The phase is framed by
 * linecount_begin/_end (the instrumented build links linecount.c; the
 * callgrind build does not, and these weak references are then null) and
 * by callgrind's ZERO_STATS / DUMP_STATS client requests (no-ops outside
 * valgrind), which act on all threads: the callgrind dump named
 * "measured" holds the phase alone. The driver is compiled without
 * instrumentation, so the task bodies and weft.h's inline fork/join paths
 * count in callgrind's Ir but not in linecount's figures.
 *
 * Output: one line
 *   proxy workload=.. workers=.. n=.. work=.. reps=.. tasks=.. ns=.. tasks_run=..
 *         steals=.. failed_steals=.. parks=..
 * (the last four from weft_pool_stats, deltas over the phase), then
 * linecount's report when it is linked. Exits 1 on a wrong result. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <valgrind/callgrind.h>
#include <weft.h>

#include "linecount.h"

#pragma weak linecount_begin
#pragma weak linecount_end
#pragma weak linecount_report

static void fail(const char *what, int rc)
{
    fprintf(stderr, "proxy: %s: %s\n", what, rc ? weft_strerror(rc) : "wrong result");
    exit(1);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Rounds of mix() in each pfor item, fib leaf and map item. */
static unsigned work_rounds;

static uint64_t work(uint64_t x)
{
    for (unsigned i = 0; i < work_rounds; i++)
        x = mix(x);
    return x;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- submit ---- */

static int tiny(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = (void *)(uintptr_t)mix((uintptr_t)arg);
    return 0;
}

static uint64_t run_submit(weft_pool *pool, size_t n)
{
    weft_future **fs = malloc(n * sizeof(*fs));
    if (fs == NULL)
        fail("malloc", 0);
    for (size_t i = 0; i < n; i++) {
        int rc = weft_submit(pool, tiny, (void *)(uintptr_t)i, NULL, &fs[i]);
        if (rc != WEFT_OK)
            fail("weft_submit", rc);
    }
    uint64_t sum = 0, want = 0;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        int rc = weft_future_result(fs[i], WEFT_FOREVER, &v);
        if (rc != WEFT_OK)
            fail("weft_future_result", rc);
        sum += (uintptr_t)v;
        want += (uintptr_t)mix(i);
        weft_future_release(fs[i]);
    }
    free(fs);
    if (sum != want)
        fail("submit", 0);
    return n;
}

/* ---- fib ---- */

static uint64_t fib(weft_ctx *ctx, uint64_t n);

static int fib_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)(uintptr_t)fib(ctx, (uintptr_t)arg);
    return 0;
}

static uint64_t fib(weft_ctx *ctx, uint64_t n)
{
    if (n < 2) {
        uint64_t v = work(n);
        __asm__ volatile("" : : "r"(v)); /* the leaf's work, kept; its value is unused */
        return n;
    }
    weft_group g;
    void *child = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, fib_task, (void *)(uintptr_t)(n - 1), &child);
    if (rc != WEFT_OK)
        fail("weft_spawn", rc);
    uint64_t y = fib(ctx, n - 2);
    rc = weft_sync(&g);
    if (rc != WEFT_OK)
        fail("weft_sync", rc);
    return (uintptr_t)child + y;
}

static uint64_t run_fib(weft_pool *pool, size_t n)
{
    weft_future *f = NULL;
    int rc = weft_submit(pool, fib_task, (void *)(uintptr_t)n, NULL, &f);
    if (rc != WEFT_OK)
        fail("weft_submit", rc);
    void *v = NULL;
    rc = weft_future_result(f, WEFT_FOREVER, &v);
    if (rc != WEFT_OK)
        fail("fib root", rc);
    weft_future_release(f);
    uint64_t a = 0, b = 1; /* F(n), F(n+1) */
    for (size_t i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    if ((uintptr_t)v != a)
        fail("fib", 0);
    return b - 1; /* internal nodes of the call tree: one spawn each */
}

/* ---- parallel_for ---- */

static int pfor_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    uint64_t *out = ud;
    for (size_t i = lo; i < hi; i++)
        out[i] = work(i);
    return 0;
}

static uint64_t run_pfor(weft_pool *pool, size_t n)
{
    uint64_t *out = calloc(n, sizeof(*out));
    if (out == NULL)
        fail("calloc", 0);
    int rc = weft_parallel_for(pool, pfor_body, out, 0, n, 1);
    if (rc != WEFT_OK)
        fail("weft_parallel_for", rc);
    for (size_t i = 0; i < n; i++)
        if (out[i] != work(i))
            fail("pfor", 0);
    free(out);
    return n;
}

/* ---- map ---- */

static int map_elem(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx, (void)ud;
    *(uint64_t *)out = work(*(const uint64_t *)in);
    return 0;
}

static uint64_t run_map(weft_pool *pool, size_t n)
{
    uint64_t *in = malloc(n * sizeof(*in)), *out = calloc(n, sizeof(*out));
    if (in == NULL || out == NULL)
        fail("malloc", 0);
    for (size_t i = 0; i < n; i++)
        in[i] = i;
    weft_map_options mo;
    weft_map_options_init(&mo);
    mo.chunk = 1;
    size_t failed = 0;
    int rc = weft_map(pool, map_elem, NULL, in, sizeof(*in), out, sizeof(*out), n, &mo, &failed);
    if (rc != WEFT_OK)
        fail("weft_map", rc);
    for (size_t i = 0; i < n; i++)
        if (out[i] != work(i))
            fail("map", 0);
    free(in);
    free(out);
    return n;
}

/* ---- main ---- */

struct totals {
    uint64_t tasks_run, steals, failed_steals, parks;
};

static struct totals pool_totals(weft_pool *pool, unsigned workers)
{
    weft_worker_stats *st = calloc(workers, sizeof(*st));
    struct totals t = {0};
    if (st == NULL)
        fail("calloc", 0);
    int n = weft_pool_stats(pool, st, workers);
    for (int i = 0; i < n && (unsigned)i < workers; i++) {
        t.tasks_run += st[i].tasks_run;
        t.steals += st[i].steals;
        t.failed_steals += st[i].failed_steals;
        t.parks += st[i].parks;
    }
    free(st);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: proxy submit|fib|pfor|map <workers> <n> [work [reps]]\n");
        return 2;
    }
    work_rounds = argc >= 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
    unsigned reps = argc >= 6 ? (unsigned)strtoul(argv[5], NULL, 10) : 1;
    const char *name = argv[1];
    unsigned workers = (unsigned)strtoul(argv[2], NULL, 10);
    size_t n = (size_t)strtoull(argv[3], NULL, 10);
    uint64_t (*run)(weft_pool *, size_t);
    if (strcmp(name, "submit") == 0)
        run = run_submit;
    else if (strcmp(name, "fib") == 0)
        run = run_fib;
    else if (strcmp(name, "pfor") == 0)
        run = run_pfor;
    else if (strcmp(name, "map") == 0)
        run = run_map;
    else {
        fprintf(stderr, "proxy: unknown workload %s\n", name);
        return 2;
    }
    if (workers == 0 || n == 0 || reps == 0) {
        fprintf(stderr, "proxy: workers, n and reps must be positive\n");
        return 2;
    }

    weft_pool_options po;
    weft_pool_options_init(&po);
    po.workers = workers;
    weft_pool *pool = NULL;
    int rc = weft_pool_create(&pool, &po);
    if (rc != WEFT_OK)
        fail("weft_pool_create", rc);
    /* fib's size is an exponent: its warm-up is a few levels smaller. */
    (void)run(pool, strcmp(name, "fib") == 0 ? (n > 5 ? n - 5 : 1) : (n + 9) / 10);
    struct timespec settle = {0, 20 * 1000 * 1000};
    nanosleep(&settle, NULL);

    struct totals before = pool_totals(pool, workers);
    if (linecount_begin)
        linecount_begin();
    CALLGRIND_ZERO_STATS;
    uint64_t t0 = now_ns();
    uint64_t tasks = 0;
    for (unsigned r = 0; r < reps; r++)
        tasks += run(pool, n);
    uint64_t ns = now_ns() - t0;
    CALLGRIND_DUMP_STATS_AT("measured");
    if (linecount_end)
        linecount_end();
    struct totals after = pool_totals(pool, workers);

    printf("proxy workload=%s workers=%u n=%zu work=%u reps=%u tasks=%" PRIu64 " ns=%" PRIu64
           " tasks_run=%" PRIu64 " steals=%" PRIu64 " failed_steals=%" PRIu64
           " parks=%" PRIu64 "\n",
           name, workers, n, work_rounds, reps, tasks, ns, after.tasks_run - before.tasks_run,
           after.steals - before.steals, after.failed_steals - before.failed_steals,
           after.parks - before.parks);
    if (linecount_report)
        linecount_report(stdout);
    fflush(stdout);
    rc = weft_pool_destroy(pool);
    if (rc != WEFT_OK)
        fail("weft_pool_destroy", rc);
    return 0;
}
