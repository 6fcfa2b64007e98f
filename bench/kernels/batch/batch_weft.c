/* batch with weft: weft_submit with a future per task from the (external)
 * main thread, then weft_future_result on each in order. */
#include "bench_weft.h"
#include "batch.h"

static int tiny(weft_ctx *ctx, void *arg, void **result)
{
    *result = (void *)(uintptr_t)batch_task((uintptr_t)arg);
    return 0;
}

static uint64_t run(weft_pool *pool, weft_future **fs, size_t n, uint64_t *submit_ns)
{
    uint64_t t0 = bench_now_ns();
    bench_weft_submit_each(pool, tiny, fs, n);
    *submit_ns = bench_now_ns() - t0;
    return bench_weft_collect(fs, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = batch_parse_n(argc, argv);
    uint64_t want = batch_expected(n);
    weft_future **fs = calloc(n, sizeof *fs);
    if (fs == NULL)
        bench_fail("out of memory");
    weft_pool *pool = bench_weft_pool(o.workers);
    uint64_t submit_ns = 0;
    (void)run(pool, fs, n < 1000 ? n : 1000, &submit_ns); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(pool, fs, n, &submit_ns);
        uint64_t ns = bench_now_ns() - t0;
        batch_check(n, sum, want);
        bench_report("batch", "weft", o.workers, rep, ns, "tasks=%zu submit_ns=%" PRIu64, n,
                     submit_ns);
    }
    bench_weft_destroy(pool);
    free(fs);
    return 0;
}
