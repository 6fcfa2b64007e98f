/* cpubatch with weft: weft_submit every task with a future, then weft_wait
 * for all of them and sum the results. */
#include "bench_weft.h"
#include "cpubatch.h"

static uint64_t g_iters;

static int spin_task(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)(uintptr_t)cpubatch_task((uintptr_t)arg, g_iters);
    return 0;
}

static uint64_t run(weft_pool *pool, weft_future **fs, size_t n)
{
    bench_weft_submit_each(pool, spin_task, fs, n);
    int rc = weft_wait(fs, n, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    if (rc != WEFT_OK)
        bench_fail("weft_wait: %s", weft_strerror(rc));
    return bench_weft_collect(fs, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    cpubatch_opts c = cpubatch_parse(argc, argv);
    g_iters = c.iters;
    weft_future **fs = calloc(c.n ? c.n : 1, sizeof *fs);
    if (fs == NULL)
        bench_fail("out of memory");
    weft_pool *pool = bench_weft_pool(o.workers);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(pool, fs, c.n);
        uint64_t ns = bench_now_ns() - t0;
        cpubatch_check(&c, sum);
        bench_report("cpubatch", "weft", o.workers, rep, ns, CPUBATCH_EXTRA, c.n, c.iters);
    }
    bench_weft_destroy(pool);
    free(fs);
    return 0;
}
