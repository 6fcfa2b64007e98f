/* Nested fib(n) written the concurrent.futures way: each task submits fib(n-1)
 * and fib(n-2) to its own pool and blocks on both futures. In Python's
 * ThreadPoolExecutor this deadlocks once every worker waits; in weft a wait
 * on a worker helps, so it completes with any number of workers. */
#include "bench_weft.h"

static int fib_task(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_pool *pool = weft_ctx_pool(ctx);
    weft_future *a = NULL, *b = NULL;
    int rc = weft_submit(pool, fib_task, (void *)(n - 1), NULL, &a);
    if (rc == WEFT_OK)
        rc = weft_submit(pool, fib_task, (void *)(n - 2), NULL, &b);
    /* Both waits run on a worker, so they help instead of blocking. */
    void *x = NULL, *y = NULL;
    int rc_a = a != NULL ? weft_future_result(a, WEFT_FOREVER, &x) : rc;
    int rc_b = b != NULL ? weft_future_result(b, WEFT_FOREVER, &y) : rc;
    weft_future_release(a);
    weft_future_release(b);
    if (rc_a != WEFT_OK || rc_b != WEFT_OK)
        return rc_a != WEFT_OK ? rc_a : rc_b;
    *result = (void *)((uintptr_t)x + (uintptr_t)y);
    return 0;
}

static uint64_t fib_expected(unsigned n)
{
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = (unsigned)bench_arg_ll(argc, argv, "--n", 25);
    weft_pool *pool = bench_weft_pool(o.workers);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = (uintptr_t)bench_weft_run(pool, fib_task, (void *)(uintptr_t)n);
        uint64_t ns = bench_now_ns() - t0;
        if (r != fib_expected(n))
            bench_fail("nested fib(%u) = %" PRIu64 ", expected %" PRIu64, n, r, fib_expected(n));
        bench_report("nestedfib", "weft", o.workers, rep, ns, "n=%u tasks=%" PRIu64, n,
                     2 * fib_expected(n + 1) - 1);
    }
    bench_weft_destroy(pool);
    return 0;
}
