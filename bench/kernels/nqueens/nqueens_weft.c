/* nqueens(n) with weft: one weft_spawn per free square into one group, then
 * weft_sync. Slots and child boards live in the spawning task's frame. */
#include "bench_weft.h"
#include "nqueens.h"

typedef struct nq_arg {
    unsigned n;
    nq_node s;
} nq_arg;

static int solve_task(weft_ctx *ctx, void *arg, void **result)
{
    const nq_arg *a = arg;
    if (a->s.row == a->n) {
        *result = (void *)(uintptr_t)1;
        return 0;
    }
    weft_group g;
    weft_child slots[NQ_MAX];
    nq_arg kids[NQ_MAX];
    unsigned k = 0;
    int rc = WEFT_OK;
    weft_group_init(&g, ctx);
    for (uint32_t f = nq_free(a->n, &a->s); f != 0 && rc == WEFT_OK; f &= f - 1, k++) {
        kids[k].n = a->n;
        kids[k].s = nq_child(&a->s, f & -f);
        rc = weft_spawn(&g, &slots[k], solve_task, &kids[k]);
    }
    int rc_sync = weft_sync(&g);
    if (rc != WEFT_OK || rc_sync != WEFT_OK)
        return rc != WEFT_OK ? rc : rc_sync;
    uintptr_t total = 0;
    for (unsigned i = 0; i < k; i++)
        total += (uintptr_t)weft_child_result(&slots[i]);
    *result = (void *)total;
    return 0;
}

static uint64_t run(weft_pool *pool, unsigned n)
{
    nq_arg root = {n, nq_root()};
    return (uintptr_t)bench_weft_run(pool, solve_task, &root);
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
