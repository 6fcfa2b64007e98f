/* fib(n) with weft fork/join: weft_spawn fib(n-1), fib(n-2) inline, then
 * weft_sync_take: if nobody stole fib(n-1) it comes back and runs as a
 * direct call; otherwise it waits for the thief and hands over the result. The root runs as a
 * submitted task awaited from main. */
#include "bench_weft.h"
#include "fib.h"

static inline uint64_t fib(weft_ctx *ctx, uint64_t n);

/* fib(n - 1) when a thief took it (or weft_sync ran it). */
static int fib_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)(uintptr_t)fib(ctx, (uintptr_t)arg);
    return 0;
}

static inline uint64_t fib(weft_ctx *ctx, uint64_t n)
{
    if (n < 2)
        return n;
    weft_group g;
    weft_group_init(&g, ctx);
    if (weft_spawn(&g, fib_task, (void *)(uintptr_t)(n - 1), NULL) != WEFT_OK)
        bench_fail("weft_spawn failed");
    uint64_t y = fib(ctx, n - 2);
    void *x;
    int r = weft_sync_take(&g, &x);
    if (r > 0)
        return fib(ctx, n - 1) + y;
    if (r != WEFT_OK)
        bench_fail("weft_sync_take failed");
    return (uintptr_t)x + y;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = (unsigned)bench_arg_ll(argc, argv, "--n", FIB_DEFAULT_N);
    weft_pool *pool = bench_weft_pool(o.workers);
    (void)bench_weft_run(pool, fib_task, (void *)(uintptr_t)20); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t s0 = bench_weft_steals(pool);
        uint64_t t0 = bench_now_ns();
        uint64_t r = (uintptr_t)bench_weft_run(pool, fib_task, (void *)(uintptr_t)n);
        uint64_t ns = bench_now_ns() - t0;
        if (r != fib_expected(n))
            bench_fail("fib(%u) = %" PRIu64 ", expected %" PRIu64, n, r, fib_expected(n));
        bench_report("fib", "weft", o.workers, rep, ns, FIB_EXTRA " steals=%" PRIu64, n,
                     fib_calls(n), fib_spawns(n), bench_weft_steals(pool) - s0);
    }
    bench_weft_destroy(pool);
    return 0;
}
