/* UTS, the sequential twin. --stats also prints the tree depth. */
#include "bench.h"
#include "uts.h"

static unsigned max_depth;

__attribute__((noipa)) static uts_result visit(const uts_params *p, uts_node nd)
{
    uts_result r = {1, uts_work(nd.id)};
    if (nd.depth > max_depth)
        max_depth = nd.depth;
    unsigned k = uts_num_children(p, &nd);
    for (unsigned i = 0; i < k; i++)
        uts_add(&r, visit(p, uts_child(&nd, i)));
    return r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    const uts_params *p = uts_parse(argc, argv);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uts_result r = visit(p, uts_root(p));
        uint64_t ns = bench_now_ns() - t0;
        uts_check(p, r);
        bench_report(p->geometric ? "uts-wide" : "uts-deep", "serial", 1, rep, ns,
                     UTS_EXTRA " depth=%u checksum=%016" PRIx64, p->name, r.nodes, r.nodes - 1,
                     max_depth, r.sum);
    }
    return 0;
}
