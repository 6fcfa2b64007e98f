/* Two coarse leaves with weft after the pool went idle: --variant join
 * (default) uses weft_join; spawn spawns A, calls B, syncs. The root runs
 * through weft_run from main. */
#include <string.h>
#include <time.h>

#include "bench_weft.h"
#include "coarse.h"

static uint64_t rounds;

static int leaf(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = (void *)(uintptr_t)coarse_leaf((uintptr_t)arg, rounds);
    return 0;
}

struct pair {
    bool by_join;
    uint64_t a, b;
};

static int pair_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct pair *p = arg;
    if (p->by_join) {
        /* join runs its first function inline and spawns the second: leaf
         * values come back through the children's results only for spawn,
         * so the join variant recomputes nothing and checks the status. */
        return weft_join(ctx, leaf, (void *)2, leaf, (void *)1);
    }
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, leaf, (void *)1, &c);
    void *vb = NULL;
    leaf(ctx, (void *)2, &vb);
    int rs = weft_sync(&g);
    if (rc != WEFT_OK || rs != WEFT_OK)
        return rc != WEFT_OK ? rc : rs;
    p->a = (uintptr_t)c;
    p->b = (uintptr_t)vb;
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned ms = (unsigned)bench_arg_ll(argc, argv, "--ms", COARSE_DEFAULT_MS);
    bool by_join = strcmp(bench_arg_str(argc, argv, "--variant", "join"), "spawn") != 0;
    rounds = coarse_rounds_for(ms);
    weft_pool *pool = bench_weft_pool(o.workers);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        nanosleep(&(struct timespec){0, COARSE_IDLE_MS * 1000000L}, NULL);
        struct pair p = {.by_join = by_join};
        uint64_t t0 = bench_now_ns();
        int rc = weft_run(pool, pair_root, &p, NULL);
        uint64_t ns = bench_now_ns() - t0;
        if (rc != WEFT_OK)
            bench_fail("weft_run: %s", weft_strerror(rc));
        if (!by_join && (p.a != coarse_leaf(1, rounds) || p.b != coarse_leaf(2, rounds)))
            bench_fail("wrong leaf values");
        bench_report("coarse", by_join ? "weft" : "weft-spawn", o.workers, rep, ns, COARSE_EXTRA,
                     ms);
    }
    bench_weft_destroy(pool);
    return 0;
}
