/* batch with weft: a future per task from the (external) main thread,
 * made by one weft_submit per task or (--bulk 1) by one weft_submit_range
 * for all of them, then weft_future_result on each in order. */
#include "bench_weft.h"
#include "batch.h"

static int tiny(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)(uintptr_t)batch_task((uintptr_t)arg);
    return 0;
}

static uint64_t run(weft_pool *pool, weft_future **fs, size_t n, bool bulk, uint64_t *submit_ns)
{
    uint64_t t0 = bench_now_ns();
    if (!bulk) {
        bench_weft_submit_each(pool, tiny, fs, n);
    } else {
        int rc = weft_submit_range(pool, tiny, 0, n, fs);
        if (rc != WEFT_OK)
            bench_fail("weft_submit_range: %s", weft_strerror(rc));
    }
    *submit_ns = bench_now_ns() - t0;
    return bench_weft_collect(fs, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = batch_parse_n(argc, argv);
    bool bulk = bench_arg_ll(argc, argv, "--bulk", 0) != 0;
    uint64_t want = batch_expected(n);
    weft_future **fs = calloc(n, sizeof *fs);
    if (fs == NULL)
        bench_fail("out of memory");
    weft_pool *pool = bench_weft_pool(o.workers);
    uint64_t submit_ns = 0;
    (void)run(pool, fs, n < 1000 ? n : 1000, bulk, &submit_ns); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(pool, fs, n, bulk, &submit_ns);
        uint64_t ns = bench_now_ns() - t0;
        batch_check(n, sum, want);
        bench_report("batch", bulk ? "weft-bulk" : "weft", o.workers, rep, ns, "tasks=%zu submit_ns=%" PRIu64, n,
                     submit_ns);
    }
    bench_weft_destroy(pool);
    free(fs);
    return 0;
}
