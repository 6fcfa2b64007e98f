/* Flat spawns with weft: the root task spawns n children into one group,
 * then syncs; each child stores its value. */
#include <stdlib.h>

#include "bench_weft.h"
#include "flat.h"

struct flat {
    uint64_t n;
    uint64_t *vals;
};

static struct flat flat;

static int child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    uint64_t i = (uintptr_t)arg;
    flat.vals[i] = flat_child(i);
    return 0;
}

static int root(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_group g;
    weft_group_init(&g, ctx);
    for (uint64_t i = 0; i < flat.n; i++)
        if (weft_spawn(&g, child, (void *)(uintptr_t)i, NULL) != WEFT_OK)
            bench_fail("weft_spawn failed");
    if (weft_sync(&g) != WEFT_OK)
        bench_fail("weft_sync failed");
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    flat.n = (uint64_t)bench_arg_ll(argc, argv, "--n", FLAT_DEFAULT_N);
    flat.vals = malloc(flat.n * sizeof(*flat.vals));
    if (flat.vals == NULL)
        bench_fail("out of memory");
    uint64_t want = flat_expected(flat.n);
    weft_pool *pool = bench_weft_pool(o.workers);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t s0 = bench_weft_steals(pool);
        uint64_t t0 = bench_now_ns();
        (void)bench_weft_run(pool, root, NULL);
        uint64_t s = flat_sum(flat.vals, flat.n);
        uint64_t ns = bench_now_ns() - t0;
        if (s != want)
            bench_fail("sum %" PRIu64 ", expected %" PRIu64, s, want);
        bench_report("flat", "weft", o.workers, rep, ns, FLAT_EXTRA " steals=%" PRIu64, flat.n,
                     flat.n, bench_weft_steals(pool) - s0);
    }
    bench_weft_destroy(pool);
    free(flat.vals);
    return 0;
}
