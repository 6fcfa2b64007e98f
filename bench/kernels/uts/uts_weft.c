/* UTS with weft: one weft_spawn per child into one group. The parent then
 * syncs its children newest first with weft_sync_take: one nobody stole
 * comes back and is visited by a direct, typed call (node in registers,
 * result returned); one a thief took ran through visit_task and left its
 * result in its record. Child records live in the spawning task's frame
 * (up to UTS_FRAME_KIDS children; the root and wide nodes use the heap). */
#include "bench_weft.h"
#include "uts.h"

typedef struct uts_kid {
    const uts_params *p;
    uts_node nd;
    uts_result r; /* set by visit_task (children not taken back, and the root) */
} uts_kid;

static uts_result visit(weft_ctx *ctx, const uts_params *p, uts_node nd);

/* A child that was not taken back (a thief ran it, or weft_sync did), and
 * the root. */
static int visit_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    uts_kid *k = arg;
    k->r = visit(ctx, k->p, k->nd);
    return 0;
}

static uts_result visit(weft_ctx *ctx, const uts_params *p, uts_node nd)
{
    uts_result r = {1, uts_work(nd.id)};
    unsigned k = uts_num_children(p, &nd);
    if (k == 0)
        return r;
    uts_kid frame[UTS_FRAME_KIDS];
    uts_kid *kids = uts_kids_alloc(k, frame, sizeof *kids);
    weft_group g;
    weft_group_init(&g, ctx);
    for (unsigned i = 0; i < k; i++) {
        kids[i].p = p;
        kids[i].nd = uts_child(&nd, i);
        if (weft_spawn(&g, visit_task, &kids[i], NULL) != WEFT_OK)
            bench_fail("weft_spawn failed");
    }
    for (unsigned i = k; i-- > 0;) {
        void *v;
        int rc = weft_sync_take(&g, &v);
        if (rc > 0)
            uts_add(&r, visit(ctx, p, kids[i].nd));
        else if (rc == WEFT_OK)
            uts_add(&r, kids[i].r);
        else
            bench_fail("weft_sync_take failed");
    }
    uts_kids_free(kids, frame);
    return r;
}

static uts_result run(weft_pool *pool, const uts_params *p)
{
    uts_kid root = {.p = p, .nd = uts_root(p)};
    (void)bench_weft_run(pool, visit_task, &root);
    return root.r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    const uts_params *p = uts_parse(argc, argv);
    weft_pool *pool = bench_weft_pool(o.workers);
    uts_check(&uts_trees[3], run(pool, &uts_trees[3])); /* warm-up */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t s0 = bench_weft_steals(pool);
        uint64_t t0 = bench_now_ns();
        uts_result r = run(pool, p);
        uint64_t ns = bench_now_ns() - t0;
        uts_check(p, r);
        bench_report(p->geometric ? "uts-wide" : "uts-deep", "weft", o.workers, rep, ns,
                     UTS_EXTRA " steals=%" PRIu64, p->name, r.nodes, r.nodes - 1,
                     bench_weft_steals(pool) - s0);
    }
    bench_weft_destroy(pool);
    return 0;
}
