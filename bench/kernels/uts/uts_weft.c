/* UTS with weft: one weft_spawn per child into one group, then weft_sync.
 * Slots and child arguments live in the spawning task's frame (up to
 * UTS_FRAME_KIDS children; the root and wide nodes use the heap). */
#include "bench_weft.h"
#include "uts.h"

typedef struct uts_arg {
    const uts_params *p;
    uts_node nd;
    uts_result r; /* written by the child's task */
} uts_arg;

typedef struct uts_kid {
    weft_child slot;
    uts_arg arg;
} uts_kid;

static int visit_task(weft_ctx *ctx, void *arg, void **result)
{
    uts_arg *a = arg;
    a->r.nodes = 1;
    a->r.sum = uts_work(a->nd.id);
    unsigned k = uts_num_children(a->p, &a->nd);
    if (k == 0)
        return 0;
    uts_kid frame[UTS_FRAME_KIDS];
    uts_kid *kids = uts_kids_alloc(k, frame, sizeof *kids);
    weft_group g;
    weft_group_init(&g, ctx);
    int rc = WEFT_OK;
    unsigned spawned = 0;
    for (; spawned < k && rc == WEFT_OK; spawned++) {
        uts_arg *c = &kids[spawned].arg;
        c->p = a->p;
        c->nd = uts_child(&a->nd, spawned);
        c->r.nodes = c->r.sum = 0;
        rc = weft_spawn(&g, &kids[spawned].slot, visit_task, c);
    }
    int rc_sync = weft_sync(&g);
    for (unsigned i = 0; i < spawned; i++)
        uts_add(&a->r, kids[i].arg.r);
    uts_kids_free(kids, frame);
    (void)result;
    return rc != WEFT_OK ? rc : rc_sync;
}

static uts_result run(weft_pool *pool, const uts_params *p)
{
    uts_arg root = {p, uts_root(p), {0, 0}};
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
