/* roundtrip with weft: weft_submit + weft_future_result from main. */
#include "bench_weft.h"
#include "roundtrip.h"

static int trivial(weft_ctx *ctx, void *arg, void **result)
{
    *result = arg;
    return 0;
}

static void once(weft_pool *pool)
{
    void *v = bench_weft_run(pool, trivial, (void *)(uintptr_t)ROUNDTRIP_MAGIC);
    if ((uintptr_t)v != ROUNDTRIP_MAGIC)
        bench_fail("roundtrip: wrong result %p", v);
}

int main(int argc, char **argv)
{
    roundtrip_opts o = roundtrip_parse(argc, argv);
    weft_pool *pool = bench_weft_pool(o.workers);
    once(pool); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t idle_ns, idle_cpu = roundtrip_idle(&o, &idle_ns);
        uint64_t t0 = bench_now_ns();
        once(pool);
        roundtrip_report("weft", &o, rep, bench_now_ns() - t0, idle_ns, idle_cpu);
    }
    bench_weft_destroy(pool);
    return 0;
}
