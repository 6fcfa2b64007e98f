/* UTS with OpenMP: one task per child, then taskwait. */
#include <omp.h>

#include "bench.h"
#include "uts.h"

static uts_result visit(const uts_params *p, uts_node nd)
{
    uts_result r = {1, uts_work(nd.id)};
    unsigned k = uts_num_children(p, &nd);
    if (k == 0)
        return r;
    uts_result frame[UTS_FRAME_KIDS];
    uts_result *kids = uts_kids_alloc(k, frame, sizeof *kids);
    for (unsigned i = 0; i < k; i++) {
        uts_node c = uts_child(&nd, i);
#pragma omp task firstprivate(c, i, kids, p)
        kids[i] = visit(p, c);
    }
#pragma omp taskwait
    for (unsigned i = 0; i < k; i++)
        uts_add(&r, kids[i]);
    uts_kids_free(kids, frame);
    return r;
}

static uts_result run(const uts_params *p)
{
    uts_result r = {0, 0};
#pragma omp parallel
#pragma omp single
    r = visit(p, uts_root(p));
    return r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    const uts_params *p = uts_parse(argc, argv);
    omp_set_num_threads((int)o.workers);
    uts_check(&uts_trees[3], run(&uts_trees[3])); /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uts_result r = run(p);
        uint64_t ns = bench_now_ns() - t0;
        uts_check(p, r);
        bench_report(p->geometric ? "uts-wide" : "uts-deep", "omp", o.workers, rep, ns, UTS_EXTRA,
                     p->name, r.nodes, r.nodes - 1);
    }
    return 0;
}
