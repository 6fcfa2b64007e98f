/* nqueens(n) with weft: one weft_spawn per free square into one group. The
 * parent then syncs its children newest first with weft_sync_take: one
 * nobody stole comes back and is counted by a direct, typed call (board in
 * registers, count returned); one a thief took ran through solve_task and
 * left its count in its record. Child records live in the spawning task's
 * frame. */
#include "bench_weft.h"
#include "nqueens.h"

typedef struct nq_kid {
    unsigned n;
    nq_node s;
    uint64_t count; /* set by solve_task (children not taken back, and the root) */
} nq_kid;

static uint64_t solve(weft_ctx *ctx, unsigned n, nq_node s);

/* A child that was not taken back (a thief ran it, or weft_sync did), and
 * the root. */
static int solve_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    nq_kid *k = arg;
    k->count = solve(ctx, k->n, k->s);
    return 0;
}

static uint64_t solve(weft_ctx *ctx, unsigned n, nq_node s)
{
    if (s.row == n)
        return 1;
    weft_group g;
    nq_kid kids[NQ_MAX];
    unsigned k = 0;
    weft_group_init(&g, ctx);
    for (uint32_t f = nq_free(n, &s); f != 0; f &= f - 1, k++) {
        kids[k].n = n;
        kids[k].s = nq_child(&s, f & -f);
        if (weft_spawn(&g, solve_task, &kids[k], NULL) != WEFT_OK)
            bench_fail("weft_spawn failed");
    }
    uint64_t total = 0;
    while (k-- > 0) {
        void *v;
        int rc = weft_sync_take(&g, &v);
        if (rc > 0)
            total += solve(ctx, n, kids[k].s);
        else if (rc == WEFT_OK)
            total += kids[k].count;
        else
            bench_fail("weft_sync_take failed");
    }
    return total;
}

static uint64_t run(weft_pool *pool, unsigned n)
{
    nq_kid root = {.n = n, .s = nq_root()};
    (void)bench_weft_run(pool, solve_task, &root);
    return root.count;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = nq_parse_n(argc, argv);
    uint64_t spawns = nq_spawns(n, nq_root());
    weft_pool *pool = bench_weft_pool(o.workers);
    nq_check(8, run(pool, 8)); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t s0 = bench_weft_steals(pool);
        uint64_t t0 = bench_now_ns();
        uint64_t r = run(pool, n);
        uint64_t ns = bench_now_ns() - t0;
        nq_check(n, r);
        bench_report("nqueens", "weft", o.workers, rep, ns,
                     "n=%u spawns=%" PRIu64 " steals=%" PRIu64, n, spawns,
                     bench_weft_steals(pool) - s0);
    }
    bench_weft_destroy(pool);
    return 0;
}
