/* fib(n) with weft fork/join: weft_spawn fib(n-1), fib(n-2) inline, weft_sync.
 * The root runs as a submitted task awaited from main. */
#include "bench_weft.h"
#include "fib.h"

static int fib_task(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_group g;
    weft_child child;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, &child, fib_task, (void *)(n - 1));
    void *y = NULL;
    int rc_y = fib_task(ctx, (void *)(n - 2), &y);
    int rc_sync = weft_sync(&g);
    if (rc != WEFT_OK || rc_y != 0 || rc_sync != WEFT_OK)
        return rc != WEFT_OK ? rc : (rc_y != 0 ? rc_y : rc_sync);
    *result = (void *)((uintptr_t)weft_child_result(&child) + (uintptr_t)y);
    return 0;
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
